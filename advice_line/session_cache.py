"""Sessions as last read from PostgreSQL, kept in Redis so people stay signed in while the
database is away.

Each node writes a session it has just read at most once a minute, to live for the idle
limit: a session nobody uses lapses from the cache as it lapses in the database. Ending a
session (logout, a new password, a disabled user) marks it ended here (for the idle time, so
a node that read it a moment before cannot write it back); a logout does that first, so it
holds even while the database is away. Only read while the database cannot be reached.
Not kept here: the session's absolute expiry (a session used through an outage may outlive
it by up to the idle limit).
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
#: What an ended session's key holds (for its idle time): a node that read the session just
#: before it ended cannot bring it back.
ENDED = "ended"
_REMEMBER = (
    "if redis.call('GET', KEYS[1]) == ARGV[3] then return 0 end "
    "redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2]) return 1"
)


class SessionCache:
    def __init__(self, redis: Redis, keys: RedisKeys, idle_seconds: float) -> None:
        self.redis = redis
        self.keys = keys
        self.idle_seconds = idle_seconds
        self._written: dict[str, float] = {}
        self._remember = redis.register_script(_REMEMBER)

    async def remember(self, session: Session) -> None:
        now = time.monotonic()
        if now - self._written.get(session.token_hash, -REWRITE_SECONDS) < REWRITE_SECONDS:
            return
        if len(self._written) > _REMEMBERED_LIMIT:
            self._written.clear()
        self._written[session.token_hash] = now
        value = {"csrf_token": session.csrf_token, "user": session.user.public()}
        await self._remember(
            keys=[self.keys.session_cache(session.token_hash)],
            args=[json.dumps(value), max(1, int(self.idle_seconds)), ENDED],
        )

    async def recall(self, token: str) -> Session | None:
        if not token or len(token) > 128:
            return None
        hashed = token_hash(token)
        raw = await self.redis.get(self.keys.session_cache(hashed))
        if raw is None or raw == ENDED:
            return None
        value = json.loads(raw)
        return Session(hashed, value["csrf_token"], SessionUser(**value["user"]))

    async def forget(self, hashes: list[str]) -> None:
        """The sessions have ended: mark them so, for their idle time."""
        if not hashes:
            return
        async with self.redis.pipeline(transaction=False) as pipe:
            for hashed in hashes:
                self._written.pop(hashed, None)
                pipe.set(self.keys.session_cache(hashed), ENDED, ex=max(1, int(self.idle_seconds)))
            await pipe.execute()
