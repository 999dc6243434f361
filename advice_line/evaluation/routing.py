"""How calls travelled through the tiers and how they ended."""

from __future__ import annotations

from collections import Counter
from itertools import compress

from rota.tiers import TIERS

from .rows import OUTCOMES, REASONS, SKIP_REASONS, Columns
from .stats import share
from .table import Cell, Table, make

__all__ = ["OUTCOMES", "REASONS", "SKIP_REASONS", "callbacks", "escalation", "outcomes"]


def escalation(episodes: Columns) -> Table:
    """Per tier: how many calls reached it (and the share of all), why, how many passed it
    by (skipped, and why), and how many were answered there."""
    n = len(episodes)
    rows: list[list[Cell]] = []
    for level in range(1, len(TIERS) + 1):
        counted = Counter(episodes[f"t{level}"])
        answered = sum(episodes[f"t{level}_answered"])
        why = [counted[k] for k in REASONS]
        skipped = [counted[f"skipped_{k}"] for k in (*SKIP_REASONS, "other")]
        reached = sum(why)
        rows.append([level, reached, share(reached, n), *why, sum(skipped), *skipped[:-1],
                     answered])  # fmt: skip
    columns = ["tier", "reached", "share_reached", *(f"via_{k}" for k in REASONS), "skipped",
               *(f"skipped_{k}" for k in SKIP_REASONS), "answered"]  # fmt: skip
    return make("escalation", columns, rows)


def outcomes(episodes: Columns) -> Table:
    """How calls ended (each call once: the shares add up to 1), then two rows that cut
    across them: calls in which a participant's escalation found nobody, and calls that
    exhausted every tier before a first answer (the nurse got the fallback instructions)."""
    n = len(episodes)
    ended = Counter(episodes["outcome"])
    failed_escalation = sum(episodes["escalation_failed"])
    queued = sum(episodes["queued"])
    rows: list[list[Cell]] = [[o, ended[o], share(ended[o], n)] for o in OUTCOMES]
    rows += [["escalation_failed", failed_escalation, share(failed_escalation, n)],
             ["queued", queued, share(queued, n)]]  # fmt: skip
    return make("outcomes", ["outcome", "episodes", "share"], rows)


def callbacks(episodes: Columns) -> Table:
    """Call-backs asked for while waiting (and how many of those were then answered), and
    follow-ups the advisors planned in their documentation."""
    n = len(episodes)
    asked = sum(episodes["callback_requested"])
    asked_answered = sum(compress(episodes["answered"], episodes["callback_requested"]))
    documented_mask = [d is not None for d in episodes["disposition"]]
    documented = sum(documented_mask)
    follow_up = sum(1 for planned in compress(episodes["follow_up"], documented_mask) if planned)
    rows: list[list[Cell]] = [
        ["callback_requested", asked, n, share(asked, n)],
        ["callback_answered", asked_answered, asked, share(asked_answered, asked)],
        ["follow_up_planned", follow_up, documented, share(follow_up, documented)],
    ]
    return make("callbacks", ["measure", "episodes", "of", "share"], rows)
