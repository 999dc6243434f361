"""Resume tokens: a client that reconnects within the grace period, on any node, picks up
where it left off (the messages it missed are replayed from its user's stream).

A token is handed out in every ``welcome``. Redis keeps only its hash, with the user and the
session it belongs to, for as long as the connection lives plus the grace period after it
drops. A token resumes only for the same user and session, and only once: the resumed
connection gets a new one.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Callable, Iterable

from redis.asyncio import Redis

#: Longest token a client may present (ours are 43 characters).
MAX_TOKEN_LENGTH = 128


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class ResumeTokens:
    def __init__(self, redis: Redis, key: Callable[[str], str], grace_seconds: float) -> None:
        self.redis = redis
        self.key = key
        self.grace_ms = int(grace_seconds * 1000)

    async def issue(self, user_id: int, session_hash: str, live_ms: int) -> str:
        """A new token for a connection, valid for ``live_ms`` (refreshed while it lives)."""
        token = secrets.token_urlsafe(32)
        record = json.dumps({"user": user_id, "session": session_hash})
        await self.redis.set(self.key(token_hash(token)), record, px=live_ms + self.grace_ms)
        return token

    async def keep(self, tokens: Iterable[str], live_ms: int) -> None:
        """Extend the tokens of live connections (one round trip)."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for token in tokens:
                pipe.pexpire(self.key(token_hash(token)), live_ms + self.grace_ms)
            await pipe.execute()

    async def dropped(self, token: str) -> None:
        """The connection closed: its token stays valid for the grace period only."""
        await self.redis.pexpire(self.key(token_hash(token)), self.grace_ms)

    async def redeem(self, token: str, user_id: int, session_hash: str) -> bool:
        """Whether ``token`` is a live token of this user and session; it is used up."""
        if not token or len(token) > MAX_TOKEN_LENGTH:
            return False
        raw = await self.redis.getdel(self.key(token_hash(token)))
        if raw is None:
            return False
        record = json.loads(raw)
        return bool(record.get("user") == user_id and record.get("session") == session_hash)
