"""A tier's timeline: the final schedules of its rotas swept into one piecewise-constant
sequence of who is on duty, per rota and in all."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from operator import itemgetter

from .errors import InvalidRota
from .model import Rota, Shift
from .schedule import final_schedule
from .walltime import as_utc

OnDuty = tuple[tuple[int, frozenset[int]], ...]
Handoff = tuple[dt.datetime, frozenset[int], frozenset[int]]


@dataclass(frozen=True)
class TierSegment:
    """A stretch of a tier's timeline with the same on-duty sets throughout.

    ``on_duty`` holds (rota id, clinicians) for each rota with someone on duty, by rota id;
    ``clinicians`` is their union (empty in a coverage gap).
    """

    start: dt.datetime
    end: dt.datetime
    on_duty: OnDuty
    clinicians: frozenset[int]


def tier_rotas(rotas: Iterable[Rota], tier: str) -> list[Rota]:
    """The rotas of ``tier``; ``InvalidRota`` when two of them share an id."""
    chosen = [rota for rota in rotas if rota.tier == tier]
    ids = [rota.id for rota in chosen]
    if len(set(ids)) != len(ids):
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        raise InvalidRota(f"tier {tier!r}: more than one rota with id {duplicates}")
    return chosen


def tier_timeline(
    rotas: Iterable[Rota], tier: str, start: dt.datetime, end: dt.datetime
) -> list[TierSegment]:
    """Segments tiling ``[start, end)`` (gaps included), neighbours always different."""
    start, end = as_utc(start, "start"), as_utc(end, "end")
    schedules = [(rota.id, final_schedule(rota, start, end)) for rota in tier_rotas(rotas, tier)]
    return merge_schedules(schedules, start, end)


def merge_schedules(
    schedules: Sequence[tuple[int, Sequence[Shift]]], start: dt.datetime, end: dt.datetime
) -> list[TierSegment]:
    """Sweep the rotas' schedules (each within ``[start, end)``) into one timeline."""
    if start >= end:
        return []
    # (instant, 0 for an end / 1 for a start, rota id, clinicians): ends sort first, so a
    # rota's next shift starting at the same instant is not undone.
    events = [
        event
        for rota_id, shifts in schedules
        for shift in shifts
        for event in ((shift.start, 1, rota_id, shift.clinicians), (shift.end, 0, rota_id, None))
    ]
    events.sort(key=itemgetter(0, 1))
    current: dict[int, frozenset[int]] = {}
    segments: list[TierSegment] = []
    cursor, i = start, 0
    while i < len(events):
        instant = events[i][0]
        if instant > cursor:
            _append(segments, cursor, instant, current)
            cursor = instant
        while i < len(events) and events[i][0] == instant:
            _, _, rota_id, clinicians = events[i]
            if clinicians is None:
                current.pop(rota_id, None)
            else:
                current[rota_id] = clinicians
            i += 1
    if cursor < end:
        _append(segments, cursor, end, current)
    return segments


def _append(
    segments: list[TierSegment],
    start: dt.datetime,
    end: dt.datetime,
    current: dict[int, frozenset[int]],
) -> None:
    on_duty = tuple(sorted(current.items()))
    if segments and segments[-1].on_duty == on_duty:
        last = segments[-1]
        segments[-1] = TierSegment(last.start, end, on_duty, last.clinicians)
    else:
        clinicians = frozenset().union(*current.values())
        segments.append(TierSegment(start, end, on_duty, clinicians))


def handoffs(segments: Sequence[TierSegment]) -> list[Handoff]:
    """Where the tier's on-duty set changes between consecutive segments: (instant, before,
    after)."""
    return [
        (after.start, before.clinicians, after.clinicians)
        for before, after in pairwise(segments)
        if before.clinicians != after.clinicians
    ]
