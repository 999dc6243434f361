"""Every state against every kind of event: the outcome table, and brute force over payloads
and situations (a decision that keeps the invariants, or an ``EscalationError``; never any
other exception)."""

from __future__ import annotations

import datetime as dt

import pytest

from escalation import (
    UNREAD,
    Accept,
    AdvisorAvailable,
    Cancel,
    Consultation,
    Decline,
    End,
    Escalate,
    EscalationError,
    Event,
    Fail,
    IllegalTransition,
    Leave,
    NotOffered,
    NotParticipant,
    NurseGone,
    RequestCallback,
    Retry,
    RingTimeout,
    Situation,
    SituationNeeded,
    Start,
    State,
    WakeTimeout,
    WrapUpDone,
    WrapUpTimeout,
    decide,
)

from .builders import DEFAULT, NURSE, STRANGER, tier
from .catalogue import CATALOGUE
from .invariants import check_consultation

KINDS = (
    "Start Accept Decline Ring Wake Retry Cancel Callback Escalate Leave End Done Over Gone Fail"
)

# ok: the consultation changes; -: a no-op; IT: IllegalTransition; NO: NotOffered;
# NP: NotParticipant. Payloads: the first offered advisor (else 1), the first participant
# (else 1), the nurse for Cancel and End, the live timer seq and tier.
TABLE = {
    #            Start Acc Dec Ring Wake Retry Cancel Callb Esc Leave End Done Over Gone Fail
    "requested":  "ok   NO  NO  -    -    -     ok     ok    IT  NP    IT  IT   -    ok   ok",
    "ringing":    "IT   ok  ok  ok   -    -     ok     ok    IT  NP    IT  IT   -    ok   ok",
    "waking":     "IT   NO  NO  -    ok   -     ok     ok    IT  NP    IT  IT   -    ok   ok",
    "queued":     "IT   ok  ok  -    -    ok    ok     ok    IT  NP    IT  IT   -    ok   ok",
    "callback":   "IT   ok  ok  -    -    -     ok     IT    IT  NP    IT  IT   -    -    ok",
    "connected":  "IT   NO  NO  -    -    -     IT     IT    ok  ok    ok  IT   -    ok   ok",
    "escalating": "IT   ok  ok  ok   -    -     IT     IT    IT  ok    ok  IT   -    ok   ok",
    "wrap_up":    "IT   NO  NO  -    -    -     IT     IT    IT  -     IT  ok   ok   -    ok",
    "ended":      "IT   IT  IT  -    -    -     IT     IT    IT  IT    IT  IT   -    IT   IT",
    "cancelled":  "IT   IT  IT  -    -    -     IT     IT    IT  IT    IT  IT   -    IT   IT",
    "abandoned":  "IT   IT  IT  -    -    -     IT     IT    IT  IT    IT  IT   -    IT   IT",
    "failed":     "IT   IT  IT  -    -    -     IT     IT    IT  IT    IT  IT   -    IT   IT",
}  # fmt: skip
ERRORS = {"IT": IllegalTransition, "NO": NotOffered, "NP": NotParticipant}


def natural(kind: str, c: Consultation) -> Event:
    """The event of ``kind`` with the payload that makes most sense for ``c``."""
    offered = min(c.offered, default=1)
    participant = c.participants[0] if c.participants else 1
    events: dict[str, Event] = {
        "Start": Start(),
        "Accept": Accept(offered),
        "Decline": Decline(offered),
        "Ring": RingTimeout(c.tier, c.timer_seq),
        "Wake": WakeTimeout(c.tier, c.timer_seq),
        "Retry": Retry(c.timer_seq),
        "Cancel": Cancel(NURSE),
        "Callback": RequestCallback(),
        "Escalate": Escalate(participant, "note"),
        "Leave": Leave(participant),
        "End": End(NURSE),
        "Done": WrapUpDone(participant),
        "Over": WrapUpTimeout(c.timer_seq),
        "Gone": NurseGone(),
        "Fail": Fail("broken"),
    }
    return events[kind]


CASES = [
    (name, kind, outcome)
    for name, row in TABLE.items()
    for kind, outcome in zip(KINDS.split(), row.split(), strict=True)
]


def test_the_table_covers_every_state() -> None:
    assert set(TABLE) == {s.value for s in State}
    assert {name.split()[0] for name in CATALOGUE} == {s.value for s in State}


@pytest.mark.parametrize(("name", "kind", "outcome"), CASES, ids=[f"{n}-{k}" for n, k, _ in CASES])
def test_outcome_table(name: str, kind: str, outcome: str) -> None:
    call = CATALOGUE[name]()
    before = call.c
    assert before.state.value == name
    event = natural(kind, before)
    if outcome in ERRORS:
        with pytest.raises(ERRORS[outcome]) as raised:
            call.send(event, after=1)
        assert call.c is before
        if outcome == "IT":
            assert before.state.name in str(raised.value)
            assert type(event).__name__ in str(raised.value)
        return
    decision = call.send(event, after=1)  # checks the invariants
    if outcome == "-":
        assert decision.consultation is before and decision.actions == ()
    else:
        assert decision.consultation.version == before.version + 1 and decision.actions


# Brute force ---------------------------------------------------------------------------------

ADVISORS = (1, 2, 3, 5, 6, 7, 9, NURSE, STRANGER)
SITUATIONS: list[Situation] = [
    CATALOGUE["ringing"]().situation,
    {},
    {1: tier(busy=(1, 2)), 2: tier(asleep=(5, 6)), 3: tier(busy=(7,))},
    {1: tier((3, 2, 1)), 2: tier((6, 5), own_gp=9), 3: tier((7, 8))},
    {1: tier((1,), asleep=(2,)), 2: tier(own_gp=9), 3: tier(asleep=(7,))},
]


def every_event(c: Consultation) -> list[Event]:
    """Each kind of event with many payloads: every advisor, live and stale timers."""
    seqs = (c.timer_seq - 1, c.timer_seq, c.timer_seq + 1)
    tiers = (0, 1, 2, 3, 4)
    return [
        Start(),
        RequestCallback(),
        NurseGone(),
        Fail(""),
        *(e(a) for a in ADVISORS for e in (Accept, Decline, AdvisorAvailable, Leave, WrapUpDone)),
        *(e(a) for a in ADVISORS for e in (Cancel, End)),
        *(Escalate(a, n) for a in ADVISORS for n in ("", "note")),
        *(e(t, s) for t in tiers for s in seqs for e in (RingTimeout, WakeTimeout)),
        *(e(s) for s in seqs for e in (Retry, WrapUpTimeout)),
    ]


@pytest.mark.parametrize("name", list(CATALOGUE))
def test_every_event_in_every_situation_keeps_the_invariants(name: str) -> None:
    origin = CATALOGUE[name]()
    check_consultation(origin.c)
    outcomes = {"changed": 0, "no-op": 0, "refused": 0}
    for situation in SITUATIONS:
        for event in every_event(origin.c):
            call = origin.clone()
            try:
                decision = call.send(event, after=7, situation=situation)  # checks invariants
            except EscalationError:
                assert call.c == origin.c
                outcomes["refused"] += 1
                continue
            outcomes["changed" if decision.actions else "no-op"] += 1
            if decision.consultation.state.final:
                assert not decision.consultation.offered
    assert sum(outcomes.values()) == len(SITUATIONS) * len(every_event(origin.c))
    if origin.c.state.final:
        assert outcomes["changed"] == 0
    else:
        assert outcomes["changed"] > 0


def _answer(c: Consultation, event: Event, situation: Situation, now: dt.datetime) -> object:
    """A decision, or the type of the refusal."""
    try:
        return decide(c, event, situation, DEFAULT, now)
    except EscalationError as refused:
        return type(refused)


@pytest.mark.parametrize("name", list(CATALOGUE))
def test_deciding_without_the_situation_gives_the_same_answer_or_asks_for_it(name: str) -> None:
    """The engine decides with ``UNREAD`` first and gathers the situation only when asked:
    whatever ``UNREAD`` answers must be what every situation answers."""
    origin = CATALOGUE[name]()
    now = origin.now + dt.timedelta(seconds=7)
    unread_answered = 0
    for event in every_event(origin.c):
        try:
            first = _answer(origin.c, event, UNREAD, now)
        except SituationNeeded:
            continue
        unread_answered += 1
        for situation in SITUATIONS:
            assert _answer(origin.c, event, situation, now) == first, (event, situation)
    assert unread_answered > 0  # refusals and stale timers at least never need it


def test_start_always_needs_the_situation() -> None:
    with pytest.raises(SituationNeeded):
        decide(CATALOGUE["requested"]().c, Start(), UNREAD, DEFAULT, CATALOGUE["requested"]().now)
