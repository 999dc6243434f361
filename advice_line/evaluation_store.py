"""Loads what evaluation needs from PostgreSQL (the I/O edge of ``advice_line.evaluation``).

One query per kind, never one per episode. The report reads the consultations of the period
with the stored measures of the closed ones (``episode_facts``, written by the routing engine
with the final event) and their current documentation (highest version) in one query, the
events of the others (their facts and measures are derived here), and the current course
outcomes (highest version) that ended in the period; then the pure core counts the tables
over flat rows. The research extract reads the whole facts (``load_episodes``).
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
    course_extract,
    episode_extract,
)
from advice_line.evaluation.report import report_of_columns
from advice_line.evaluation.rows import MEASURE_COLUMNS, ROW_FIELDS, Columns, EpisodeRow, measures
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


# The current documentation of an episode ``c``: its highest version (found per
# consultation through the (consultation_id, version) index).
_DOCUMENTATION = """LEFT JOIN LATERAL (SELECT e.disposition, e.follow_up FROM episode_documents e
                                      WHERE e.consultation_id = {}
                                      ORDER BY e.version DESC LIMIT 1) d ON true"""
# The stored episodes of a period, by the request's instant (as the tables select them),
# aggregated column by column into one row of arrays (the tables count columns: no Python
# object per episode). Patient and organisation are stored with the measures, so this reads
# no consultation row.
_STORED = f"""
    WITH chosen AS (
        SELECT f.consultation_id, f.patient_id, f.organisation_id, p.diagnosis_group,
               d.disposition, d.follow_up, {", ".join(f'f.m_{c} AS "{c}"' for c in MEASURE_COLUMNS)}
          FROM episode_facts f JOIN patients p ON p.id = f.patient_id
          {_DOCUMENTATION.format("f.consultation_id")}
         WHERE f.derived_by = $4 AND f.m_requested_at >= $1 AND f.m_requested_at < $2
           AND ($3::bigint IS NULL OR f.organisation_id = $3))
    SELECT {", ".join(f'array_agg("{name}")' for name in ROW_FIELDS)} FROM chosen"""
# The other episodes of the period (open ones, or stored by other code), one row each: their
# facts are derived from their timelines here. ``$4`` are the stored ones' ids (a hashed
# anti-join on the period's consultations; no pass over the whole facts table).
_LIVE = f"""
    SELECT c.id AS consultation_id, c.patient_id, c.organisation_id, p.diagnosis_group,
           d.disposition, d.follow_up
      FROM consultations c JOIN patients p ON p.id = c.patient_id
      {_DOCUMENTATION.format("c.id")}
     WHERE c.created_at >= $1 AND c.created_at < $2
       AND ($3::bigint IS NULL OR c.organisation_id = $3)
       AND NOT EXISTS (SELECT 1 FROM unnest($4::bigint[]) AS s(id) WHERE s.id = c.id)"""


async def load_columns(conn: asyncpg.Connection, f: ReportFilter) -> Columns:
    """The episodes requested in the filter's period (and organisation) as the tables read
    them: the stored measures of closed episodes, measured here for the others."""
    start, end = f.instants()
    period = (start, end, f.organisation_id, stored_facts.DERIVED_BY)
    async with conn.transaction():
        # Compiling these plans (JIT) costs more than running them; and a generic plan (what
        # PostgreSQL switches a prepared statement to after five runs) cannot know that the
        # period holds a year of episodes and the ids a year of them: it chose nested loops
        # that took minutes.
        await conn.execute("SET LOCAL jit = off; SET LOCAL plan_cache_mode = force_custom_plan")
        arrays = await conn.fetchrow(_STORED, *period)
        stored = Columns(dict(zip(ROW_FIELDS, (a or [] for a in arrays), strict=True)))
        rows = await conn.fetch(_LIVE, start, end, f.organisation_id, stored["consultation_id"])
        live = {r["consultation_id"]: r for r in rows}
    derived = await stored_facts.facts_of(conn, ((i, None) for i in live))
    measured: list[EpisodeRow] = []
    for i, r in live.items():
        facts = derived.get(i)
        if facts is None:
            log.warning("evaluation.timeline_without_request", consultation_id=i)
            continue
        measured.append((*r, *measures(facts)))
    return Columns.of(measured, add_to=stored) if measured else stored


async def load_report(conn: asyncpg.Connection, f: ReportFilter) -> Report:
    """The report for ``f``, computed from the stored measures, timelines and records."""
    return report_of_columns(await load_columns(conn, f), await load_courses(conn, f), f)


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
            table = course_extract(
                select_courses(await load_courses(conn, f), f, {r.patient_id for r in episodes}),
                key,
            )
        details: dict[str, Any] = {**f.query(), "part": part, "rows": len(table.rows)}
        await audit.record(conn, actor, "report.research_extract", "report", None,
                           "evaluation research extract", details=details)  # fmt: skip
    log.info("evaluation.research_extract", part=part, rows=len(table.rows))
    return table
