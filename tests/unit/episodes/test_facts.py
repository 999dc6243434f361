"""Episode facts derived from timelines that the real state machine produced (fake clock)."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from advice_line.episodes.facts import NoRequest, derive, summarise_quality
from advice_line.episodes.model import EventRow
from escalation import (
    Accept,
    Cancel,
    Decline,
    End,
    Escalate,
    EscalationError,
    Leave,
    NurseGone,
    Policy,
    RequestCallback,
    Situation,
    State,
    Urgency,
    WrapUpDone,
)

from ..escalation.builders import NURSE, T0, Call, at, policy, tier
from ..escalation.test_properties import SITUATIONS, choose, policies


def rows(call: Call, extra: list[EventRow] = ()) -> list[EventRow]:  # type: ignore[assignment]
    """The call's timeline as the engine stores it (actor_id is not used by ``derive``)."""
    made = [
        EventRow(i, when, r.type, None, dict(r.data))
        for i, (when, r) in enumerate(call.timeline, 1)
    ]
    return sorted([*made, *extra], key=lambda e: (e.at, e.id))


def quality(i: int, seconds: float, rtt: float, loss: float, kbps: float, relay: bool) -> EventRow:
    data: dict[str, object] = {
        "rtt_ms": rtt,
        "packet_loss": loss,
        "bitrate_kbps": kbps,
        "relay": relay,
    }
    return EventRow(1000 + i, at(seconds), "call_quality", 1, data)


TIERS: Situation = {1: tier([1, 2]), 2: tier([5]), 3: tier([10])}


def test_a_call_answered_at_tier_one_escalated_to_a_gp_and_documented() -> None:
    call = Call(TIERS, policy())
    call.start()
    call.send(Decline(2), after=5)
    call.send(Accept(1), after=7)  # 12 s after the request
    call.send(Escalate(1, "needs a doctor"), after=60)  # 72 s
    call.send(Accept(5), after=30)  # 102 s
    call.send(Leave(1), after=100)  # 202 s
    call.send(End(NURSE), after=98)  # 300 s
    call.send(WrapUpDone(5), after=40)
    extra = [quality(1, 20, 80, 0.01, 900, False), quality(2, 30, 120, 0.04, 700, True)]
    facts = derive(7, rows(call, extra))

    assert (facts.consultation_id, facts.channel, facts.urgency, facts.start_tier) == (
        7,
        "video",
        "acute",
        1,
    )
    assert facts.requested_at == T0
    assert facts.seconds_to_first_answer == 12
    assert [(t.tier, t.offered, t.answered_by, t.seconds_to_answer) for t in facts.tiers] == [
        (1, (1, 2), 1, 12),
        (2, (5,), 5, 30),
    ]
    assert [(p.advisor, p.tier, p.seconds) for p in facts.participations] == [
        (1, 1, 190),
        (5, 2, 198),
    ]
    assert [(e.by, e.from_tier, e.note, e.result) for e in facts.escalations] == [
        (1, 1, "needs a doctor", "answered")
    ]
    assert facts.declined == (2,)
    assert facts.call_seconds == 288
    assert facts.highest_tier == 2
    assert (facts.outcome, facts.closed_at) == ("completed", at(340))
    assert facts.quality.reports == 2
    assert facts.quality.median_rtt_ms == 100
    assert facts.quality.max_packet_loss == 0.04
    assert facts.quality.mean_bitrate_kbps == 800
    assert facts.quality.relay_share == 0.5


def test_ring_timeout_moves_to_the_next_tier_and_the_answer_time_counts_from_there() -> None:
    call = Call(TIERS, policy(ring=(45, 90, 90)))
    call.start()
    call.fire()  # tier 1 rings out at 45 s
    call.send(Accept(5), after=20)
    facts = derive(1, rows(call))
    assert facts.timed_out == (1, 2)
    t1, t2 = facts.tiers
    assert (t1.answered_by, t1.seconds_to_answer) == (None, None)
    assert (t2.reached_at, t2.seconds_to_answer) == (at(45), 20)
    assert facts.seconds_to_first_answer == 65
    assert facts.outcome == "open"
    assert facts.participations[0].left_at is None and facts.call_seconds is None


def test_a_tier_with_nobody_on_duty_is_recorded_as_skipped() -> None:
    call = Call({2: tier([5])}, policy())
    call.start()
    facts = derive(1, rows(call))
    assert [(t.tier, t.skipped, t.offered) for t in facts.tiers] == [
        (1, "nobody_on_duty", ()),
        (2, None, (5,)),
    ]


def test_all_tiers_rung_out_queues_the_call_then_the_nurse_cancels() -> None:
    call = Call(TIERS, policy(ring=(10, 10, 10)))
    call.start()
    for _ in range(3):
        call.fire()
    call.send(Cancel(NURSE), after=30)
    facts = derive(1, rows(call))
    assert facts.queued and facts.outcome == "cancelled"
    assert facts.first_answer_at is None and facts.seconds_to_first_answer is None
    assert facts.closed_at == at(60)
    assert facts.participations == () and facts.highest_tier == 0


def test_escalation_nobody_answers_is_a_failed_escalation_and_the_call_goes_on() -> None:
    call = Call({1: tier([1]), 2: tier([5])}, policy(ring=(45, 20, 20)))
    call.start()
    call.send(Accept(1), after=3)
    call.send(Escalate(1, "pain"), after=10)
    call.fire()  # tier 2 rings out; no tier 3
    facts = derive(1, rows(call))
    assert [e.result for e in facts.escalations] == ["failed"]
    assert facts.outcome == "open" and facts.highest_tier == 1


@pytest.mark.parametrize(
    ("ending", "outcome"),
    [(Cancel(NURSE), "cancelled"), (NurseGone(), "abandoned")],
)
def test_endings_before_an_answer(ending: object, outcome: str) -> None:
    call = Call(TIERS, policy())
    call.start()
    call.send(ending, after=9)  # type: ignore[arg-type]
    facts = derive(1, rows(call))
    assert (facts.outcome, facts.closed_at, facts.seconds_to_first_answer) == (outcome, at(9), None)


def test_a_callback_is_flagged() -> None:
    call = Call(TIERS, policy())
    call.start()
    call.send(RequestCallback(), after=9)
    assert derive(1, rows(call)).callback_requested


def test_a_timeline_without_a_request_is_refused() -> None:
    with pytest.raises(NoRequest):
        derive(1, [])
    with pytest.raises(NoRequest):
        derive(1, [EventRow(1, T0, "offered", None, {"tier": 1, "advisors": [1]})])


def test_unknown_event_types_are_ignored() -> None:
    call = Call(TIERS, policy())
    call.start()
    odd = EventRow(99, at(1), "something_new", None, {"x": 1})
    assert derive(1, rows(call, [odd])) == derive(1, rows(call))


def test_no_quality_reports_give_empty_figures() -> None:
    assert summarise_quality([]).median_rtt_ms is None


_OUTCOMES = {State.ENDED: "completed", State.CANCELLED: "cancelled", State.ABANDONED: "abandoned",
             State.FAILED: "failed"}  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(policies(), st.sampled_from(Urgency), SITUATIONS, st.data())
def test_random_walks_derive_facts_that_agree_with_the_machine(
    pol: Policy, urgency: Urgency, situation: Situation, data: st.DataObject
) -> None:
    call = Call(situation, pol, urgency)
    for _ in range(data.draw(st.integers(1, 40), label="steps")):
        if call.c.state.final:
            break
        event = choose(data, call.c, situation)
        wait = (0, 1, 5, 30, 120)[data.draw(st.integers(0, 4), label="wait")]
        try:
            call.send(event, after=wait)
        except EscalationError:
            continue
    if not call.types or call.types[0] != "requested":
        return  # the engine always starts a consultation before anything else happens
    facts = derive(1, rows(call))
    c = call.c
    expected = (c.connected_at - c.created).total_seconds() if c.connected_at else None
    assert facts.seconds_to_first_answer == expected
    assert facts.outcome == _OUTCOMES.get(c.state, "open")
    assert {p.advisor for p in facts.participations} >= set(c.participants)
    for t in facts.tiers:
        assert t.seconds_to_answer is None or t.seconds_to_answer >= 0
        assert t.answered_by is None or t.answered_by in {p.advisor for p in facts.participations}
    for p in facts.participations:
        assert p.seconds is None or p.seconds >= 0
    if c.state in (State.WRAP_UP, State.ENDED):
        assert all(p.left_at is not None for p in facts.participations)
    assert facts.first_answer_at is None or facts.first_answer_at >= facts.requested_at
    assert isinstance(facts.requested_at, dt.datetime)
