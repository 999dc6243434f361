"""Each node's watch on PostgreSQL: it keeps the directory fresh while the database answers,
says when it does not (``down``: requests then go straight to outage routing rather than
wait on a dead connection), and hands consultations back once it answers again.
"""

from __future__ import annotations

import asyncio
import time

import asyncpg
import structlog

from advice_line.db import DATABASE_AWAY
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
    """``database_url``: the probe's own connection goes there (not through the pool: a pool
    busy under load is not a database away)."""

    def __init__(
        self, pool: asyncpg.Pool, router: OutageRouter, metrics: Metrics, database_url: str
    ) -> None:
        self.pool = pool
        self.router = router
        self.metrics = metrics
        self.database_url = database_url
        self.down = False
        self._refreshed = 0.0
        self._probe: asyncpg.Connection | None = None

    async def _answers(self) -> bool:
        """Whether the database answers ``SELECT 1`` within ``PROBE_TIMEOUT`` on the probe's
        own connection (opened again after it broke)."""
        try:
            async with asyncio.timeout(PROBE_TIMEOUT):
                if self._probe is None or self._probe.is_closed():
                    self._probe = await asyncpg.connect(self.database_url)
                await self._probe.fetchval("SELECT 1")
            return True
        except (*DATABASE_AWAY, asyncpg.PostgresError):
            if self._probe is not None:
                self._probe.terminate()
                self._probe = None
            return False

    async def close(self) -> None:
        if self._probe is not None:
            await self._probe.close()
            self._probe = None

    def note_failure(self) -> None:
        """A request could not reach the database: route without it until a probe succeeds."""
        if not self.down:
            self.down = True
            self.metrics.database_away.set(1)
            log.warning("database.away")

    async def check(self, *, refresh: bool = False) -> None:
        """One probe; while the database answers, a directory copy when one is due (or
        ``refresh``) and a hand back if any waits. Only the probe decides "away": a copy that
        fails or takes long is logged and tried again at the next check."""
        if not await self._answers():
            self.note_failure()
            return
        if self.down:
            self.down = False
            self.metrics.database_away.set(0)
            log.warning("database.back")
        if refresh or time.monotonic() - self._refreshed >= REFRESH_SECONDS:
            try:
                async with self.pool.acquire() as conn:
                    await self.router.directory.refresh(
                        conn, self.router.engine.rotas, self.router.engine.clock()
                    )
                self._refreshed = time.monotonic()
            except (*DATABASE_AWAY, asyncpg.PostgresError):
                log.warning("outage.copy_failed", exc_info=True)
        await self._hand_back()
        self.metrics.spooled_bytes.set(self.router.spool.size())

    async def _hand_back(self) -> None:
        router = self.router
        spooled = any(p.stat().st_size for p in spool_files(router.spool.directory))
        if (
            not spooled
            and not await router.redis.scard(router.keys.outage_consultations)
            and (not await router.redis.llen(router.keys.outage_logouts))
        ):
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
