"""How a held record moves on with a step: events numbered, timers replaced or spent."""

from __future__ import annotations

import datetime as dt

from advice_line.dataclass_json import to_json
from advice_line.outage.reading import ever_offered, queue_position
from advice_line.outage.router import advanced, held_by
from escalation import machine as core
from escalation import new_consultation
from escalation.model import Accept, Channel, Policy, Start, Strategy, TierPolicy, TierView, Urgency

NOW = dt.datetime(2026, 11, 23, 3, 0, tzinfo=dt.UTC)
POLICY = Policy(
    tiers=tuple(
        TierPolicy(
            ring_seconds=45, strategy=Strategy.RING_ALL, step_seconds=20, wake_grace_seconds=30
        )
        for _ in range(3)
    ),
    retry_seconds=60,
    wrap_up_seconds=600,
)


def situation(*available: int) -> dict[int, TierView]:
    staff = frozenset(available)
    return {1: TierView(on_duty=staff, available=available, online=staff, own_gp=None),
            2: TierView(frozenset(), (), frozenset(), None),
            3: TierView(frozenset(), (), frozenset(), None)}  # fmt: skip


def fresh_record() -> dict:
    machine = new_consultation(7, 1, 2, Urgency.URGENT, Channel.VIDEO, NOW)
    return {"id": 7, "organisation_id": 1, "isbar": {}, "created_at": NOW.isoformat(),
            "machine": to_json(machine), "version": machine.version, "nurse": {"id": 1},
            "events": [], "timers": {}}  # fmt: skip


def test_a_ring_numbers_its_events_and_sets_its_timer() -> None:
    record = fresh_record()
    machine = new_consultation(7, 1, 2, Urgency.URGENT, Channel.VIDEO, NOW)
    decision = core.decide(machine, Start(), situation(10, 11), POLICY, NOW)
    after = advanced(record, decision, NOW, 1)
    assert [e["seq"] for e in after["events"]] == list(range(1, len(after["events"]) + 1))
    assert [e["type"] for e in after["events"]][:2] == ["requested", "offered"]
    assert after["timers"]["ring"][1] == int((NOW + dt.timedelta(seconds=45)).timestamp() * 1000)
    assert after["version"] == decision.consultation.version
    assert held_by(after) == {10, 11}
    assert ever_offered(after, 10) and not ever_offered(after, 12)
    assert record["events"] == []  # the record it came from is untouched


def test_an_accept_ends_the_ring_timer_and_holds_only_the_advisor() -> None:
    machine = new_consultation(7, 1, 2, Urgency.URGENT, Channel.VIDEO, NOW)
    first = core.decide(machine, Start(), situation(10, 11), POLICY, NOW)
    rung = advanced(fresh_record(), first, NOW, 1)
    later = NOW + dt.timedelta(seconds=5)
    second = core.decide(first.consultation, Accept(10), situation(), POLICY, later)
    after = advanced(rung, second, later, 10)
    assert "ring" not in after["timers"]
    assert held_by(after) == {10}
    assert after["events"][-1]["seq"] == len(after["events"])
    assert queue_position(after, [after]) is None


def test_a_spent_timer_is_dropped_even_when_the_step_sets_none() -> None:
    record = {**fresh_record(), "timers": {"ring": [1, 0]}}
    machine = new_consultation(7, 1, 2, Urgency.URGENT, Channel.VIDEO, NOW)
    decision = core.decide(machine, Start(), situation(10), POLICY, NOW)
    replaced = advanced(record, decision, NOW, None)
    assert replaced["timers"]["ring"] == [decision.consultation.timer_seq,
                                          replaced["timers"]["ring"][1]]  # fmt: skip
    spent = advanced({**record, "timers": {"wake": [3, 0]}}, decision, NOW, None, fired="wake")
    assert "wake" not in spent["timers"]
