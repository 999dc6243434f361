"""Brute-force walks, minute by minute, across both DST changes of 2026 in Copenhagen.

At every minute the expected on-duty set is read off the local wall clock (its running
maximum, which is the DST rule; see ``oracle``) and compared with the final schedule, with
``resolve.on_duty`` and with a ``TierIndex``. The runs of equal sets found by the walk must be
exactly the coverage gaps and the handoffs the library reports.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from itertools import pairwise

import pytest

from rota.index import TierIndex
from rota.model import Gap, Rota, Unit
from rota.resolve import coverage_gaps, next_handoffs, on_duty_clinicians
from rota.schedule import final_schedule

from . import oracle
from .builders import (
    AUTUMN,
    DAY,
    HOUR,
    MINUTE,
    SPRING,
    TZ,
    Lookup,
    cph,
    layer,
    minutes,
    rota,
    window,
)

TIER = "senior_nurse"
Run = tuple[dt.datetime, dt.datetime, frozenset[int]]
NIGHTS = layer(
    (1, 2, 3),
    id=2,
    name="nights",
    handoff="22:00",
    start_date=dt.date(2026, 3, 1),
    windows=[window("22:00", "07:00")],
)
WEEKLY = layer((10, 11, 12), id=1, name="weekly", unit=Unit.WEEKS, start_date=dt.date(2026, 3, 2))
#: Four days around each change, from noon to noon local time.
WALKS = {
    "spring": (cph(2026, 3, 27, 12), cph(2026, 3, 31, 12)),
    "autumn": (cph(2026, 10, 23, 12), cph(2026, 10, 27, 12)),
}


def night_owner(clock: dt.datetime) -> int | None:
    """The nights layer by hand: 22:00-07:00, the night named by the date it starts on."""
    if clock.time() >= dt.time(22):
        night = clock.date()
    elif clock.time() < dt.time(7):
        night = clock.date() - DAY
    else:
        return None
    return NIGHTS.participants[(night - NIGHTS.start_date).days % 3]


def walk(
    rotas: Sequence[Rota],
    start: dt.datetime,
    end: dt.datetime,
    expect: Callable[[dt.datetime], frozenset[int]],
) -> list[Run]:
    """Check every minute of ``[start, end)``; return the runs of equal on-duty sets."""
    schedules = [Lookup(final_schedule(r, start, end)) for r in rotas]
    index = TierIndex.build(rotas, TIER, start, end)
    runs: list[Run] = []
    clock = oracle.wall(start - HOUR, TZ)
    for at in minutes(start, end):
        clock = max(clock, oracle.wall(at, TZ))
        expected = expect(clock)
        assert frozenset().union(*(s(at) for s in schedules)) == expected, at
        assert index.on_duty_clinicians(at) == expected, at
        assert on_duty_clinicians(rotas, TIER, at) == expected, at
        if runs and runs[-1][2] == expected:
            runs[-1] = (runs[-1][0], at + MINUTE, expected)
        else:
            runs.append((at, at + MINUTE, expected))
    gaps = [Gap(s, e) for s, e, who in runs if not who]
    assert coverage_gaps(rotas, TIER, start, end) == gaps
    assert index.gaps(start, end) == gaps
    changes = [(b[0], a[2], b[2]) for a, b in pairwise(runs)]
    assert next_handoffs(rotas, TIER, start, len(changes) + 5, end - start) == changes
    return runs


def hours(run: Run) -> float:
    return (run[1] - run[0]) / HOUR


@pytest.mark.parametrize("season", ["spring", "autumn"])
def test_nights_only(season: str) -> None:
    start, end = WALKS[season]
    runs = walk([rota(NIGHTS)], start, end, lambda c: frozenset(filter(None, [night_owner(c)])))
    nights = [run for run in runs if run[2]]
    assert [hours(run) for run in nights] == ([9, 8, 9, 9] if season == "spring" else [9, 10, 9, 9])
    change = nights[1]
    if season == "spring":  # 22:00 CET to 07:00 CEST
        assert (change[0], change[1]) == (cph(2026, 3, 28, 22), cph(2026, 3, 29, 7))
    else:  # 22:00 CEST to 07:00 CET
        assert (change[0], change[1]) == (cph(2026, 10, 24, 22), cph(2026, 10, 25, 7))
    # The walk and the final schedule agree on the shifts themselves.
    assert [(s.start, s.end) for s in final_schedule(rota(NIGHTS), start, end)] == [
        (run[0], run[1]) for run in nights
    ]


@pytest.mark.parametrize("season", ["spring", "autumn"])
def test_weekly_cover_with_nights_on_top(season: str) -> None:
    start, end = WALKS[season]

    def expect(clock: dt.datetime) -> frozenset[int]:
        night = night_owner(clock)
        if night is not None:
            return frozenset({night})
        week = (clock - dt.datetime(2026, 3, 2, 8)) // dt.timedelta(weeks=1)
        return frozenset({WEEKLY.participants[week % 3]})

    runs = walk([rota(WEEKLY, NIGHTS)], start, end, expect)
    assert all(len(who) == 1 for _, _, who in runs)  # no gap and never two at once
    assert sum(hours(run) for run in runs) == (end - start) / HOUR


@pytest.mark.parametrize("season", ["spring", "autumn"])
@pytest.mark.parametrize(
    ("length", "handoff"),
    [(1, "00:00"), (2, "02:00"), (3, "01:30"), (5, "00:00"), (12, "02:30"), (24, "02:15")],
)
def test_hour_based_layers(season: str, length: int, handoff: str) -> None:
    start, end = WALKS[season]
    hourly = layer(
        (1, 2, 3, 4),
        unit=Unit.HOURS,
        shift_length=length,
        handoff=handoff,
        start_date=dt.date(2026, 3, 20),
    )
    base = dt.datetime.combine(hourly.start_date, hourly.handoff)

    def expect(clock: dt.datetime) -> frozenset[int]:
        k = (clock - base) // dt.timedelta(hours=length)
        return frozenset({hourly.participants[k % 4]})

    runs = walk([rota(hourly)], start, end, expect)
    assert all(len(who) == 1 for _, _, who in runs)


@pytest.mark.parametrize(
    ("season", "durations"),
    [
        # 02:00-03:00 does not exist: that shift is dropped, the rotation goes on from 03:00.
        ("spring", {dt.time(0): 1, dt.time(1): 1, dt.time(3): 1, dt.time(4): 1}),
        # 02:00-03:00 happens twice: the 02:00 shift lasts both passes.
        ("autumn", {dt.time(0): 1, dt.time(1): 1, dt.time(2): 2, dt.time(3): 1}),
    ],
)
def test_hourly_shifts_on_the_change_day(season: str, durations: dict[dt.time, int]) -> None:
    day = SPRING if season == "spring" else AUTUMN
    hourly = layer((1, 2, 3, 4, 5), unit=Unit.HOURS, handoff="00:00", start_date=day)
    start = cph(day.year, day.month, day.day)
    shifts = final_schedule(rota(hourly), start, cph(day.year, day.month, day.day, 6))[:4]
    found = {s.start.astimezone(TZ).time(): (s.end - s.start) / HOUR for s in shifts}
    assert found == durations
    owners = [next(iter(s.clinicians)) for s in shifts]
    assert owners == ([1, 2, 4, 5] if season == "spring" else [1, 2, 3, 4])


@pytest.mark.parametrize(
    ("season", "handoff_at"),
    [("spring", cph(2026, 3, 29, 3)), ("autumn", cph(2026, 10, 25, 2, 30))],
)
def test_daily_handoff_at_0230(season: str, handoff_at: dt.datetime) -> None:
    start, end = WALKS[season]
    daily = layer((1, 2), handoff="02:30", start_date=dt.date(2026, 3, 1))
    base = dt.datetime(2026, 3, 1, 2, 30)

    def expect(clock: dt.datetime) -> frozenset[int]:
        return frozenset({daily.participants[(clock - base) // DAY % 2]})

    runs = walk([rota(daily)], start, end, expect)
    assert handoff_at in [run[0] for run in runs]
    # The shifts either side of the change are 23.5 h (spring) or 24 h and 25 h (autumn).
    around = [hours(run) for run in runs[1:3]]
    assert around == ([23.5, 23.5] if season == "spring" else [24, 25])
