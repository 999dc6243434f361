"""Answering, declining, notices of availability, stale timers, bad input."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from escalation import (
    Accept,
    AdvisorAvailable,
    Cancel,
    CancelTimers,
    Decline,
    EscalationError,
    Event,
    IllegalTransition,
    Join,
    NaiveDatetime,
    NotifyNurse,
    NotOffered,
    Retry,
    RingTimeout,
    State,
    Strategy,
    WakeTimeout,
    Withdraw,
    WrapUpTimeout,
    decide,
)

from .builders import DEFAULT, NURSE, T0, Call, at, offers, policy, tier

EVERYONE = {1: tier((1, 2, 3)), 2: tier((5,)), 3: tier((7,))}


def ringing() -> Call:
    call = Call(EVERYONE)
    call.start()
    return call


def queued() -> Call:
    call = Call({1: tier((1,)), 2: tier(busy=(5,))})
    call.start()
    call.fire()
    assert call.c.state is State.QUEUED
    return call


# Accept ------------------------------------------------------------------------------------


def test_first_accept_wins_and_the_others_are_withdrawn() -> None:
    call = ringing()
    decision = call.send(Accept(2), after=12)
    c = call.c
    assert (c.state, c.tier, c.participants, c.offered) == (State.CONNECTED, 1, (2,), set())
    assert c.connected_at == at(12) and c.answer_seconds == 12
    assert decision.actions[:3] == (
        Withdraw((1, 3), "answered_elsewhere"),
        CancelTimers(),
        Join(2),
    )
    assert call.types[-2:] == ["accepted", "joined"]
    assert decision.actions[-1] == NotifyNurse("connected")
    assert c.timer_kind is None


@pytest.mark.parametrize(
    ("events", "advisor"),
    [
        ([], 9),  # never offered
        ([Accept(1)], 1),  # double accept
        ([Accept(1)], 2),  # withdrawn: answered elsewhere
        ([Decline(2)], 2),  # declined already
    ],
)
def test_accept_without_a_live_offer_is_refused(events: list[Event], advisor: int) -> None:
    call = ringing()
    for event in events:
        call.send(event)
    before = call.c
    with pytest.raises(NotOffered, match=f"advisor {advisor}"):
        call.send(Accept(advisor))
    assert call.c is before


def test_accept_after_a_timeout_withdrew_the_offer_is_refused() -> None:
    call = ringing()
    call.fire()
    assert call.c.tier == 2
    with pytest.raises(NotOffered):
        call.send(Accept(1))


@pytest.mark.parametrize("advisor", [1, 5])
def test_an_advisor_of_any_tier_takes_a_queued_call(advisor: int) -> None:
    call = queued()
    assert call.c.offer_tiers == ((1, 1),)
    call.send(AdvisorAvailable(5), situation={1: tier((1,)), 2: tier((5,))})  # tier 1 rings
    call.fire()  # tier 2 rings
    call.fire()  # tier 3 is empty: queued again, offered to 1 (tier 1) and 5 (tier 2)
    assert call.c.state is State.QUEUED and call.c.offer_tiers == ((1, 1), (5, 2))
    call.send(Accept(advisor), after=2)
    assert call.c.state is State.CONNECTED
    assert call.c.tier == call.c.participant_tiers[0] == {1: 1, 5: 2}[advisor]
    assert call.c.queued_since is None


def test_declining_a_queue_offer_keeps_the_call_queued() -> None:
    call = queued()
    call.send(Decline(1))
    assert (call.c.state, call.c.offered, call.c.declined) == (State.QUEUED, set(), {1})


# AdvisorAvailable -------------------------------------------------------------------------


def test_available_advisor_joins_a_ring_all_ring() -> None:
    call = Call({1: tier((1,))})
    call.start()
    decision = call.send(AdvisorAvailable(4), after=10, situation={1: tier((1, 4))})
    assert offers(decision) == [((4,), 1)]
    assert call.c.offered == {1, 4} and call.c.timer_seq == 1  # same ring, same timer
    assert call.records("offered")[-1].data["late"] is True


@pytest.mark.parametrize(
    ("situation", "strategy", "advisor"),
    [
        ({1: tier((1, 4))}, Strategy.LONGEST_IDLE, 4),  # the next step will find them
        ({1: tier((1,)), 2: tier((5,))}, Strategy.RING_ALL, 5),  # another tier
        ({1: tier((1,))}, Strategy.RING_ALL, 1),  # already ringing
        ({1: tier((1,), busy=(4,))}, Strategy.RING_ALL, 4),  # not available after all
    ],
)
def test_available_advisor_who_cannot_help_now_is_a_no_op(
    situation: dict[int, object], strategy: Strategy, advisor: int
) -> None:
    call = Call({1: tier((1,))}, policy(strategy))
    call.start()
    before = call.c
    decision = call.send(AdvisorAvailable(advisor), situation=situation)  # type: ignore[arg-type]
    assert decision.actions == () and decision.consultation is before


def test_available_advisor_of_a_waking_tier_is_rung_at_once() -> None:
    call = Call({1: tier(asleep=(1, 2))})
    call.start()
    decision = call.send(AdvisorAvailable(2), after=25, situation={1: tier((2,), asleep=(1,))})
    assert offers(decision) == [((2,), 1)]
    assert call.c.state is State.RINGING
    assert decision.actions[-1] == NotifyNurse("ringing")


def test_available_advisor_of_another_tier_does_not_end_waking() -> None:
    call = Call({1: tier(asleep=(1,)), 2: tier((5,))})
    call.start()
    decision = call.send(AdvisorAvailable(5))
    assert decision.actions == () and call.c.state is State.WAKING


def test_available_advisor_reroutes_a_queued_call_from_the_start_tier() -> None:
    call = queued()
    decision = call.send(AdvisorAvailable(5), after=8, situation={1: tier((1,)), 2: tier((5,))})
    assert (call.c.state, call.c.tier) == (State.RINGING, 1)
    assert decision.actions[0] == Withdraw((1,), "rerouted")
    assert offers(decision) == [((1,), 1)]
    call.fire()
    assert (call.c.tier, call.c.offered) == (2, {5})


@pytest.mark.parametrize("state_of", ["requested", "connected"])
def test_available_advisor_is_a_no_op_when_nothing_waits(state_of: str) -> None:
    call = Call(EVERYONE)
    if state_of == "connected":
        call.start()
        call.send(Accept(1))
    decision = call.send(AdvisorAvailable(2))
    assert decision.actions == ()


# Stale timers -----------------------------------------------------------------------------


def stale_events(call: Call) -> list[Event]:
    c = call.c
    return [
        RingTimeout(c.tier, c.timer_seq - 1),
        RingTimeout(c.tier, c.timer_seq + 1),
        RingTimeout(c.tier + 1, c.timer_seq),
        WakeTimeout(c.tier, c.timer_seq),
        Retry(c.timer_seq),
        WrapUpTimeout(c.timer_seq),
    ]


@pytest.mark.parametrize("index", range(6))
def test_stale_timers_change_nothing(index: int) -> None:
    call = ringing()
    call.fire()  # tier 2 rings with timer seq 2
    before = call.c
    decision = call.send(stale_events(call)[index], after=1)
    assert decision.consultation is before and decision.actions == ()


def test_a_ring_timeout_racing_an_accept_is_stale() -> None:
    call = ringing()
    timeout = RingTimeout(1, call.c.timer_seq)
    call.send(Accept(3), after=44.9)
    decision = call.send(timeout, after=0.1)
    assert decision.actions == () and call.c.state is State.CONNECTED


@pytest.mark.parametrize("final", ["cancelled", "ended"])
def test_final_states_ignore_stale_timers_and_refuse_the_rest(final: str) -> None:
    call = ringing()
    if final == "cancelled":
        call.send(Cancel(NURSE))
    else:
        from escalation import End, WrapUpDone

        call.send(Accept(1))
        call.send(End(NURSE))
        call.send(WrapUpDone(1))
    old_seq = call.c.timer_seq
    for event in (RingTimeout(1, old_seq), Retry(old_seq), WrapUpTimeout(old_seq)):
        assert call.send(event).actions == ()
    with pytest.raises(IllegalTransition):
        call.send(AdvisorAvailable(1))


# Inputs --------------------------------------------------------------------------------------


def test_now_must_be_aware() -> None:
    call = ringing()
    with pytest.raises(NaiveDatetime):
        decide(call.c, Accept(1), EVERYONE, DEFAULT, dt.datetime(2026, 3, 25, 2, 0))


def test_an_unknown_event_is_refused() -> None:
    @dataclasses.dataclass(frozen=True)
    class Poke:
        pass

    call = ringing()
    with pytest.raises(EscalationError, match="unknown event"):
        decide(call.c, Poke(), EVERYONE, DEFAULT, T0)  # type: ignore[arg-type]
