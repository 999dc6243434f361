"""The retention run at the database edge: find what is past its period, and delete it in
batches, one transaction and one audit entry per batch.

Each kind of record is described by a query giving its candidates as ``(id, dated)`` and the
deletes that remove one batch of them. The pure policy (``policy.py``) computes the cutoff
from the database's ``now()`` and selects; the append-only tables let a delete through only
when the database itself agrees the record is past the cutoff and the cutoff respects the
legal floor (migration 0007). One run at a time: a PostgreSQL advisory lock.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import asyncpg
import structlog

from advice_line import audit
from advice_line.settings import Settings

from .policy import Candidate, Kind, Policy, select

log = structlog.get_logger("advice_line.retention")

#: Arbitrary but fixed: the advisory lock key that keeps two retention runs apart.
RETENTION_LOCK_KEY = 0x4144524E  # "ADRN"
DEFAULT_BATCH = 500


@dataclass(frozen=True)
class Target:
    """How to find and delete records of one kind. ``dated`` is a query with columns ``id``
    (of ``id_type``) and ``dated``; ``deletes`` run in order with ``$1`` = the batch's ids."""

    dated: str
    deletes: tuple[str, ...]
    id_type: str = "bigint"


_LOCAL_MIDNIGHT_AFTER = (
    "(((valid_to + 1)::timestamp) AT TIME ZONE 'Europe/Copenhagen')"  # the end of valid_to
)

TARGETS: dict[Kind, Target] = {
    # A consultation with its timeline, timers and documentation: dated by its last entry.
    Kind.EPISODES: Target(
        "SELECT c.id, episode_last_entry(c.id) AS dated FROM consultations c",
        (
            "DELETE FROM episode_documents WHERE consultation_id = ANY($1::bigint[])",
            "DELETE FROM consultation_events WHERE consultation_id = ANY($1::bigint[])",
            "DELETE FROM consultation_timers WHERE consultation_id = ANY($1::bigint[])",
            "DELETE FROM consultations WHERE id = ANY($1::bigint[])",
        ),
    ),
    # Every version of a patient's course outcome together (id = the patient's id).
    Kind.COURSE_OUTCOMES: Target(
        "SELECT patient_id AS id, max(recorded_at) AS dated FROM course_outcomes GROUP BY patient_id",
        ("DELETE FROM course_outcomes WHERE patient_id = ANY($1::bigint[])",),
    ),
    # A GP's commitment to a patient that has ended (open-ended ones never go).
    Kind.GP_COMMITMENTS: Target(
        f"""SELECT id, greatest(created_at, {_LOCAL_MIDNIGHT_AFTER}) AS dated
              FROM gp_commitments WHERE valid_to IS NOT NULL""",
        ("DELETE FROM gp_commitments WHERE id = ANY($1::bigint[])",),
    ),
    Kind.AUDIT: Target(
        "SELECT id, at AS dated FROM audit_log",
        ("DELETE FROM audit_log WHERE id = ANY($1::bigint[])",),
    ),
    # A session that ended (revoked or expired), dated by when it ended.
    Kind.SESSIONS: Target(
        """SELECT token_hash AS id, least(coalesce(revoked_at, expires_at), expires_at) AS dated
             FROM sessions""",
        ("DELETE FROM sessions WHERE token_hash = ANY($1::text[])",),
        id_type="text",
    ),
    # A Web Push subscription unused since its last successful delivery (or its creation).
    Kind.PUSH_SUBSCRIPTIONS: Target(
        "SELECT id, coalesce(last_success_at, created_at) AS dated FROM push_subscriptions",
        ("DELETE FROM push_subscriptions WHERE id = ANY($1::bigint[])",),
    ),
    Kind.ROTA_OVERRIDES: Target(
        "SELECT id, greatest(end_at, created_at) AS dated FROM rota_overrides",
        ("DELETE FROM rota_overrides WHERE id = ANY($1::bigint[])",),
    ),
    Kind.ROTA_SWAPS: Target(
        """SELECT id, greatest(first_end, second_end, created_at) AS dated FROM rota_swaps""",
        ("DELETE FROM rota_swaps WHERE id = ANY($1::bigint[])",),
    ),
    # A patient's own record (care-plan summary), once nothing refers to it any more.
    Kind.PATIENTS: Target(
        """SELECT p.id, greatest(p.created_at, p.updated_at) AS dated FROM patients p
            WHERE NOT EXISTS (SELECT 1 FROM consultations c WHERE c.patient_id = p.id)
              AND NOT EXISTS (SELECT 1 FROM course_outcomes o WHERE o.patient_id = p.id)
              AND NOT EXISTS (SELECT 1 FROM gp_commitments g WHERE g.patient_id = p.id)
              AND NOT EXISTS (SELECT 1 FROM audit_log a WHERE a.patient_id = p.id)""",
        ("DELETE FROM patients WHERE id = ANY($1::bigint[])",),
    ),
}


@dataclass(frozen=True)
class KindResult:
    """What went (or would go) of one kind: how many, in how many batches, before when."""

    kind: Kind
    period: str
    cutoff: dt.datetime
    count: int
    batches: int


def policy_of(settings: Settings) -> Policy:
    """The retention policy the settings configure."""
    return Policy({
        "patient_records": settings.retention_patient_records,
        "audit": settings.retention_audit,
        "sessions": settings.retention_sessions,
        "push_subscriptions": settings.retention_push_subscriptions,
        "rota_changes": settings.retention_rota_changes,
    })  # fmt: skip


async def database_now(conn: asyncpg.Connection) -> dt.datetime:
    """The database's clock: the one ``now`` of a run."""
    now = await conn.fetchval("SELECT now()")
    assert isinstance(now, dt.datetime)
    return now


async def _candidates(
    conn: asyncpg.Connection, target: Target, cutoff: dt.datetime, limit: int | None
) -> list[Candidate]:
    rows = await conn.fetch(
        f"""SELECT id, dated FROM ({target.dated}) AS t
             WHERE dated < $1 ORDER BY id LIMIT $2""",
        cutoff, limit,
    )  # fmt: skip
    return [Candidate(r["id"], r["dated"]) for r in rows]


async def _delete_batch(
    conn: asyncpg.Connection, policy: Policy, kind: Kind, now: dt.datetime, batch_size: int,
    actor: audit.Actor,
) -> int:  # fmt: skip
    """Delete one batch of ``kind`` in one transaction with its audit entry; how many went."""
    target = TARGETS[kind]
    cutoff = policy.cutoff(kind, now)
    async with conn.transaction():
        # The triggers of the append-only tables check this cutoff against the floor and
        # each record's own date (migration 0007); it ends with the transaction.
        await conn.execute(
            "SELECT set_config('advice_line.retention_cutoff', $1, true)", cutoff.isoformat()
        )
        ids = select(policy, kind, now, await _candidates(conn, target, cutoff, batch_size))
        if not ids:
            return 0
        for statement in target.deletes:
            await conn.execute(statement, list(ids))
        await audit.record(
            conn, actor, "retention.delete", kind.value, None, "retention period over",
            details={"kind": kind.value, "count": len(ids), "cutoff": cutoff.isoformat(),
                     "period": str(policy.period(kind))},
        )  # fmt: skip
    log.info("retention.batch_deleted", kind=kind.value, count=len(ids), cutoff=cutoff.isoformat())
    return len(ids)


async def run(
    conn: asyncpg.Connection,
    policy: Policy,
    *,
    dry_run: bool,
    actor: audit.Actor = audit.SYSTEM,
    batch_size: int = DEFAULT_BATCH,
    kinds: tuple[Kind, ...] = tuple(Kind),
    report: Callable[[KindResult], None] | None = None,
) -> list[KindResult]:
    """Delete (or, with ``dry_run``, count) every record past its period, kind by kind in
    :class:`Kind` order; ``report`` hears each kind as it is done."""
    assert batch_size >= 1
    await conn.execute("SELECT pg_advisory_lock($1)", RETENTION_LOCK_KEY)
    try:
        now = await database_now(conn)
        results = []
        for kind in Kind:
            if kind not in kinds:
                continue
            cutoff = policy.cutoff(kind, now)
            if dry_run:
                found = await _candidates(conn, TARGETS[kind], cutoff, None)
                count, batches = len(select(policy, kind, now, found)), 0
            else:
                count = batches = 0
                while True:
                    went = await _delete_batch(conn, policy, kind, now, batch_size, actor)
                    if not went:
                        break
                    count, batches = count + went, batches + 1
                    if went < batch_size:
                        break
            result = KindResult(kind, str(policy.period(kind)), cutoff, count, batches)
            if report is not None:
                report(result)
            results.append(result)
        return results
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", RETENTION_LOCK_KEY)
