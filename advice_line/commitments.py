"""GP commitments: a GP's promise to be rung first for one patient in weekly windows.

Routing reads them (``situation.committed_gps``): when a commitment covers the moment and its
GP is available, tier 2 rings that GP alone before the GP rota. Here they are kept.

Who may see and change a patient's commitments: nurses and coordinators of the patient's
organisation (anyone else gets 404, as for the patient); a GP reads their own with
``mine``. Every read and change writes an audit row (reason "care planning"); changes record
the structured fields before and after, and the free-text note only by name.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

from advice_line import audit
from advice_line.problems import invalid, not_found
from advice_line.roles import PATIENT_MANAGERS, Role
from advice_line.rota_store import window_json
from advice_line.sessions import SessionUser
from advice_line.situation import covers
from rota.model import DEFAULT_TIMEZONE, Window
from rota.tiers import Tier

REASON = "care planning"
#: Recorded before and after in the audit log; the note only by name (it is free text).
_STRUCTURED = ("gp_id", "windows", "valid_from", "valid_to")
_FIELDS = (*_STRUCTURED, "note")

_COLUMNS = """c.id, c.patient_id, c.gp_id, u.display_name AS gp_name, c.windows, c.valid_from,
    c.valid_to, c.note, c.created_by, c.created_at"""
_FROM = "gp_commitments c JOIN users u ON u.id = c.gp_id"


def active_at(commitment: dict[str, Any], at: dt.datetime) -> bool:
    """Whether ``commitment`` covers the instant ``at`` (its dates are local dates)."""
    today = at.astimezone(ZoneInfo(DEFAULT_TIMEZONE)).date()
    valid_to = commitment["valid_to"]
    if commitment["valid_from"] > today or (valid_to is not None and valid_to < today):
        return False
    return covers(commitment["windows"], at)


def _stored_windows(windows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Validated windows (``dt.time`` edges) in the stored rota window format."""
    return [window_json(Window(frozenset(w["days"]), w["start"], w["end"])) for w in windows]


async def _patient_of_mine(conn: asyncpg.Connection, user: SessionUser, patient_id: int) -> None:
    """404 unless ``user`` is a nurse or coordinator of the patient's organisation."""
    org = await conn.fetchval("SELECT organisation_id FROM patients WHERE id = $1", patient_id)
    if user.role not in PATIENT_MANAGERS or org is None or org != user.organisation_id:
        raise not_found(f"patient {patient_id}")


async def _check_rules(conn: asyncpg.Connection, data: dict[str, Any]) -> None:
    errors = []
    if data.get("valid_to") is not None and data["valid_to"] < data["valid_from"]:
        errors.append(
            {
                "field": "valid_to",
                "code": "end_before_start",
                "message": "must not be before valid_from",
            }
        )
    gp = await conn.fetchrow(
        "SELECT role, tier, disabled_at FROM users WHERE id = $1", data["gp_id"]
    )
    if gp is None:
        errors.append({"field": "gp_id", "code": "user_unknown", "message": "no such user"})
    elif gp["role"] != Role.ADVISOR or gp["tier"] != Tier.GP:
        errors.append(
            {"field": "gp_id", "code": "not_gp", "message": "must be an advisor on the GP tier"}
        )
    elif gp["disabled_at"] is not None:
        errors.append(
            {"field": "gp_id", "code": "user_disabled", "message": "this GP's account is disabled"}
        )
    if errors:
        raise invalid(errors)


def _snapshot(row: dict[str, Any] | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return {n: row[n].isoformat() if isinstance(row[n], dt.date) else row[n] for n in _STRUCTURED}


def _audit_details(before: dict[str, Any] | None, after: dict[str, Any] | None) -> dict[str, Any]:
    """Structured fields before and after (None for a side that does not exist), and the
    names of the fields that changed."""
    old, new = before or {}, after or {}
    changed = sorted(n for n in _FIELDS if old.get(n) != new.get(n))
    return {"changed": changed, "before": _snapshot(before), "after": _snapshot(after)}


async def _fetch(
    conn: asyncpg.Connection, commitment_id: int, patient_id: int, *, lock: bool = False
) -> dict[str, Any]:
    row = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM {_FROM} WHERE c.id = $1 AND c.patient_id = $2"
        + (" FOR UPDATE OF c" if lock else ""),
        commitment_id,
        patient_id,
    )
    if row is None:
        raise not_found(f"GP commitment {commitment_id} of patient {patient_id}")
    return dict(row)


async def list_for_patient(
    conn: asyncpg.Connection, user: SessionUser, actor: audit.Actor, patient_id: int
) -> list[dict[str, Any]]:
    """The patient's commitments, oldest first; audited as a read."""
    async with conn.transaction():
        await _patient_of_mine(conn, user, patient_id)
        rows = await conn.fetch(
            f"SELECT {_COLUMNS} FROM {_FROM} WHERE c.patient_id = $1 ORDER BY c.valid_from, c.id",
            patient_id,
        )
        await audit.record(conn, actor, "gp_commitment.list", "patient", patient_id, REASON,
                           patient_id=patient_id, details={"count": len(rows)})  # fmt: skip
    return [dict(r) for r in rows]


async def mine(
    conn: asyncpg.Connection, user: SessionUser, actor: audit.Actor
) -> list[dict[str, Any]]:
    """The caller's own commitments (as the GP), with the patients' reference and name."""
    async with conn.transaction():
        rows = await conn.fetch(
            f"""SELECT {_COLUMNS}, p.reference AS patient_reference, p.name AS patient_name
                  FROM {_FROM} JOIN patients p ON p.id = c.patient_id
                 WHERE c.gp_id = $1 ORDER BY c.valid_from, c.id""",
            user.id,
        )
        if rows:
            ids = sorted({r["patient_id"] for r in rows})
            await audit.record(conn, actor, "gp_commitment.list", "user", user.id, REASON,
                               details={"patient_ids": ids, "count": len(rows)})  # fmt: skip
    return [dict(r) for r in rows]


async def create(
    conn: asyncpg.Connection,
    user: SessionUser,
    actor: audit.Actor,
    patient_id: int,
    data: dict[str, Any],
) -> dict[str, Any]:
    """Add a commitment for the patient; 422 naming the field for a GP that is not one."""
    async with conn.transaction():
        await _patient_of_mine(conn, user, patient_id)
        await _check_rules(conn, data)
        commitment_id = await conn.fetchval(
            """INSERT INTO gp_commitments (patient_id, gp_id, windows, valid_from, valid_to, note,
                                           created_by)
               VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id""",
            patient_id, data["gp_id"], _stored_windows(data["windows"]), data["valid_from"],
            data.get("valid_to"), data.get("note", ""), user.id,
        )  # fmt: skip
        created = await _fetch(conn, commitment_id, patient_id)
        await audit.record(conn, actor, "gp_commitment.create", "gp_commitment", commitment_id,
                           REASON, patient_id=patient_id,
                           details=_audit_details(None, created))  # fmt: skip
    return created


async def replace(
    conn: asyncpg.Connection,
    user: SessionUser,
    actor: audit.Actor,
    patient_id: int,
    commitment_id: int,
    data: dict[str, Any],
) -> dict[str, Any]:
    """Replace every field of one of the patient's commitments."""
    async with conn.transaction():
        await _patient_of_mine(conn, user, patient_id)
        before = await _fetch(conn, commitment_id, patient_id, lock=True)
        await _check_rules(conn, data)
        await conn.execute(
            """UPDATE gp_commitments SET gp_id = $2, windows = $3, valid_from = $4, valid_to = $5,
                      note = $6 WHERE id = $1""",
            commitment_id, data["gp_id"], _stored_windows(data["windows"]), data["valid_from"],
            data.get("valid_to"), data.get("note", ""),
        )  # fmt: skip
        after = await _fetch(conn, commitment_id, patient_id)
        await audit.record(conn, actor, "gp_commitment.update", "gp_commitment", commitment_id,
                           REASON, patient_id=patient_id,
                           details=_audit_details(before, after))  # fmt: skip
    return after


async def delete(
    conn: asyncpg.Connection,
    user: SessionUser,
    actor: audit.Actor,
    patient_id: int,
    commitment_id: int,
) -> None:
    """Remove one of the patient's commitments."""
    async with conn.transaction():
        await _patient_of_mine(conn, user, patient_id)
        before = await _fetch(conn, commitment_id, patient_id, lock=True)
        await conn.execute("DELETE FROM gp_commitments WHERE id = $1", commitment_id)
        await audit.record(conn, actor, "gp_commitment.delete", "gp_commitment", commitment_id,
                           REASON, patient_id=patient_id,
                           details=_audit_details(before, None))  # fmt: skip
