"""When a layer is active: its windows as UTC intervals, and clipping shifts to them.

A window starts on each of its days (local date, 0=Monday) at ``start`` and ends at ``end``
on the same day, or on the next day when ``end <= start``. Both edges are wall-clock times
turned into instants by the DST rule (``walltime.to_instant``), so a 22:00-07:00 window lasts
8 hours on the spring-forward night and 10 hours on the fall-back night.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from zoneinfo import ZoneInfo

from .model import Window
from .walltime import to_instant, to_local

Interval = tuple[dt.datetime, dt.datetime]
_DAY = dt.timedelta(days=1)


def window_intervals(
    windows: Sequence[Window], tz: ZoneInfo, start: dt.datetime, end: dt.datetime
) -> list[Interval]:
    """The union of the windows' occurrences within ``[start, end)`` (UTC instants), as
    sorted, disjoint, non-adjacent intervals."""
    if start >= end or not windows:
        return []
    # An occurrence lasts at most a day, so one day either side of the query is enough.
    day = to_local(start, tz).date() - _DAY
    last = to_local(end, tz).date() + _DAY
    spans: list[Interval] = []
    while day <= last:
        weekday = day.weekday()
        for window in windows:
            if weekday in window.days:
                opens = to_instant(dt.datetime.combine(day, window.start), tz)
                closes_on = day + _DAY if window.overnight else day
                closes = to_instant(dt.datetime.combine(closes_on, window.end), tz)
                opens, closes = max(opens, start), min(closes, end)
                if opens < closes:
                    spans.append((opens, closes))
        day += _DAY
    return merge_intervals(spans)


def merge_intervals(spans: Iterable[Interval]) -> list[Interval]:
    """Sorted disjoint intervals covering exactly the union of ``spans``; touching ones join."""
    merged: list[Interval] = []
    for opens, closes in sorted(spans):
        if merged and opens <= merged[-1][1]:
            if closes > merged[-1][1]:
                merged[-1] = (merged[-1][0], closes)
        else:
            merged.append((opens, closes))
    return merged


def intersect(pieces: Sequence[Interval], spans: Sequence[Interval]) -> list[tuple[int, Interval]]:
    """Each piece cut to ``spans`` (both sorted and disjoint): (index of the piece, part)."""
    parts: list[tuple[int, Interval]] = []
    first = 0
    for index, (opens, closes) in enumerate(pieces):
        while first < len(spans) and spans[first][1] <= opens:
            first += 1
        j = first
        while j < len(spans) and spans[j][0] < closes:
            part = (max(opens, spans[j][0]), min(closes, spans[j][1]))
            if part[0] < part[1]:
                parts.append((index, part))
            j += 1
    return parts


def complement(spans: Sequence[Interval], start: dt.datetime, end: dt.datetime) -> list[Interval]:
    """What ``[start, end)`` has outside ``spans`` (sorted, disjoint, within the range)."""
    holes: list[Interval] = []
    cursor = start
    for opens, closes in spans:
        if opens > cursor:
            holes.append((cursor, opens))
        cursor = max(cursor, closes)
    if cursor < end:
        holes.append((cursor, end))
    return holes
