"""Fee schedules in PostgreSQL, and a month's statement computed from the stored facts.

Schedules are append-only documents (``fee_schedules``). Fee lines are never stored: a
statement is computed on demand from the schedules, the consultation timelines
(``advice_line.episodes.facts.derive``, stored for closed episodes in ``episode_facts``), the rotas' final schedules and the GP commitments,
so computing it again gives the same lines (docs/fees.md). "Today", for refusing a schedule
that would take effect in the past, is the database's clock in Danish local time.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import asyncpg
import structlog

from advice_line import audit, rota_store
from advice_line.episodes import stored_facts
from advice_line.episodes.model import EpisodeFacts
from advice_line.fees.lines import Commitment, OnDuty, Priced, month_lines
from advice_line.fees.period import Month
from advice_line.fees.render import Who
from advice_line.fees.schedule import FeeSchedule, ScheduleInvalid, Schedules, parse_schedule
from advice_line.fees.statement import Statement, build_statement
from advice_line.problems import Problem, conflict, invalid
from advice_line.rota_exchange import clinician_stretches
from rota.schedule import final_schedule
from rota.tiers import Tier

log = structlog.get_logger("advice_line.fee_store")

REASON = "fee administration"
#: How long before a month a consultation may have been requested and still be answered in it.
REQUEST_MARGIN = dt.timedelta(days=7)
_COLUMNS = "id, version, effective_from, sha256, uploaded_by, uploaded_at"


def rejected(exc: ScheduleInvalid) -> Problem:
    """422 naming every problem of the document (with its line for a syntax error)."""
    return Problem(422, "fee-schedule-invalid", "The fee schedule is not valid",
                   f"{len(exc.errors)} problem(s); nothing was stored", errors=exc.errors)  # fmt: skip


async def local_today(conn: asyncpg.Connection) -> dt.date:
    """Today in Denmark, by the database's clock."""
    today: dt.date = await conn.fetchval("SELECT (now() AT TIME ZONE 'Europe/Copenhagen')::date")
    return today


async def store_schedule(
    conn: asyncpg.Connection, actor: audit.Actor, text: str, *, allow_past: bool = False
) -> dict[str, Any]:
    """Validate and store a schedule document: all checks pass, or nothing is written."""
    try:
        schedule = parse_schedule(text)
    except ScheduleInvalid as exc:
        raise rejected(exc) from None
    async with conn.transaction():
        # One upload at a time, so two with the same label or date cannot both pass the checks.
        await conn.execute("LOCK TABLE fee_schedules IN SHARE ROW EXCLUSIVE MODE")
        if schedule.effective_from < await local_today(conn) and not allow_past:
            raise invalid([{"field": "effective_from", "code": "effective_in_past",
                            "message": "takes effect before today; allow a past date explicitly "
                            "(it changes statements already issued)"}])  # fmt: skip
        taken = await conn.fetchrow(
            "SELECT version, effective_from FROM fee_schedules WHERE version = $1 OR effective_from = $2",
            schedule.version, schedule.effective_from,
        )  # fmt: skip
        if taken is not None and taken["version"] == schedule.version:
            raise conflict(f"version {schedule.version!r} exists already", field="version")
        if taken is not None:
            raise conflict(f"version {taken['version']!r} takes effect on that date already",
                           field="effective_from")  # fmt: skip
        digest = hashlib.sha256(text.encode()).hexdigest()
        row = await conn.fetchrow(
            f"""INSERT INTO fee_schedules (version, effective_from, document, sha256, uploaded_by)
                VALUES ($1, $2, $3, $4, $5) RETURNING {_COLUMNS}""",
            schedule.version, schedule.effective_from, text, digest, actor.username,
        )  # fmt: skip
        await audit.record(conn, actor, "fee_schedule.load", "fee_schedule", row["id"], REASON,
                           details={"version": schedule.version, "sha256": digest,
                                    "effective_from": schedule.effective_from.isoformat()})  # fmt: skip
    log.info("fee_schedule.loaded", version=schedule.version, schedule_id=row["id"])
    return dict(row)


async def list_schedules(conn: asyncpg.Connection) -> list[dict[str, Any]]:
    """Every stored version, the earliest effective first (without the documents)."""
    rows = await conn.fetch(
        f"SELECT {_COLUMNS}, document FROM fee_schedules ORDER BY effective_from"
    )
    found = []
    for r in rows:
        description = parse_schedule(r["document"]).description
        row = dict(r)
        del row["document"]
        found.append({**row, "description": description})
    return found


async def document(conn: asyncpg.Connection, version: str) -> str | None:
    text: str | None = await conn.fetchval(
        "SELECT document FROM fee_schedules WHERE version = $1", version
    )
    return text


async def load_schedules(conn: asyncpg.Connection) -> Schedules:
    """Every stored version, parsed (each was validated when it was stored)."""
    rows = await conn.fetch("SELECT document FROM fee_schedules ORDER BY effective_from")
    versions: list[FeeSchedule] = [parse_schedule(r["document"]) for r in rows]
    return Schedules(tuple(versions))


# Inputs of a month ------------------------------------------------------------------------


async def episodes_of(conn: asyncpg.Connection, month: Month) -> list[EpisodeFacts]:
    """The facts of every consultation that can have a participation joined in ``month``."""
    rows = await conn.fetch(
        f"""SELECT c.id, f.facts FROM consultations c {stored_facts.stored_join(3)}
             WHERE c.created_at >= $1 AND c.created_at < $2 ORDER BY c.id""",
        month.start - REQUEST_MARGIN, month.end, stored_facts.DERIVED_BY,
    )  # fmt: skip
    known = await stored_facts.facts_of(conn, ((r["id"], r["facts"]) for r in rows))
    found = []
    for r in rows:
        if r["id"] in known:
            found.append(known[r["id"]])
        else:
            log.warning("fees.timeline_without_request", consultation_id=r["id"])
    return found


async def on_duty_of(conn: asyncpg.Connection, month: Month) -> list[OnDuty]:
    """Each clinician's stretches on duty per tier in ``month``, from every rota's final
    schedule (merging per clinician and tier happens in the pure core)."""
    found: list[OnDuty] = []
    for rota in await rota_store.load_rotas(conn):
        level = Tier(rota.tier).level
        shifts = final_schedule(rota, month.start, month.end)
        for clinician, stretches in clinician_stretches(shifts).items():
            found.extend(OnDuty(clinician, level, start, end) for start, end in stretches)
    return found


async def commitments_of(conn: asyncpg.Connection, month: Month) -> list[Commitment]:
    rows = await conn.fetch(
        """SELECT gp_id, patient_id, valid_from, valid_to FROM gp_commitments
            WHERE valid_from <= $2 AND (valid_to IS NULL OR valid_to >= $1) ORDER BY id""",
        month.first_day, month.last_day,
    )  # fmt: skip
    return [Commitment(r["gp_id"], r["patient_id"], r["valid_from"], r["valid_to"]) for r in rows]


async def month_priced(
    conn: asyncpg.Connection, month: Month, until: dt.datetime | None = None
) -> Priced:
    """Every fee line of ``month``, computed from what is stored now; standby is counted up
    to ``until`` (default: the database's clock; a past month is complete and computes the
    same every time)."""
    now: dt.datetime = until or await conn.fetchval("SELECT now()")
    return month_lines(
        month,
        await episodes_of(conn, month),
        await on_duty_of(conn, month),
        await commitments_of(conn, month),
        await load_schedules(conn),
        standby_until=now,
    )


async def names(conn: asyncpg.Connection) -> dict[int, Who]:
    rows = await conn.fetch(
        """SELECT u.id, u.display_name, u.username, u.organisation_id, o.name AS organisation
             FROM users u LEFT JOIN organisations o ON o.id = u.organisation_id"""
    )
    return {
        r["id"]: Who(
            r["display_name"], r["username"], r["organisation_id"], r["organisation"] or ""
        )
        for r in rows
    }


@dataclass(frozen=True)
class Scope:
    """Whose statement: everyone, one clinician, or one organisation's clinicians."""

    kind: str = "all"
    id: int | None = None


async def _clinicians(conn: asyncpg.Connection, scope: Scope) -> Collection[int] | None:
    if scope.kind == "clinician":
        assert scope.id is not None
        return {scope.id}
    if scope.kind == "organisation":
        rows = await conn.fetch("SELECT id FROM users WHERE organisation_id = $1", scope.id)
        return {r["id"] for r in rows}
    return None


async def statement(
    conn: asyncpg.Connection,
    month: Month,
    scope: Scope = Scope(),
    until: dt.datetime | None = None,
) -> tuple[Statement, dict[int, Who]]:
    """The statement of ``month`` for ``scope``, with how to show each clinician (standby
    counted up to ``until``, by default now)."""
    priced = await month_priced(conn, month, until)
    clinicians = await _clinicians(conn, scope)
    found = build_statement(month, priced, scope=scope.kind, scope_id=scope.id,
                            clinicians=clinicians)  # fmt: skip
    return found, await names(conn)
