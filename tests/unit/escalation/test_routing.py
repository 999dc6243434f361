"""Entering tiers: skip, wake, own GP first, ring_all, longest_idle, moving on."""

from __future__ import annotations

import pytest

from escalation import (
    AlertCoordinators,
    Decline,
    NotifyNurse,
    Situation,
    Stage,
    State,
    Strategy,
    TimerKind,
    Urgency,
    Wake,
    Withdraw,
)

from .builders import Call, at, offers, policy, tier

RING_ALL, LONGEST = Strategy.RING_ALL, Strategy.LONGEST_IDLE
S = State


def alerts(call: Call) -> list[tuple[str, int]]:
    assert call.last is not None
    return [(a.kind, a.tier) for a in call.last.actions if isinstance(a, AlertCoordinators)]


def nurse(call: Call) -> list[str]:
    assert call.last is not None
    return [a.status for a in call.last.actions if isinstance(a, NotifyNurse)]


# Start: where the first decision leaves the call ------------------------------------------


@pytest.mark.parametrize(
    ("situation", "state", "at_tier", "offered", "types", "alerted", "told"),
    [
        pytest.param(
            {1: tier((2, 1), busy=(3,))},
            S.RINGING, 1, [((2, 1), 1)],
            ["requested", "offered"], [], ["ringing"],
            id="tier 1 rings everyone available, longest idle first",
        ),
        pytest.param(
            {2: tier((5,))},
            S.RINGING, 2, [((5,), 2)],
            ["requested", "tier_skipped", "offered"], [("tier_skipped", 1)], ["ringing"],
            id="nobody on duty: skipped with an alert, no ring time spent",
        ),
        pytest.param(
            {1: tier(busy=(1, 2)), 2: tier((5,))},
            S.RINGING, 2, [((5,), 2)],
            ["requested", "tier_skipped", "offered"], [], ["ringing"],
            id="everyone busy: the tier is passed without an alert",
        ),
        pytest.param(
            {1: tier(asleep=(1, 2)), 2: tier((5,))},
            S.WAKING, 1, [],
            ["requested", "waking"], [("tier_asleep", 1)], ["waking"],
            id="on duty but nobody online: woken, and the call waits for them",
        ),
        pytest.param(
            {1: tier(busy=(1,), asleep=(2,)), 2: tier((5,))},
            S.RINGING, 2, [((5,), 2)],
            ["requested", "tier_skipped", "offered"], [], ["ringing"],
            id="someone online (busy) and someone asleep: busy, not woken",
        ),
        pytest.param(
            {2: tier((5, 6), own_gp=9)},
            S.RINGING, 2, [((9,), 2)],
            ["requested", "tier_skipped", "offered"], [("tier_skipped", 1)], ["ringing"],
            id="the patient's own GP is rung alone first",
        ),
        pytest.param(
            {2: tier((9, 5), own_gp=9)},
            S.RINGING, 2, [((9,), 2)],
            ["requested", "tier_skipped", "offered"], [("tier_skipped", 1)], ["ringing"],
            id="an own GP who is also on the rota is still rung alone",
        ),
        pytest.param(
            {2: tier(own_gp=9)},
            S.RINGING, 2, [((9,), 2)],
            ["requested", "tier_skipped", "offered"], [("tier_skipped", 1)], ["ringing"],
            id="the own GP is rung even when no rota GP is on duty",
        ),
        pytest.param(
            {1: tier((1,), own_gp=9)},
            S.RINGING, 1, [((1,), 1)],
            ["requested", "offered"], [], ["ringing"],
            id="an own GP in another tier's view is ignored",
        ),
        pytest.param(
            {},
            S.QUEUED, 3, [],
            ["requested", "tier_skipped", "tier_skipped", "tier_skipped", "queued"],
            [("tier_skipped", 1), ("tier_skipped", 2), ("tier_skipped", 3),
             ("all_tiers_exhausted", 3)],
            ["fallback"],
            id="nobody on duty anywhere: queued, fallback, alerts",
        ),
        pytest.param(
            {1: tier(busy=(1,)), 2: tier(busy=(5,)), 3: tier(busy=(7,))},
            S.QUEUED, 3, [],
            ["requested", "tier_skipped", "tier_skipped", "tier_skipped", "queued"],
            [("all_tiers_exhausted", 3)], ["fallback"],
            id="everyone busy: queued, only the exhaustion alert",
        ),
    ],
)  # fmt: skip
def test_start(
    situation: Situation,
    state: State,
    at_tier: int,
    offered: list[tuple[tuple[int, ...], int]],
    types: list[str],
    alerted: list[tuple[str, int]],
    told: list[str],
) -> None:
    call = Call(situation)
    decision = call.start()
    assert (call.c.state, call.c.tier) == (state, at_tier)
    assert offers(decision) == offered
    assert call.types == types
    assert alerts(call) == alerted
    assert nurse(call) == told


@pytest.mark.parametrize(
    ("urgency", "first"), [(Urgency.ACUTE, 2), (Urgency.URGENT, 1), (Urgency.ROUTINE, 3)]
)
def test_start_tier_follows_the_urgency(urgency: Urgency, first: int) -> None:
    starts = {Urgency.ACUTE: 2, Urgency.URGENT: 1, Urgency.ROUTINE: 3}
    everyone = {1: tier((1,)), 2: tier((5,)), 3: tier((7,))}
    call = Call(everyone, policy(start=starts), urgency)
    decision = call.start()
    assert offers(decision) == [((everyone[first].available), first)]
    assert call.records("requested")[0].data["start_tier"] == first
    assert call.c.tried_tiers == (first,)


def test_ring_timer_is_the_tiers_ring_seconds() -> None:
    call = Call({1: tier((1,))}, policy(ring=(30, 60, 120)))
    call.start()
    assert call.timer is not None
    assert (call.timer.kind, call.timer.due, call.timer.seq) == (TimerKind.RING, at(30), 1)


# Moving on: timeouts and declines ----------------------------------------------------------


EVERYONE: Situation = {1: tier((1, 2)), 2: tier((5, 6), own_gp=9), 3: tier((7,))}


def test_timeout_withdraws_and_rings_the_next_tier() -> None:
    call = Call(EVERYONE)
    call.start()
    decision = call.fire()
    assert call.now == at(45)
    withdrawn = [a for a in decision.actions if isinstance(a, Withdraw)]
    assert withdrawn == [Withdraw((1, 2), "timed_out")]
    assert offers(decision) == [((9,), 2)]
    assert call.c.stage is Stage.OWN_GP
    assert call.types[-2:] == ["timed_out", "offered"]
    assert nurse(call) == []  # still ringing: the nurse was told already


def test_own_gp_then_the_rota_gps_then_the_specialists() -> None:
    call = Call(EVERYONE)
    call.start()
    call.fire()
    assert offers(call.fire()) == [((5, 6), 2)]
    assert (call.c.stage, call.now) == (Stage.ROTA, at(45 + 90))
    assert offers(call.fire()) == [((7,), 3)]
    call.fire()
    assert call.c.state is State.QUEUED
    assert call.c.tried_tiers == (1, 2, 3)
    assert [r.data["stage"] for r in call.records("timed_out")] == [
        "rota",
        "own_gp",
        "rota",
        "rota",
    ]


def test_own_gp_declining_moves_on_to_the_rota_at_once() -> None:
    call = Call(EVERYONE)
    call.start()
    call.fire()
    decision = call.send(Decline(9), after=5)
    assert offers(decision) == [((5, 6), 2)]
    assert call.c.declined == {9}
    assert call.timer is not None and call.timer.due == at(50 + 90)


def test_own_gp_is_not_rung_again_with_the_rota() -> None:
    call = Call({2: tier((9, 5), own_gp=9)})
    call.start()
    assert offers(call.fire()) == [((5,), 2)]


def test_own_gp_alone_on_the_rota_then_next_tier() -> None:
    call = Call({2: tier((9,), own_gp=9), 3: tier((7,))})
    call.start()
    decision = call.fire()
    assert offers(decision) == [((7,), 3)]
    assert call.types[-3:] == ["timed_out", "tier_skipped", "offered"]
    assert call.records("tier_skipped")[-1].data == {"tier": 2, "reason": "all_busy"}


@pytest.mark.parametrize("strategy", [RING_ALL, LONGEST])
def test_declines_by_all_move_on_as_a_timeout(strategy: Strategy) -> None:
    call = Call({1: tier((1, 2)), 2: tier((5,))}, policy(strategy))
    call.start()
    call.send(Decline(call.c.offer_tiers[0][0]), after=3)
    if call.c.tier == 1:
        call.send(Decline(next(iter(call.c.offered))), after=3)
    assert (call.c.state, call.c.tier, call.c.offered) == (State.RINGING, 2, {5})
    assert call.c.declined == frozenset()  # a new tier round
    assert call.types.count("declined") == 2


def test_one_decline_of_several_keeps_ringing_the_rest() -> None:
    call = Call({1: tier((1, 2, 3))})
    call.start()
    decision = call.send(Decline(2), after=3)
    assert decision.actions[0] == Withdraw((2,), "declined")
    assert (call.c.state, call.c.offered, call.c.declined) == (State.RINGING, {1, 3}, {2})
    assert call.c.timer_seq == 1  # the tier's ring timer goes on


# Longest idle --------------------------------------------------------------------------------


def test_longest_idle_steps_through_the_advisors_in_order() -> None:
    call = Call({1: tier((3, 1, 2)), 2: tier((5,))}, policy(LONGEST, ring=(90, 90, 90)))
    seen = [(offers(call.start())[0][0], call.now)]
    for _ in range(3):
        decision = call.fire()
        seen.append((offers(decision)[0][0], call.now))
    assert seen == [((3,), at(0)), ((1,), at(20)), ((2,), at(40)), ((5,), at(60))]
    assert call.c.tier == 2
    withdrawn = [r.data["advisors"] for r in call.records("timed_out")]
    assert withdrawn == [[3], [1], [2]]


def test_longest_idle_stops_at_the_tiers_ring_seconds() -> None:
    call = Call({1: tier((1, 2, 3, 4)), 2: tier((5,))}, policy(LONGEST, ring=(45, 90, 90)))
    call.start()
    dues = []
    while call.c.tier == 1:
        assert call.timer is not None
        dues.append(call.timer.due)
        call.fire()
    assert dues == [at(20), at(40), at(45)]  # the third advisor gets what is left
    assert call.c.timed_out == frozenset()
    assert [r.data["advisors"] for r in call.records("timed_out")] == [[1], [2], [3]]


def test_longest_idle_takes_who_is_available_at_each_step() -> None:
    call = Call({1: tier((1, 2, 3))}, policy(LONGEST))
    call.start()
    # 2 went into another call meanwhile; 4 came on duty and is the longest idle now
    decision = call.fire(situation={1: tier((4, 1, 3), busy=(2,))})
    assert offers(decision) == [((4,), 1)]
    decision = call.fire()
    assert offers(decision) == [((3,), 1)]


def test_longest_idle_decline_steps_on_at_once() -> None:
    call = Call({1: tier((1, 2))}, policy(LONGEST))
    call.start()
    decision = call.send(Decline(1), after=4)
    assert offers(decision) == [((2,), 1)]
    assert call.timer is not None and call.timer.due == at(24)


def test_longest_idle_own_gp_first_then_one_at_a_time() -> None:
    call = Call({2: tier((5, 6), own_gp=9)}, policy(RING_ALL, LONGEST))
    assert offers(call.start()) == [((9,), 2)]
    assert offers(call.fire()) == [((5,), 2)]
    assert offers(call.fire()) == [((6,), 2)]


# Waking ----------------------------------------------------------------------------------------


def test_waking_wakes_everyone_on_duty_and_waits_the_grace() -> None:
    call = Call({1: tier(asleep=(2, 1))})
    decision = call.start()
    assert [a for a in decision.actions if isinstance(a, Wake)] == [Wake((1, 2), 1)]
    assert call.timer is not None
    assert (call.timer.kind, call.timer.due) == (TimerKind.WAKE, at(60))
    assert call.records("waking")[0].data == {"tier": 1, "advisors": [1, 2], "waiting": True}


def test_wake_timeout_skips_the_tier() -> None:
    call = Call({1: tier(asleep=(1,)), 2: tier((5,))})
    call.start()
    decision = call.fire()
    assert call.records("tier_skipped")[-1].data == {"tier": 1, "reason": "not_woken"}
    assert offers(decision) == [((5,), 2)]


def test_wake_timeout_rings_whoever_woke_meanwhile() -> None:
    call = Call({1: tier(asleep=(1, 2)), 2: tier((5,))})
    call.start()
    decision = call.fire(situation={1: tier((2,), asleep=(1,)), 2: tier((5,))})
    assert offers(decision) == [((2,), 1)]
    assert call.c.state is State.RINGING


def test_asleep_then_asleep_then_queued() -> None:
    call = Call({2: tier(asleep=(5,)), 3: tier(asleep=(7,))})
    call.start()
    assert (call.c.state, call.c.tier) == (State.WAKING, 2)
    call.fire()
    assert (call.c.state, call.c.tier) == (State.WAKING, 3)
    call.fire()
    assert call.c.state is State.QUEUED
    assert call.now == at(120)
