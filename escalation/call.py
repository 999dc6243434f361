"""A call once an advisor has accepted: joining, escalating, leaving, ending, wrapping up."""

from __future__ import annotations

from dataclasses import replace

from .actions import Join
from .consultation import Stage, State, TimerKind
from .draft import Draft
from .errors import IllegalTransition, NoHigherTier, NotOffered, NotParticipant
from .events import Accept, End, Escalate, Leave, WrapUpDone, WrapUpTimeout
from .routing import begin_pass, route


def on_accept(d: Draft, event: Accept) -> None:
    """The first to accept wins; the other offers are withdrawn in the same decision."""
    advisor, c = event.advisor, d.c
    tier = c.offer_tier(advisor)
    if tier is None:
        raise NotOffered(advisor)
    d.withdraw(c.offered - {advisor}, "answered_elsewhere")
    d.stop_timer()
    tiers = (*c.participant_tiers, tier)
    d.c = replace(
        d.c,
        state=State.CONNECTED,
        tier=max(tiers),
        stage=Stage.NONE,
        stage_deadline=None,
        offered=frozenset(),
        offer_tiers=(),
        declined=frozenset(),
        timed_out=frozenset(),
        participants=(*c.participants, advisor),
        participant_tiers=tiers,
        connected_at=c.connected_at or d.now,
        queued_since=None,
    )
    d.actions.append(Join(advisor))
    d.record("accepted", tier=tier, advisor=advisor, answered_in=c.state.value)
    d.record("joined", tier=tier, advisor=advisor)


def on_escalate(d: Draft, event: Escalate) -> None:
    """Ring the tiers above the call's, the note going with the offer; the advisors in the
    call stay until someone joins."""
    if d.c.state is not State.CONNECTED:
        raise IllegalTransition(d.c.state, event)
    if event.advisor not in d.c.participants:
        raise NotParticipant(event.advisor)
    if d.c.tier >= d.policy.top:
        raise NoHigherTier(d.c.tier)
    d.record("escalated", advisor=event.advisor, from_tier=d.c.tier, note=event.note)
    d.c = replace(d.c, state=State.ESCALATING, escalation_note=event.note)
    begin_pass(d)
    route(d, d.c.tier + 1)


def on_leave(d: Draft, event: Leave) -> None:
    """A participant leaves; when the last one leaves, the call is over (wrap-up)."""
    advisor, c = event.advisor, d.c
    if advisor not in c.participants:
        raise NotParticipant(advisor)
    if c.state is State.WRAP_UP:
        return  # the call is over already: nothing to leave
    if not c.state.connected:
        raise IllegalTransition(c.state, event)
    d.record("left", advisor=advisor)
    if len(c.participants) == 1:
        wrap_up(d, advisor, "last_participant_left")
        return
    kept = [
        (a, t) for a, t in zip(c.participants, c.participant_tiers, strict=True) if a != advisor
    ]
    tiers = tuple(t for _, t in kept)
    d.c = replace(
        d.c,
        participants=tuple(a for a, _ in kept),
        participant_tiers=tiers,
        tier=max(tiers) if c.state is State.CONNECTED else c.tier,
    )


def on_end(d: Draft, event: End) -> None:
    """The nurse or a participant ends the call: wrap-up."""
    c = d.c
    if not c.state.connected:
        raise IllegalTransition(c.state, event)
    if event.by != c.nurse and event.by not in c.participants:
        raise NotParticipant(event.by)
    wrap_up(d, event.by, "ended")


def wrap_up(d: Draft, by: int, reason: str) -> None:
    """End the call: pending escalation offers withdrawn, the wrap-up timer started."""
    d.withdraw_all("ended")
    d.c = replace(
        d.c,
        state=State.WRAP_UP,
        stage=Stage.NONE,
        stage_deadline=None,
        declined=frozenset(),
        timed_out=frozenset(),
    )
    d.record("ended", by=by, reason=reason)
    d.start_timer(TimerKind.WRAP_UP, d.now + d.policy.wrap_up)


def on_wrap_up_done(d: Draft, event: WrapUpDone) -> None:
    """A participant has documented the call; when all have, it has ended."""
    advisor, c = event.advisor, d.c
    if c.state is not State.WRAP_UP:
        raise IllegalTransition(c.state, event)
    if advisor not in c.participants:
        raise NotParticipant(advisor)
    if advisor in c.wrapped_up:
        return  # a repeated submission
    d.c = replace(d.c, wrapped_up=c.wrapped_up | {advisor})
    d.record("wrap_up_done", advisor=advisor)
    if d.c.wrapped_up >= set(c.participants):
        d.finalize(State.ENDED, "ended")
        d.record("completed", reason="documented", pending=[])


def on_wrap_up_timeout(d: Draft, event: WrapUpTimeout) -> None:
    """Wrap-up time is over: the consultation has ended, documented or not."""
    pending = [a for a in d.c.participants if a not in d.c.wrapped_up]
    d.finalize(State.ENDED, "ended")
    d.record("completed", reason="wrap_up_timeout", pending=pending)
