"""One flat row per episode, and the selected rows column by column: what the tables count.

The tables are computed from columns (one tuple per field, counted with ``Counter``,
``sum``, ``sorted`` and ``compress`` rather than a Python step per episode), not from the
nested facts, so a year of episodes costs a fraction of a second. :func:`measures` derives
the facts' part of a row (pure, from ``EpisodeFacts``); the routing engine stores it next to
the facts of a closed episode (``episode_facts``, one column ``m_<field>`` per field of
:class:`Measures`), so a report reads plain columns instead of rebuilding a Python object
per episode. :func:`row_of` gives the whole row of an :class:`EpisodeRecord`, for episodes
whose measures are not stored (open ones) and for the tests.

Per tier (``t1`` .. ``t3``), as the tables read a tier: ``tN`` is the first time the call
came to the tier: why it was reached (one of :data:`REASONS`) or ``skipped_<reason>``
(:data:`SKIP_REASONS` or ``other``), None when it never came there; ``tN_answered``: answered
there that first time; ``tN_reached``: rung there at any time (the tier filter and the
per-tier waits); ``tN_wait``: seconds from the tier being rung to its answer, the first
time it was rung (None: not answered there).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from itertools import compress
from typing import Any, NamedTuple

from advice_line.episodes.model import EpisodeFacts, TierReached
from rota.tiers import TIERS

from .records import ZONE, EpisodeRecord, ReportFilter
from .selection import rung

assert len(TIERS) == 3, "the measures have columns for three tiers"

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


class Measures(NamedTuple):
    """The part of a row that comes from the episode's facts (stored with them)."""

    requested_at: dt.datetime
    weekday: int  # local (Europe/Copenhagen), Monday 0
    hour: int  # local, 0-23
    channel: str
    outcome: str  # one of OUTCOMES
    queued: bool
    escalation_failed: bool
    callback_requested: bool
    answered: bool  # answered by someone at some tier
    wait: float | None  # seconds from the request to the first answer
    t1: str | None
    t1_answered: bool
    t1_reached: bool
    t1_wait: float | None
    t2: str | None
    t2_answered: bool
    t2_reached: bool
    t2_wait: float | None
    t3: str | None
    t3_answered: bool
    t3_reached: bool
    t3_wait: float | None
    q_reports: int
    q_rtt: float | None  # the call's median round trip, ms
    q_relayed: bool  # any report over TURN
    q_loss: float | None  # the call's worst packet loss, a fraction


#: The columns of ``episode_facts`` that hold the measures, in order.
MEASURE_COLUMNS = Measures._fields


#: The fields of a row, in order: who the episode concerned, its current documentation
#: (``disposition`` None: not documented yet), then its measures.
ROW_FIELDS = (
    "consultation_id", "patient_id", "organisation_id", "diagnosis_group", "disposition",
    "follow_up", *MEASURE_COLUMNS,
)  # fmt: skip
#: One episode's values in :data:`ROW_FIELDS` order (a tuple, or a database record).
EpisodeRow = Sequence[Any]


class Columns:
    """Rows column by column: ``columns["wait"]`` is every row's wait, in row order."""

    def __init__(self, by_name: Mapping[str, Sequence[Any]]) -> None:
        assert tuple(by_name) == ROW_FIELDS, tuple(by_name)
        self._by_name = by_name
        self.count = len(by_name["consultation_id"])
        assert all(len(column) == self.count for column in by_name.values())

    @classmethod
    def of(cls, rows: Sequence[EpisodeRow], *, add_to: Columns | None = None) -> Columns:
        """The columns of ``rows`` (after those of ``add_to``)."""
        transposed: list[Sequence[Any]] = (
            list(zip(*rows, strict=True)) if rows else [() for _ in ROW_FIELDS]
        )
        assert len(transposed) == len(ROW_FIELDS), len(transposed)
        if add_to is not None:
            transposed = [
                [*add_to[name], *mine] for name, mine in zip(ROW_FIELDS, transposed, strict=True)
            ]
        return cls(dict(zip(ROW_FIELDS, transposed, strict=True)))

    def __getitem__(self, name: str) -> Sequence[Any]:
        return self._by_name[name]

    def __len__(self) -> int:
        return self.count

    def where(self, keep: Sequence[bool]) -> Columns:
        """The rows for which ``keep`` is true."""
        if all(keep):
            return self
        return Columns(
            {name: list(compress(column, keep)) for name, column in self._by_name.items()}
        )


def _tier(facts: EpisodeFacts, level: int) -> tuple[str | None, bool, bool, float | None]:
    first: TierReached | None = None
    reached: TierReached | None = None
    for t in facts.tiers:
        if t.tier != level:
            continue
        first = first or t
        if reached is None and rung(t):
            reached = t
    if first is None:
        return None, False, False, None
    if rung(first):
        status = why_reached(facts, first)
    else:
        status = f"skipped_{first.skipped if first.skipped in SKIP_REASONS else 'other'}"
    wait = None if reached is None else reached.seconds_to_answer
    return status, first.answered_by is not None, reached is not None, wait


def measures(facts: EpisodeFacts) -> Measures:
    """The figures the tables need from one episode's facts."""
    local = facts.requested_at.astimezone(ZONE)
    q = facts.quality
    reported = q.reports > 0
    return Measures(
        facts.requested_at, local.weekday(), local.hour, facts.channel,
        facts.outcome if facts.outcome in OUTCOMES else "open", facts.queued,
        any(e.result == "failed" for e in facts.escalations), facts.callback_requested,
        facts.first_answer_at is not None, facts.seconds_to_first_answer,
        *_tier(facts, 1), *_tier(facts, 2), *_tier(facts, 3),
        q.reports, q.median_rtt_ms if reported else None, reported and bool(q.relay_share),
        q.max_packet_loss if reported else None,
    )  # fmt: skip


def row_of(record: EpisodeRecord) -> EpisodeRow:
    """The row of a record (its measures computed here)."""
    return (
        record.facts.consultation_id, record.patient_id, record.organisation_id,
        record.diagnosis_group, record.disposition, record.follow_up, *measures(record.facts),
    )  # fmt: skip


def select(columns: Columns, f: ReportFilter) -> Columns:
    """The episodes ``selection.select_episodes`` would select: requested in the period,
    of the organisation, that reached the tier."""
    start, end = f.instants(ZONE)
    org = f.organisation_id
    keep = [start <= at < end for at in columns["requested_at"]]
    if org is not None:
        keep = [k and o == org for k, o in zip(keep, columns["organisation_id"], strict=True)]
    if f.tier is not None:
        reached = columns[f"t{f.tier}_reached"]
        keep = [k and bool(r) for k, r in zip(keep, reached, strict=True)]
    return columns.where(keep)
