"""Entering tiers: skip an empty tier, wake a sleeping one, ring the own GP, then the rota
(everyone at once or longest idle first), and the queue when every tier has been tried.

Used both for a waiting nurse (state ``RINGING``/``WAKING``/``QUEUED``) and for escalating a
connected call (state ``ESCALATING``, participants never offered). Once a call has been
queued, sleeping tiers are woken but not waited for: the call stays where anyone who comes
online can take it, and no coordinator alert is repeated.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

from .actions import Action, Record, Wake
from .consultation import Stage, State, TimerKind
from .draft import Draft
from .policy import GP_TIER, Strategy


def start_tier(d: Draft) -> int:
    """The tier a call of this urgency is routed from."""
    return d.policy.start_tier[d.c.urgency]


def begin_pass(d: Draft) -> None:
    """A new routing pass: the tiers tried so far are forgotten."""
    d.c = replace(d.c, tried_tiers=())


def route(d: Draft, first: int) -> None:
    """Enter tiers from ``first`` upward until one rings or waits for the woken; past the
    top tier, queue the call (or, when escalating, give the escalation up)."""
    for tier in range(first, d.policy.top + 1):
        if enter_tier(d, tier):
            return
    exhausted(d)


def enter_tier(d: Draft, tier: int) -> bool:
    """Start ``tier`` afresh; True when it now rings or waits for woken advisors."""
    d.c = replace(
        d.c,
        tier=tier,
        stage=Stage.NONE,
        declined=frozenset(),
        timed_out=frozenset(),
        step=0,
        stage_deadline=None,
        tried_tiers=(*d.c.tried_tiers, tier),
    )
    own = own_gp(d, tier)
    if own is not None:
        ring(d, tier, (own,), Stage.OWN_GP, d.now + d.policy.tier(tier).ring)
        return True
    return enter_rota(d, tier)


def own_gp(d: Draft, tier: int) -> int | None:
    """The patient's own GP when ``tier`` is the GP tier, they are available and not already
    in the call."""
    own = d.view(tier).own_gp
    if tier != GP_TIER or own is None or own in d.c.participants:
        return None
    return own


def candidates(d: Draft, tier: int) -> tuple[int, ...]:
    """Available advisors of ``tier`` (longest idle first) who have not had their turn in
    this tier round and are not in the call."""
    spent = d.c.declined | d.c.timed_out | set(d.c.participants)
    return tuple(a for a in d.view(tier).available if a not in spent)


def enter_rota(d: Draft, tier: int) -> bool:
    """Ring the rota of ``tier``, wake it, or skip it; True when the call now waits on it."""
    view = d.view(tier)
    found = candidates(d, tier)
    if found:
        ring_rota(d, tier, found)
        return True
    if not view.on_duty:
        d.record("tier_skipped", tier=tier, reason="nobody_on_duty")
        d.alert("tier_skipped", tier, "nobody_on_duty")
        return False
    asleep = sorted(view.on_duty - set(d.c.participants))
    if view.asleep and asleep:
        return wake(d, tier, tuple(asleep))
    d.record("tier_skipped", tier=tier, reason="all_busy")
    return False


def wake(d: Draft, tier: int, advisors: tuple[int, ...]) -> bool:
    """Wake ``advisors``; wait ``wake_grace_seconds`` for them unless the call was queued."""
    waiting = d.c.queued_since is None or d.escalating
    d.actions.append(Wake(advisors, tier))
    d.record("waking", tier=tier, advisors=list(advisors), waiting=waiting)
    d.alert("tier_asleep", tier, f"{len(advisors)} on duty, none online")
    if not waiting:
        return False
    d.withdraw_all("rerouted")
    state = State.ESCALATING if d.escalating else State.WAKING
    d.c = replace(d.c, state=state, stage=Stage.WAKE)
    d.start_timer(TimerKind.WAKE, d.now + d.policy.tier(tier).wake_grace)
    return True


def ring_rota(d: Draft, tier: int, found: tuple[int, ...]) -> None:
    """Ring ``found`` by the tier's strategy: all at once, or the first for one step."""
    policy = d.policy.tier(tier)
    if policy.strategy is Strategy.RING_ALL:
        ring(d, tier, found, Stage.ROTA, d.now + policy.ring)
        return
    deadline = d.now + policy.ring
    d.c = replace(d.c, stage_deadline=deadline, step=0)
    ring(d, tier, found[:1], Stage.ROTA, min(d.now + policy.step, deadline))


def ring(d: Draft, tier: int, advisors: tuple[int, ...], stage: Stage, due: dt.datetime) -> None:
    """Offer ``advisors`` for ``tier`` with a ring timer due at ``due``."""
    assert advisors
    d.withdraw_all("rerouted")  # a queued call's offers to other tiers
    state = State.ESCALATING if d.escalating else State.RINGING
    d.c = replace(d.c, state=state, stage=stage, step=d.c.step + 1)
    d.offer(tier, advisors, stage=stage.value)
    d.start_timer(TimerKind.RING, due)


def next_step(d: Draft) -> bool:
    """In a longest-idle rota stage with time left, offer the next advisor; True if done."""
    tier = d.c.tier
    deadline = d.c.stage_deadline
    if d.c.stage is not Stage.ROTA or deadline is None or d.now >= deadline:
        return False
    found = candidates(d, tier)
    if not found:
        return False
    ring(d, tier, found[:1], Stage.ROTA, min(d.now + d.policy.tier(tier).step, deadline))
    return True


def stage_over(d: Draft) -> None:
    """The current stage got no answer: the rota after the own GP, else the next tier."""
    if d.c.stage is Stage.OWN_GP:
        d.c = replace(d.c, stage=Stage.ROTA)
        if enter_rota(d, d.c.tier):
            return
    route(d, d.c.tier + 1)


def exhausted(d: Draft) -> None:
    """Every tier from the first of this pass has been tried without an answer."""
    if d.escalating:
        escalation_failed(d)
    else:
        enter_queue(d)


def escalation_failed(d: Draft) -> None:
    """No higher tier answered: the call goes on with those in it."""
    d.withdraw_all("timed_out")
    d.stop_timer()
    tried = list(d.c.tried_tiers)
    d.alert("all_tiers_exhausted", d.c.tier, "escalation: no higher tier answered")
    d.c = replace(
        d.c,
        state=State.CONNECTED,
        tier=max(d.c.participant_tiers),
        stage=Stage.NONE,
        stage_deadline=None,
        declined=frozenset(),
        timed_out=frozenset(),
    )
    d.record("escalation_failed", tiers=tried)
    d.nurse_status = "escalation_failed"


def enter_queue(d: Draft) -> None:
    """Queue the call: tell the nurse what to do now (first time), offer it to everyone
    available, and retry every ``retry_seconds``."""
    first = d.c.queued_since is None
    tried = list(d.c.tried_tiers)
    if first:
        d.alert("all_tiers_exhausted", d.c.tier, f"tiers {tried} tried, nobody answered")
        d.nurse_status = "fallback"
    d.c = replace(
        d.c,
        state=State.QUEUED,
        stage=Stage.NONE,
        stage_deadline=None,
        declined=frozenset(),
        timed_out=frozenset(),
        queued_since=d.c.queued_since or d.now,
    )
    d.record("queued", tiers=tried, first=first)
    offer_queue(d)
    d.start_timer(TimerKind.RETRY, d.now + d.policy.retry)


def queue_targets(d: Draft) -> dict[int, int]:
    """Everyone available in any tier (and the own GP) -> the tier to offer for; someone in
    several tiers is offered for the lowest."""
    found: dict[int, int] = {}
    for tier in range(1, d.policy.top + 1):
        view = d.view(tier)
        own = own_gp(d, tier)
        for advisor in ((own,) if own is not None else ()) + view.available:
            if advisor not in d.c.participants:
                found.setdefault(advisor, tier)
    return found


def offer_queue(d: Draft) -> None:
    """Make the queue offers match who is available now: withdraw the rest, offer the new."""
    targets = queue_targets(d)
    d.withdraw([a for a, tier in d.c.offer_tiers if targets.get(a) != tier], "unavailable")
    for tier in range(1, d.policy.top + 1):
        d.offer(tier, [a for a, t in targets.items() if t == tier], queue=True)


def reroute(d: Draft) -> None:
    """Route a queued call again from the start tier. When that finds nobody again, the
    tiers' outcomes go into one ``retried`` record (not one record per tier every
    ``retry_seconds``, which would bury the timeline of a long night)."""
    was_queued, mark = d.c.state is State.QUEUED, len(d.actions)
    begin_pass(d)
    route(d, start_tier(d))
    if was_queued and d.c.state is State.QUEUED:
        collapse_retry(d, mark)


_PER_TIER = {"tier_skipped", "waking", "queued"}


def collapse_retry(d: Draft, mark: int) -> None:
    """Replace the per-tier records made since ``mark`` by one ``retried`` record."""
    tiers: list[dict[str, object]] = []
    kept: list[Action] = []
    for action in d.actions[mark:]:
        if not isinstance(action, Record) or action.type not in _PER_TIER:
            kept.append(action)
        elif action.type != "queued":
            outcome = action.data.get("reason", "asleep")
            tiers.append({"tier": action.data["tier"], "outcome": outcome})
    d.actions[mark:] = [Record("retried", {"tiers": tiers}), *kept]
