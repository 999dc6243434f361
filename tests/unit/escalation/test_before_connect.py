"""Before anyone answers: cancel, callback, the nurse gone, failure."""

from __future__ import annotations

import pytest

from escalation import (
    Accept,
    AdvisorAvailable,
    AlertCoordinators,
    Cancel,
    CancelTimers,
    Decline,
    Event,
    Fail,
    IllegalTransition,
    NotifyNurse,
    NurseGone,
    RequestCallback,
    Start,
    State,
    Withdraw,
)

from .builders import NURSE, Call, offers, tier

EVERYONE = {1: tier((1, 2, 3)), 2: tier((5,)), 3: tier((7,))}


def ringing() -> Call:
    call = Call(EVERYONE)
    call.start()
    return call


@pytest.mark.parametrize("setup", ["requested", "ringing", "waking", "queued", "callback"])
@pytest.mark.parametrize(
    ("event", "final", "record", "told"),
    [
        (Cancel(NURSE), State.CANCELLED, "cancelled", ["cancelled"]),
        (NurseGone(), State.ABANDONED, "abandoned", []),
        (Fail("database gone"), State.FAILED, "failed", ["failed"]),
    ],
)
def test_before_connect_the_nurse_can_leave(
    setup: str, event: Event, final: State, record: str, told: list[str]
) -> None:
    call = reach(setup)
    offered = call.c.offered
    if setup == "callback" and isinstance(event, NurseGone):
        decision = call.send(event)
        assert decision.actions == () and call.c.state is State.CALLBACK  # never lost
        return
    decision = call.send(event, after=1)
    assert call.c.state is final and call.types[-1] == record
    assert CancelTimers() in decision.actions
    withdrawn = [a for a in decision.actions if isinstance(a, Withdraw)]
    assert [set(w.advisors) for w in withdrawn] == ([offered] if offered else [])
    assert [a.status for a in decision.actions if isinstance(a, NotifyNurse)] == told


def reach(setup: str) -> Call:
    situations = {
        "requested": EVERYONE,
        "ringing": EVERYONE,
        "waking": {1: tier(asleep=(1,))},
        "queued": {1: tier((1,))},
        "callback": EVERYONE,
    }
    call = Call(situations[setup])
    if setup != "requested":
        call.start()
    if setup == "queued":
        call.fire()
    if setup == "callback":
        call.send(RequestCallback())
    return call


def test_cancel_records_who() -> None:
    call = ringing()
    call.send(Cancel(42))
    assert call.records("cancelled")[0].data == {"by": 42}


def test_fail_alerts_the_coordinators() -> None:
    call = ringing()
    decision = call.send(Fail("media relay lost"))
    assert AlertCoordinators("consultation_failed", 1, "media relay lost") in decision.actions
    assert call.records("failed")[0].data == {"reason": "media relay lost"}


def test_callback_withdraws_the_ring_and_queues_it_for_everyone_available() -> None:
    call = ringing()
    decision = call.send(RequestCallback(), after=5)
    assert decision.actions[:2] == (Withdraw((1, 2, 3), "callback_requested"), CancelTimers())
    assert offers(decision) == [((1, 2, 3), 1), ((5,), 2), ((7,), 3)]
    assert (call.c.state, call.c.timer_kind) == (State.CALLBACK, None)
    assert decision.actions[-1] == NotifyNurse("callback")
    assert call.types[-4:] == ["callback_requested", "offered", "offered", "offered"]


def test_callback_is_offered_to_each_advisor_who_becomes_available() -> None:
    call = Call({})
    call.start()
    call.send(RequestCallback())
    assert call.c.offered == set()
    decision = call.send(AdvisorAvailable(5), after=600, situation={2: tier((5,))})
    assert offers(decision) == [((5,), 2)]
    assert call.send(AdvisorAvailable(5)).actions == ()  # offered already
    call.send(Accept(5), after=30)
    assert call.c.state is State.CONNECTED and call.c.answer_seconds == 630


def test_a_declined_callback_is_offered_again_when_they_are_next_available() -> None:
    call = Call({2: tier((5,))})
    call.send(RequestCallback())
    call.send(Decline(5))
    assert call.c.offered == set()
    call.send(AdvisorAvailable(5), after=300)
    assert call.c.offered == {5} and call.c.declined == set()


@pytest.mark.parametrize("event", [RequestCallback(), Cancel(NURSE)])
def test_after_connect_cancel_and_callback_are_illegal(event: Event) -> None:
    call = ringing()
    call.send(Accept(1))
    with pytest.raises(IllegalTransition, match="CONNECTED"):
        call.send(event)


def test_callback_twice_is_illegal() -> None:
    call = ringing()
    call.send(RequestCallback())
    with pytest.raises(IllegalTransition, match=r"RequestCallback.*CALLBACK"):
        call.send(RequestCallback())


def test_start_twice_is_illegal() -> None:
    call = ringing()
    with pytest.raises(IllegalTransition, match="Start is not allowed in state RINGING"):
        call.send(Start())
