"""Which episodes and courses a filter selects, and what "reaching a tier" means."""

from __future__ import annotations

from collections.abc import Collection, Iterable

from advice_line.episodes.model import EpisodeFacts, TierReached

from .records import ZONE, CourseRecord, EpisodeRecord, ReportFilter


def rung(tier: TierReached) -> bool:
    """A tier was *reached* when it was offered to someone there (or someone answered);
    a tier passed over because nobody was on duty, free or awake was skipped, not reached."""
    return bool(tier.offered) or tier.answered_by is not None


def reached(facts: EpisodeFacts, tier: int) -> TierReached | None:
    """The tier's record if the episode reached it."""
    for t in facts.tiers:
        if t.tier == tier and rung(t):
            return t
    return None


def select_episodes(records: Iterable[EpisodeRecord], f: ReportFilter) -> list[EpisodeRecord]:
    """Episodes requested in the period (local dates), of the organisation, that reached the
    tier; in request order."""
    start, end = f.instants(ZONE)
    chosen = [
        r
        for r in records
        if start <= r.facts.requested_at < end
        and (f.organisation_id is None or r.organisation_id == f.organisation_id)
        and (f.tier is None or reached(r.facts, f.tier) is not None)
    ]
    return sorted(chosen, key=lambda r: (r.facts.requested_at, r.facts.consultation_id))


def select_courses(
    courses: Iterable[CourseRecord], f: ReportFilter, patients: Collection[int]
) -> list[CourseRecord]:
    """Courses that ended in the period, of the organisation. With a tier, only the courses
    of ``patients`` (those who had an episode in the period that reached it)."""
    chosen = [
        c
        for c in courses
        if f.start <= c.course_ended_on < f.end
        and (f.organisation_id is None or c.organisation_id == f.organisation_id)
        and (f.tier is None or c.patient_id in patients)
    ]
    return sorted(chosen, key=lambda c: (c.course_ended_on, c.patient_id))
