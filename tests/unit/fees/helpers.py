"""Schedules and episode facts made by hand for the fee tests."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

from advice_line.episodes.model import EpisodeFacts, Participation, QualitySummary
from advice_line.fees.schedule import FeeSchedule, Schedules, parse_schedule

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = (ROOT / "deploy" / "fee-schedule.example.toml").read_text(encoding="utf-8")
CPH = ZoneInfo("Europe/Copenhagen")


def text(*replacements: tuple[str, str]) -> str:
    """The example document with each (old, new) replaced exactly once."""
    found = EXAMPLE
    for old, new in replacements:
        assert found.count(old) == 1, old
        found = found.replace(old, new)
    return found


def schedule(*replacements: tuple[str, str]) -> FeeSchedule:
    return parse_schedule(text(*replacements))


def versioned(version: str, effective: str, *replacements: tuple[str, str]) -> FeeSchedule:
    return schedule(
        ('version = "eksempel-2026-01"', f'version = "{version}"'),
        ("effective_from = 2026-01-01", f"effective_from = {effective}"),
        *replacements,
    )


def schedules(*versions: FeeSchedule) -> Schedules:
    return Schedules(versions or (schedule(),))


def at(text: str) -> dt.datetime:
    """A local Copenhagen wall time "YYYY-MM-DD HH:MM[:SS]" as an aware instant (fold 0)."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=CPH).astimezone(dt.UTC)


def facts(
    consultation_id: int = 1,
    channel: str = "video",
    participations: tuple[Participation, ...] = (),
) -> EpisodeFacts:
    first = participations[0].joined_at if participations else at("2026-03-02 10:00")
    return EpisodeFacts(
        consultation_id=consultation_id, requested_at=first - dt.timedelta(minutes=1),
        channel=channel, urgency="urgent", start_tier=1, tiers=(), participations=participations,
        escalations=(), declined=(), timed_out=(), callback_requested=False, queued=False,
        first_answer_at=first, call_ended_at=None, closed_at=None, outcome="completed",
        quality=QualitySummary(0, None, None, None, None),
    )  # fmt: skip


def joined(advisor: int, tier: int, start: dt.datetime, seconds: float | None) -> Participation:
    left = None if seconds is None else start + dt.timedelta(seconds=seconds)
    return Participation(advisor, tier, start, left)
