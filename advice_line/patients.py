"""Patients and their care-plan summaries, with access rules and an audit row for every read.

Who may see a patient, and why (the reason goes into the audit log):

* a nurse or coordinator: patients of their own organisation ("own organisation");
* an advisor: only through a consultation about the patient (comes with routing);
* an admin: never through these endpoints (they manage organisations and users).

Anyone else gets 404, not 403, so that patient ids cannot be probed.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from advice_line import audit
from advice_line.problems import forbidden, invalid, not_found
from advice_line.roles import PATIENT_MANAGERS
from advice_line.sessions import SessionUser
from advice_line.validation import Field

PLACES_OF_DEATH = ("home", "hospice", "hospital", "nursing_home", "other", "unknown")

SCHEMA = {
    "reference": Field("str", required=True, min_length=1, max_length=64),
    "name": Field("str", required=True, min_length=1, max_length=200),
    "gp_practice_id": Field("int", nullable=True, minimum=1),
    "diagnosis_group": Field("enum", required=True, choices=("cancer", "non_cancer")),
    "treatment_level": Field("enum", choices=("full", "limited")),
    "treatment_limitations": Field("str", max_length=2000),
    "dnr": Field("bool"),
    "dnr_decided_by": Field("str", max_length=200),
    "dnr_decided_on": Field("date", nullable=True),
    "living_will": Field("bool"),
    "preferred_place_of_death": Field("enum", choices=PLACES_OF_DEATH),
    "people_present": Field("str", max_length=2000),
    "notes": Field("str", max_length=4000),
}

_COLUMNS = """p.id, p.reference, p.organisation_id, p.name, p.gp_practice_id,
    g.name AS gp_practice_name, p.diagnosis_group, p.treatment_level, p.treatment_limitations,
    p.dnr, p.dnr_decided_by, p.dnr_decided_on, p.living_will, p.preferred_place_of_death,
    p.people_present, p.notes, p.created_at, p.updated_at"""
_FROM = "patients p LEFT JOIN organisations g ON g.id = p.gp_practice_id"
_EDITABLE = list(SCHEMA)
_STRUCTURED = frozenset({
    "gp_practice_id", "diagnosis_group", "treatment_level", "dnr", "dnr_decided_on",
    "living_will", "preferred_place_of_death",
})  # fmt: skip
_DEFAULTS: dict[str, Any] = {
    "gp_practice_id": None, "treatment_level": "full", "treatment_limitations": "", "dnr": False,
    "dnr_decided_by": "", "dnr_decided_on": None, "living_will": False,
    "preferred_place_of_death": "unknown", "people_present": "", "notes": "",
}  # fmt: skip


def _manager(user: SessionUser) -> int:
    """The organisation whose patients ``user`` manages; 403 for roles that manage none."""
    if user.role not in PATIENT_MANAGERS or user.organisation_id is None:
        raise forbidden("only nurses and coordinators manage patients")
    return user.organisation_id


async def _check_rules(conn: asyncpg.Connection, data: dict[str, Any]) -> None:
    errors = []
    if data.get("treatment_level") == "limited" and not data.get("treatment_limitations"):
        errors.append(
            {
                "field": "treatment_limitations",
                "code": "limitations_needed",
                "message": "say what the limitations are",
            }
        )
    if data.get("dnr") and not data.get("dnr_decided_by"):
        errors.append(
            {
                "field": "dnr_decided_by",
                "code": "dnr_decider_needed",
                "message": "say who decided against resuscitation",
            }
        )
    gp_id = data.get("gp_practice_id")
    if gp_id is not None:
        kind = await conn.fetchval("SELECT kind FROM organisations WHERE id = $1", gp_id)
        if kind != "gp_practice":
            errors.append(
                {
                    "field": "gp_practice_id",
                    "code": "gp_practice_unknown",
                    "message": "no such GP practice",
                }
            )
    if errors:
        raise invalid(errors)


async def search(
    conn: asyncpg.Connection,
    user: SessionUser,
    actor: audit.Actor,
    query: str = "",
    limit: int = 50,
) -> list[dict[str, Any]]:
    """Patients of the caller's organisation matching ``query`` (name or reference); audited."""
    org = _manager(user)
    pattern = "%" + query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    async with conn.transaction():
        rows = await conn.fetch(
            f"""SELECT {_COLUMNS} FROM {_FROM}
                 WHERE p.organisation_id = $1 AND ($2 = '%%' OR p.name ILIKE $2 OR p.reference ILIKE $2)
                 ORDER BY p.name LIMIT $3""",
            org, pattern, limit,
        )  # fmt: skip
        if rows:
            await audit.record(
                conn, actor, "patient.list", "patient", None, "own organisation",
                details={"patient_ids": [r["id"] for r in rows], "count": len(rows)},
            )  # fmt: skip
    return [dict(r) for r in rows]


async def _fetch(conn: asyncpg.Connection, patient_id: int) -> dict[str, Any] | None:
    row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM {_FROM} WHERE p.id = $1", patient_id)
    return dict(row) if row else None


async def read(
    conn: asyncpg.Connection, user: SessionUser, actor: audit.Actor, patient_id: int
) -> dict[str, Any]:
    """One patient with the care plan, if the caller has a reason to see it; one audit row."""
    org = _manager(user) if user.role in PATIENT_MANAGERS else None
    async with conn.transaction():
        patient = await _fetch(conn, patient_id)
        if patient is None or org is None or patient["organisation_id"] != org:
            raise not_found(f"patient {patient_id}")
        await audit.record(conn, actor, "patient.read", "patient", patient_id, "own organisation",
                           patient_id=patient_id)  # fmt: skip
    return patient


async def create(
    conn: asyncpg.Connection, user: SessionUser, actor: audit.Actor, data: dict[str, Any]
) -> dict[str, Any]:
    org = _manager(user)
    values = {**_DEFAULTS, **data}
    await _check_rules(conn, values)
    async with conn.transaction():
        try:
            patient_id = await conn.fetchval(
                f"""INSERT INTO patients (organisation_id, {", ".join(_EDITABLE)})
                    VALUES ($1, {", ".join(f"${i + 2}" for i in range(len(_EDITABLE)))})
                    RETURNING id""",
                org, *[values[name] for name in _EDITABLE],
            )  # fmt: skip
        except asyncpg.UniqueViolationError:
            raise invalid(
                [
                    {
                        "field": "reference",
                        "code": "reference_taken",
                        "message": "another patient has this reference",
                    }
                ]
            ) from None
        await audit.record(conn, actor, "patient.create", "patient", patient_id, "own organisation",
                           patient_id=patient_id, details={"fields": sorted(data)})  # fmt: skip
        created = await _fetch(conn, patient_id)
    assert created is not None
    return created


async def update(
    conn: asyncpg.Connection,
    user: SessionUser,
    actor: audit.Actor,
    patient_id: int,
    data: dict[str, Any],
) -> dict[str, Any]:
    """Change some fields; the audit row names the fields that changed (not their values)."""
    org = _manager(user)
    async with conn.transaction():
        before = await conn.fetchrow(
            f"SELECT {_COLUMNS} FROM {_FROM} WHERE p.id = $1 FOR UPDATE OF p",
            patient_id,
        )
        if before is None or before["organisation_id"] != org:
            raise not_found(f"patient {patient_id}")
        merged = {**dict(before), **data}
        await _check_rules(conn, merged)
        try:
            await conn.execute(
                f"""UPDATE patients SET {", ".join(f"{n} = ${i + 2}" for i, n in enumerate(_EDITABLE))},
                           updated_at = now() WHERE id = $1""",
                patient_id, *[merged[name] for name in _EDITABLE],
            )  # fmt: skip
        except asyncpg.UniqueViolationError:
            raise invalid(
                [
                    {
                        "field": "reference",
                        "code": "reference_taken",
                        "message": "another patient has this reference",
                    }
                ]
            ) from None
        changed = sorted(n for n in _EDITABLE if merged[n] != before[n])
        # Structured decisions (DNR, treatment level ...) are recorded before and after;
        # names and free text only by field name, so the audit log holds no clinical prose.
        structured = {n: before[n] for n in changed if n in _STRUCTURED}
        details = {
            "changed": changed,
            **audit.changes(structured, {n: merged[n] for n in structured}),
        }
        await audit.record(conn, actor, "patient.update", "patient", patient_id, "own organisation",
                           patient_id=patient_id, details=details)  # fmt: skip
        after = await _fetch(conn, patient_id)
    assert after is not None
    return after
