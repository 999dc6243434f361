"""How calls travelled through the tiers and how they ended."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from advice_line.episodes.model import EpisodeFacts, TierReached
from rota.tiers import TIERS

from .records import EpisodeRecord
from .selection import rung
from .stats import share
from .table import Cell, Table, make

#: Why a call reached a tier: it started there; a participant escalated (the tier below
#: answered); the tier below rang without an answer (ring timeout or everyone declined);
#: the tier below was skipped (nobody on duty, all busy, or nobody woke).
REASONS = ("start", "manual", "no_answer", "tier_skipped")
SKIP_REASONS = ("nobody_on_duty", "all_busy", "not_woken")
OUTCOMES = ("completed", "cancelled", "abandoned", "failed", "open")


def why_reached(facts: EpisodeFacts, tier: TierReached) -> str:
    """The immediate reason the call came to ``tier`` (one of :data:`REASONS`)."""
    if tier.tier <= facts.start_tier:
        return "start"
    below = next((t for t in facts.tiers if t.tier == tier.tier - 1), None)
    if below is not None and not rung(below):
        return "tier_skipped"
    if below is not None:
        return "manual" if below.answered_by is not None else "no_answer"
    escalated = any(e.at <= tier.reached_at and e.from_tier < tier.tier for e in facts.escalations)
    return "manual" if escalated else "no_answer"


def escalation(episodes: Sequence[EpisodeRecord]) -> Table:
    """Per tier: how many calls reached it (and the share of all), why, how many passed it
    by (skipped, and why), and how many were answered there."""
    n = len(episodes)
    rows: list[list[Cell]] = []
    for level in range(1, len(TIERS) + 1):
        why: Counter[str] = Counter()
        skipped: Counter[str] = Counter()
        answered = 0
        for r in episodes:
            t = next((t for t in r.facts.tiers if t.tier == level), None)
            if t is None:
                continue
            if rung(t):
                why[why_reached(r.facts, t)] += 1
                answered += t.answered_by is not None
            else:
                skipped[t.skipped if t.skipped in SKIP_REASONS else "other"] += 1
        reached = sum(why.values())
        rows.append([
            level, reached, share(reached, n), *(why[k] for k in REASONS),
            sum(skipped.values()), *(skipped[k] for k in SKIP_REASONS), answered,
        ])  # fmt: skip
    columns = ["tier", "reached", "share_reached", *(f"via_{k}" for k in REASONS), "skipped",
               *(f"skipped_{k}" for k in SKIP_REASONS), "answered"]  # fmt: skip
    return make("escalation", columns, rows)


def outcomes(episodes: Sequence[EpisodeRecord]) -> Table:
    """How calls ended (each call once: the shares add up to 1), then two rows that cut
    across them: calls in which a participant's escalation found nobody, and calls that
    exhausted every tier before a first answer (the nurse got the fallback instructions)."""
    n = len(episodes)
    ended = Counter(r.facts.outcome if r.facts.outcome in OUTCOMES else "open" for r in episodes)
    failed_escalation = sum(
        1 for r in episodes if any(e.result == "failed" for e in r.facts.escalations)
    )
    queued = sum(1 for r in episodes if r.facts.queued)
    rows: list[list[Cell]] = [[o, ended[o], share(ended[o], n)] for o in OUTCOMES]
    rows += [["escalation_failed", failed_escalation, share(failed_escalation, n)],
             ["queued", queued, share(queued, n)]]  # fmt: skip
    return make("outcomes", ["outcome", "episodes", "share"], rows)


def callbacks(episodes: Sequence[EpisodeRecord]) -> Table:
    """Call-backs asked for while waiting (and how many of those were then answered), and
    follow-ups the advisors planned in their documentation."""
    asked = [r for r in episodes if r.facts.callback_requested]
    asked_answered = sum(1 for r in asked if r.facts.first_answer_at is not None)
    documented = [r for r in episodes if r.disposition is not None]
    follow_up = sum(1 for r in documented if r.follow_up)
    rows: list[list[Cell]] = [
        ["callback_requested", len(asked), len(episodes), share(len(asked), len(episodes))],
        ["callback_answered", asked_answered, len(asked), share(asked_answered, len(asked))],
        ["follow_up_planned", follow_up, len(documented), share(follow_up, len(documented))],
    ]
    return make("callbacks", ["measure", "episodes", "of", "share"], rows)
