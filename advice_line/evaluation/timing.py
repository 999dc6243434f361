"""When calls come (a weekday x hour heatmap) and how long they wait for an answer.

Waiting times come from the timeline: the whole wait is ``EpisodeFacts.seconds_to_first_answer``
(request to the first answer), a tier's wait is ``TierReached.seconds_to_answer`` (the tier
being rung to its answer).
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Iterable, Sequence
from itertools import compress, pairwise

from rota.tiers import TIERS

from .rows import Columns
from .stats import median, percentile, share
from .table import Cell, Table, make

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
#: Histogram buckets of answer times in seconds: (lower, upper], the first from 0 included;
#: the last has no upper bound.
BUCKETS: tuple[tuple[int, int | None], ...] = (
    (0, 15), (15, 30), (30, 60), (60, 120), (120, 180), (180, 300), (300, 600), (600, None),
)  # fmt: skip
WITHIN = (60, 180)


def heatmap(episodes: Columns) -> Table:
    """Requests by local weekday (rows, Monday first) and local hour (00-23), DST-correct:
    on the night clocks go back the hour 02 holds two real hours, in spring it holds none."""
    counts: Counter[tuple[int, int]] = Counter(
        zip(episodes["weekday"], episodes["hour"], strict=True)
    )
    columns = ["weekday", *(f"h{h:02d}" for h in range(24))]
    rows: list[list[Cell]] = [
        [day, *(counts[i, h] for h in range(24))] for i, day in enumerate(WEEKDAYS)
    ]
    return make("heatmap", columns, rows)


def _answered(waits: Iterable[float | None]) -> list[float]:
    return sorted(w for w in waits if w is not None)


def waits(episodes: Columns) -> list[tuple[str, int, list[float]]]:
    """(scope, requests, answer times in ascending order) for all requests, then for each
    tier reached."""
    scopes = [("all", len(episodes), _answered(episodes["wait"]))]
    for level in range(1, len(TIERS) + 1):
        reached = episodes[f"t{level}_reached"]
        scopes.append((f"tier{level}", sum(reached),
                       _answered(compress(episodes[f"t{level}_wait"], reached))))  # fmt: skip
    return scopes


def answer_times(waits: Sequence[tuple[str, int, list[float]]]) -> Table:
    """Per scope (``waits``: as :func:`waits` gives them, ascending): requests, answered, median and 90th
    percentile of the answered calls' waits, and how many of *all* requests were answered
    within 60 s and 3 minutes (a call never answered, or cancelled first, counts as not
    answered in time)."""
    rows: list[list[Cell]] = []
    for scope, requests, ordered in waits:
        row: list[Cell] = [scope, requests, len(ordered), share(len(ordered), requests),
                           median(ordered), percentile(ordered, 90)]  # fmt: skip
        for limit in WITHIN:
            within = bisect.bisect_right(ordered, limit)
            row += [within, share(within, requests)]
        rows.append(row)
    columns = ["scope", "requests", "answered", "share_answered", "median_s", "p90_s",
               "within_60s", "share_within_60s", "within_180s", "share_within_180s"]  # fmt: skip
    return make("answer_times", columns, rows)


def answer_histogram(waits: Sequence[tuple[str, int, list[float]]]) -> Table:
    """How many answered calls waited how long, per scope."""
    rows: list[list[Cell]] = []
    for scope, _, ordered in waits:
        # (lower, upper]: a bucket holds the waits above its lower bound up to its upper one.
        uppers = [hi for _, hi in BUCKETS if hi is not None]
        below = [0, *(bisect.bisect_right(ordered, hi) for hi in uppers), len(ordered)]
        counts = [b - a for a, b in pairwise(below)]
        rows += [[scope, lo, hi, n] for (lo, hi), n in zip(BUCKETS, counts, strict=True)]
    return make("answer_histogram", ["scope", "from_s", "to_s", "answered"], rows)
