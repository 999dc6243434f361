"""rota.resolve: who is on duty in a tier, coverage gaps, the next handoffs."""

from __future__ import annotations

import datetime as dt

import pytest

from rota.errors import InvalidRota, NaiveDatetime
from rota.model import Gap, Rota
from rota.resolve import coverage_gaps, next_handoffs, on_duty, on_duty_clinicians

from .builders import HOUR, NOW, add, cph, layer, replace, rota, window

D = dt.date
US = dt.timedelta(microseconds=1)


def t(hour: float) -> dt.datetime:
    """A Copenhagen time on Tuesday 6 January 2026 (hour 24 is midnight after it)."""
    return cph(2026, 1, 6) + dt.timedelta(hours=hour)


# Tier senior_nurse: two rotas. Days (1, 2 daily at 08:00) only 08:00-20:00 and nights (3).
DAYS = rota(layer((1, 2), start_date=D(2026, 1, 5), windows=[window("08:00", "20:00")]), id=10)
NIGHTS = rota(
    layer((3,), handoff="21:00", start_date=D(2026, 1, 1), windows=[window("21:00", "07:00")]),
    id=11,
)
GP = rota(layer((7,), start_date=D(2026, 1, 1)), id=20, tier="gp")
ROTAS = [DAYS, NIGHTS, GP]


@pytest.mark.parametrize(
    ("tier", "at", "expected"),
    [
        ("senior_nurse", t(6), {11: {3}}),
        ("senior_nurse", t(7) - US, {11: {3}}),
        ("senior_nurse", t(7), {}),  # a gap: nobody on duty, empty dict
        ("senior_nurse", t(8), {10: {2}}),
        ("senior_nurse", t(8) - US, {}),
        ("senior_nurse", t(-2) + 20 * US, {11: {3}}),
        ("senior_nurse", t(-14), {10: {1}}),
        ("gp", t(7), {20: {7}}),
        ("specialist", t(7), {}),
    ],
)
def test_on_duty(tier: str, at: dt.datetime, expected: dict[int, set[int]]) -> None:
    found = on_duty(ROTAS, tier, at)
    assert found == {k: frozenset(v) for k, v in expected.items()}
    assert on_duty_clinicians(ROTAS, tier, at) == frozenset().union(*found.values())


def test_on_duty_is_a_union_over_the_rotas() -> None:
    extra = rota(layer((2, 4), start_date=D(2026, 1, 6)), id=12)
    assert on_duty([DAYS, extra], "senior_nurse", t(9)) == {10: {2}, 12: {2}}
    assert on_duty_clinicians([DAYS, extra], "senior_nurse", t(9)) == {2}
    with_add = rota(*DAYS.layers, id=10, overrides=[add(1, 5, t(9), t(10))])
    assert on_duty_clinicians([with_add, extra], "senior_nurse", t(9)) == {2, 5}


def test_on_duty_takes_an_instant_in_any_zone() -> None:
    tokyo = dt.timezone(dt.timedelta(hours=9))
    assert on_duty(ROTAS, "senior_nurse", t(9).astimezone(tokyo)) == {10: {2}}


def test_on_duty_accepts_a_generator_of_rotas() -> None:
    assert on_duty((r for r in ROTAS), "gp", NOW) == {20: {7}}


@pytest.mark.parametrize(
    ("rotas", "start", "end", "expected"),
    [
        (ROTAS, t(0), t(24), [(t(7), t(8)), (t(20), t(21))]),
        (ROTAS, t(7.5), t(20.5), [(t(7.5), t(8)), (t(20), t(20.5))]),
        (ROTAS, t(9), t(10), []),
        ([DAYS], t(0), t(24), [(t(0), t(8)), (t(20), t(24))]),
        ([], t(0), t(24), [(t(0), t(24))]),
        ([GP], t(0), t(24), [(t(0), t(24))]),  # the GP rota is another tier
        (ROTAS, t(5), t(5), []),
        (
            [*ROTAS, rota(id=12, overrides=[replace(1, 9, t(6.5), t(7.25))])],
            t(0),
            t(24),
            [(t(7.25), t(8)), (t(20), t(21))],
        ),
    ],
)
def test_coverage_gaps(
    rotas: list[Rota],
    start: dt.datetime,
    end: dt.datetime,
    expected: list[tuple[dt.datetime, dt.datetime]],
) -> None:
    assert coverage_gaps(rotas, "senior_nurse", start, end) == [Gap(s, e) for s, e in expected]


def test_next_handoffs() -> None:
    assert next_handoffs(ROTAS, "senior_nurse", t(6), 5) == [
        (t(7), {3}, set()),
        (t(8), set(), {2}),
        (t(20), {2}, set()),
        (t(21), set(), {3}),
        (t(31), {3}, set()),
    ]
    # Strictly after ``at``: a handoff at ``at`` itself is not "next".
    assert next_handoffs(ROTAS, "senior_nurse", t(7), 1) == [(t(8), set(), {2})]
    assert next_handoffs(ROTAS, "senior_nurse", t(6), 0) == []
    assert next_handoffs(ROTAS, "gp", t(6), 3) == []  # the GP never changes
    assert next_handoffs(ROTAS, "senior_nurse", t(6), 10, horizon=2 * HOUR) == [(t(7), {3}, set())]
    assert next_handoffs(ROTAS, "senior_nurse", t(6), 10, horizon=-HOUR) == []


def test_next_handoffs_looks_far_ahead_when_it_must() -> None:
    later = rota(layer((1,), start_date=D(2026, 6, 1)), id=13)
    assert next_handoffs([later], "senior_nurse", t(0), 1) == [(cph(2026, 6, 1, 8), set(), {1})]


def test_next_handoffs_reports_only_changes_of_the_whole_tier() -> None:
    # At 08:00 one rota goes from 1 to 2 and the other from 2 to 1: the tier is unchanged.
    a = rota(layer((1, 2), start_date=D(2026, 1, 5)), id=1)
    b = rota(layer((2, 1), start_date=D(2026, 1, 5)), id=2)
    assert next_handoffs([a, b], "senior_nurse", t(0), 3, horizon=dt.timedelta(days=3)) == []


def test_two_rotas_with_one_id_are_refused() -> None:
    with pytest.raises(
        InvalidRota, match=r"tier 'senior_nurse': more than one rota with id \[10\]"
    ):
        on_duty([DAYS, DAYS], "senior_nurse", t(9))


def test_naive_instants_are_refused() -> None:
    with pytest.raises(NaiveDatetime, match="at"):
        on_duty(ROTAS, "gp", dt.datetime(2026, 1, 6, 9))
    with pytest.raises(NaiveDatetime, match="start"):
        coverage_gaps(ROTAS, "gp", dt.datetime(2026, 1, 6, 9), t(10))
