"""When calls come (a weekday x hour heatmap) and how long they wait for an answer.

Waiting times come from the timeline: the whole wait is ``EpisodeFacts.seconds_to_first_answer``
(request to the first answer), a tier's wait is ``TierReached.seconds_to_answer`` (the tier
being rung to its answer).
"""

from __future__ import annotations

from collections.abc import Sequence

from rota.tiers import TIERS

from .records import ZONE, EpisodeRecord
from .selection import reached
from .stats import median, percentile, share
from .table import Cell, Table, make

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
#: Histogram buckets of answer times in seconds: (lower, upper], the first from 0 included;
#: the last has no upper bound.
BUCKETS: tuple[tuple[int, int | None], ...] = (
    (0, 15), (15, 30), (30, 60), (60, 120), (120, 180), (180, 300), (300, 600), (600, None),
)  # fmt: skip
WITHIN = (60, 180)


def heatmap(episodes: Sequence[EpisodeRecord]) -> Table:
    """Requests by local weekday (rows, Monday first) and local hour (00-23), DST-correct:
    on the night clocks go back the hour 02 holds two real hours, in spring it holds none."""
    counts = [[0] * 24 for _ in WEEKDAYS]
    for r in episodes:
        local = r.facts.requested_at.astimezone(ZONE)
        counts[local.weekday()][local.hour] += 1
    columns = ["weekday", *(f"h{h:02d}" for h in range(24))]
    return make(
        "heatmap", columns, [[day, *row] for day, row in zip(WEEKDAYS, counts, strict=True)]
    )


def _bucket(seconds: float) -> int:
    for i, (_, upper) in enumerate(BUCKETS):
        if upper is None or seconds <= upper:
            return i
    raise AssertionError(seconds)


def _waits(episodes: Sequence[EpisodeRecord]) -> list[tuple[str, int, list[float]]]:
    """(scope, requests, answer times) for all requests, then for each tier reached."""
    scopes: list[tuple[str, int, list[float]]] = [(
        "all", len(episodes),
        [s for r in episodes if (s := r.facts.seconds_to_first_answer) is not None],
    )]  # fmt: skip
    for level in range(1, len(TIERS) + 1):
        tiers = [t for r in episodes if (t := reached(r.facts, level)) is not None]
        waits = [s for t in tiers if (s := t.seconds_to_answer) is not None]
        scopes.append((f"tier{level}", len(tiers), waits))
    return scopes


def answer_times(episodes: Sequence[EpisodeRecord]) -> Table:
    """Per scope: requests, answered, median and 90th percentile of the answered calls'
    waits, and how many of *all* requests were answered within 60 s and 3 minutes (a call
    never answered, or cancelled first, counts as not answered in time)."""
    rows: list[list[Cell]] = []
    for scope, requests, waits in _waits(episodes):
        row: list[Cell] = [scope, requests, len(waits), share(len(waits), requests),
                           median(waits), percentile(waits, 90)]  # fmt: skip
        for limit in WITHIN:
            within = sum(1 for s in waits if s <= limit)
            row += [within, share(within, requests)]
        rows.append(row)
    columns = ["scope", "requests", "answered", "share_answered", "median_s", "p90_s",
               "within_60s", "share_within_60s", "within_180s", "share_within_180s"]  # fmt: skip
    return make("answer_times", columns, rows)


def answer_histogram(episodes: Sequence[EpisodeRecord]) -> Table:
    """How many answered calls waited how long, per scope."""
    rows: list[list[Cell]] = []
    for scope, _, waits in _waits(episodes):
        counts = [0] * len(BUCKETS)
        for s in waits:
            counts[_bucket(s)] += 1
        rows += [[scope, lo, hi, n] for (lo, hi), n in zip(BUCKETS, counts, strict=True)]
    return make("answer_histogram", ["scope", "from_s", "to_s", "answered"], rows)
