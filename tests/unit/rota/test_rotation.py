"""rota.rotation and rota.windows: a layer's own shifts, in tables."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

import rota.rotation
from rota.errors import InvalidLayer, NaiveDatetime
from rota.model import Layer, Unit
from rota.rotation import LayerShift, layer_shifts, shift_owner
from rota.windows import complement, merge_intervals, window_intervals

from . import oracle
from .builders import DAY, HOUR, TZ, WEEKDAYS, cph, layer, utc, window

D = dt.date
SAT_SUN = frozenset({5, 6})

# (layer, query start, query end, expected shifts as (start, end, clinician))
TABLE: list[tuple[str, Layer, dt.datetime, dt.datetime, list[tuple[dt.datetime, dt.datetime, int]]]] = [
    ("daily rotation order", layer((1, 2, 3), start_date=D(2026, 1, 5)), cph(2026, 1, 5), cph(2026, 1, 9), [
        (cph(2026, 1, 5, 8), cph(2026, 1, 6, 8), 1),
        (cph(2026, 1, 6, 8), cph(2026, 1, 7, 8), 2),
        (cph(2026, 1, 7, 8), cph(2026, 1, 8, 8), 3),
        (cph(2026, 1, 8, 8), cph(2026, 1, 9), 1),
    ]),
    ("two-day shifts", layer((1, 2), shift_length=2, start_date=D(2026, 1, 5)), cph(2026, 1, 5), cph(2026, 1, 9), [
        (cph(2026, 1, 5, 8), cph(2026, 1, 7, 8), 1),
        (cph(2026, 1, 7, 8), cph(2026, 1, 9), 2),
    ]),
    ("weekly, Monday 08:00", layer((1, 2, 3), unit=Unit.WEEKS, start_date=D(2026, 1, 5)), cph(2026, 1, 5), cph(2026, 2, 3), [
        (cph(2026, 1, 5, 8), cph(2026, 1, 12, 8), 1),
        (cph(2026, 1, 12, 8), cph(2026, 1, 19, 8), 2),
        (cph(2026, 1, 19, 8), cph(2026, 1, 26, 8), 3),
        (cph(2026, 1, 26, 8), cph(2026, 2, 2, 8), 1),
        (cph(2026, 2, 2, 8), cph(2026, 2, 3), 2),
    ]),
    ("fortnightly", layer((1, 2), shift_length=2, unit=Unit.WEEKS, start_date=D(2026, 1, 5)), cph(2026, 1, 1), cph(2026, 2, 3), [
        (cph(2026, 1, 5, 8), cph(2026, 1, 19, 8), 1),
        (cph(2026, 1, 19, 8), cph(2026, 2, 2, 8), 2),
        (cph(2026, 2, 2, 8), cph(2026, 2, 3), 1),
    ]),
    ("8-hour shifts from 07:00", layer((1, 2, 3), shift_length=8, unit=Unit.HOURS, handoff="07:00", start_date=D(2026, 1, 5)), cph(2026, 1, 5, 12), cph(2026, 1, 6, 12), [
        (cph(2026, 1, 5, 12), cph(2026, 1, 5, 15), 1),
        (cph(2026, 1, 5, 15), cph(2026, 1, 5, 23), 2),
        (cph(2026, 1, 5, 23), cph(2026, 1, 6, 7), 3),
        (cph(2026, 1, 6, 7), cph(2026, 1, 6, 12), 1),
    ]),
    ("handoff 17:45", layer((1, 2), handoff="17:45", start_date=D(2026, 1, 5)), cph(2026, 1, 6), cph(2026, 1, 7), [
        (cph(2026, 1, 6), cph(2026, 1, 6, 17, 45), 1),
        (cph(2026, 1, 6, 17, 45), cph(2026, 1, 7), 2),
    ]),
    ("query before start_date", layer((1, 2), start_date=D(2026, 1, 5)), cph(2025, 12, 1), cph(2026, 1, 5, 8), []),
    ("query across start_date", layer((1, 2), start_date=D(2026, 1, 5)), cph(2025, 12, 1), cph(2026, 1, 6, 9), [
        (cph(2026, 1, 5, 8), cph(2026, 1, 6, 8), 1),
        (cph(2026, 1, 6, 8), cph(2026, 1, 6, 9), 2),
    ]),
    ("query ends where it starts", layer(), cph(2026, 2, 1), cph(2026, 2, 1), []),
    ("query backwards", layer(), cph(2026, 2, 2), cph(2026, 2, 1), []),
    ("12-hour shifts over spring forward", layer((1, 2), shift_length=12, unit=Unit.HOURS, start_date=D(2026, 3, 28)), cph(2026, 3, 28), cph(2026, 3, 30), [
        (cph(2026, 3, 28, 8), cph(2026, 3, 28, 20), 1),
        (cph(2026, 3, 28, 20), cph(2026, 3, 29, 8), 2),  # 11 hours
        (cph(2026, 3, 29, 8), cph(2026, 3, 29, 20), 1),
        (cph(2026, 3, 29, 20), cph(2026, 3, 30), 2),
    ]),
    ("handoff 02:30 on the spring day is at 03:00 CEST", layer((1, 2), handoff="02:30", start_date=D(2026, 3, 27)), cph(2026, 3, 27), cph(2026, 3, 31), [
        (utc(2026, 3, 27, 1, 30), utc(2026, 3, 28, 1, 30), 1),
        (utc(2026, 3, 28, 1, 30), utc(2026, 3, 29, 1), 2),
        (utc(2026, 3, 29, 1), utc(2026, 3, 30, 0, 30), 1),
        (utc(2026, 3, 30, 0, 30), cph(2026, 3, 31), 2),
    ]),
    ("handoff 02:30 on the autumn day is at the first 02:30", layer((1, 2), handoff="02:30", start_date=D(2026, 10, 24)), cph(2026, 10, 24), cph(2026, 10, 27), [
        (utc(2026, 10, 24, 0, 30), utc(2026, 10, 25, 0, 30), 1),
        (utc(2026, 10, 25, 0, 30), utc(2026, 10, 26, 1, 30), 2),  # 25 hours
        (utc(2026, 10, 26, 1, 30), cph(2026, 10, 27), 1),
    ]),
    ("hourly on the spring day: the 02:00 shift is empty and dropped", layer((1, 2, 3, 4), unit=Unit.HOURS, handoff="00:00", start_date=D(2026, 3, 29)), cph(2026, 3, 29), cph(2026, 3, 29, 5), [
        (utc(2026, 3, 28, 23), utc(2026, 3, 29, 0), 1),
        (utc(2026, 3, 29, 0), utc(2026, 3, 29, 1), 2),
        (utc(2026, 3, 29, 1), utc(2026, 3, 29, 2), 4),
        (utc(2026, 3, 29, 2), utc(2026, 3, 29, 3), 1),
    ]),
    ("hourly on the autumn day: the 02:00 shift lasts two hours", layer((1, 2, 3), unit=Unit.HOURS, handoff="00:00", start_date=D(2026, 10, 25)), cph(2026, 10, 25), cph(2026, 10, 25, 4), [
        (utc(2026, 10, 24, 22), utc(2026, 10, 24, 23), 1),
        (utc(2026, 10, 24, 23), utc(2026, 10, 25, 0), 2),
        (utc(2026, 10, 25, 0), utc(2026, 10, 25, 2), 3),
        (utc(2026, 10, 25, 2), utc(2026, 10, 25, 3), 1),
    ]),
    ("weekday day window cuts a weekly shift into five", layer((1, 2), unit=Unit.WEEKS, start_date=D(2026, 1, 5), windows=[window("08:00", "16:00", WEEKDAYS)]), cph(2026, 1, 5), cph(2026, 1, 12), [
        (cph(2026, 1, d, 8), cph(2026, 1, d, 16), 1) for d in range(5, 10)
    ]),
    ("weekday nights end on the next morning, Friday's on Saturday", layer((1, 2), handoff="16:00", start_date=D(2026, 1, 5), windows=[window("16:00", "08:00", WEEKDAYS)]), cph(2026, 1, 8), cph(2026, 1, 12), [
        (cph(2026, 1, 8), cph(2026, 1, 8, 8), 1),  # Wednesday's night
        (cph(2026, 1, 8, 16), cph(2026, 1, 9, 8), 2),
        (cph(2026, 1, 9, 16), cph(2026, 1, 10, 8), 1),
    ]),
    ("whole weekend days, 00:00-00:00", layer((1, 2), unit=Unit.WEEKS, start_date=D(2026, 1, 5), windows=[window("00:00", "00:00", SAT_SUN)]), cph(2026, 1, 5), cph(2026, 1, 19), [
        (cph(2026, 1, 10), cph(2026, 1, 12), 1),  # Saturday and Sunday join, no cut at midnight
        (cph(2026, 1, 17), cph(2026, 1, 19), 2),
    ]),
    ("a handoff inside a window splits it", layer((1, 2), handoff="12:00", start_date=D(2026, 1, 5), windows=[window("08:00", "16:00")]), cph(2026, 1, 6), cph(2026, 1, 7), [
        (cph(2026, 1, 6, 8), cph(2026, 1, 6, 12), 1),
        (cph(2026, 1, 6, 12), cph(2026, 1, 6, 16), 2),
    ]),
    ("touching windows are like none", layer((1, 2), start_date=D(2026, 1, 5), windows=[window("08:00", "16:00"), window("16:00", "08:00")]), cph(2026, 1, 6), cph(2026, 1, 7), [
        (cph(2026, 1, 6), cph(2026, 1, 6, 8), 1),
        (cph(2026, 1, 6, 8), cph(2026, 1, 7), 2),
    ]),
    ("overlapping windows are their union", layer((1,), start_date=D(2026, 1, 5), windows=[window("08:00", "14:00"), window("12:00", "18:00")]), cph(2026, 1, 6), cph(2026, 1, 7), [
        (cph(2026, 1, 6, 8), cph(2026, 1, 6, 18), 1),
    ]),
    ("night window 22:00-07:00 is 8 hours in spring", layer((1, 2), handoff="22:00", start_date=D(2026, 3, 28), windows=[window("22:00", "07:00")]), cph(2026, 3, 28, 12), cph(2026, 3, 30, 12), [
        (utc(2026, 3, 28, 21), utc(2026, 3, 29, 5), 1),
        (utc(2026, 3, 29, 20), utc(2026, 3, 30, 5), 2),
    ]),
    ("night window 22:00-07:00 is 10 hours in autumn", layer((1, 2), handoff="22:00", start_date=D(2026, 10, 24), windows=[window("22:00", "07:00")]), cph(2026, 10, 24, 12), cph(2026, 10, 26, 12), [
        (utc(2026, 10, 24, 20), utc(2026, 10, 25, 6), 1),
        (utc(2026, 10, 25, 21), utc(2026, 10, 26, 6), 2),
    ]),
    ("a window inside the skipped hour is empty", layer((1,), start_date=D(2026, 3, 1), windows=[window("02:00", "02:45", frozenset({6}))]), cph(2026, 3, 28), cph(2026, 3, 30), []),
    ("a window in the repeated hour is its first pass", layer((1,), start_date=D(2026, 10, 1), windows=[window("02:00", "02:45", frozenset({6}))]), cph(2026, 10, 24), cph(2026, 10, 26), [
        (utc(2026, 10, 25, 0), utc(2026, 10, 25, 0, 45), 1),
    ]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("layer_", "start", "end", "expected"),
    [row[1:] for row in TABLE],
    ids=[row[0] for row in TABLE],
)
def test_layer_shifts(
    layer_: Layer,
    start: dt.datetime,
    end: dt.datetime,
    expected: list[tuple[dt.datetime, dt.datetime, int]],
) -> None:
    shifts = layer_shifts(layer_, TZ, start, end)
    assert [(s.start, s.end, s.clinician) for s in shifts] == expected
    assert all(s.start.tzinfo is dt.UTC and s.end.tzinfo is dt.UTC for s in shifts)
    for shift in shifts:  # the oracle agrees at each edge
        assert oracle.layer_owner(layer_, TZ, shift.start) == shift.clinician
        assert oracle.layer_owner(layer_, TZ, shift.end - dt.timedelta(microseconds=1)) == (
            shift.clinician
        )


@pytest.mark.parametrize(
    ("years", "unit", "length"),
    [(1, Unit.HOURS, 1), (30, Unit.HOURS, 5), (30, Unit.DAYS, 1), (100, Unit.WEEKS, 3)],
)
def test_a_query_years_later_jumps_to_its_shift(
    monkeypatch: pytest.MonkeyPatch, years: int, unit: Unit, length: int
) -> None:
    calls = 0
    real = rota.rotation.to_instant

    def counting(local: dt.datetime, tz: Any) -> dt.datetime:
        nonlocal calls
        calls += 1
        return real(local, tz)

    monkeypatch.setattr(rota.rotation, "to_instant", counting)
    the_layer = layer((1, 2, 3, 4, 5), unit=unit, shift_length=length, start_date=D(2026, 1, 5))
    start = cph(2026 + years, 3, 28, 13, 17)
    shifts = layer_shifts(the_layer, TZ, start, start + DAY)
    assert calls <= 2 + 24 // length + 1
    assert shifts[0].start == start and shifts[-1].end == start + DAY
    for shift in shifts:
        assert oracle.layer_owner(the_layer, TZ, shift.start) == shift.clinician


def test_shift_owner() -> None:
    the_layer = layer((1, 2), start_date=D(2026, 1, 5), windows=[window("08:00", "16:00")])
    assert shift_owner(the_layer, TZ, cph(2026, 1, 5, 7)) is None  # before the first shift
    assert shift_owner(the_layer, TZ, cph(2026, 1, 5, 8)) == 1
    assert shift_owner(the_layer, TZ, cph(2026, 1, 5, 16)) is None  # outside the window
    assert shift_owner(the_layer, TZ, cph(2026, 1, 6, 15, 59)) == 2


def test_query_in_another_zone_is_normalised() -> None:
    tokyo = dt.timezone(dt.timedelta(hours=9))
    start = dt.datetime(2026, 1, 6, 9, tzinfo=tokyo)  # 00:00 UTC
    shifts = layer_shifts(layer((1, 2), start_date=D(2026, 1, 5)), TZ, start, start + HOUR)
    assert shifts == [LayerShift(utc(2026, 1, 6), utc(2026, 1, 6, 1), 1)]
    assert shifts[0].start.tzinfo is dt.UTC


def test_naive_query_is_refused() -> None:
    with pytest.raises(NaiveDatetime, match="start"):
        layer_shifts(layer(), TZ, dt.datetime(2026, 1, 1), utc(2026, 1, 2))


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (layer(()), "no participants"),
        (layer(shift_length=0), "shift length 0 is below 1"),
    ],
)
def test_invalid_layer_is_refused(bad: Layer, message: str) -> None:
    with pytest.raises(InvalidLayer, match=message):
        layer_shifts(bad, TZ, utc(2026, 1, 1), utc(2026, 1, 2))


def test_window_intervals_and_interval_helpers() -> None:
    nights = [window("22:00", "07:00", frozenset({0}))]  # Monday nights only
    assert window_intervals(nights, TZ, cph(2026, 1, 5), cph(2026, 1, 13)) == [
        (cph(2026, 1, 5, 22), cph(2026, 1, 6, 7)),
        (cph(2026, 1, 12, 22), cph(2026, 1, 13)),
    ]
    assert window_intervals([], TZ, cph(2026, 1, 5), cph(2026, 1, 6)) == []
    a, b, c, d = (utc(2026, 1, 1, h) for h in (1, 2, 3, 4))
    assert merge_intervals([(c, d), (a, b), (b, c)]) == [(a, d)]
    assert merge_intervals([(a, d), (b, c)]) == [(a, d)]
    assert complement([(b, c)], a, d) == [(a, b), (c, d)]
    assert complement([], a, b) == [(a, b)]
    assert complement([(a, d)], b, c) == []
