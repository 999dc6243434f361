"""The end of a patient's palliative course: whether the patient died, where, where they
wished to, and when the course ended. Evaluation asks "did the patient die where they
wished?"; this is where that is recorded.

Nurses and coordinators of the patient's organisation read and record it (anyone else gets
404, as for the patient). Amendments are new versions with a reason. Every read and every
record writes an audit row in the same transaction.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import asyncpg

from advice_line import audit
from advice_line.problems import invalid, not_found
from advice_line.roles import PATIENT_MANAGERS
from advice_line.sessions import SessionUser
from advice_line.validation import Field

from .store import PLACES, WISHED_PLACES, CourseOutcome, add_outcome, outcomes

SCHEMA = {
    "course_ended_on": Field("date", required=True),
    "died": Field("bool", required=True),
    "place_of_death": Field("enum", nullable=True, choices=PLACES),
    "wished_place": Field("enum", nullable=True, choices=WISHED_PLACES),
    "note": Field("str", max_length=2000),
    "amendment_reason": Field("str", min_length=1, max_length=500),
}


def _rules(body: dict[str, Any], today: dt.date, amendment: bool) -> list[dict[str, Any]]:
    errors = []
    place = body.get("place_of_death")
    if body["died"] and place is None:
        errors.append({"field": "place_of_death", "code": "place_needed",
                       "message": "say where the patient died"})  # fmt: skip
    if not body["died"] and place is not None:
        errors.append({"field": "place_of_death", "code": "place_without_death",
                       "message": "a place of death only when the patient died"})  # fmt: skip
    if body["course_ended_on"] > today:
        errors.append({"field": "course_ended_on", "code": "in_future",
                       "message": "must not be in the future"})  # fmt: skip
    if amendment and not body.get("amendment_reason"):
        errors.append({"field": "amendment_reason", "code": "reason_needed",
                       "message": "say why the outcome is amended"})  # fmt: skip
    return errors


async def _locked_patient(
    conn: asyncpg.Connection, user: SessionUser, patient_id: int, *, lock: bool
) -> dict[str, Any]:
    """The patient (locked for this transaction when recording), if the caller manages it."""
    suffix = "FOR UPDATE" if lock else ""
    found = await conn.fetchrow(
        f"SELECT id, organisation_id, preferred_place_of_death FROM patients WHERE id = $1 {suffix}",
        patient_id,
    )
    if (
        found is None
        or user.role not in PATIENT_MANAGERS
        or user.organisation_id != found["organisation_id"]
    ):
        raise not_found(f"patient {patient_id}")
    return dict(found)


async def read(
    conn: asyncpg.Connection, user: SessionUser, actor: audit.Actor, patient_id: int
) -> dict[str, Any]:
    """The current outcome (or None) and every version, newest first; audited."""
    async with conn.transaction():
        patient = await _locked_patient(conn, user, patient_id, lock=False)
        versions = await outcomes(conn, patient_id)
        await audit.record(conn, actor, "course_outcome.read", "patient", patient_id,
                           "own organisation", patient_id=patient_id)  # fmt: skip
    return {
        "current": versions[0] if versions else None,
        "history": versions,
        "preferred_place_of_death": patient["preferred_place_of_death"],
    }


async def record(
    conn: asyncpg.Connection,
    user: SessionUser,
    actor: audit.Actor,
    patient_id: int,
    body: dict[str, Any],
    today: dt.date,
) -> dict[str, Any]:
    """Append a version (the wish defaults to the patient's preferred place of death)."""
    async with conn.transaction():
        patient = await _locked_patient(conn, user, patient_id, lock=True)
        amendment = bool(await conn.fetchval(
            "SELECT 1 FROM course_outcomes WHERE patient_id = $1 LIMIT 1", patient_id
        ))  # fmt: skip
        errors = _rules(body, today, amendment)
        if errors:
            raise invalid(errors)
        outcome = CourseOutcome(
            course_ended_on=body["course_ended_on"],
            died=body["died"],
            place_of_death=body.get("place_of_death"),
            wished_place=body.get("wished_place") or patient["preferred_place_of_death"],
            note=body.get("note", ""),
            amendment_reason=body.get("amendment_reason", ""),
        )
        saved = await add_outcome(conn, patient_id, user.id, outcome)
        details = {
            "version": saved["version"], "amendment": amendment,
            "course_ended_on": outcome.course_ended_on.isoformat(), "died": outcome.died,
            "place_of_death": outcome.place_of_death, "wished_place": outcome.wished_place,
        }  # fmt: skip
        await audit.record(conn, actor, "course_outcome.record", "patient", patient_id,
                           "own organisation", patient_id=patient_id, details=details)  # fmt: skip
    return saved
