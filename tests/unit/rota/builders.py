"""Short ways to build rotas, instants and schedule look-ups for the rota tests."""

from __future__ import annotations

import datetime as dt
from bisect import bisect_right
from collections.abc import Iterator, Sequence
from zoneinfo import ZoneInfo

from rota.model import Layer, Override, OverrideKind, Rota, Shift, Swap, Unit, Window

TZ = ZoneInfo("Europe/Copenhagen")
UTC = dt.UTC
MINUTE = dt.timedelta(minutes=1)
HOUR = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)
EVERY_DAY = frozenset(range(7))
WEEKDAYS = frozenset(range(5))
#: The two DST changes of 2026 in Europe/Copenhagen (local dates).
SPRING = dt.date(2026, 3, 29)
AUTUMN = dt.date(2026, 10, 25)
#: The fake "now" the tests use; they never read the clock.
NOW = dt.datetime(2026, 3, 25, 9, 41, tzinfo=UTC)


def utc(*parts: int) -> dt.datetime:
    """An instant from UTC calendar parts: ``utc(2026, 3, 29, 1)``."""
    return dt.datetime(*parts, tzinfo=UTC)  # type: ignore[arg-type]


def cph(*parts: int, fold: int = 0) -> dt.datetime:
    """The instant of a Copenhagen wall-clock time (``fold=1``: the second 02:xx in October)."""
    local = dt.datetime(*parts, tzinfo=TZ, fold=fold)  # type: ignore[arg-type, misc]
    return local.astimezone(UTC)


def hm(text: str) -> dt.time:
    """``"22:30"`` as a time."""
    return dt.time.fromisoformat(text)


def window(start: str, end: str, days: frozenset[int] = EVERY_DAY) -> Window:
    return Window(days, hm(start), hm(end))


def layer(
    participants: Sequence[int] = (1,),
    *,
    id: int = 1,
    name: str = "layer",
    shift_length: int = 1,
    unit: Unit = Unit.DAYS,
    handoff: str = "08:00",
    start_date: dt.date = dt.date(2026, 1, 5),
    windows: Sequence[Window] = (),
) -> Layer:
    return Layer(
        id, name, tuple(participants), shift_length, unit, hm(handoff), start_date, tuple(windows)
    )


def rota(
    *layers: Layer,
    id: int = 1,
    tier: str = "senior_nurse",
    overrides: Sequence[Override] = (),
    swaps: Sequence[Swap] = (),
) -> Rota:
    return Rota(
        id, f"rota {id}", tier, layers=layers, overrides=tuple(overrides), swaps=tuple(swaps)
    )


def replace(
    id: int, clinician: int, start: dt.datetime, end: dt.datetime, replaces: int | None = None
) -> Override:
    return Override(id, clinician, start, end, OverrideKind.REPLACE, replaces)


def add(id: int, clinician: int, start: dt.datetime, end: dt.datetime) -> Override:
    return Override(id, clinician, start, end, OverrideKind.ADD)


def minutes(start: dt.datetime, end: dt.datetime) -> Iterator[dt.datetime]:
    """Every whole minute in ``[start, end)``."""
    at = start
    while at < end:
        yield at
        at += MINUTE


class Lookup:
    """Who a final schedule has on duty at an instant (nobody outside its shifts)."""

    def __init__(self, shifts: Sequence[Shift]) -> None:
        self.shifts = list(shifts)
        self.starts = [shift.start for shift in shifts]

    def __call__(self, at: dt.datetime) -> frozenset[int]:
        i = bisect_right(self.starts, at) - 1
        if i >= 0 and at < self.shifts[i].end:
            return self.shifts[i].clinicians
        return frozenset()


def spans(shifts: Sequence[Shift]) -> list[tuple[dt.datetime, dt.datetime, set[int]]]:
    """Shifts as (start, end, clinicians) tuples, easy to compare with a table."""
    return [(shift.start, shift.end, set(shift.clinicians)) for shift in shifts]
