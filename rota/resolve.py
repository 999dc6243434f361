"""Questions about a tier at an instant or over a range, answered from the rotas directly.

These compute what they need on each call; ``rota.index.TierIndex`` answers the same
questions from a precomputed timeline when many are asked.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from .model import Gap, Rota
from .schedule import final_schedule
from .timeline import Handoff, handoffs, tier_rotas, tier_timeline
from .walltime import as_utc
from .windows import complement, merge_intervals

_INSTANT = dt.timedelta(microseconds=1)
DEFAULT_HORIZON = dt.timedelta(days=366)


def on_duty(rotas: Iterable[Rota], tier: str, at: dt.datetime) -> dict[int, frozenset[int]]:
    """Who is on duty in each of the tier's rotas at ``at``: rota id -> clinicians, for the
    rotas with someone on duty (empty when nobody is)."""
    at = as_utc(at, "at")
    result: dict[int, frozenset[int]] = {}
    for rota in tier_rotas(rotas, tier):
        shifts = final_schedule(rota, at, at + _INSTANT)
        if shifts:
            result[rota.id] = shifts[0].clinicians
    return result


def on_duty_clinicians(rotas: Iterable[Rota], tier: str, at: dt.datetime) -> frozenset[int]:
    """Everyone on duty in the tier at ``at``, over all its rotas."""
    return frozenset().union(*on_duty(rotas, tier, at).values())


def coverage_gaps(
    rotas: Iterable[Rota], tier: str, start: dt.datetime, end: dt.datetime
) -> list[Gap]:
    """The stretches of ``[start, end)`` where none of the tier's rotas has anyone on duty."""
    start, end = as_utc(start, "start"), as_utc(end, "end")
    if start >= end:
        return []
    covered = merge_intervals(
        (shift.start, shift.end)
        for rota in tier_rotas(rotas, tier)
        for shift in final_schedule(rota, start, end)
    )
    return [Gap(opens, closes) for opens, closes in complement(covered, start, end)]


def next_handoffs(
    rotas: Iterable[Rota],
    tier: str,
    at: dt.datetime,
    count: int,
    horizon: dt.timedelta = DEFAULT_HORIZON,
) -> list[Handoff]:
    """The first ``count`` instants after ``at`` (and before ``at + horizon``) at which the
    tier's on-duty set changes, each with the set before and after."""
    at = as_utc(at, "at")
    rotas = list(rotas)
    if count <= 0 or horizon <= dt.timedelta(0):
        return []
    limit, span = at + horizon, dt.timedelta(days=1)
    while True:
        # Look a little ahead first, further only when the changes found are too few.
        stop = min(at + span, limit)
        found = handoffs(tier_timeline(rotas, tier, at, stop))
        if len(found) >= count or stop >= limit:
            return found[:count]
        span *= 4
