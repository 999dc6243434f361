"""Each node's watch on PostgreSQL: it keeps the directory fresh while the database answers,
says when it does not (``down``: requests then go straight to outage routing rather than
wait on a dead connection), and hands consultations back once it answers again.
"""

from __future__ import annotations

import asyncio
import time

import asyncpg
import structlog

from advice_line.metrics import Metrics
from advice_line.outage.handback import hand_back
from advice_line.outage.router import OutageRouter
from advice_line.outage.spool import spool_files

log = structlog.get_logger("advice_line.outage.watch")

#: How often the database is asked whether it answers (and held consultations handed back).
PROBE_SECONDS = 1.0
#: How often the directory is copied while it answers.
REFRESH_SECONDS = 5.0
#: How long a probe may take before the database counts as away.
PROBE_TIMEOUT = 2.0


class OutageWatch:
    def __init__(self, pool: asyncpg.Pool, router: OutageRouter, metrics: Metrics) -> None:
        self.pool = pool
        self.router = router
        self.metrics = metrics
        self.down = False
        self._refreshed = 0.0

    def note_failure(self) -> None:
        """A request could not reach the database: route without it until a probe succeeds."""
        if not self.down:
            self.down = True
            self.metrics.database_away.set(1)
            log.warning("database.away")

    async def check(self, *, refresh: bool = False) -> None:
        """One probe (and a directory copy when one is due, or ``refresh``), then a hand back
        if any waits."""
        try:
            async with asyncio.timeout(PROBE_TIMEOUT):
                async with self.pool.acquire() as conn:
                    await conn.fetchval("SELECT 1")
                    if refresh or time.monotonic() - self._refreshed >= REFRESH_SECONDS:
                        await self.router.directory.refresh(
                            conn, self.router.engine.rotas, self.router.engine.clock()
                        )
                        self._refreshed = time.monotonic()
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError):
            self.note_failure()
            return
        if self.down:
            self.down = False
            self.metrics.database_away.set(0)
            log.warning("database.back")
        await self._hand_back()
        self.metrics.spooled_bytes.set(self.router.spool.size())

    async def _hand_back(self) -> None:
        router = self.router
        spooled = any(p.stat().st_size for p in spool_files(router.spool.directory))
        if not spooled and not await router.redis.scard(router.keys.outage_consultations):
            return
        written = await hand_back(self.pool, router.store, router.spool)
        if written:
            self.metrics.handed_back.inc(written)
            log.warning("outage.hand_back_done", consultations=written)

    async def run(self) -> None:
        while True:
            try:
                await self.check()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("outage.watch_failed")
            await asyncio.sleep(PROBE_SECONDS)
