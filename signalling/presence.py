"""Who is online: each live WebSocket is a member of its user's sorted set in Redis.

The score is the connection's expiry (milliseconds since the epoch). The node holding the
connection refreshes it every heartbeat interval, so a connection whose node died drops
out of presence within one interval, without anyone having to notice the death. After a
Redis restart every node re-adds its connections at its next refresh: presence is rebuilt
within one heartbeat interval.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from redis.asyncio import Redis


class Presence:
    """``key(user_id)`` names a user's sorted set (the key names live with the application)."""

    def __init__(
        self, redis: Redis, key: Callable[[int], str], node: str, ttl_seconds: float
    ) -> None:
        self.redis = redis
        self.key = key
        self.node = node
        self.ttl_ms = int(ttl_seconds * 1000)
        # One round trip however many advisors are asked about (routing asks on every step).
        self._count = redis.register_script(
            "local n = {} for i, k in ipairs(KEYS) do "
            "n[i] = redis.call('ZCOUNT', k, ARGV[1], '+inf') end return n"
        )

    def _member(self, connection: int) -> str:
        return f"{self.node}:{connection}"

    async def refresh(self, connections: Iterable[tuple[int, int]], now_ms: int) -> None:
        """Mark (user, connection) pairs live until now + ttl; one round trip for all."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for user_id, connection in connections:
                key = self.key(user_id)
                pipe.zadd(key, {self._member(connection): now_ms + self.ttl_ms})
                pipe.zremrangebyscore(key, "-inf", now_ms)
                pipe.pexpire(key, self.ttl_ms * 2)
            await pipe.execute()

    async def remove(self, user_id: int, connection: int) -> None:
        await self.redis.zrem(self.key(user_id), self._member(connection))

    async def online(self, user_ids: Iterable[int], now_ms: int) -> frozenset[int]:
        """Those of ``user_ids`` with at least one live connection now."""
        ids = list(user_ids)
        if not ids:
            return frozenset()
        counts = await self._count(keys=[self.key(u) for u in ids], args=[now_ms])
        return frozenset(user_id for user_id, n in zip(ids, counts, strict=True) if n)
