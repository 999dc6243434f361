"""Consultations in PostgreSQL: the machine state, the timeline, the timers, and who may see them.

Every change to a consultation happens with its row locked (``SELECT ... FOR UPDATE``), so
the pure core's decisions are applied one at a time per consultation, on any node; the
first accept wins because the second finds the offer gone.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import asyncpg

from advice_line import audit
from advice_line.dataclass_json import from_json, to_json
from advice_line.problems import not_found
from advice_line.sessions import SessionUser
from escalation.model import Consultation, Record, StartTimer

TIER_NAMES_BY_NUMBER = {1: "senior_nurse", 2: "gp", 3: "specialist"}


async def insert(
    conn: asyncpg.Connection, machine: Consultation, organisation_id: int, isbar: dict[str, Any]
) -> dict[str, Any]:
    """Store a new consultation; returns its row as stored."""
    inserted = await conn.fetchrow(
        """INSERT INTO consultations (id, patient_id, nurse_id, organisation_id, channel, urgency,
                                      isbar, state, tier, version, machine)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING *""",
        machine.id, machine.patient, machine.nurse, organisation_id, machine.channel.value,
        machine.urgency.value, isbar, machine.state.value, machine.tier, machine.version,
        to_json(machine),
    )  # fmt: skip
    assert inserted is not None
    return dict(inserted)


async def new_id_for(
    conn: asyncpg.Connection, patient_id: int, organisation_id: int | None
) -> int | None:
    """A new consultation id, if the patient is one of the organisation's (None otherwise);
    one round trip."""
    found = await conn.fetchval(
        """SELECT nextval('consultations_id_seq') FROM patients
            WHERE id = $1 AND organisation_id = $2""",
        patient_id, organisation_id,
    )  # fmt: skip
    return None if found is None else int(found)


def machine_of(row: dict[str, Any]) -> Consultation:
    """The machine state stored in a consultation row."""
    return from_json(Consultation, row["machine"])


async def current(conn: asyncpg.Connection, consultation_id: int) -> Consultation:
    """The machine state as it is now, without a lock."""
    stored = await conn.fetchval("SELECT machine FROM consultations WHERE id = $1", consultation_id)
    if stored is None:
        raise not_found(f"consultation {consultation_id}")
    return from_json(Consultation, stored)


async def lock(
    conn: asyncpg.Connection, consultation_id: int, *, skip_locked: bool = False
) -> Consultation | None:
    """The machine state with the row locked for this transaction (None: absent or busy)."""
    suffix = "FOR UPDATE SKIP LOCKED" if skip_locked else "FOR UPDATE"
    row = await conn.fetchrow(
        f"SELECT machine FROM consultations WHERE id = $1 {suffix}", consultation_id
    )
    return from_json(Consultation, row["machine"]) if row else None


async def store_step(
    conn: asyncpg.Connection, version_before: int, machine: Consultation, at: dt.datetime,
    actor_id: int | None, records: list[Record], timers: list[StartTimer], cancel_timers: bool,
    readers: list[audit.Actor], reason: str,
) -> bool:  # fmt: skip
    """Store what one step decided, in ONE statement (one round trip, often under the routing
    lock): the new machine state, its timeline events in order, its timers (``cancel_timers``
    drops every other timer of the consultation; a timer of a kind already set is replaced),
    and one ``patient.read`` audit row per reader of the care plan it sends.

    All of it only if the consultation is still at ``version_before`` (the state the step
    decided on); returns whether it was stored. Under the row lock it always is; a step taken
    without the lock learns here that another step came first."""
    latest = {t.kind.value: t for t in timers}  # one live timer per kind: the last one stands
    saved = await conn.fetchval(
        """WITH saved AS (
               UPDATE consultations SET state = $2, tier = $3, version = $4, machine = $5,
                      offered = $6, participants = $7, updated_at = $8
                WHERE id = $1 AND version = $20
               RETURNING 1),
           events AS (
               INSERT INTO consultation_events (consultation_id, at, type, actor_id, data)
               SELECT $1, $8, e.type, $9, e.data
                 FROM unnest($10::text[], $11::jsonb[]) WITH ORDINALITY AS e(type, data, n)
                WHERE EXISTS (SELECT 1 FROM saved)
                ORDER BY e.n),
           dropped AS (
               DELETE FROM consultation_timers
                WHERE consultation_id = $1 AND $12 AND kind <> ALL($13::text[])
                  AND EXISTS (SELECT 1 FROM saved)),
           timers AS (
               INSERT INTO consultation_timers (consultation_id, kind, seq, due_at)
               SELECT $1, t.kind, t.seq, t.due
                 FROM unnest($13::text[], $14::int[], $15::timestamptz[]) AS t(kind, seq, due)
                WHERE EXISTS (SELECT 1 FROM saved)
               ON CONFLICT (consultation_id, kind)
               DO UPDATE SET seq = excluded.seq, due_at = excluded.due_at),
           audited AS (
               INSERT INTO audit_log (actor_id, actor_username, action, target_type, target_id,
                                      patient_id, reason, details)
               SELECT r.id, r.username, 'patient.read', 'patient', $17::bigint::text, $17, $18,
                      '{}'::jsonb
                 FROM unnest($16::bigint[], $19::text[]) AS r(id, username)
                WHERE EXISTS (SELECT 1 FROM saved))
           SELECT count(*) FROM saved""",
        machine.id, machine.state.value, machine.tier, machine.version, to_json(machine),
        sorted(machine.offered), list(machine.participants), at, actor_id,
        [r.type for r in records], [to_json(r.data) for r in records],
        cancel_timers, list(latest), [t.seq for t in latest.values()],
        [t.due for t in latest.values()],
        [r.user_id for r in readers], machine.patient, reason, [r.username for r in readers],
        version_before,
    )  # fmt: skip
    return bool(saved)


async def due_timers(
    conn: asyncpg.Connection, now: dt.datetime, limit: int = 50
) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        """SELECT consultation_id, kind, seq, due_at FROM consultation_timers
            WHERE due_at <= $1 ORDER BY due_at LIMIT $2""",
        now, limit,
    )  # fmt: skip
    return rows


async def take_timer(conn: asyncpg.Connection, consultation_id: int, kind: str, seq: int) -> bool:
    """Delete the timer if it is still the one that was due; True if this caller fires it."""
    deleted = await conn.fetchval(
        "DELETE FROM consultation_timers WHERE consultation_id = $1 AND kind = $2 AND seq = $3 RETURNING 1",
        consultation_id, kind, seq,
    )  # fmt: skip
    return bool(deleted)


# Reading, with the access rules ---------------------------------------------------------


async def row(conn: asyncpg.Connection, consultation_id: int) -> dict[str, Any]:
    found = await conn.fetchrow("SELECT * FROM consultations WHERE id = $1", consultation_id)
    if found is None:
        raise not_found(f"consultation {consultation_id}")
    return dict(found)


def row_after(row: dict[str, Any], machine: Consultation) -> dict[str, Any]:
    """A consultation row as read before a step, with the columns that step stored (as
    ``store_step`` writes them; the other columns never change), for answering about it. It
    has no ``machine`` column: ``machine`` is the state itself, and serialising it again for
    an answer that does not show it took 1.4 % of the node's samples under load."""
    after = {
        **row, "state": machine.state.value, "tier": machine.tier, "version": machine.version,
        "offered": sorted(machine.offered), "participants": list(machine.participants),
    }  # fmt: skip
    after.pop("machine", None)
    return after


def may_see(user: SessionUser, consultation: dict[str, Any], *, ever_offered: bool) -> bool:
    """The requesting nurse, a coordinator of her organisation, and advisors offered it or in it."""
    if user.id == consultation["nurse_id"]:
        return True
    if user.role == "coordinator" and user.organisation_id == consultation["organisation_id"]:
        return True
    return user.role == "advisor" and (
        user.id in consultation["offered"]
        or user.id in consultation["participants"]
        or ever_offered
    )


async def ever_offered(conn: asyncpg.Connection, consultation_id: int, advisor_id: int) -> bool:
    return bool(
        await conn.fetchval(
            """SELECT 1 FROM consultation_events
                WHERE consultation_id = $1 AND type IN ('offered', 'joined', 'accepted')
                  AND (data -> 'advisors' @> to_jsonb($2::bigint) OR (data ->> 'advisor')::bigint = $2)
                LIMIT 1""",
            consultation_id,
            advisor_id,
        )
    )


async def timeline(conn: asyncpg.Connection, consultation_id: int) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT at, type, actor_id, data FROM consultation_events WHERE consultation_id = $1 ORDER BY id",
        consultation_id,
    )
    return [dict(r) for r in rows]


async def queue_position(conn: asyncpg.Connection, consultation: dict[str, Any]) -> int | None:
    """Place in the queue (urgency first, then age) while waiting; None otherwise."""
    if consultation["state"] not in ("queued", "callback"):
        return None
    ahead = await conn.fetchval(
        """SELECT count(*) FROM consultations
            WHERE state IN ('queued', 'callback') AND id <> $1
              AND (array_position(ARRAY['acute', 'urgent', 'routine'], urgency),
                   created_at) < (array_position(ARRAY['acute', 'urgent', 'routine'], $2), $3)""",
        consultation["id"], consultation["urgency"], consultation["created_at"],
    )  # fmt: skip
    return int(ahead) + 1


CARE_PLAN_COLUMNS = """p.id, p.reference, p.name, p.diagnosis_group, p.treatment_level,
    p.treatment_limitations, p.dnr, p.dnr_decided_by, p.dnr_decided_on, p.living_will,
    p.preferred_place_of_death, p.people_present, g.name AS gp_practice_name"""


async def care_plan(
    conn: asyncpg.Connection, patient_id: int, actor: audit.Actor, reason: str
) -> dict[str, Any]:
    """The patient's care-plan summary for one reader, with its audit row: one statement,
    so the read and its audit row go together without a transaction of their own."""
    found = await conn.fetchrow(
        f"""WITH plan AS (
                SELECT {CARE_PLAN_COLUMNS}
                  FROM patients p LEFT JOIN organisations g ON g.id = p.gp_practice_id
                 WHERE p.id = $1),
            audited AS (
                INSERT INTO audit_log (actor_id, actor_username, action, target_type, target_id,
                                       patient_id, reason, ip, request_id)
                SELECT $2::bigint, $3::text, 'patient.read', 'patient', $1::bigint::text, $1,
                       $4::text, $5::text, $6::text
                  FROM plan)
            SELECT * FROM plan""",
        patient_id, actor.user_id, actor.username, reason, actor.ip, actor.request_id,
    )  # fmt: skip
    assert found is not None
    return dict(found)


async def ring_context(conn: asyncpg.Connection, consultation_id: int) -> dict[str, Any]:
    """What an advisor rung for (or joining) a consultation is shown: the ISBAR and the care
    plan, in one read. Not audited here: the step that sends it audits one read per advisor
    (``store_step``)."""
    found = await conn.fetchrow(
        f"""SELECT c.isbar, {CARE_PLAN_COLUMNS}
              FROM consultations c JOIN patients p ON p.id = c.patient_id
              LEFT JOIN organisations g ON g.id = p.gp_practice_id
             WHERE c.id = $1""",
        consultation_id,
    )
    assert found is not None
    plan = dict(found)
    return {"isbar": plan.pop("isbar"), "care_plan": plan}
