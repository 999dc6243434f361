"""A rota's final schedule: layers by priority, then swaps and overrides.

At each instant the rota's on-duty set is that of the highest layer with a shift there (the
last layer in ``Rota.layers`` wins); then the swaps (each as two REPLACE overrides, in order
of swap id) and the overrides (in order of id) are applied where they are in force. The
result is piecewise constant: consecutive stretches with the same set are merged, and
stretches with nobody on duty are left out (they are coverage gaps).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from itertools import pairwise

from .model import Override, OverrideKind, Rota, Shift
from .rotation import LayerShift, check_layer, checked_layer_shifts
from .walltime import as_utc

Segment = tuple[dt.datetime, dt.datetime, frozenset[int]]
NOBODY: frozenset[int] = frozenset()


def final_schedule(rota: Rota, start: dt.datetime, end: dt.datetime) -> list[Shift]:
    """Who is on duty in ``rota`` within ``[start, end)``, as merged non-empty shifts in UTC.

    Raises a ``RotaError`` for what makes the rota impossible to compute (unknown time zone,
    a layer without participants, naive instants); overlapping overrides are computed.
    """
    start, end = as_utc(start, "start"), as_utc(end, "end")
    tz = rota.zone()
    for layer in rota.layers:
        check_layer(layer)
    overrides = rota.effective_overrides()
    for override in overrides:
        as_utc(override.start, f"override {override.id} start")
        as_utc(override.end, f"override {override.id} end")
    if start >= end:
        return []
    per_layer = [checked_layer_shifts(layer, tz, start, end) for layer in rota.layers]
    segments = apply_overrides(layered_segments(per_layer, start, end), overrides)
    return [Shift(s, e, who, rota.id) for s, e, who in merge_segments(segments) if who]


def layered_segments(
    per_layer: Sequence[Sequence[LayerShift]], start: dt.datetime, end: dt.datetime
) -> list[Segment]:
    """Contiguous segments tiling ``[start, end)``, each with the highest covering layer's
    clinician (or nobody). ``per_layer`` is lowest layer first, each sorted and disjoint."""
    bounds = {start, end}
    for shifts in per_layer:
        for shift in shifts:
            bounds.add(shift.start)
            bounds.add(shift.end)
    cursors = [0] * len(per_layer)
    segments: list[Segment] = []
    for opens, closes in pairwise(sorted(bounds)):
        segments.append((opens, closes, _top_clinician(per_layer, cursors, opens)))
    return segments


def _top_clinician(
    per_layer: Sequence[Sequence[LayerShift]], cursors: list[int], at: dt.datetime
) -> frozenset[int]:
    for level in range(len(per_layer) - 1, -1, -1):
        shifts, cursor = per_layer[level], cursors[level]
        while cursor < len(shifts) and shifts[cursor].end <= at:
            cursor += 1
        cursors[level] = cursor
        if cursor < len(shifts) and shifts[cursor].start <= at:
            return frozenset((shifts[cursor].clinician,))
    return NOBODY


def apply_overrides(segments: Sequence[Segment], overrides: Sequence[Override]) -> list[Segment]:
    """``segments`` (contiguous, sorted) with ``overrides`` applied in the given order where
    each is in force; segments are split at override edges inside them."""
    if not segments or not overrides:
        return list(segments)
    start, end = segments[0][0], segments[-1][1]
    clipped = [
        (max(as_utc(o.start), start), min(as_utc(o.end), end), order, o)
        for order, o in enumerate(overrides)
    ]
    clipped = [item for item in clipped if item[0] < item[1]]
    clipped.sort(key=lambda item: item[0])
    bounds = sorted(
        {s for s, _, _ in segments} | {end} | {x[0] for x in clipped} | {x[1] for x in clipped}
    )
    result: list[Segment] = []
    active: list[tuple[int, dt.datetime, Override]] = []
    segment, waiting = 0, 0
    for opens, closes in pairwise(bounds):
        while segments[segment][1] <= opens:
            segment += 1
        while waiting < len(clipped) and clipped[waiting][0] <= opens:
            active.append((clipped[waiting][2], clipped[waiting][1], clipped[waiting][3]))
            waiting += 1
        active = sorted(item for item in active if item[1] > opens)
        who = segments[segment][2]
        for _, _, override in active:
            who = apply_override(who, override)
        result.append((opens, closes, who))
    return result


def apply_override(who: frozenset[int], override: Override) -> frozenset[int]:
    """The on-duty set ``who`` changed by ``override`` (which is in force)."""
    if override.kind == OverrideKind.ADD:
        return who | {override.clinician}
    if override.replaces is None:
        return frozenset((override.clinician,))
    if override.replaces in who:
        return (who - {override.replaces}) | {override.clinician}
    return who


def merge_segments(segments: Sequence[Segment]) -> list[Segment]:
    """``segments`` with touching neighbours of the same set joined."""
    merged: list[Segment] = []
    for opens, closes, who in segments:
        if merged and merged[-1][2] == who and merged[-1][1] == opens:
            merged[-1] = (merged[-1][0], closes, who)
        else:
            merged.append((opens, closes, who))
    return merged
