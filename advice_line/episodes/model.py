"""The facts of one advice episode, as frozen data derived from its event timeline.

Nothing here is stored as a counter: every duration is computed from the timestamps of the
events that the routing engine appended (``consultation_events``), so evaluation and fees
always agree with the timeline.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True)
class EventRow:
    """One row of ``consultation_events`` (``data`` as stored)."""

    id: int
    at: dt.datetime
    type: str
    actor_id: int | None
    data: dict[str, object]


@dataclass(frozen=True)
class TierReached:
    """A tier the call reached: first offered (or skipped) at, and how it went there."""

    tier: int
    reached_at: dt.datetime
    offered: tuple[int, ...]
    skipped: str | None  # "nobody_on_duty" | "all_busy" | "not_woken" | None
    answered_by: int | None
    answered_at: dt.datetime | None

    @property
    def seconds_to_answer(self) -> float | None:
        """From the tier being reached to its answer, or None when nobody there answered."""
        if self.answered_at is None:
            return None
        return (self.answered_at - self.reached_at).total_seconds()


@dataclass(frozen=True)
class Participation:
    """One advisor's time in the call: from accepting to leaving (or the call's end)."""

    advisor: int
    tier: int
    joined_at: dt.datetime
    left_at: dt.datetime | None

    @property
    def seconds(self) -> float | None:
        """How long the advisor was in the call (None while still in it)."""
        if self.left_at is None:
            return None
        return (self.left_at - self.joined_at).total_seconds()


@dataclass(frozen=True)
class Escalation:
    """A participant asked the next tier to join, with the reason they gave."""

    at: dt.datetime
    by: int
    from_tier: int
    note: str
    # "answered" (a higher tier joined), "failed" (no higher tier answered) or "open"
    # (the call ended first, or it is still being tried).
    result: str = "open"


@dataclass(frozen=True)
class QualitySummary:
    """The call-quality reports of one consultation, summarised."""

    reports: int
    median_rtt_ms: float | None
    max_packet_loss: float | None
    mean_bitrate_kbps: float | None
    relay_share: float | None  # the share of reports whose media went through TURN


@dataclass(frozen=True)
class EpisodeFacts:
    """What happened, from request to the last event, for evaluation and fees.

    ``outcome`` is how the consultation ended: ``completed`` (a call took place and was
    wrapped up), ``cancelled`` (by the nurse before an answer), ``abandoned`` (the nurse's
    connection went for good before an answer), ``failed``, or ``open`` while it is still
    going on. ``queued`` says every tier was tried without an answer before the first
    answer (the nurse got the fallback instructions).
    """

    consultation_id: int
    requested_at: dt.datetime
    channel: str
    urgency: str
    start_tier: int
    tiers: tuple[TierReached, ...]
    participations: tuple[Participation, ...]
    escalations: tuple[Escalation, ...]
    declined: tuple[int, ...]
    timed_out: tuple[int, ...]
    callback_requested: bool
    queued: bool
    first_answer_at: dt.datetime | None
    call_ended_at: dt.datetime | None
    closed_at: dt.datetime | None
    outcome: str
    quality: QualitySummary

    @property
    def seconds_to_first_answer(self) -> float | None:
        """From the request to the first advisor's answer (None when nobody answered)."""
        if self.first_answer_at is None:
            return None
        return (self.first_answer_at - self.requested_at).total_seconds()

    @property
    def call_seconds(self) -> float | None:
        """From the first answer to the end of the call (None if no call or still on)."""
        if self.first_answer_at is None or self.call_ended_at is None:
            return None
        return (self.call_ended_at - self.first_answer_at).total_seconds()

    @property
    def highest_tier(self) -> int:
        """The highest tier whose advisor took part (0 when nobody answered)."""
        return max((p.tier for p in self.participations), default=0)
