"""Handing consultations routed during an outage back to PostgreSQL once it answers.

``write_back`` writes one record in one transaction and may be repeated: the row is created
or brought up to the record's version (never taken back to an older one), each timeline
event is added once (keyed by its place in the timeline, ``outage_seq``), the timers and, for
a closed consultation, its episode facts follow the row. Advisors who were shown the ISBAR get
their ``patient.read`` audit rows, at the time they were rung.

A pass (``hand_back``, one node at a time under a Redis lock) first marks each record in
Redis as moving (no step can be stored on it after that), writes it back, then drops it from
Redis; from then on it is an ordinary consultation. It then replays the spools: this node's
own file and any file no running node holds, each record written back the same way, except
consultations Redis still holds (they are handed back from there, newer). A spool is cut
only after what was read from it is in the database.
"""

from __future__ import annotations

import contextlib
import json
import secrets
from typing import Any

import asyncpg
import structlog

from advice_line import audit, sessions
from advice_line.episodes import stored_facts
from advice_line.outage.spool import Spool, orphan, read_lines, spool_files
from advice_line.outage.store import CLOSED, OutageStore

log = structlog.get_logger("advice_line.outage.handback")

HANDBACK_LOCK_MS = 60_000


async def write_back(conn: asyncpg.Connection, record: dict[str, Any]) -> bool:
    """Write one record into the database (inside a transaction); True if the row was
    created or moved forward by it. A row is moved forward only while it is as an earlier
    write back left it: once the database has taken a step of its own on it, an older
    history (another node's spool) is not laid over it, and the conflict is logged."""
    machine = record["machine"]
    moved = await conn.fetchval(
        """INSERT INTO consultations (id, patient_id, nurse_id, organisation_id, channel, urgency,
                                      isbar, state, tier, version, machine, offered, participants,
                                      created_at, updated_at, routed_in_outage, outage_version)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14::timestamptz,
                   now(), true, $10)
           ON CONFLICT (id) DO UPDATE
              SET state = excluded.state, tier = excluded.tier, version = excluded.version,
                  machine = excluded.machine, offered = excluded.offered,
                  participants = excluded.participants, updated_at = now(),
                  outage_version = excluded.version
            WHERE consultations.version < excluded.version
              AND consultations.version = consultations.outage_version
           RETURNING 1""",
        record["id"], machine["patient"], machine["nurse"], record["organisation_id"],
        machine["channel"], machine["urgency"], record["isbar"], machine["state"], machine["tier"],
        record["version"], machine, sorted(machine["offered"]), list(machine["participants"]),
        _at(record["created_at"]),
    )  # fmt: skip
    if not moved:
        now = await conn.fetchval("SELECT version FROM consultations WHERE id = $1", record["id"])
        if now is not None and now < record["version"]:
            log.error("outage.replay_conflict", consultation=record["id"], database=now,
                      record=record["version"])  # fmt: skip
        return False
    events = record["events"]
    await conn.execute(
        """INSERT INTO consultation_events (consultation_id, at, type, actor_id, data, outage_seq)
           SELECT $1, e.at, e.type, e.actor, e.data, e.seq
             FROM unnest($2::int[], $3::timestamptz[], $4::text[], $5::bigint[], $6::jsonb[])
                  AS e(seq, at, type, actor, data)
            ORDER BY e.seq
           ON CONFLICT (consultation_id, outage_seq) WHERE outage_seq IS NOT NULL DO NOTHING""",
        record["id"], [e["seq"] for e in events], [_at(e["at"]) for e in events],
        [e["type"] for e in events], [e["actor_id"] for e in events], [e["data"] for e in events],
    )  # fmt: skip
    await conn.execute("DELETE FROM consultation_timers WHERE consultation_id = $1", record["id"])
    timers = record["timers"]
    await conn.execute(
        """INSERT INTO consultation_timers (consultation_id, kind, seq, due_at)
           SELECT $1, t.kind, t.seq, to_timestamp(t.due / 1000.0)
             FROM unnest($2::text[], $3::int[], $4::bigint[]) AS t(kind, seq, due)""",
        record["id"], list(timers), [v[0] for v in timers.values()], [v[1] for v in timers.values()],
    )  # fmt: skip
    await _audit_shown(conn, record)
    if machine["state"] in CLOSED:
        await stored_facts.write(conn, record["id"])
    return True


def _at(text: str) -> Any:
    import datetime as dt

    return dt.datetime.fromisoformat(text)


async def _audit_shown(conn: asyncpg.Connection, record: dict[str, Any]) -> None:
    """One ``patient.read`` row per advisor shown the ISBAR (rung or joining), once."""
    patient = record["machine"]["patient"]
    reason = f"consultation {record['id']} offered (during a database outage)"
    shown = [(a, e["at"]) for e in record["events"] if e["type"] in ("offered", "joined")
             for a in (e["data"].get("advisors") or [e["data"].get("advisor")]) if a]  # fmt: skip
    await conn.execute(
        """INSERT INTO audit_log (at, actor_id, actor_username, action, target_type, target_id,
                                  patient_id, reason, details)
           SELECT s.at, s.id, u.username, 'patient.read', 'patient', $2::bigint::text, $2, $3,
                  jsonb_build_object('consultation_id', $4::bigint)
             FROM unnest($1::bigint[], $5::timestamptz[]) AS s(id, at) JOIN users u ON u.id = s.id
            WHERE NOT EXISTS (SELECT 1 FROM audit_log l
                               WHERE l.actor_id = s.id AND l.reason = $3 AND l.at = s.at)""",
        [a for a, _ in shown], patient, reason, record["id"], [_at(at) for _, at in shown],
    )  # fmt: skip


async def hand_back(pool: asyncpg.Pool, store: OutageStore, spool: Spool) -> int:
    """One pass: every held record and every spooled one into the database; returns how
    many were written."""
    redis, keys = store.redis, store.keys
    token = secrets.token_hex(8)
    if not await redis.set(keys.outage_handback_lock, token, nx=True, px=HANDBACK_LOCK_MS):
        return 0  # another node is at it
    try:
        await _apply_logouts(pool, store)
        written = 0
        for record in await store.all():
            if not record.get("moving"):
                marked = {**record, "moving": True}
                if not await store.put(marked, record):
                    continue  # a step came first: the next pass takes it
                record = marked
            try:
                async with pool.acquire() as conn, conn.transaction():
                    await write_back(conn, record)
            except BaseException:
                # Not written (the database went away again): unmark it, so the call goes
                # on routing without the database rather than wait for it, stuck.
                with contextlib.suppress(Exception):
                    await store.put({**record, "moving": False}, record)
                raise
            if await store.forget(record):
                written += 1
                log.info("outage.handed_back", consultation=record["id"],
                         state=record["machine"]["state"])  # fmt: skip
        written += await _replay_spools(pool, store, spool)
        return written
    finally:
        if await redis.get(keys.outage_handback_lock) == token:
            await redis.delete(keys.outage_handback_lock)


async def _apply_logouts(pool: asyncpg.Pool, store: OutageStore) -> None:
    """End in the database, and audit, the sessions logged out of during the outage."""
    key = store.keys.outage_logouts
    logouts = [json.loads(raw) for raw in await store.redis.lrange(key, 0, -1)]
    if not logouts:
        return
    async with pool.acquire() as conn, conn.transaction():
        for logout in logouts:
            await sessions.revoke(conn, logout["token_hash"])
            await audit.record(
                conn, audit.Actor(logout["user_id"], logout["username"], logout["ip"]),
                "auth.logout", "user", logout["user_id"], "logout (during a database outage)",
                details={"at": logout["at"]},
            )  # fmt: skip
    await store.redis.ltrim(key, len(logouts), -1)


async def _replay_spools(pool: asyncpg.Pool, store: OutageStore, spool: Spool) -> int:
    """Replay every spool in the directory as one: the newest record of each consultation
    across all files is written back once (two nodes may each hold part of a call's history).
    This node's file is read up to a whole record; other running nodes' files are read only
    (each cuts its own); files no node holds are orphans. This node's file is cut, and the
    orphans deleted, only when every consultation in them is in the database."""
    end = await spool.settled_size()
    lines = read_lines(spool.path, end) if end else []
    with contextlib.ExitStack() as held:
        orphans = []
        for path in spool_files(spool.directory):
            if path == spool.path:
                continue
            if held.enter_context(orphan(path)):
                orphans.append(path)
            lines += read_lines(path)
        if not lines:
            return 0
        written, skipped = await _replay(pool, store, lines)
        if not skipped:
            if end:
                await spool.truncate(end)
            for path in orphans:
                path.unlink()
    return written


async def _replay(
    pool: asyncpg.Pool, store: OutageStore, lines: list[dict[str, Any]]
) -> tuple[int, int]:
    """Write back the newest record of each consultation in ``lines``; returns how many moved
    a row, and how many were left for Redis's hand back (it still holds them)."""
    latest: dict[int, dict[str, Any]] = {}
    for line in lines:
        record = line["consultation"]
        if record["version"] >= latest.get(record["id"], {"version": -1})["version"]:
            latest[record["id"]] = record
    held = set(await store.ids())
    written = skipped = 0
    async with pool.acquire() as conn:
        for consultation_id, record in sorted(latest.items()):
            if consultation_id in held:
                skipped += 1
                continue  # Redis holds it, at least as new: handed back from there
            async with conn.transaction():
                if await write_back(conn, {**record, "moving": False}):
                    written += 1
                    log.warning("outage.replayed_from_spool", consultation=consultation_id,
                                detail=json.dumps({"version": record["version"]}))  # fmt: skip
    return written, skipped
