"""The append-only audit log: who did or read what, when, from where and why.

Rows are only ever inserted (a database trigger refuses UPDATE, DELETE and TRUNCATE).
Callers write the audit row in the same transaction as the change or read it records.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import asyncpg


@dataclass(frozen=True)
class Actor:
    """Who acts, and from where; built from the request by the views."""

    user_id: int | None
    username: str
    ip: str | None = None
    request_id: str | None = None


SYSTEM = Actor(None, "system")


async def record(
    conn: asyncpg.Connection,
    actor: Actor,
    action: str,
    target_type: str,
    target_id: object | None,
    reason: str,
    *,
    patient_id: int | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Append one audit row."""
    await conn.execute(
        """INSERT INTO audit_log (actor_id, actor_username, action, target_type, target_id,
                                  patient_id, reason, ip, request_id, details)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)""",
        actor.user_id, actor.username, action, target_type,
        None if target_id is None else str(target_id),
        patient_id, reason, actor.ip, actor.request_id, details or {},
    )  # fmt: skip


def changes(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """The fields that changed, as ``{"before": {...}, "after": {...}}`` (JSON-safe)."""
    keys = sorted(k for k in after if before.get(k) != after.get(k))
    return {
        "before": {k: _jsonable(before.get(k)) for k in keys},
        "after": {k: _jsonable(after.get(k)) for k in keys},
    }


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    return value


@dataclass(frozen=True)
class AuditFilter:
    patient_id: int | None = None
    actor_id: int | None = None
    action: str | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    limit: int = 200
    before_id: int | None = None


async def query(conn: asyncpg.Connection, f: AuditFilter) -> list[dict[str, Any]]:
    """Audit rows, newest first. A patient filter includes list views that showed the patient."""
    rows = await conn.fetch(
        """SELECT id, at, actor_id, actor_username, action, target_type, target_id, patient_id,
                  reason, ip, request_id, details
             FROM audit_log
            WHERE ($1::bigint IS NULL OR patient_id = $1
                   OR details -> 'patient_ids' @> to_jsonb($1::bigint))
              AND ($2::bigint IS NULL OR actor_id = $2)
              AND ($3::text IS NULL OR action = $3)
              AND ($4::timestamptz IS NULL OR at >= $4)
              AND ($5::timestamptz IS NULL OR at < $5)
              AND ($6::bigint IS NULL OR id < $6)
            ORDER BY id DESC
            LIMIT $7""",
        f.patient_id, f.actor_id, f.action, f.since, f.until, f.before_id, f.limit,
    )  # fmt: skip
    return [dict(r) for r in rows]
