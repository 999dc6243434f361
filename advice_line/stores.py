"""Where PostgreSQL and Redis come from: configured URLs, or embedded servers in the data dir."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

import asyncpg
import structlog
from redis.asyncio import BlockingConnectionPool, Redis

from advice_line.db import create_pool
from advice_line.embedded import EmbeddedPostgres, EmbeddedRedis
from advice_line.migrate import migrate
from advice_line.settings import Settings

#: Redis connections per process, and how long a command waits for a free one.
REDIS_CONNECTIONS = 256
REDIS_WAIT_SECONDS = 5.0

log = structlog.get_logger("advice_line.stores")

EMBEDDED_DATABASE = "advice_line"


@dataclass
class StoreUrls:
    database: str
    redis: str
    embedded_postgres: EmbeddedPostgres | None = None
    embedded_redis: EmbeddedRedis | None = None


async def _ensure_database(admin_url: str, name: str) -> None:
    conn = await asyncpg.connect(admin_url)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            with contextlib.suppress(asyncpg.DuplicateDatabaseError):
                await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


@contextlib.asynccontextmanager
async def store_urls(settings: Settings) -> AsyncIterator[StoreUrls]:
    """URLs of the two stores, starting embedded servers for those not configured.

    Embedded servers started here are stopped on exit; their data stays in the data dir.
    """
    urls = StoreUrls(database=settings.database_url or "", redis=settings.redis_url or "")
    loop = asyncio.get_running_loop()
    try:
        if not settings.database_url:
            urls.embedded_postgres = EmbeddedPostgres(settings.data_dir / "postgres")
            admin = await loop.run_in_executor(None, urls.embedded_postgres.start)
            await _ensure_database(admin, EMBEDDED_DATABASE)
            urls.database = urls.embedded_postgres.url(EMBEDDED_DATABASE)
        if not settings.redis_url:
            urls.embedded_redis = EmbeddedRedis(settings.data_dir / "redis")
            urls.redis = await loop.run_in_executor(None, urls.embedded_redis.start)
        yield urls
    finally:
        for server in (urls.embedded_redis, urls.embedded_postgres):
            if server is not None:
                await loop.run_in_executor(None, server.stop)


@contextlib.asynccontextmanager
async def open_stores(
    settings: Settings, *, run_migrations: bool | None = None
) -> AsyncIterator[tuple[asyncpg.Pool, Redis, StoreUrls]]:
    """A migrated PostgreSQL pool and a Redis client, for the app and for CLI commands."""
    async with store_urls(settings) as urls:
        pool = await create_pool(
            urls.database, min_size=settings.db_pool_min, max_size=settings.db_pool_max
        )
        # A bounded pool that waits for a free connection rather than failing a burst of
        # commands (the default pool raises once 100 are in use at the same moment).
        pool_of_redis = BlockingConnectionPool.from_url(
            urls.redis, decode_responses=True, health_check_interval=10,
            max_connections=REDIS_CONNECTIONS, timeout=REDIS_WAIT_SECONDS,
        )  # fmt: skip
        redis = Redis.from_pool(pool_of_redis)  # closing the client closes its pool
        try:
            if settings.migrate_on_start if run_migrations is None else run_migrations:
                async with pool.acquire() as conn:
                    await migrate(conn)
            yield pool, redis, urls
        finally:
            await redis.aclose()
            await pool.close()
