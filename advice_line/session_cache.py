"""Sessions as last read from PostgreSQL, kept in Redis so people stay signed in while the
database is away.

Each node writes a session it has just read at most once a minute, to live for the idle
limit: a session nobody uses lapses from the cache as it lapses in the database. Ending a
session (logout, a new password, a disabled user) deletes it here too
(``revocation.publish_revoked``). Only read while the database cannot be reached.
"""

from __future__ import annotations

import json
import time

from redis.asyncio import Redis

from advice_line.redis_keys import RedisKeys
from advice_line.sessions import Session, SessionUser, token_hash

#: How often one node rewrites the same session (each write renews its idle time).
REWRITE_SECONDS = 60.0
_REMEMBERED_LIMIT = 50_000


class SessionCache:
    def __init__(self, redis: Redis, keys: RedisKeys, idle_seconds: float) -> None:
        self.redis = redis
        self.keys = keys
        self.idle_seconds = idle_seconds
        self._written: dict[str, float] = {}

    async def remember(self, session: Session) -> None:
        now = time.monotonic()
        if now - self._written.get(session.token_hash, -REWRITE_SECONDS) < REWRITE_SECONDS:
            return
        if len(self._written) > _REMEMBERED_LIMIT:
            self._written.clear()
        self._written[session.token_hash] = now
        value = {"csrf_token": session.csrf_token, "user": session.user.public()}
        await self.redis.set(
            self.keys.session_cache(session.token_hash), json.dumps(value),
            ex=max(1, int(self.idle_seconds)),
        )  # fmt: skip

    async def recall(self, token: str) -> Session | None:
        if not token or len(token) > 128:
            return None
        hashed = token_hash(token)
        raw = await self.redis.get(self.keys.session_cache(hashed))
        if raw is None:
            return None
        value = json.loads(raw)
        return Session(hashed, value["csrf_token"], SessionUser(**value["user"]))

    async def forget(self, hashes: list[str]) -> None:
        for hashed in hashes:
            self._written.pop(hashed, None)
        if hashes:
            await self.redis.delete(*(self.keys.session_cache(h) for h in hashes))
