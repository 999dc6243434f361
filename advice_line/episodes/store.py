"""Episodes in PostgreSQL: a consultation's events as ``EventRow``s, its documentation
versions, and the outcome versions of a patient's palliative course.

Both documents are append-only (a trigger refuses UPDATE, DELETE and TRUNCATE): an amendment
is a new row whose version is one higher, assigned while the owner's row (the consultation,
the patient) is locked, so two saves at once get consecutive versions.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from .model import EventRow

#: What an advisor may say became of the situation after the advice.
DISPOSITIONS = ("phone_advice", "nurse_visit", "gp_visit", "admission", "hospice", "died", "other")
#: Where a patient died (``course_outcomes.place_of_death``).
PLACES = ("home", "nursing_home", "hospice", "hospital", "other")
#: Where the patient wished to die, as recorded with the course outcome.
WISHED_PLACES = (*PLACES, "unknown")

_DOCUMENT_COLUMNS = """d.id, d.consultation_id, d.version, d.author_id,
    u.display_name AS author_name, d.created_at, d.disposition, d.advice, d.follow_up,
    d.follow_up_note, d.amendment_reason"""
_OUTCOME_COLUMNS = """o.id, o.patient_id, o.version, o.recorded_by,
    u.display_name AS recorded_by_name, o.recorded_at, o.course_ended_on, o.died,
    o.place_of_death, o.wished_place, o.note, o.amendment_reason"""


async def load_events(conn: asyncpg.Connection, consultation_id: int) -> list[EventRow]:
    """The consultation's timeline in id order, as ``derive`` takes it."""
    rows = await conn.fetch(
        """SELECT id, at, type, actor_id, data FROM consultation_events
            WHERE consultation_id = $1 ORDER BY id""",
        consultation_id,
    )
    return [EventRow(r["id"], r["at"], r["type"], r["actor_id"], dict(r["data"])) for r in rows]


async def user_names(conn: asyncpg.Connection, ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """Display name, role, tier and organisation of each user in ``ids``."""
    rows = await conn.fetch(
        """SELECT u.id, u.display_name AS name, u.role, u.tier, o.name AS organisation
             FROM users u LEFT JOIN organisations o ON o.id = u.organisation_id
            WHERE u.id = ANY($1::bigint[])""",
        sorted(set(ids)),
    )
    return {r["id"]: dict(r) for r in rows}


# Documentation ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Documentation:
    """One version of the advisor's documentation, as the request gave it."""

    disposition: str
    advice: str
    follow_up: bool
    follow_up_note: str = ""
    amendment_reason: str = ""


async def documents(conn: asyncpg.Connection, consultation_id: int) -> list[dict[str, Any]]:
    """Every version of the consultation's documentation, the newest (current) first."""
    rows = await conn.fetch(
        f"""SELECT {_DOCUMENT_COLUMNS} FROM episode_documents d JOIN users u ON u.id = d.author_id
             WHERE d.consultation_id = $1 ORDER BY d.version DESC""",
        consultation_id,
    )
    return [dict(r) for r in rows]


async def latest_document_version(conn: asyncpg.Connection, consultation_id: int) -> int:
    """The highest version so far (0 when undocumented); lock the consultation first."""
    found = await conn.fetchval(
        "SELECT max(version) FROM episode_documents WHERE consultation_id = $1", consultation_id
    )
    return int(found or 0)


async def add_document(
    conn: asyncpg.Connection, consultation_id: int, author_id: int, doc: Documentation
) -> dict[str, Any]:
    """Append the next version (the caller holds the consultation's row lock)."""
    version = await latest_document_version(conn, consultation_id) + 1
    new_id = await conn.fetchval(
        """INSERT INTO episode_documents (consultation_id, version, author_id, disposition, advice,
                                          follow_up, follow_up_note, amendment_reason)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id""",
        consultation_id, version, author_id, doc.disposition, doc.advice, doc.follow_up,
        doc.follow_up_note, doc.amendment_reason,
    )  # fmt: skip
    row = await conn.fetchrow(
        f"""SELECT {_DOCUMENT_COLUMNS} FROM episode_documents d JOIN users u ON u.id = d.author_id
             WHERE d.id = $1""",
        new_id,
    )
    assert row is not None
    return dict(row)


# Course outcomes -------------------------------------------------------------------------


@dataclass(frozen=True)
class CourseOutcome:
    """One version of how a patient's palliative course ended."""

    course_ended_on: dt.date
    died: bool
    place_of_death: str | None
    wished_place: str
    note: str = ""
    amendment_reason: str = ""

    def __post_init__(self) -> None:
        assert self.died or self.place_of_death is None, "a place of death needs a death"


async def outcomes(conn: asyncpg.Connection, patient_id: int) -> list[dict[str, Any]]:
    """Every version of the patient's course outcome, the newest (current) first."""
    rows = await conn.fetch(
        f"""SELECT {_OUTCOME_COLUMNS} FROM course_outcomes o JOIN users u ON u.id = o.recorded_by
             WHERE o.patient_id = $1 ORDER BY o.version DESC""",
        patient_id,
    )
    return [_with_wish(dict(r)) for r in rows]


async def add_outcome(
    conn: asyncpg.Connection, patient_id: int, recorded_by: int, outcome: CourseOutcome
) -> dict[str, Any]:
    """Append the next version (the caller holds the patient's row lock)."""
    version = int(
        await conn.fetchval(
            "SELECT coalesce(max(version), 0) FROM course_outcomes WHERE patient_id = $1",
            patient_id,
        )
    )
    new_id = await conn.fetchval(
        """INSERT INTO course_outcomes (patient_id, version, recorded_by, course_ended_on, died,
                                        place_of_death, wished_place, note, amendment_reason)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id""",
        patient_id, version + 1, recorded_by, outcome.course_ended_on, outcome.died,
        outcome.place_of_death, outcome.wished_place, outcome.note, outcome.amendment_reason,
    )  # fmt: skip
    row = await conn.fetchrow(
        f"""SELECT {_OUTCOME_COLUMNS} FROM course_outcomes o JOIN users u ON u.id = o.recorded_by
             WHERE o.id = $1""",
        new_id,
    )
    assert row is not None
    return _with_wish(dict(row))


def died_where_wished(row: dict[str, Any]) -> bool:
    """Died, with a known wish, at the wished place."""
    return bool(
        row["died"]
        and row["wished_place"] != "unknown"
        and row["place_of_death"] == row["wished_place"]
    )


def _with_wish(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "died_where_wished": died_where_wished(row)}
