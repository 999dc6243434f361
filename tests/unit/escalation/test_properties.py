"""Random walks: random events in random situations under random policies never break the
invariants, never offer a call to someone not available for that tier, and leave a timeline
from which the answer time can be read back."""

from __future__ import annotations

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from escalation import (
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
    Leave,
    NurseGone,
    Policy,
    RequestCallback,
    Retry,
    RingTimeout,
    Situation,
    Start,
    State,
    Strategy,
    TierPolicy,
    TierView,
    Urgency,
    WakeTimeout,
    WrapUpDone,
    WrapUpTimeout,
)

from .builders import NURSE, STRANGER, Call, timer_event

#: Each tier's people; 4 is on tiers 1 and 2, 9 is the patient's own GP.
POOLS = {1: (1, 2, 3, 4), 2: (4, 5, 6, 7), 3: (10, 11, 12)}
OWN_GP = 9
EVERYONE = sorted({*POOLS[1], *POOLS[2], *POOLS[3], OWN_GP, NURSE, STRANGER})


def view(
    tier: int, on_duty: frozenset[int], online: frozenset[int], order: list[int], gp: bool
) -> TierView:
    """A consistent view of ``tier`` from independent draws: online ⊆ on duty, available ⊆
    online in the drawn order."""
    on_duty &= frozenset(POOLS[tier])
    online &= on_duty
    available = tuple(a for a in order if a in online)
    return TierView(on_duty, available, online, OWN_GP if gp and tier == 2 else None)


PEOPLE = st.frozensets(st.sampled_from(sorted({*POOLS[1], *POOLS[2], *POOLS[3]})), min_size=3)
ORDERS = st.permutations(sorted({*POOLS[1], *POOLS[2], *POOLS[3]}))


@st.composite
def situations(draw: st.DrawFn) -> Situation:
    on_duty, online, order = draw(PEOPLE), draw(PEOPLE), draw(ORDERS)
    present = {1, 2, 3} - {draw(st.integers(0, 5), label="missing tier")}
    gp = draw(st.booleans())
    return {t: view(t, on_duty, online, order, gp) for t in sorted(present)}


SITUATIONS = situations()


@st.composite
def policies(draw: st.DrawFn) -> Policy:
    tiers = tuple(
        TierPolicy(
            ring_seconds=draw(st.sampled_from((15, 45, 90))),
            strategy=draw(st.sampled_from(Strategy)),
            step_seconds=draw(st.sampled_from((10, 20))),
            wake_grace_seconds=draw(st.sampled_from((30, 60))),
        )
        for _ in range(3)
    )
    starts = {u: draw(st.integers(1, 3)) for u in Urgency}
    return Policy(tiers=tiers, retry_seconds=30, wrap_up_seconds=300, start_tier=starts)


def plausible(c: Consultation, situation: Situation) -> list[list[Event]]:
    """Events the engine would likely send now, by kind (a walk picks a kind, then one)."""
    available = sorted({a for view in situation.values() for a in view.available})
    kinds: list[list[Event]] = [
        [Start()] if c.state is State.REQUESTED else [],
        [timer_event(c)] if c.timer_kind is not None else [],
        [Accept(a) for a in sorted(c.offered)],
        [Decline(a) for a in sorted(c.offered)],
        [AdvisorAvailable(a) for a in available],
        [Escalate(a, "note") for a in c.participants],
        [e for a in c.participants for e in (Leave(a), End(a), End(NURSE))],
        [WrapUpDone(a) for a in c.participants if c.state is State.WRAP_UP],
    ]
    return [events for events in kinds if events]


#: Events that end a waiting call early: drawn rarely, so that walks get deep.
ENDINGS: list[Event] = [Cancel(NURSE), RequestCallback(), NurseGone(), Fail("broken")]


def arbitrary(draw: st.DrawFn, c: Consultation) -> Event:
    """Any event with any payload: stale timers, strangers, the wrong tier."""
    kind = draw(st.integers(0, 15), label="kind")
    advisor = EVERYONE[draw(st.integers(0, len(EVERYONE) - 1), label="advisor")]
    seq = c.timer_seq + draw(st.integers(-2, 1), label="seq")
    tier = draw(st.integers(0, 4), label="tier")
    events: list[Event] = [
        Accept(advisor),
        Decline(advisor),
        AdvisorAvailable(advisor),
        Leave(advisor),
        End(advisor),
        WrapUpDone(advisor),
        Cancel(advisor),
        Escalate(advisor, "note"),
        RingTimeout(tier, seq),
        WakeTimeout(tier, seq),
        Retry(seq),
        WrapUpTimeout(seq),
        Start(),
        RequestCallback(),
        NurseGone(),
        Fail("broken"),
    ]
    return events[kind]


def choose(data: st.DataObject, c: Consultation, situation: Situation) -> Event:
    """Mostly a plausible event, sometimes an ending, sometimes anything at all."""
    kinds = plausible(c, situation)
    roll = data.draw(st.integers(0, 19), label="roll")
    if roll == 0 or not kinds:
        return arbitrary(data.draw, c)
    if roll == 1:
        return ENDINGS[data.draw(st.integers(0, len(ENDINGS) - 1), label="ending")]
    events = kinds[data.draw(st.integers(0, len(kinds) - 1), label="kind")]
    return events[data.draw(st.integers(0, len(events) - 1), label="event")]


def answer_time(call: Call) -> dt.timedelta | None:
    """From the timeline alone: the first ``accepted`` instant minus the requested
    ``created``."""
    requested = [r for _, r in call.timeline if r.type == "requested"]
    accepted = [at for at, r in call.timeline if r.type == "accepted"]
    if not accepted:
        return None
    created = requested[0].data["created"] if requested else call.c.created.isoformat()
    assert isinstance(created, str)
    return accepted[0] - dt.datetime.fromisoformat(created)


@settings(max_examples=200, deadline=None)
@given(policies(), st.sampled_from(Urgency), SITUATIONS, st.data())
def test_random_walks_keep_the_invariants(
    policy: Policy, urgency: Urgency, situation: Situation, data: st.DataObject
) -> None:
    call = Call(situation, policy, urgency)
    changed = 0
    for _ in range(data.draw(st.integers(1, 40), label="steps")):
        if call.c.state.final:
            break
        if data.draw(st.integers(0, 3), label="new situation") == 0:
            situation = data.draw(SITUATIONS, label="situation")
        event = choose(data, call.c, situation)
        is_live_timer = call.c.timer_kind is not None and event == timer_event(call.c)
        wait = 0.0
        if is_live_timer and call.timer is not None:
            wait = max((call.timer.due - call.now).total_seconds(), 0)
        else:
            wait = (0, 1, 5, 30, 120)[data.draw(st.integers(0, 4), label="wait")]
        before = call.c
        try:
            decision = call.send(event, after=wait, situation=situation)  # checks invariants
        except EscalationError:
            assert call.c is before
            continue
        changed += bool(decision.actions)
    assert call.c.version == changed
    expected = call.c.connected_at - call.c.created if call.c.connected_at else None
    assert answer_time(call) == expected
    if call.c.state in (State.CONNECTED, State.ESCALATING, State.WRAP_UP, State.ENDED):
        assert call.types.count("joined") >= len(call.c.participants)


@settings(max_examples=100, deadline=None)
@given(policies(), SITUATIONS, st.data())
def test_timers_alone_always_reach_an_answer_or_the_queue(
    policy: Policy, situation: Situation, data: st.DataObject
) -> None:
    """With nobody answering, firing timers walks the tiers in order and queues the call
    within the sum of every tier's ring and wake time; it never stops without a timer."""
    call = Call(situation, policy)
    call.start()
    limit = sum(t.ring_seconds + t.wake_grace_seconds for t in policy.tiers)
    while call.c.state is not State.QUEUED:
        assert call.c.timer_kind is not None, call.c
        call.fire()
    assert (call.now - call.c.created).total_seconds() <= limit
    tried = list(call.c.tried_tiers)
    assert tried == list(range(policy.start_tier[Urgency.ACUTE], 4))
