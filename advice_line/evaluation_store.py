"""Loads what evaluation needs from PostgreSQL (the I/O edge of ``advice_line.evaluation``).

One query per kind, never one per episode: the consultations of the period with the stored
facts of the closed ones (``episode_facts``, written by the routing engine with the final
event), the events of the others (their facts are derived here), their current
documentation (highest version), and the current course outcomes (highest version) that
ended in the period. Then the pure core computes the tables.
"""

from __future__ import annotations

from typing import Any

import asyncpg
import structlog

from advice_line import audit
from advice_line.episodes import stored_facts
from advice_line.evaluation import (
    CourseRecord,
    EpisodeRecord,
    Report,
    ReportFilter,
    Table,
    build_report,
    course_extract,
    episode_extract,
)
from advice_line.evaluation.selection import select_courses, select_episodes

log = structlog.get_logger("advice_line.evaluation_store")

_CONSULTATIONS = f"""
    SELECT c.id, c.patient_id, c.organisation_id, c.nurse_id, p.diagnosis_group, f.facts
      FROM consultations c JOIN patients p ON p.id = c.patient_id
      {stored_facts.stored_join(4)}
     WHERE c.created_at >= $1 AND c.created_at < $2
       AND ($3::bigint IS NULL OR c.organisation_id = $3)
     ORDER BY c.id"""

_DOCUMENTS = """
    SELECT DISTINCT ON (consultation_id) consultation_id, disposition, follow_up
      FROM episode_documents
     WHERE consultation_id = ANY($1::bigint[])
     ORDER BY consultation_id, version DESC"""

# The current outcome decides whether a course ended in the period, so pick it first.
_COURSES = """
    SELECT o.patient_id, p.organisation_id, p.diagnosis_group, o.course_ended_on, o.died,
           o.place_of_death, o.wished_place
      FROM (SELECT DISTINCT ON (patient_id) patient_id, course_ended_on, died, place_of_death,
                   wished_place
              FROM course_outcomes
             ORDER BY patient_id, version DESC) o
      JOIN patients p ON p.id = o.patient_id
     WHERE o.course_ended_on >= $1 AND o.course_ended_on < $2
       AND ($3::bigint IS NULL OR p.organisation_id = $3)
     ORDER BY o.patient_id"""


async def load_episodes(conn: asyncpg.Connection, f: ReportFilter) -> list[EpisodeRecord]:
    """The episodes requested in the filter's period (and organisation), with their facts."""
    start, end = f.instants()
    consultations = await conn.fetch(
        _CONSULTATIONS, start, end, f.organisation_id, stored_facts.DERIVED_BY
    )
    ids = [c["id"] for c in consultations]
    known = await stored_facts.facts_of(conn, ((c["id"], c["facts"]) for c in consultations))
    documents = {d["consultation_id"]: d for d in await conn.fetch(_DOCUMENTS, ids)}
    records = []
    for c in consultations:
        facts = known.get(c["id"])
        if facts is None:
            log.warning("evaluation.timeline_without_request", consultation_id=c["id"])
            continue
        doc = documents.get(c["id"])
        records.append(EpisodeRecord(
            facts, c["patient_id"], c["organisation_id"], c["diagnosis_group"], c["nurse_id"],
            doc["disposition"] if doc else None, doc["follow_up"] if doc else None,
        ))  # fmt: skip
    return records


async def load_courses(conn: asyncpg.Connection, f: ReportFilter) -> list[CourseRecord]:
    """The current outcomes of the courses that ended in the period (and organisation)."""
    rows = await conn.fetch(_COURSES, f.start, f.end, f.organisation_id)
    return [
        CourseRecord(r["patient_id"], r["organisation_id"], r["diagnosis_group"],
                     r["course_ended_on"], r["died"], r["place_of_death"], r["wished_place"])
        for r in rows
    ]  # fmt: skip


async def load_report(conn: asyncpg.Connection, f: ReportFilter) -> Report:
    """The report for ``f``, computed from the stored timelines and records."""
    return build_report(await load_episodes(conn, f), await load_courses(conn, f), f)


async def research_extract(
    conn: asyncpg.Connection, f: ReportFilter, part: str, key: bytes, actor: audit.Actor
) -> Table:
    """The pseudonymised extract (``part``: episodes or courses) for ``f``; the export is
    written to the audit log in the same transaction as the reads."""
    async with conn.transaction():
        episodes = select_episodes(await load_episodes(conn, f), f)
        if part == "episodes":
            table = episode_extract(episodes, key)
        else:
            assert part == "courses", part
            table = course_extract(select_courses(await load_courses(conn, f), f, episodes), key)
        details: dict[str, Any] = {**f.query(), "part": part, "rows": len(table.rows)}
        await audit.record(conn, actor, "report.research_extract", "report", None,
                           "evaluation research extract", details=details)  # fmt: skip
    log.info("evaluation.research_extract", part=part, rows=len(table.rows))
    return table
