"""``decide``: one event in, the consultation after it and the actions out.

Stale timer events are no-ops; a final consultation refuses everything else; each other
event goes to its handler here (waiting for an advisor) or in ``call`` (a call that is on).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from .actions import AlertCoordinators, Decision
from .call import (
    on_accept,
    on_end,
    on_escalate,
    on_leave,
    on_wrap_up_done,
    on_wrap_up_timeout,
    wrap_up,
)
from .consultation import Consultation, Stage, State, TimerKind, aware
from .draft import Draft
from .errors import EscalationError, IllegalTransition, NotOffered
from .events import (
    Accept,
    AdvisorAvailable,
    Cancel,
    Decline,
    End,
    Escalate,
    Event,
    Fail,
    Leave,
    NurseGone,
    RequestCallback,
    Retry,
    RingTimeout,
    Start,
    TimerEvent,
    WakeTimeout,
    WrapUpDone,
    WrapUpTimeout,
)
from .policy import Policy, Situation, Strategy
from .routing import (
    begin_pass,
    candidates,
    next_step,
    offer_queue,
    queue_targets,
    reroute,
    ring_rota,
    route,
    stage_over,
    start_tier,
)


def decide(
    consultation: Consultation,
    event: Event,
    situation: Situation,
    policy: Policy,
    now: dt.datetime,
) -> Decision:
    """The consultation after ``event`` at ``now`` and the actions to carry out, in order.

    Raises an ``EscalationError`` (and changes nothing) when the event is refused."""
    # Timers are due at now + seconds: in UTC that is elapsed time, in a local zone it
    # would be wall-clock time and off by an hour across a DST change.
    now = aware(now, "now").astimezone(dt.UTC)
    if isinstance(event, TimerEvent) and not is_live(consultation, event):
        return Decision(consultation, ())
    if consultation.state.final:
        raise IllegalTransition(consultation.state, event)
    handler = _HANDLERS.get(type(event))
    if handler is None:
        raise EscalationError(f"unknown event {event!r}")
    draft = Draft(consultation, situation, policy, now)
    handler(draft, event)
    return draft.finish()


_TIMER_KINDS: dict[type[TimerEvent], TimerKind] = {
    RingTimeout: TimerKind.RING,
    WakeTimeout: TimerKind.WAKE,
    Retry: TimerKind.RETRY,
    WrapUpTimeout: TimerKind.WRAP_UP,
}


def is_live(c: Consultation, event: TimerEvent) -> bool:
    """Whether ``event`` is the consultation's live timer (else it is stale)."""
    if c.timer_kind is not _TIMER_KINDS[type(event)] or event.seq != c.timer_seq:
        return False
    return not isinstance(event, RingTimeout | WakeTimeout) or event.tier == c.tier


# Routing a waiting call -----------------------------------------------------------------


def on_start(d: Draft, event: Start) -> None:
    """Route a new consultation from the start tier of its urgency."""
    if d.c.state is not State.REQUESTED:
        raise IllegalTransition(d.c.state, event)
    first = start_tier(d)
    d.record(
        "requested",
        urgency=d.c.urgency.value,
        channel=d.c.channel.value,
        created=d.c.created.isoformat(),
        start_tier=first,
    )
    begin_pass(d)
    route(d, first)


def on_decline(d: Draft, event: Decline) -> None:
    """The advisor's offer ends; when the tier's last offer is declined, move on."""
    advisor = event.advisor
    tier = d.c.offer_tier(advisor)
    if tier is None:
        raise NotOffered(advisor)
    d.withdraw((advisor,), "declined")
    d.c = replace(d.c, declined=d.c.declined | {advisor})
    d.record("declined", tier=tier, advisor=advisor)
    if d.c.state in (State.RINGING, State.ESCALATING) and not d.c.offered:
        move_on(d)


def move_on(d: Draft) -> None:
    """No live offer is left in the stage: the next longest-idle step, stage or tier."""
    if not next_step(d):
        stage_over(d)


def on_ring_timeout(d: Draft, event: RingTimeout) -> None:
    """Nobody answered the ring (or the longest-idle step): withdraw it and move on."""
    gone = d.withdraw_all("timed_out")
    d.c = replace(d.c, timed_out=d.c.timed_out | set(gone))
    d.record("timed_out", tier=d.c.tier, advisors=list(gone), stage=d.c.stage.value)
    move_on(d)


def on_wake_timeout(d: Draft, event: WakeTimeout) -> None:
    """The woken had their grace: ring whoever is available now, else skip the tier."""
    tier = d.c.tier
    found = candidates(d, tier)
    if found:
        ring_rota(d, tier, found)
        return
    d.record("tier_skipped", tier=tier, reason="not_woken")
    route(d, tier + 1)


def on_retry(d: Draft, event: Retry) -> None:
    """Route the queued call again from the start tier."""
    reroute(d)


def on_available(d: Draft, event: AdvisorAvailable) -> None:
    """Someone became available: join them to a ring, ring a woken tier, re-route a queued
    call, or put a callback in their queue; otherwise nothing."""
    handler = _ON_AVAILABLE.get(d.c.state)
    if handler is not None:
        handler(d, event.advisor)


def _available_ringing(d: Draft, advisor: int) -> None:
    if d.c.stage is Stage.WAKE:
        _available_waking(d, advisor)
        return
    ring_all = d.policy.tier(d.c.tier).strategy is Strategy.RING_ALL
    if d.c.stage is Stage.ROTA and ring_all and advisor in candidates(d, d.c.tier):
        d.offer(d.c.tier, (advisor,), stage=Stage.ROTA.value, late=True)


def _available_waking(d: Draft, advisor: int) -> None:
    found = candidates(d, d.c.tier)
    if advisor in found:
        ring_rota(d, d.c.tier, found)


def _available_queued(d: Draft, advisor: int) -> None:
    if advisor in queue_targets(d):
        reroute(d)


def _available_callback(d: Draft, advisor: int) -> None:
    tier = queue_targets(d).get(advisor)
    if tier is not None and advisor not in d.c.offered:
        d.c = replace(d.c, declined=d.c.declined - {advisor})
        d.offer(tier, (advisor,), queue=True)


_ON_AVAILABLE: dict[State, Callable[[Draft, int], None]] = {
    State.RINGING: _available_ringing,
    State.ESCALATING: _available_ringing,
    State.WAKING: _available_waking,
    State.QUEUED: _available_queued,
    State.CALLBACK: _available_callback,
}


# Leaving before anyone answered -----------------------------------------------------------


def on_cancel(d: Draft, event: Cancel) -> None:
    """The nurse (or her coordinator) cancels before anyone answered."""
    if not d.c.state.waiting:
        raise IllegalTransition(d.c.state, event)
    d.finalize(State.CANCELLED, "cancelled")
    d.record("cancelled", by=event.by)


def on_callback(d: Draft, event: RequestCallback) -> None:
    """The nurse asks to be called back: the call waits in the queue of everyone available
    until someone takes it or it is cancelled."""
    if not d.c.state.waiting or d.c.state is State.CALLBACK:
        raise IllegalTransition(d.c.state, event)
    d.withdraw_all("callback_requested")
    d.stop_timer()
    d.c = replace(
        d.c,
        state=State.CALLBACK,
        stage=Stage.NONE,
        stage_deadline=None,
        declined=frozenset(),
        timed_out=frozenset(),
    )
    d.record("callback_requested")
    offer_queue(d)


def on_nurse_gone(d: Draft, event: NurseGone) -> None:
    """Before an answer: abandoned. In a call: the call ends. A callback or wrap-up does
    not need her."""
    state = d.c.state
    if state in (State.CALLBACK, State.WRAP_UP):
        return
    if state.connected:
        wrap_up(d, d.c.nurse, "nurse_gone")
        return
    d.finalize(State.ABANDONED, "abandoned")
    d.record("abandoned", tier=d.c.tier)


def on_fail(d: Draft, event: Fail) -> None:
    """Something outside the core broke the consultation: it fails, coordinators are told."""
    tier = d.c.tier or start_tier(d)  # a coordinator alert always names a real tier
    d.finalize(State.FAILED, "failed")
    d.record("failed", reason=event.reason)
    d.actions.append(AlertCoordinators("consultation_failed", tier, event.reason))


_HANDLERS: dict[type[Any], Callable[[Draft, Any], None]] = {
    Start: on_start,
    Accept: on_accept,
    Decline: on_decline,
    RingTimeout: on_ring_timeout,
    WakeTimeout: on_wake_timeout,
    Retry: on_retry,
    AdvisorAvailable: on_available,
    Cancel: on_cancel,
    RequestCallback: on_callback,
    Escalate: on_escalate,
    Leave: on_leave,
    End: on_end,
    WrapUpDone: on_wrap_up_done,
    WrapUpTimeout: on_wrap_up_timeout,
    NurseGone: on_nurse_gone,
    Fail: on_fail,
}
