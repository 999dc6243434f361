"""A call that is on: escalating (own GP first, skipping, waking, giving up), joining,
leaving, ending, wrap-up."""

from __future__ import annotations

import pytest

from escalation import (
    Accept,
    AdvisorAvailable,
    AlertCoordinators,
    Decline,
    End,
    Escalate,
    Event,
    IllegalTransition,
    Join,
    Leave,
    NoHigherTier,
    NotifyNurse,
    NotOffered,
    NotParticipant,
    NurseGone,
    Situation,
    Stage,
    State,
    TimerKind,
    Wake,
    Withdraw,
    WrapUpDone,
    WrapUpTimeout,
)

from .builders import NURSE, STRANGER, Call, at, offers, tier

NOTE = "breathless, syringe driver empty; needs a dose decision"
EVERYONE: Situation = {1: tier((1, 2)), 2: tier((5, 6), own_gp=9), 3: tier((7, 8))}


def connected(situation: Situation = EVERYONE, advisor: int = 1) -> Call:
    call = Call(situation)
    call.start()
    call.send(Accept(advisor), after=10)
    return call


def told(call: Call) -> list[str]:
    assert call.last is not None
    return [a.status for a in call.last.actions if isinstance(a, NotifyNurse)]


# Escalate ------------------------------------------------------------------------------------


def test_escalate_rings_the_own_gp_first_with_the_note() -> None:
    call = connected()
    decision = call.send(Escalate(1, NOTE), after=60)
    c = call.c
    assert (c.state, c.tier, c.stage, c.participants) == (State.ESCALATING, 2, Stage.OWN_GP, (1,))
    assert c.escalation_note == NOTE
    assert offers(decision) == [((9,), 2)]
    assert call.records("escalated")[0].data == {"advisor": 1, "from_tier": 1, "note": NOTE}
    assert told(call) == ["escalating"]
    decision = call.fire()
    assert decision.actions[0] == Withdraw((9,), "timed_out")
    assert offers(decision) == [((5, 6), 2)]


def test_escalation_accept_joins_the_new_advisor_and_both_stay() -> None:
    call = connected()
    call.send(Escalate(1, NOTE))
    decision = call.send(Accept(9), after=20)
    c = call.c
    assert (c.state, c.tier, c.participants, c.participant_tiers) == (
        State.CONNECTED, 2, (1, 9), (1, 2),
    )  # fmt: skip
    assert Join(9) in decision.actions
    assert c.connected_at == at(10)  # the answer time is the first advisor's
    assert call.types[-2:] == ["accepted", "joined"]
    assert told(call) == ["connected"]
    call.send(Leave(1), after=30)
    assert (call.c.state, call.c.participants, call.c.tier) == (State.CONNECTED, (9,), 2)


def test_participants_are_never_offered_the_escalation() -> None:
    situation = {1: tier((1,)), 2: tier((1, 5))}  # 1 is on both rotas
    call = connected(situation)
    decision = call.send(Escalate(1, NOTE))
    assert offers(decision) == [((5,), 2)]


def test_escalation_when_the_only_higher_advisor_is_the_participant() -> None:
    situation = {1: tier((1,)), 2: tier((1,))}
    call = connected(situation)
    call.send(Escalate(1, NOTE))
    assert call.c.state is State.CONNECTED
    assert call.types[-3:] == ["tier_skipped", "tier_skipped", "escalation_failed"]


def test_escalation_skips_an_empty_tier_and_rings_the_specialists() -> None:
    call = connected({1: tier((1,)), 3: tier((7, 8))})
    decision = call.send(Escalate(1, NOTE))
    assert AlertCoordinators("tier_skipped", 2, "nobody_on_duty") in decision.actions
    assert offers(decision) == [((7, 8), 3)]
    assert call.c.tier == 3


def test_escalation_wakes_a_sleeping_tier_and_rings_who_wakes() -> None:
    call = connected({1: tier((1,)), 2: tier(asleep=(5,))})
    decision = call.send(Escalate(1, NOTE))
    assert Wake((5,), 2) in decision.actions
    c = call.c
    assert (c.state, c.stage, c.timer_kind, c.offered) == (
        State.ESCALATING, Stage.WAKE, TimerKind.WAKE, set(),
    )  # fmt: skip
    decision = call.send(
        AdvisorAvailable(5), after=30, situation={1: tier(busy=(1,)), 2: tier((5,))}
    )
    assert offers(decision) == [((5,), 2)] and call.c.state is State.ESCALATING
    call.send(Accept(5))
    assert call.c.participants == (1, 5)


def test_escalation_that_nobody_answers_gives_up_and_the_call_goes_on() -> None:
    call = connected({1: tier((1,)), 2: tier((5,))})
    call.send(Escalate(1, NOTE))
    decision = call.fire()  # tier 2 times out; tier 3 has nobody
    c = call.c
    assert (c.state, c.tier, c.participants, c.offered) == (State.CONNECTED, 1, (1,), set())
    assert call.types[-3:] == ["timed_out", "tier_skipped", "escalation_failed"]
    assert call.records("escalation_failed")[0].data == {"tiers": [2, 3]}
    assert AlertCoordinators("all_tiers_exhausted", 3, "escalation: no higher tier answered") in (
        decision.actions
    )
    assert told(call) == ["escalation_failed"]
    assert c.timer_kind is None
    call.send(Escalate(1, "again"), after=60, situation={1: tier(busy=(1,)), 2: tier((6,))})
    assert (call.c.state, call.c.offered) == (State.ESCALATING, {6})


def test_escalation_with_nobody_higher_fails_in_the_same_decision() -> None:
    call = connected({1: tier((1,))})
    decision = call.send(Escalate(1, NOTE))
    assert call.c.state is State.CONNECTED
    assert told(call) == ["escalation_failed"]
    assert call.types[-4:] == ["escalated", "tier_skipped", "tier_skipped", "escalation_failed"]
    assert decision.consultation.version == 3


def test_escalation_declined_by_all_moves_on_to_the_next_tier() -> None:
    call = connected({1: tier((1,)), 2: tier((5,)), 3: tier((7,))})
    call.send(Escalate(1, NOTE))
    call.send(Decline(5), after=5)
    assert (call.c.state, call.c.tier, call.c.offered) == (State.ESCALATING, 3, {7})


def test_escalate_from_the_top_tier_is_refused() -> None:
    call = connected({3: tier((7,))}, advisor=7)
    assert call.c.tier == 3
    before = call.c
    with pytest.raises(NoHigherTier, match="above tier 3"):
        call.send(Escalate(7, NOTE))
    assert call.c is before


def test_escalate_by_someone_not_in_the_call_is_refused() -> None:
    call = connected()
    with pytest.raises(NotParticipant, match="advisor 2"):
        call.send(Escalate(2, NOTE))


def test_escalate_while_escalating_is_illegal() -> None:
    call = connected()
    call.send(Escalate(1, NOTE))
    with pytest.raises(IllegalTransition, match="Escalate is not allowed in state ESCALATING"):
        call.send(Escalate(1, NOTE))


def test_escalation_after_an_escalation_goes_above_the_highest_in_the_call() -> None:
    call = connected()
    call.send(Escalate(1, NOTE))
    call.send(Accept(9))
    decision = call.send(Escalate(9, "specialist please"))
    assert offers(decision) == [((7, 8), 3)]
    call.send(Accept(8))
    assert call.c.participants == (1, 9, 8) and call.c.tier == 3
    with pytest.raises(NoHigherTier):
        call.send(Escalate(1, NOTE))


def test_a_gp_leaving_brings_the_call_back_to_the_nurses_tier() -> None:
    call = connected()
    call.send(Escalate(1, NOTE))
    call.send(Accept(9))
    call.send(Leave(9))
    assert (call.c.tier, call.c.participants) == (1, (1,))
    decision = call.send(Escalate(1, "GP again"), situation={1: tier(busy=(1,)), 2: tier((5,))})
    assert offers(decision) == [((5,), 2)]


# Leave, End, wrap-up -----------------------------------------------------------------------------


@pytest.mark.parametrize("by", [NURSE, 1])
def test_end_by_the_nurse_or_a_participant_starts_wrap_up(by: int) -> None:
    call = connected()
    decision = call.send(End(by), after=600)
    assert (call.c.state, call.c.participants) == (State.WRAP_UP, (1,))
    assert call.records("ended")[0].data == {"by": by, "reason": "ended"}
    assert call.timer is not None
    assert (call.timer.kind, call.timer.due) == (TimerKind.WRAP_UP, at(610 + 300))
    assert told(call) == ["ended"]
    assert decision.consultation.connected_at == at(10)


def test_end_while_escalating_withdraws_the_escalation() -> None:
    call = connected()
    call.send(Escalate(1, NOTE))
    decision = call.send(End(NURSE))
    assert decision.actions[0] == Withdraw((9,), "ended")
    assert call.c.state is State.WRAP_UP and call.c.offered == set()


@pytest.mark.parametrize("event", [End(STRANGER), Leave(STRANGER), Leave(NURSE)])
def test_end_or_leave_by_someone_not_in_the_call_is_refused(event: Event) -> None:
    call = connected()
    with pytest.raises(NotParticipant):
        call.send(event)


def test_the_last_participant_leaving_ends_the_call() -> None:
    call = connected()
    call.send(Leave(1), after=100)
    assert (call.c.state, call.c.participants) == (State.WRAP_UP, (1,))
    assert call.types[-2:] == ["left", "ended"]
    assert call.records("ended")[0].data == {"by": 1, "reason": "last_participant_left"}


def test_the_only_participant_leaving_an_escalation_ends_the_call() -> None:
    call = connected()
    call.send(Escalate(1, NOTE))
    decision = call.send(Leave(1))
    assert call.c.state is State.WRAP_UP
    assert Withdraw((9,), "ended") in decision.actions


def test_the_first_advisor_may_leave_an_escalation_with_others_in_it() -> None:
    call = connected()
    call.send(Escalate(1, NOTE))
    call.send(Accept(9))
    call.send(Escalate(9, "specialist"))
    call.send(Leave(1))
    assert (call.c.state, call.c.participants, call.c.tier) == (State.ESCALATING, (9,), 3)


def test_nurse_gone_during_a_call_ends_it() -> None:
    call = connected()
    call.send(NurseGone(), after=30)
    assert call.c.state is State.WRAP_UP
    assert call.records("ended")[0].data == {"by": NURSE, "reason": "nurse_gone"}


def test_wrap_up_ends_when_every_participant_has_documented() -> None:
    call = connected()
    call.send(Escalate(1, NOTE))
    call.send(Accept(9))
    call.send(End(NURSE))
    call.send(WrapUpDone(9), after=60)
    assert call.c.state is State.WRAP_UP and call.c.wrapped_up == {9}
    assert call.send(WrapUpDone(9)).actions == ()  # a repeated submission
    decision = call.send(WrapUpDone(1), after=60)
    assert call.c.state is State.ENDED
    assert call.records("completed")[0].data == {"reason": "documented", "pending": []}
    assert told(call) == []
    assert decision.consultation.participants == (1, 9)  # who took part stays on record


def test_wrap_up_timeout_ends_it_undocumented() -> None:
    call = connected()
    call.send(End(1))
    call.fire()
    assert call.c.state is State.ENDED and call.now == at(10 + 300)
    assert call.records("completed")[0].data == {"reason": "wrap_up_timeout", "pending": [1]}


def test_wrap_up_done_by_someone_else_is_refused() -> None:
    call = connected()
    call.send(End(1))
    with pytest.raises(NotParticipant):
        call.send(WrapUpDone(STRANGER))


@pytest.mark.parametrize("event", [Leave(1), NurseGone()])
def test_in_wrap_up_leaving_is_a_no_op(event: Event) -> None:
    call = connected()
    call.send(End(NURSE))
    assert call.send(event).actions == ()


@pytest.mark.parametrize(
    ("event", "error"),
    [
        (End(NURSE), IllegalTransition),
        (Escalate(1, NOTE), IllegalTransition),
        (Accept(1), NotOffered),
        (Decline(1), NotOffered),
    ],
)
def test_in_wrap_up_the_call_cannot_go_on(event: Event, error: type[Exception]) -> None:
    call = connected()
    call.send(End(NURSE))
    with pytest.raises(error):
        call.send(event)


def test_wrap_up_timer_of_an_ended_consultation_is_stale() -> None:
    call = connected()
    call.send(End(1))
    seq = call.c.timer_seq
    call.send(WrapUpDone(1))
    assert call.send(WrapUpTimeout(seq)).actions == ()


def test_an_advisor_who_becomes_available_joins_the_escalation_ring() -> None:
    call = connected({1: tier((1,)), 2: tier((5,))})
    call.send(Escalate(1, NOTE))
    decision = call.send(AdvisorAvailable(6), situation={1: tier(busy=(1,)), 2: tier((5, 6))})
    assert offers(decision) == [((6,), 2)] and call.c.offered == {5, 6}
    assert call.send(AdvisorAvailable(1)).actions == ()  # in the call already
