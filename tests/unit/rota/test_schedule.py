"""rota.schedule: layer priority, each override kind, their order, swaps, merging."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from rota.errors import InvalidLayer, InvalidRota, NaiveDatetime
from rota.model import Layer, Override, Shift, Swap
from rota.schedule import final_schedule

from .builders import add, cph, layer, replace, rota, spans, window

D = dt.date


def t(hour: int, minute: int = 0) -> dt.datetime:
    """A Copenhagen time on Tuesday 6 January 2026 (hour 24 is midnight after it)."""
    return cph(2026, 1, 6) + dt.timedelta(hours=hour, minutes=minute)


# Base: 1 until Tuesday 08:00, then 2 (daily handoff at 08:00 since Monday 5 January).
BASE = layer((1, 2), id=1, name="base", start_date=D(2026, 1, 5))
EVENING = layer(
    (3,), id=2, name="evening", start_date=D(2026, 1, 5), windows=[window("16:00", "22:00")]
)
Expected = list[tuple[dt.datetime, dt.datetime, set[int]]]

PRIORITY: list[tuple[str, tuple[Layer, ...], Expected]] = [
    ("one layer", (BASE,), [(t(0), t(8), {1}), (t(8), t(24), {2})]),
    ("a higher layer wins in its window", (BASE, EVENING), [
        (t(0), t(8), {1}), (t(8), t(16), {2}), (t(16), t(22), {3}), (t(22), t(24), {2}),
    ]),
    ("a lower layer never shows over a higher one", (EVENING, BASE), [
        (t(0), t(8), {1}), (t(8), t(24), {2}),
    ]),
    ("outside every window is a gap, left out", (EVENING,), [(t(16), t(22), {3})]),
    ("the same clinician above and below: one shift", (BASE, layer((2,), id=3, windows=[window("12:00", "14:00")])), [
        (t(0), t(8), {1}), (t(8), t(24), {2}),
    ]),
    ("a higher layer not started yet lets the lower show", (BASE, dataclasses.replace(EVENING, start_date=D(2026, 1, 7))), [
        (t(0), t(8), {1}), (t(8), t(24), {2}),
    ]),
    ("three layers", (BASE, EVENING, layer((4, 5), id=3, handoff="20:00", start_date=D(2026, 1, 5), windows=[window("20:00", "07:00")])), [
        (t(0), t(7), {4}), (t(7), t(8), {1}), (t(8), t(16), {2}), (t(16), t(20), {3}), (t(20), t(24), {5}),
    ]),
    ("no layers", (), []),
]  # fmt: skip


@pytest.mark.parametrize(
    ("layers", "expected"), [row[1:] for row in PRIORITY], ids=[row[0] for row in PRIORITY]
)
def test_layer_priority(layers: tuple[Layer, ...], expected: Expected) -> None:
    assert spans(final_schedule(rota(*layers), t(0), t(24))) == expected


OVERRIDES: list[tuple[str, tuple[Layer, ...], list[Override], Expected]] = [
    ("replace everyone", (BASE,), [replace(1, 5, t(10), t(12))], [
        (t(0), t(8), {1}), (t(8), t(10), {2}), (t(10), t(12), {5}), (t(12), t(24), {2}),
    ]),
    ("replace everyone, also in a gap", (EVENING,), [replace(1, 5, t(10), t(17))], [
        (t(10), t(17), {5}), (t(17), t(22), {3}),
    ]),
    ("replace one clinician only where they are on duty", (BASE,), [replace(1, 5, t(6), t(10), replaces=2)], [
        (t(0), t(8), {1}), (t(8), t(10), {5}), (t(10), t(24), {2}),
    ]),
    ("replacing someone not on duty changes nothing", (BASE,), [replace(1, 5, t(6), t(10), replaces=7)], [
        (t(0), t(8), {1}), (t(8), t(24), {2}),
    ]),
    ("replacing one clinician keeps the others", (BASE,), [add(1, 6, t(9), t(11)), replace(2, 5, t(10), t(12), replaces=2)], [
        (t(0), t(8), {1}), (t(8), t(9), {2}), (t(9), t(10), {2, 6}), (t(10), t(11), {5, 6}), (t(11), t(12), {5}), (t(12), t(24), {2}),
    ]),
    ("add", (BASE,), [add(1, 5, t(7), t(9))], [
        (t(0), t(7), {1}), (t(7), t(8), {1, 5}), (t(8), t(9), {2, 5}), (t(9), t(24), {2}),
    ]),
    ("add in a gap", (EVENING,), [add(1, 5, t(21), t(23))], [
        (t(16), t(21), {3}), (t(21), t(22), {3, 5}), (t(22), t(23), {5}),
    ]),
    ("add someone already on duty", (BASE,), [add(1, 2, t(9), t(10))], [
        (t(0), t(8), {1}), (t(8), t(24), {2}),
    ]),
    ("overrides reaching outside the query are clipped", (BASE,), [replace(1, 5, t(-5), t(2)), add(2, 6, t(23), t(30))], [
        (t(0), t(2), {5}), (t(2), t(8), {1}), (t(8), t(23), {2}), (t(23), t(24), {2, 6}),
    ]),
    ("overrides outside the query change nothing", (BASE,), [replace(1, 5, t(-5), t(0)), add(2, 6, t(24), t(30))], [
        (t(0), t(8), {1}), (t(8), t(24), {2}),
    ]),
    ("higher id applies last: replace, replace", (BASE,), [replace(2, 5, t(9), t(10)), replace(1, 6, t(9), t(10))], [
        (t(0), t(8), {1}), (t(8), t(9), {2}), (t(9), t(10), {5}), (t(10), t(24), {2}),
    ]),
    ("higher id applies last: replace one, then add", (BASE,), [replace(1, 5, t(9), t(10), replaces=2), add(2, 6, t(9), t(10))], [
        (t(0), t(8), {1}), (t(8), t(9), {2}), (t(9), t(10), {5, 6}), (t(10), t(24), {2}),
    ]),
    ("higher id applies last: add, then replace everyone", (BASE,), [add(1, 6, t(9), t(10)), replace(2, 5, t(9), t(10))], [
        (t(0), t(8), {1}), (t(8), t(9), {2}), (t(9), t(10), {5}), (t(10), t(24), {2}),
    ]),
    ("chained replacements follow the ids", (BASE,), [replace(2, 6, t(9), t(10), replaces=5), replace(1, 5, t(9), t(10), replaces=2)], [
        (t(0), t(8), {1}), (t(8), t(9), {2}), (t(9), t(10), {6}), (t(10), t(24), {2}),
    ]),
    ("chained replacements in the other order", (BASE,), [replace(1, 6, t(9), t(10), replaces=5), replace(2, 5, t(9), t(10), replaces=2)], [
        (t(0), t(8), {1}), (t(8), t(9), {2}), (t(9), t(10), {5}), (t(10), t(24), {2}),
    ]),
    ("an override covering a whole shift merges with equal neighbours", (BASE,), [replace(1, 2, t(0), t(8))], [
        (t(0), t(24), {2}),
    ]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("layers", "overrides", "expected"),
    [row[1:] for row in OVERRIDES],
    ids=[row[0] for row in OVERRIDES],
)
def test_overrides(
    layers: tuple[Layer, ...], overrides: list[Override], expected: Expected
) -> None:
    assert spans(final_schedule(rota(*layers, overrides=overrides), t(0), t(24))) == expected


def test_swap() -> None:
    # 1 gives Monday's shift (Mon 08:00 - Tue 08:00) to 2 and takes 2's Tuesday shift.
    swap = Swap(1, 1, 2, t(-16), t(8), t(8), t(32))
    schedule = final_schedule(rota(BASE, swaps=[swap]), t(-24), t(48))
    assert spans(schedule) == [(t(-16), t(8), {2}), (t(8), t(48), {1})]


def test_swaps_apply_before_overrides() -> None:
    swap = Swap(9, 1, 2, t(-16), t(8), t(8), t(32))
    cover = replace(1, 5, t(12), t(14), replaces=1)  # covers for 1 in the shift 1 swapped into
    schedule = final_schedule(rota(BASE, overrides=[cover], swaps=[swap]), t(0), t(24))
    assert spans(schedule) == [
        (t(0), t(8), {2}),
        (t(8), t(12), {1}),
        (t(12), t(14), {5}),
        (t(14), t(24), {1}),
    ]


def test_shifts_name_their_rota_and_are_utc() -> None:
    tokyo = dt.timezone(dt.timedelta(hours=9))
    schedule = final_schedule(
        rota(BASE, id=42), t(0).astimezone(tokyo), t(24).astimezone(dt.timezone.min)
    )
    assert {shift.rota_id for shift in schedule} == {42}
    assert all(s.start.tzinfo is dt.UTC and s.end.tzinfo is dt.UTC for s in schedule)
    assert schedule[0] == Shift(t(0), t(8), frozenset({1}), 42)


def test_an_empty_or_backwards_query() -> None:
    assert final_schedule(rota(BASE), t(5), t(5)) == []
    assert final_schedule(rota(BASE), t(6), t(5)) == []


def test_overlapping_overrides_are_still_computed() -> None:
    r = rota(BASE, overrides=[add(1, 5, t(9), t(11)), add(2, 5, t(10), t(12))])
    assert spans(final_schedule(r, t(8), t(13))) == [
        (t(8), t(9), {2}),
        (t(9), t(12), {2, 5}),
        (t(12), t(13), {2}),
    ]


@pytest.mark.parametrize(
    ("bad", "error", "message"),
    [
        (rota(layer(())), InvalidLayer, "no participants"),
        (
            dataclasses.replace(rota(BASE), timezone="Nowhere/Town"),
            InvalidRota,
            "unknown time zone",
        ),
        (
            rota(BASE, overrides=[add(1, 5, dt.datetime(2026, 1, 6), t(9))]),
            NaiveDatetime,
            "override 1 start",
        ),
    ],
)
def test_what_cannot_be_computed_is_refused(
    bad: object, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        final_schedule(bad, t(0), t(24))  # type: ignore[arg-type]


def test_naive_query_is_refused() -> None:
    with pytest.raises(NaiveDatetime, match="end"):
        final_schedule(rota(BASE), t(0), dt.datetime(2026, 1, 7))
