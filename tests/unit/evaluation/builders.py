"""Hand-built episode facts and course records for the evaluation tests."""

from __future__ import annotations

import datetime as dt
from typing import Any

from advice_line.episodes.model import (
    EpisodeFacts,
    Escalation,
    Participation,
    QualitySummary,
    TierReached,
)
from advice_line.evaluation import CourseRecord, EpisodeRecord

CPH = dt.timezone(dt.timedelta(hours=1))  # winter time, for readable literals
#: Monday 2026-03-02 10:00 local (09:00 UTC).
T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
NO_QUALITY = QualitySummary(0, None, None, None, None)


def s(seconds: float, base: dt.datetime = T0) -> dt.datetime:
    return base + dt.timedelta(seconds=seconds)


def tier(n: int, reached: float, *, offered: tuple[int, ...] = (100,), answered: float | None = None,
         by: int | None = None, skipped: str | None = None, base: dt.datetime = T0) -> TierReached:  # fmt: skip
    """Tier ``n`` reached ``reached`` s after ``base``; answered ``answered`` s after ``base``."""
    if skipped is not None:
        offered = ()
    who = by if by is not None else (offered[0] if answered is not None else None)
    return TierReached(n, s(reached, base), offered, skipped, who,
                       None if answered is None else s(answered, base))  # fmt: skip


def facts(
    cid: int = 1,
    *,
    at: dt.datetime = T0,
    tiers: tuple[TierReached, ...] | None = None,
    answer: float | None = 20,
    outcome: str | None = None,
    channel: str = "video",
    escalations: tuple[Escalation, ...] = (),
    quality: QualitySummary = NO_QUALITY,
    start_tier: int = 1,
    **extra: Any,
) -> EpisodeFacts:
    """An episode requested at ``at``; by default tier 1 answered ``answer`` s later."""
    if tiers is None:
        tiers = (tier(1, 0, answered=answer, base=at),)
    first = min((t.answered_at for t in tiers if t.answered_at), default=None)
    parts = tuple(
        Participation(t.answered_by, t.tier, t.answered_at, None)
        for t in tiers
        if t.answered_by is not None and t.answered_at is not None
    )
    values: dict[str, Any] = dict(
        consultation_id=cid, requested_at=at, channel=channel, urgency="urgent",
        start_tier=start_tier, tiers=tiers, participations=parts, escalations=escalations,
        declined=(), timed_out=(), callback_requested=False, queued=False,
        first_answer_at=first, call_ended_at=None, closed_at=None,
        outcome=outcome or ("completed" if first else "cancelled"), quality=quality,
    )  # fmt: skip
    values.update(extra)
    return EpisodeFacts(**values)


def record(
    f: EpisodeFacts,
    *,
    patient: int = 1,
    org: int = 10,
    group: str = "non_cancer",
    nurse: int = 50,
    disposition: str | None = None,
    follow_up: bool | None = None,
) -> EpisodeRecord:
    return EpisodeRecord(f, patient, org, group, nurse, disposition, follow_up)


def course(
    patient: int = 1,
    *,
    ended: dt.date = dt.date(2026, 3, 10),
    died: bool = True,
    place: str | None = "home",
    wished: str = "home",
    group: str = "non_cancer",
    org: int = 10,
) -> CourseRecord:
    return CourseRecord(patient, org, group, ended, died, place if died else None, wished)
