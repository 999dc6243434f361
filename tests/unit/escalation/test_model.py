"""The data model: enums, the consultation, policy and views, errors, and the module the
engine imports everything from."""

from __future__ import annotations

import dataclasses
import datetime as dt
from zoneinfo import ZoneInfo

import pytest

import escalation
from escalation import (
    Accept,
    Channel,
    Consultation,
    EscalationError,
    IllegalTransition,
    InvalidPolicy,
    NaiveDatetime,
    NoHigherTier,
    NotOffered,
    NotParticipant,
    Policy,
    Start,
    State,
    Strategy,
    TierPolicy,
    TierView,
    TimerKind,
    Urgency,
    decide,
    new_consultation,
)
from escalation import model as m

from .builders import DEFAULT, NURSE, PATIENT, T0, Call, tier

CPH = ZoneInfo("Europe/Copenhagen")


def test_final_states() -> None:
    assert {s for s in State if s.final} == {
        State.ENDED, State.CANCELLED, State.ABANDONED, State.FAILED,
    }  # fmt: skip


@pytest.mark.parametrize(
    ("kind", "values"),
    [
        (Urgency, ["acute", "urgent", "routine"]),
        (Channel, ["video", "audio"]),
        (Strategy, ["ring_all", "longest_idle"]),
        (TimerKind, ["ring", "wake", "retry", "wrap_up"]),
    ],
)
def test_enum_values_are_the_contract(kind: type[object], values: list[str]) -> None:
    assert [e.value for e in kind] == values  # type: ignore[attr-defined]


def test_new_consultation_is_requested_and_unrouted() -> None:
    c = new_consultation(7, NURSE, PATIENT, Urgency.URGENT, Channel.AUDIO, T0)
    assert (c.state, c.tier, c.version, c.offered, c.participants) == (
        State.REQUESTED, 0, 0, frozenset(), (),
    )  # fmt: skip
    assert (c.connected_at, c.escalation_note, c.answer_seconds) == (None, None, None)
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.state = State.RINGING  # type: ignore[misc]


def test_instants_must_be_aware_and_are_kept_in_utc() -> None:
    with pytest.raises(NaiveDatetime, match="created"):
        new_consultation(1, NURSE, PATIENT, Urgency.ACUTE, Channel.VIDEO, dt.datetime(2026, 1, 1))
    local = dt.datetime(2026, 3, 29, 1, 59, 30, tzinfo=CPH)
    c = new_consultation(1, NURSE, PATIENT, Urgency.ACUTE, Channel.VIDEO, local)
    assert c.created == local and c.created.tzinfo is dt.UTC


def test_timers_across_the_spring_dst_change_are_elapsed_seconds() -> None:
    """01:59:30 local on 29 March 2026 plus a 45 s ring is 03:00:15 local, not 02:00:15."""
    local = dt.datetime(2026, 3, 29, 1, 59, 30, tzinfo=CPH)
    c = new_consultation(1, NURSE, PATIENT, Urgency.ACUTE, Channel.VIDEO, local)
    decision = decide(c, Start(), {1: tier((1,))}, DEFAULT, local)
    timer = decision.consultation
    due = next(a.due for a in decision.actions if isinstance(a, escalation.StartTimer))
    assert (due - local).total_seconds() == 45 and due.astimezone(CPH).hour == 3
    answered = decide(timer, Accept(1), {1: tier((1,))}, DEFAULT, due.astimezone(CPH))
    assert answered.consultation.answer_seconds == 45


@pytest.mark.parametrize(
    "make",
    [
        lambda: TierPolicy(0),
        lambda: TierPolicy(45, step_seconds=-1),
        lambda: TierPolicy(45, wake_grace_seconds=0),
        lambda: TierPolicy(45, "sometimes"),  # type: ignore[arg-type]
        lambda: Policy(tiers=(TierPolicy(45),)),
        lambda: Policy(tiers=DEFAULT.tiers, retry_seconds=0),
        lambda: Policy(tiers=DEFAULT.tiers, wrap_up_seconds=-5),
        lambda: Policy(tiers=DEFAULT.tiers, start_tier={Urgency.ACUTE: 1}),
        lambda: Policy(tiers=DEFAULT.tiers, start_tier=dict.fromkeys(Urgency, 4)),
    ],
)
def test_bad_policies_are_refused(make: object) -> None:
    with pytest.raises(InvalidPolicy):
        make()  # type: ignore[operator]


def test_policy_is_frozen_and_its_start_tiers_read_only() -> None:
    starts = dict.fromkeys(Urgency, 2)
    policy = Policy(tiers=DEFAULT.tiers, start_tier=starts)
    starts[Urgency.ACUTE] = 3
    assert policy.start_tier[Urgency.ACUTE] == 2
    with pytest.raises(TypeError):
        policy.start_tier[Urgency.ACUTE] = 1  # type: ignore[index]
    assert policy.tier(2).ring_seconds == 90 and policy.top == 3


def test_tier_view_is_made_consistent() -> None:
    view = TierView(frozenset({1, 2, 3}), (2, 2, 4, 1), frozenset({3, 5}))
    assert view.available == (2, 1)  # 4 is not on duty; the duplicate is dropped
    assert view.online == {1, 2, 3}  # 5 is not on duty; the available are online
    assert not view.asleep
    assert TierView(frozenset({1}), (), frozenset()).asleep
    assert not TierView(frozenset(), (), frozenset()).asleep


def test_error_messages_name_what_was_refused() -> None:
    error = IllegalTransition(State.ENDED, Accept(3))
    assert "Accept" in str(error) and "ENDED" in str(error)
    assert (error.state, error.event) == (State.ENDED, Accept(3))
    assert "advisor 4" in str(NotOffered(4)) and "advisor 5" in str(NotParticipant(5))
    assert "tier 3" in str(NoHigherTier(3))
    for error_type in (IllegalTransition, NotOffered, NotParticipant, NoHigherTier):
        assert issubclass(error_type, EscalationError)
    assert issubclass(EscalationError, ValueError)


def test_consultation_checks_its_own_shape() -> None:
    c = Call().c
    with pytest.raises(AssertionError):
        dataclasses.replace(c, offered=frozenset({1}))  # no offer tier for 1
    with pytest.raises(AssertionError):
        dataclasses.replace(c, participants=(1,))  # no participant tier


ENGINE_NAMES = [
    "State",
    "Urgency",
    "Channel",
    "Strategy",
    "TimerKind",
    "Stage",
    "Consultation",
    "new_consultation",
    "Start",
    "Accept",
    "Decline",
    "RingTimeout",
    "WakeTimeout",
    "Retry",
    "AdvisorAvailable",
    "Cancel",
    "RequestCallback",
    "Escalate",
    "Leave",
    "End",
    "WrapUpDone",
    "WrapUpTimeout",
    "NurseGone",
    "Fail",
    "Event",
    "Offer",
    "Withdraw",
    "StartTimer",
    "CancelTimers",
    "Wake",
    "NotifyNurse",
    "AlertCoordinators",
    "Join",
    "Record",
    "Action",
    "Decision",
    "Policy",
    "TierPolicy",
    "Situation",
    "TierView",
    "EscalationError",
    "IllegalTransition",
    "NotOffered",
    "NotParticipant",
    "NoHigherTier",
]


@pytest.mark.parametrize("name", ENGINE_NAMES)
def test_the_engine_finds_every_name_in_the_package_and_in_model(name: str) -> None:
    assert getattr(escalation, name) is getattr(m, name)
    assert name in escalation.__all__


def test_consultation_fields_of_the_contract() -> None:
    names = [f.name for f in dataclasses.fields(Consultation)]
    contract = [
        "id",
        "nurse",
        "patient",
        "urgency",
        "channel",
        "state",
        "tier",
        "stage",
        "offered",
        "declined",
        "tried_tiers",
        "participants",
        "escalation_note",
        "version",
        "created",
        "connected_at",
    ]
    assert set(contract) <= set(names)
    assert callable(escalation.decide) and escalation.machine.decide is decide


def test_policy_default_is_the_documented_one() -> None:
    default = Policy.default()
    assert [t.ring_seconds for t in default.tiers] == [45, 90, 90]
    assert {t.strategy for t in default.tiers} == {Strategy.RING_ALL}
    assert {(t.step_seconds, t.wake_grace_seconds) for t in default.tiers} == {(20, 60)}
    assert (default.retry_seconds, default.wrap_up_seconds) == (30, 300)
    assert dict(default.start_tier) == dict.fromkeys(Urgency, 1)
