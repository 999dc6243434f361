"""Who has joined which call, shared by every node through Redis.

A call's members are a sorted set per consultation: member ``user:node:connection``, score
the membership's expiry (milliseconds since the epoch). The node holding the connection
refreshes the score every heartbeat interval (like presence), so a member whose node died
drops out within one interval; a refresh never re-creates a membership that was removed
(the call ended, or the person left), because it only updates existing members.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from redis.asyncio import Redis


def polite(user_id: int, peer_id: int) -> bool:
    """Perfect-negotiation role of ``user_id`` towards ``peer_id``: the lower id is polite."""
    assert user_id != peer_id
    return user_id < peer_id


def _user_of(member: Any) -> int:
    text = member.decode() if isinstance(member, bytes) else str(member)
    return int(text.split(":", 1)[0])


class CallRooms:
    """``key(consultation_id)`` names a call's sorted set (key names live with the application)."""

    def __init__(
        self, redis: Redis, key: Callable[[int], str], node: str, ttl_seconds: float
    ) -> None:
        self.redis = redis
        self.key = key
        self.node = node
        self.ttl_ms = int(ttl_seconds * 1000)

    def _member(self, user_id: int, connection: int) -> str:
        return f"{user_id}:{self.node}:{connection}"

    async def join(
        self, consultation_id: int, user_id: int, connection: int, now_ms: int
    ) -> frozenset[int]:
        """Add this connection; return every user in the call now (the joiner included)."""
        key = self.key(consultation_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.zadd(key, {self._member(user_id, connection): now_ms + self.ttl_ms})
            pipe.zremrangebyscore(key, "-inf", now_ms)
            pipe.pexpire(key, self.ttl_ms * 2)
            pipe.zrange(key, 0, -1)
            *_, members = await pipe.execute()
        return frozenset(_user_of(m) for m in members)

    async def leave(
        self, consultation_id: int, user_id: int, connection: int, now_ms: int
    ) -> tuple[bool, frozenset[int]]:
        """Remove this connection. Returns whether the user is now gone from the call (no other
        connection of theirs is in it) and the users still in it."""
        key = self.key(consultation_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.zrem(key, self._member(user_id, connection))
            pipe.zrangebyscore(key, now_ms, "+inf")
            removed, members = await pipe.execute()
        users = frozenset(_user_of(m) for m in members)
        return bool(removed) and user_id not in users, users

    async def hold(
        self, consultation_id: int, user_id: int, connection: int, now_ms: int, until_ms: int
    ) -> None:
        """Keep a dropped connection's membership (if it still exists) until ``until_ms``:
        the user keeps their place while they may resume."""
        key = self.key(consultation_id)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.zadd(key, {self._member(user_id, connection): until_ms}, xx=True)
            pipe.pexpire(key, max(until_ms - now_ms, self.ttl_ms * 2))
            await pipe.execute()

    async def members(self, consultation_id: int, now_ms: int) -> frozenset[int]:
        """The users with a live membership of the call."""
        found = await self.redis.zrangebyscore(self.key(consultation_id), now_ms, "+inf")
        return frozenset(_user_of(m) for m in found)

    async def remove_users(self, consultation_id: int, user_ids: Iterable[int]) -> None:
        """Take these users (every connection of theirs) out of the call."""
        gone = set(user_ids)
        key = self.key(consultation_id)
        found: list[Any] = await self.redis.zrange(key, 0, -1)
        doomed = [m for m in found if _user_of(m) in gone]
        if doomed:
            await self.redis.zrem(key, *doomed)

    async def end(self, consultation_id: int, now_ms: int) -> frozenset[int]:
        """Dissolve the call; return who was in it."""
        key = self.key(consultation_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.zrangebyscore(key, now_ms, "+inf")
            pipe.delete(key)
            members, _ = await pipe.execute()
        return frozenset(_user_of(m) for m in members)

    async def refresh(self, memberships: Iterable[tuple[int, int, int]], now_ms: int) -> None:
        """Extend (consultation, user, connection) memberships that still exist; one round trip."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for consultation_id, user_id, connection in memberships:
                key = self.key(consultation_id)
                member = self._member(user_id, connection)
                pipe.zadd(key, {member: now_ms + self.ttl_ms}, xx=True)
                pipe.pexpire(key, self.ttl_ms * 2)
            await pipe.execute()
