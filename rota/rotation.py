"""A layer's own shifts: the rotation of its participants, clipped to its windows.

Shift k of a layer begins at the local wall-clock time ``(start_date, handoff) + k *
shift_length`` units (calendar days for DAYS and WEEKS, wall-clock hours for HOURS), becomes
an instant by the DST rule, and belongs to ``participants[k % len(participants)]``. There
are no shifts before the first one. A query jumps straight to the shift it starts in, so a
question about a date years after ``start_date`` costs the same as one about the first week.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from .model import Layer, Unit, layer_problems
from .walltime import as_utc, to_instant, to_local
from .windows import intersect, window_intervals

_UNIT_STEP = {
    Unit.HOURS: dt.timedelta(hours=1),
    Unit.DAYS: dt.timedelta(days=1),
    Unit.WEEKS: dt.timedelta(weeks=1),
}


@dataclass(frozen=True)
class LayerShift:
    """One shift of one layer, in UTC, clipped to the query and to the layer's windows."""

    start: dt.datetime
    end: dt.datetime
    clinician: int


def first_handoff(layer: Layer) -> dt.datetime:
    """The naive local wall-clock time the layer's first shift starts at."""
    return dt.datetime.combine(layer.start_date, layer.handoff)


def shift_step(layer: Layer) -> dt.timedelta:
    """The wall-clock length of one of the layer's shifts (before DST is applied)."""
    return layer.shift_length * _UNIT_STEP[layer.unit]


def check_layer(layer: Layer) -> Layer:
    """``layer`` when it can produce shifts; otherwise raise its first ``InvalidLayer``."""
    problems = layer_problems(layer)
    if problems:
        raise problems[0]
    return layer


def layer_shifts(
    layer: Layer, tz: ZoneInfo, start: dt.datetime, end: dt.datetime
) -> list[LayerShift]:
    """The layer's shifts within ``[start, end)``, sorted, disjoint and never empty."""
    check_layer(layer)
    return checked_layer_shifts(layer, tz, as_utc(start, "start"), as_utc(end, "end"))


def checked_layer_shifts(
    layer: Layer, tz: ZoneInfo, start: dt.datetime, end: dt.datetime
) -> list[LayerShift]:
    """``layer_shifts`` for a layer already checked and a range already in UTC."""
    if start >= end:
        return []
    base, step = first_handoff(layer), shift_step(layer)
    # Shift k starts at to_instant(base + k*step) <= to_instant(to_local(start)) <= start, so
    # no earlier shift can reach into the query.
    k = max(0, (to_local(start, tz) - base) // step)
    participants = layer.participants
    shifts: list[LayerShift] = []
    opens = to_instant(base + k * step, tz)
    while opens < end:
        closes = to_instant(base + (k + 1) * step, tz)
        if closes > start and closes > opens:
            owner = participants[k % len(participants)]
            shifts.append(LayerShift(max(opens, start), min(closes, end), owner))
        k += 1
        opens = closes
    if not layer.windows:
        return shifts
    spans = window_intervals(layer.windows, tz, start, end)
    pieces = [(shift.start, shift.end) for shift in shifts]
    return [
        LayerShift(part[0], part[1], shifts[index].clinician)
        for index, part in intersect(pieces, spans)
    ]


def shift_owner(layer: Layer, tz: ZoneInfo, at: dt.datetime) -> int | None:
    """Who holds the layer's shift at ``at``, or None (before the first shift, outside the
    windows)."""
    shifts = layer_shifts(layer, tz, at, as_utc(at) + dt.timedelta(microseconds=1))
    return shifts[0].clinician if shifts else None
