"""Nurses who lost their connection: after the resume grace, if they are still gone, their
waiting or live consultations hear ``NurseGone`` (abandoned before an answer; the call ends
in a call). A blip shorter than the grace changes nothing.

Who dropped when lives in one Redis sorted set (member: nurse id, score: when the grace
ends), so any node may act on it; removing the member is the claim, so only one does.
A nurse who never had a socket (a REST client) is never watched. If the node holding her
socket dies, nothing marks her: her consultation goes on until someone ends it, as before.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import structlog
from redis.asyncio import Redis

from advice_line import audit
from advice_line.db import DATABASE_AWAY
from advice_line.outage.router import Moved
from advice_line.routing_engine import RoutingEngine
from escalation import EscalationError, NurseGone
from signalling.presence import Presence

log = structlog.get_logger("advice_line.nurse_watch")

#: States in which the consultation needs the nurse on the line.
NEEDS_NURSE = ("requested", "ringing", "waking", "queued", "connected", "escalating")


def _now_ms() -> int:
    return int(time.time() * 1000)


class NurseWatch:
    def __init__(
        self, redis: Redis, key: str, presence: Presence, engine: RoutingEngine,
        pool: asyncpg.Pool, grace_seconds: float, clock_ms: Callable[[], int] = _now_ms,
    ) -> None:  # fmt: skip
        self.redis = redis
        self.key = key
        self.presence = presence
        self.engine = engine
        self.pool = pool
        self.grace_ms = int(grace_seconds * 1000)
        self.clock_ms = clock_ms

    async def dropped(self, nurse_id: int) -> None:
        """A socket of the nurse closed: look again when the grace is over."""
        await self.redis.zadd(self.key, {str(nurse_id): self.clock_ms() + self.grace_ms})

    async def back(self, nurse_id: int) -> None:
        await self.redis.zrem(self.key, str(nurse_id))

    async def update_all(self) -> int:
        """Act on every nurse whose grace is over and who is still offline; returns how many
        consultations were told she is gone."""
        now = self.clock_ms()
        found = await self.redis.zrangebyscore(self.key, "-inf", now)
        due = [int(str(n)) for n in found]
        if not due:
            return 0
        online = await self.presence.online(due, now)
        told = 0
        for nurse in due:
            if not await self.redis.zrem(self.key, str(nurse)) or nurse in online:
                continue  # another node claimed her, or she is back
            told += await self._held_told(nurse)
            try:
                if self.engine.database_down():
                    raise ConnectionError("the database is away")
                async with self.pool.acquire() as conn:
                    ids = await conn.fetch(
                        "SELECT id FROM consultations WHERE nurse_id = $1 AND state = ANY($2::text[])",
                        nurse, list(NEEDS_NURSE),
                    )  # fmt: skip
            except DATABASE_AWAY:
                # Her calls in the database wait for it: claim her again at a later pass.
                await self.redis.zadd(self.key, {str(nurse): now + 1000})
                continue
            for row in ids:
                told += await self._tell(self.engine.act, row["id"])
        return told

    async def _held_told(self, nurse: int) -> int:
        """Tell her calls asked for during a database outage (held in Redis) she is gone."""
        outage = self.engine.outage
        if outage is None:
            return 0
        mine = [r["id"] for r in await outage.store.open()
                if r["machine"]["nurse"] == nurse and r["machine"]["state"] in NEEDS_NURSE]  # fmt: skip
        told = 0
        for consultation_id in mine:
            told += await self._tell(outage.act, consultation_id)
        return told

    async def _tell(self, act: Callable[..., Awaitable[Any]], consultation_id: int) -> int:
        try:
            await act(consultation_id, NurseGone(), audit.SYSTEM)
        except (EscalationError, Moved):
            return 0  # it moved on meanwhile (answered, ended, cancelled, handed back)
        log.info("consultation.nurse_gone", consultation=consultation_id)
        return 1

    async def run(self, interval: float) -> None:
        while True:
            try:
                await self.update_all()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("nurse_watch.pass_failed")
            await asyncio.sleep(interval)
