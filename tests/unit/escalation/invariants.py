"""The invariants every consultation and every decision keep, as plain checks."""

from __future__ import annotations

import datetime as dt

from escalation import (
    GP_TIER,
    NOBODY,
    CancelTimers,
    Consultation,
    Decision,
    Join,
    NotifyNurse,
    Offer,
    Policy,
    Record,
    Situation,
    Stage,
    StartTimer,
    State,
    TimerKind,
    Wake,
    Withdraw,
)

OFFERING = frozenset({State.RINGING, State.ESCALATING, State.QUEUED, State.CALLBACK})
IN_CALL = frozenset({State.CONNECTED, State.ESCALATING, State.WRAP_UP, State.ENDED})
NEVER_CONNECTED = frozenset(
    {State.REQUESTED, State.RINGING, State.WAKING, State.QUEUED, State.CALLBACK}
    | {State.CANCELLED, State.ABANDONED}
)
ROUTED = frozenset({State.RINGING, State.WAKING, State.QUEUED} | IN_CALL)
TIMERS: dict[State, frozenset[TimerKind | None]] = {
    State.RINGING: frozenset({TimerKind.RING}),
    State.WAKING: frozenset({TimerKind.WAKE}),
    State.QUEUED: frozenset({TimerKind.RETRY}),
    State.ESCALATING: frozenset({TimerKind.RING, TimerKind.WAKE}),
    State.WRAP_UP: frozenset({TimerKind.WRAP_UP}),
}


def check_consultation(c: Consultation, top: int = 3) -> None:
    """What must hold of any consultation the machine returns."""
    state = c.state
    assert c.offered == {a for a, _ in c.offer_tiers}
    assert all(1 <= t <= top for _, t in c.offer_tiers), c.offer_tiers
    assert not c.offered or state in OFFERING, (state, c.offered)
    if state is State.RINGING:
        assert c.offered, "a ringing call rings someone"
    assert bool(c.participants) == (c.connected_at is not None), (state, c.participants)
    if state in IN_CALL:
        assert c.participants, state
    if state in NEVER_CONNECTED:
        assert not c.participants, state
    assert c.timer_kind in TIMERS.get(state, frozenset({None})), (state, c.timer_kind)
    if state is State.ESCALATING:
        waking = c.timer_kind is TimerKind.WAKE
        assert waking == (c.stage is Stage.WAKE) == (not c.offered), c
    assert 0 <= c.tier <= top
    if state in ROUTED:
        assert c.tier >= 1, c
    if state is State.CONNECTED:
        assert c.tier == max(c.participant_tiers), c
    assert not set(c.participants) & c.offered
    assert not c.declined & c.offered
    assert c.wrapped_up <= set(c.participants)
    if state.final:
        assert not c.offered and c.timer_kind is None, c
    if state is State.QUEUED:
        assert c.queued_since is not None


def allowed(advisor: int, tier: int, situation: Situation) -> bool:
    """Whether ``advisor`` may be offered a call for ``tier`` in ``situation``."""
    view = situation.get(tier, NOBODY)
    return advisor in view.available or (tier == GP_TIER and advisor == view.own_gp)


def check_decision(
    before: Consultation,
    decision: Decision,
    situation: Situation,
    policy: Policy,
    now: dt.datetime,
) -> None:
    """What must hold of a decision: a no-op changes nothing; anything else records, moves
    the version on by one, and its actions account for every change of offers and timers."""
    c, actions = decision.consultation, decision.actions
    if not actions:
        assert c is before, "a decision without actions is a no-op"
        return
    assert c.version == before.version + 1
    assert any(isinstance(a, Record) for a in actions), actions
    assert not before.state.final, "a final consultation never changes"
    check_consultation(c, policy.top)
    _check_offers(before, decision, situation)
    _check_timers(before, decision, now)
    _check_call(before, decision)


def _check_offers(before: Consultation, decision: Decision, situation: Situation) -> None:
    c = decision.consultation
    live = set(before.offered)
    for action in decision.actions:
        if isinstance(action, Offer):
            assert action.advisors, action
            for advisor in action.advisors:
                assert allowed(advisor, action.tier, situation), (action, situation)
                assert advisor not in live, f"{advisor} offered twice"
                assert advisor not in c.participants
            live |= set(action.advisors)
        elif isinstance(action, Withdraw):
            assert action.advisors and set(action.advisors) <= live, (action, live)
            live -= set(action.advisors)
        elif isinstance(action, Join):
            assert action.advisor in live, action
            live.discard(action.advisor)
        elif isinstance(action, Wake):
            view = situation.get(action.tier, NOBODY)
            assert action.advisors and set(action.advisors) <= view.on_duty - view.online
    assert live == c.offered, (live, c.offered)


def _check_timers(before: Consultation, decision: Decision, now: dt.datetime) -> None:
    c, actions = decision.consultation, decision.actions
    starts = [a for a in actions if isinstance(a, StartTimer)]
    cancels = [i for i, a in enumerate(actions) if isinstance(a, CancelTimers)]
    assert len(starts) <= 1, starts
    if starts:
        start = starts[0]
        assert start.seq == c.timer_seq == before.timer_seq + 1
        assert start.kind is c.timer_kind and start.due > now
        if before.timer_kind is not None:
            assert cancels and cancels[0] < actions.index(start), "old timer cancelled first"
    else:
        assert c.timer_seq == before.timer_seq
        assert c.timer_kind in (None, before.timer_kind)
    if before.timer_kind is not None and c.timer_kind is None:
        assert cancels, "a timer that is no longer wanted is cancelled"
    if c.state.final:
        assert cancels, "a final state cancels every timer"


def _check_call(before: Consultation, decision: Decision) -> None:
    c, actions = decision.consultation, decision.actions
    joined = [a.advisor for a in actions if isinstance(a, Join)]
    assert len(joined) <= 1
    if joined:
        assert c.participants[-1] == joined[0] and before.offer_tier(joined[0]) is not None
        assert c.state is State.CONNECTED
    else:
        assert set(c.participants) <= set(before.participants)
    if before.connected_at is not None:
        assert c.connected_at == before.connected_at, "the answer time never changes"
    notes = [a for a in actions if isinstance(a, NotifyNurse)]
    assert len(notes) <= 1, notes
