"""The queue: all tiers exhausted, the fallback, retries, offers to everyone available."""

from __future__ import annotations

from escalation import (
    Accept,
    AlertCoordinators,
    NotifyNurse,
    Offer,
    State,
    TimerKind,
    Wake,
)

from .builders import T0, Call, at, offers, tier


def alerts(call: Call) -> list[tuple[str, int]]:
    assert call.last is not None
    return [(a.kind, a.tier) for a in call.last.actions if isinstance(a, AlertCoordinators)]


def nurse(call: Call) -> list[str]:
    assert call.last is not None
    return [a.status for a in call.last.actions if isinstance(a, NotifyNurse)]


def test_all_tiers_exhausted_queues_with_fallback_alert_and_retry() -> None:
    call = Call({1: tier((1,)), 2: tier((5,)), 3: tier((7,))})
    call.start()
    for _ in range(3):
        call.fire()
    decision = call.last
    assert decision is not None
    assert call.c.state is State.QUEUED and call.c.queued_since == at(225)
    assert alerts(call) == [("all_tiers_exhausted", 3)]
    assert nurse(call) == ["fallback"]
    assert call.timer is not None
    assert (call.timer.kind, call.timer.due) == (TimerKind.RETRY, at(255))
    # everyone available may take it from the queue, each for their own tier
    assert offers(decision) == [((1,), 1), ((5,), 2), ((7,), 3)]
    assert call.c.offer_tiers == ((1, 1), (5, 2), (7, 3))


def test_retry_reroutes_from_the_start_tier() -> None:
    call = Call({})
    call.start()
    decision = call.fire(situation={1: tier((1,)), 2: tier((5,))})
    assert (call.c.state, call.c.tier) == (State.RINGING, 1)
    assert offers(decision) == [((1,), 1)]
    assert call.c.tried_tiers == (1,)
    assert nurse(call) == ["ringing"]


def test_retry_finding_nobody_stays_queued_quietly() -> None:
    call = Call({})
    call.start()
    decision = call.fire()
    assert call.c.state is State.QUEUED
    assert alerts(call) == [] and nurse(call) == []
    assert call.types == ["requested", *["tier_skipped"] * 3, "queued", "retried"]
    assert call.records("retried")[0].data == {
        "tiers": [{"tier": t, "outcome": "nobody_on_duty"} for t in (1, 2, 3)]
    }
    assert call.timer is not None and call.timer.due == at(60)
    assert call.c.queued_since == T0
    assert decision.consultation.version == 2


def test_requeued_after_a_retry_ring_tells_the_nurse_queued_not_fallback() -> None:
    call = Call({})
    call.start()
    call.fire(situation={1: tier((1,))})
    call.fire()
    assert call.c.state is State.QUEUED
    assert nurse(call) == ["queued"] and alerts(call) == []


def test_once_queued_sleeping_tiers_are_woken_but_not_waited_for() -> None:
    call = Call({1: tier(asleep=(1,)), 2: tier((5,))})
    call.start()
    call.fire()  # wake timeout: tier 2 rings
    call.fire()  # tier 2 times out: queued
    assert call.c.state is State.QUEUED
    decision = call.fire()  # retry: tier 1 is woken again, then tier 2 rings at once
    assert [a for a in decision.actions if isinstance(a, Wake)] == [Wake((1,), 1)]
    assert offers(decision) == [((5,), 2)]
    assert call.records("waking")[-1].data["waiting"] is False
    assert alerts(call) == []


def test_queue_offers_follow_who_is_available() -> None:
    call = Call({1: tier((1, 2))})
    call.start()
    call.fire()
    assert call.c.offered == {1, 2}
    # a retry re-rings tier 1; on timeout the queue is offered to whoever is available then
    call.fire(situation={1: tier((2, 3), busy=(1,))})
    assert call.c.state is State.RINGING and call.c.offered == {2, 3}
    call.fire()
    assert call.c.state is State.QUEUED and call.c.offered == {2, 3}


def test_an_advisor_on_two_tiers_is_queued_once_for_the_lower() -> None:
    call = Call({1: tier(busy=(1,)), 2: tier((4,)), 3: tier((4, 7))})
    call.start()
    call.fire()
    call.fire()
    assert call.c.state is State.QUEUED
    assert call.c.offer_tiers == ((4, 2), (7, 3))


def test_offer_actions_come_before_their_record() -> None:
    call = Call({1: tier((1,))})
    decision = call.start()
    index = [type(a) for a in decision.actions].index(Offer)
    assert decision.actions[index + 1].type == "offered"  # type: ignore[union-attr]


def test_retry_keeps_waking_a_sleeping_tier_without_waiting() -> None:
    call = Call({1: tier(asleep=(1,)), 2: tier(asleep=(5, 6))})
    call.start()
    call.fire()
    call.fire()
    assert call.c.state is State.QUEUED
    decision = call.fire()
    assert [a for a in decision.actions if isinstance(a, Wake)] == [Wake((1,), 1), Wake((5, 6), 2)]
    assert call.c.state is State.QUEUED and alerts(call) == []
    assert call.records("retried")[0].data == {
        "tiers": [
            {"tier": 1, "outcome": "asleep"},
            {"tier": 2, "outcome": "asleep"},
            {"tier": 3, "outcome": "nobody_on_duty"},
        ]
    }


def test_the_own_gp_is_in_the_queue_too() -> None:
    call = Call({2: tier(busy=(5,), own_gp=9)})
    call.start()
    call.fire()  # the own GP did not answer; the rota GPs are busy; tier 3 is empty
    assert call.c.state is State.QUEUED and call.c.offer_tiers == ((9, 2),)
    call.send(Accept(9), after=3)
    assert (call.c.state, call.c.tier) == (State.CONNECTED, 2)
