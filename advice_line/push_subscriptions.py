"""Stored Web Push subscriptions: one row per browser that may wake its advisor.

The endpoint is a capability URL (whoever knows it can push to that browser), so it is
never logged; logs name the subscription's id and its push service's host.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import asyncpg

#: A browser per device; beyond this many, the oldest subscriptions of an advisor go.
MAX_PER_USER = 10


@dataclass(frozen=True)
class Subscription:
    id: int
    user_id: int
    endpoint: str
    p256dh: str
    auth: str

    @property
    def push_service(self) -> str:
        return push_service(self.endpoint)

    def info(self) -> dict[str, Any]:
        """As pywebpush (and the browser's ``PushSubscription.toJSON()``) has it."""
        return {"endpoint": self.endpoint, "keys": {"p256dh": self.p256dh, "auth": self.auth}}


def push_service(endpoint: str) -> str:
    return urlsplit(endpoint).hostname or "?"


async def upsert(
    conn: asyncpg.Connection, user_id: int, endpoint: str, p256dh: str, auth: str,
    user_agent: str | None,
) -> tuple[dict[str, Any], bool]:  # fmt: skip
    """Store a subscription (taking over one with the same endpoint); returns (row, created)."""
    row = await conn.fetchrow(
        """INSERT INTO push_subscriptions (user_id, endpoint, p256dh, auth, user_agent)
           VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (endpoint) DO UPDATE
              SET user_id = EXCLUDED.user_id, p256dh = EXCLUDED.p256dh, auth = EXCLUDED.auth,
                  user_agent = EXCLUDED.user_agent, failures = 0
           RETURNING id, created_at, last_success_at, (xmax = 0) AS created""",
        user_id, endpoint, p256dh, auth, user_agent,
    )  # fmt: skip
    assert row is not None
    await conn.execute(
        """DELETE FROM push_subscriptions WHERE user_id = $1 AND id NOT IN (
               SELECT id FROM push_subscriptions WHERE user_id = $1
                ORDER BY created_at DESC, id DESC LIMIT $2)""",
        user_id, MAX_PER_USER,
    )  # fmt: skip
    return {k: row[k] for k in ("id", "created_at", "last_success_at")}, bool(row["created"])


async def delete_own(conn: asyncpg.Connection, user_id: int, endpoint: str) -> int | None:
    """Delete the caller's subscription for ``endpoint``; its id, or None if there was none."""
    found = await conn.fetchval(
        "DELETE FROM push_subscriptions WHERE user_id = $1 AND endpoint = $2 RETURNING id",
        user_id, endpoint,
    )  # fmt: skip
    return None if found is None else int(found)


async def for_user(conn: asyncpg.Connection, user_id: int) -> list[Subscription]:
    rows = await conn.fetch(
        """SELECT id, user_id, endpoint, p256dh, auth FROM push_subscriptions
            WHERE user_id = $1 ORDER BY id""",
        user_id,
    )
    return [Subscription(**dict(r)) for r in rows]


async def of_advisors(conn: asyncpg.Connection) -> dict[int, list[Subscription]]:
    """Every enabled advisor's subscriptions (for waking them while the database is away)."""
    rows = await conn.fetch(
        """SELECT s.id, s.user_id, s.endpoint, s.p256dh, s.auth FROM push_subscriptions s
             JOIN users u ON u.id = s.user_id
            WHERE u.role = 'advisor' AND u.disabled_at IS NULL ORDER BY s.id"""
    )
    found: dict[int, list[Subscription]] = {}
    for row in rows:
        found.setdefault(row["user_id"], []).append(Subscription(**dict(row)))
    return found


async def count_for_user(conn: asyncpg.Connection, user_id: int) -> int:
    found = await conn.fetchval(
        "SELECT count(*) FROM push_subscriptions WHERE user_id = $1", user_id
    )
    return int(found or 0)


async def delivered(conn: asyncpg.Connection, subscription_id: int) -> None:
    await conn.execute(
        "UPDATE push_subscriptions SET last_success_at = now(), failures = 0 WHERE id = $1",
        subscription_id,
    )


async def failed(conn: asyncpg.Connection, subscription_id: int) -> None:
    await conn.execute(
        "UPDATE push_subscriptions SET failures = failures + 1 WHERE id = $1", subscription_id
    )


async def gone(conn: asyncpg.Connection, subscription_id: int) -> None:
    """The push service says the subscription no longer exists (404 or 410)."""
    await conn.execute("DELETE FROM push_subscriptions WHERE id = $1", subscription_id)
