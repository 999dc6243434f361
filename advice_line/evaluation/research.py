"""The pseudonymised research extract: one row per episode, one per course outcome.

No names, no free text (no ISBAR, advice, notes or escalation notes), no database ids of
people: patients, clinicians and episodes appear as stable pseudonyms, an HMAC-SHA256 of
the id under a secret key, so the same person has the same pseudonym in every extract made
with that key and nobody without the key can go back. Instants are cut to the minute;
waits and durations stay in whole seconds (the 60-second measures need them).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from collections.abc import Sequence

from advice_line.episodes.model import EpisodeFacts
from rota.tiers import TIERS

from .records import ZONE, CourseRecord, EpisodeRecord
from .selection import rung
from .table import Cell, Table, make

EXTRACT_PARTS = ("episodes", "courses")
_KINDS = {"P": "patient", "C": "clinician", "E": "episode"}


def pseudonym(prefix: str, ident: int, key: bytes) -> str:
    """``P-``/``C-``/``E-`` and 8 hex digits of HMAC-SHA256(key, "<kind>:<id>"); the kind in
    the message keeps a patient and a user with the same id apart."""
    assert key, "a pseudonym needs a key"
    message = f"{_KINDS[prefix]}:{ident}".encode()
    return f"{prefix}-{hmac.new(key, message, hashlib.sha256).hexdigest()[:8]}"


def minute(at: dt.datetime | None) -> str | None:
    """An instant in UTC, cut to the minute (ISO 8601)."""
    if at is None:
        return None
    return at.astimezone(dt.UTC).replace(second=0, microsecond=0).isoformat()


def _seconds(value: float | None) -> int | None:
    return None if value is None else round(value)


def _tier_cells(facts: EpisodeFacts, key: bytes) -> list[Cell]:
    cells: list[Cell] = []
    for level in range(1, len(TIERS) + 1):
        t = next((t for t in facts.tiers if t.tier == level), None)
        if t is None:
            status, wait, who = "not_reached", None, None
        elif not rung(t):
            status, wait, who = f"skipped_{t.skipped or 'other'}", None, None
        else:
            status = "answered" if t.answered_by is not None else "unanswered"
            wait = _seconds(t.seconds_to_answer)
            who = None if t.answered_by is None else pseudonym("C", t.answered_by, key)
        cells += [status, wait, who]
    return cells


EPISODE_COLUMNS = (
    "episode", "patient", "organisation_id", "diagnosis_group", "nurse", "requested_at",
    "local_weekday", "local_hour", "channel", "urgency", "start_tier",
    *(f"tier{n}_{c}" for n in range(1, len(TIERS) + 1) for c in ("status", "seconds_to_answer", "advisor")),
    "seconds_to_first_answer", "highest_tier_in_call", "manual_escalations",
    "escalation_failed", "declines", "ring_timeouts", "callback_requested", "queued",
    "outcome", "call_seconds", "closed_at", "disposition", "follow_up", "quality_reports",
    "median_rtt_ms", "max_packet_loss", "relay_share",
)  # fmt: skip


def episode_extract(episodes: Sequence[EpisodeRecord], key: bytes) -> Table:
    """One row per episode (see docs/evaluation.md for every column)."""
    rows: list[list[Cell]] = []
    for r in episodes:
        f = r.facts
        local = f.requested_at.astimezone(ZONE)
        q = f.quality
        rows.append([
            pseudonym("E", f.consultation_id, key), pseudonym("P", r.patient_id, key),
            r.organisation_id, r.diagnosis_group, pseudonym("C", r.nurse_id, key),
            minute(f.requested_at), local.isoweekday(), local.hour, f.channel, f.urgency,
            f.start_tier, *_tier_cells(f, key),
            _seconds(f.seconds_to_first_answer), f.highest_tier or None, len(f.escalations),
            any(e.result == "failed" for e in f.escalations), len(f.declined),
            len(f.timed_out), f.callback_requested, f.queued, f.outcome,
            _seconds(f.call_seconds), minute(f.closed_at), r.disposition, r.follow_up,
            q.reports, q.median_rtt_ms, q.max_packet_loss, q.relay_share,
        ])  # fmt: skip
    return make("research_episodes", EPISODE_COLUMNS, rows)


COURSE_COLUMNS = (
    "patient", "organisation_id", "diagnosis_group", "course_ended_on", "died",
    "place_of_death", "wished_place", "died_where_wished",
)  # fmt: skip


def course_extract(courses: Sequence[CourseRecord], key: bytes) -> Table:
    """One row per course outcome; ``died_where_wished`` is empty unless the patient died
    with a known wish."""
    rows = [
        [pseudonym("P", c.patient_id, key), c.organisation_id, c.diagnosis_group,
         c.course_ended_on.isoformat(), c.died, c.place_of_death, c.wished_place,
         c.died_where_wished if c.died and c.wish_known else None]
        for c in courses
    ]  # fmt: skip
    return make("research_courses", COURSE_COLUMNS, rows)
