"""The PostgreSQL pool (asyncpg) and the small helpers every data module shares."""

from __future__ import annotations

import json
from typing import Any

import asyncpg

#: What a query fails with while PostgreSQL cannot be reached (not a programming error).
DATABASE_AWAY = (
    asyncpg.PostgresConnectionError, asyncpg.CannotConnectNowError, asyncpg.InterfaceError,
    OSError, TimeoutError,
)  # fmt: skip


async def _init_connection(conn: asyncpg.Connection) -> None:
    for kind in ("json", "jsonb"):
        await conn.set_type_codec(kind, encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def _release(conn: asyncpg.Connection) -> None:
    """What a connection needs when it goes back to the pool: nothing beyond what asyncpg
    always does first (roll back an open transaction, drop listener callbacks).

    asyncpg's default reset costs a round trip on every release (unlock all advisory locks,
    close cursors, unlisten, reset settings); routing releases a connection about 25 times a
    consultation, and on a busy node those round trips were a quarter of all. Nothing here
    leaves session state on a pooled connection: settings are ``SET LOCAL`` or
    ``set_config(..., true)``, cursors live inside transactions, nobody listens, and the two
    session-level advisory locks (migrations, retention) are released in ``finally``."""


async def create_pool(url: str, *, min_size: int = 2, max_size: int = 10) -> asyncpg.Pool:
    """A pool whose connections decode json/jsonb to Python values and run in UTC."""
    pool = await asyncpg.create_pool(
        url,
        min_size=min_size,
        max_size=max_size,
        init=_init_connection,
        reset=_release,
        server_settings={"timezone": "UTC", "application_name": "advice-line"},
        command_timeout=30,
        # A database host that does not answer at all (not even a refusal) counts as away
        # after 5 s, not after asyncpg's 60: requests then route without it (outage/).
        timeout=5,
    )
    assert pool is not None
    return pool


def record_dict(record: asyncpg.Record | None) -> dict[str, Any] | None:
    """A plain dict of a row, or None."""
    return dict(record) if record is not None else None
