"""rota.index: the precomputed tier timeline answers exactly as rota.resolve does."""

from __future__ import annotations

import datetime as dt

import pytest

from rota.errors import NaiveDatetime, OutsideIndex
from rota.index import TierIndex
from rota.model import Gap, Unit
from rota.resolve import coverage_gaps, next_handoffs, on_duty, on_duty_clinicians

from .builders import DAY, HOUR, add, cph, layer, replace, rota, window
from .test_resolve import ROTAS, t

US = dt.timedelta(microseconds=1)
START, END = cph(2026, 1, 1), cph(2026, 2, 1)


@pytest.fixture(scope="module")
def index() -> TierIndex:
    return TierIndex.build(ROTAS, "senior_nurse", START, END)


def test_lookups(index: TierIndex) -> None:
    assert index.on_duty(t(6)) == {11: {3}}
    assert index.on_duty(t(7)) == {}
    assert index.on_duty(t(8) - US) == {}
    assert index.on_duty(t(8)) == {10: {2}}
    assert index.on_duty_clinicians(t(8)) == {2}
    assert index.gaps(t(0), t(24)) == [Gap(t(7), t(8)), Gap(t(20), t(21))]
    assert index.gaps(t(7.5), t(7.5)) == []
    assert index.next_handoffs(t(6), 2) == [(t(7), {3}, set()), (t(8), set(), {2})]
    assert index.next_handoffs(t(6), 0) == []
    assert index.handoffs()[0] == (cph(2026, 1, 1, 21), set(), {3})  # the first night


def test_the_answer_is_a_copy(index: TierIndex) -> None:
    index.on_duty(t(9))[99] = frozenset({1})
    assert index.on_duty(t(9)) == {10: {2}}


@pytest.mark.parametrize(
    "at",
    [START - US, END, END + DAY, cph(2025, 6, 1)],
    ids=["before", "end", "after", "long before"],
)
def test_outside_the_index(index: TierIndex, at: dt.datetime) -> None:
    with pytest.raises(OutsideIndex, match="is outside"):
        index.on_duty(at)


def test_edges_and_bad_input(index: TierIndex) -> None:
    assert index.on_duty(START) == on_duty(ROTAS, "senior_nurse", START)
    assert index.on_duty(END - US) == on_duty(ROTAS, "senior_nurse", END - US)
    assert index.gaps(START, END) == coverage_gaps(ROTAS, "senior_nurse", START, END)
    with pytest.raises(OutsideIndex, match="is not within"):
        index.gaps(START - HOUR, END)
    with pytest.raises(OutsideIndex, match="is not within"):
        index.gaps(START, END + US)
    with pytest.raises(NaiveDatetime, match="has no time zone"):
        index.on_duty(dt.datetime(2026, 1, 6, 9))
    with pytest.raises(OutsideIndex, match="start < end"):
        TierIndex.build(ROTAS, "senior_nurse", END, START)


def test_an_empty_tier_is_one_gap() -> None:
    empty = TierIndex.build(ROTAS, "specialist", START, END)
    assert empty.on_duty(t(9)) == {}
    assert empty.gaps(START, END) == [Gap(START, END)]
    assert empty.next_handoffs(t(9), 3) == []


def test_agrees_with_resolve_at_every_hour_and_every_edge() -> None:
    rotas = [
        *ROTAS,
        rota(
            layer((4, 5, 6), unit=Unit.WEEKS, start_date=dt.date(2026, 1, 5)),
            layer((7,), id=2, windows=[window("12:00", "13:00", frozenset({2}))]),
            id=12,
            overrides=[add(1, 9, t(30), t(40)), replace(2, 8, t(100), t(101), replaces=5)],
        ),
    ]
    index = TierIndex.build(rotas, "senior_nurse", START, END)
    instants = [START + n * HOUR for n in range(31 * 24)]
    instants += [
        s.start + d for s in index.segments for d in (-US, 0 * US, US) if START <= s.start + d < END
    ]
    for at in instants:
        assert index.on_duty(at) == on_duty(rotas, "senior_nurse", at), at
        assert index.on_duty_clinicians(at) == on_duty_clinicians(rotas, "senior_nurse", at)
    for at in instants[::97]:
        assert index.next_handoffs(at, 4) == next_handoffs(rotas, "senior_nurse", at, 4, END - at)
        assert index.gaps(at, END) == coverage_gaps(rotas, "senior_nurse", at, END)
