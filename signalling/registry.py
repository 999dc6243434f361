"""The WebSocket connections this node holds, so they can be found and always closed."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from aiohttp import WSCloseCode, web

#: Close code for a session that was revoked or expired (application range 4000-4999).
SESSION_ENDED = 4401


@dataclass(eq=False)
class Connection:
    id: int
    ws: web.WebSocketResponse
    user_id: int
    session_hash: str
    rate_tokens: float = 0.0
    rate_checked_at: float = 0.0
    meta: dict[str, object] = field(default_factory=dict)
    # While a resumed connection is being replayed what it missed, live messages wait here.
    held: list[tuple[str, str]] | None = None
    resume_token: str | None = None


class ConnectionRegistry:
    def __init__(self) -> None:
        self._connections: dict[int, Connection] = {}
        self._by_user: dict[int, dict[int, Connection]] = {}
        self._ids = itertools.count(1)

    def add(self, ws: web.WebSocketResponse, user_id: int, session_hash: str) -> Connection:
        conn = Connection(next(self._ids), ws, user_id, session_hash)
        self._connections[conn.id] = conn
        self._by_user.setdefault(user_id, {})[conn.id] = conn
        return conn

    def remove(self, conn: Connection) -> None:
        self._connections.pop(conn.id, None)
        mine = self._by_user.get(conn.user_id)
        if mine is not None:
            mine.pop(conn.id, None)
            if not mine:
                del self._by_user[conn.user_id]

    def __len__(self) -> int:
        return len(self._connections)

    def all(self) -> list[Connection]:
        return list(self._connections.values())

    def for_user(self, user_id: int) -> list[Connection]:
        return list(self._by_user.get(user_id, {}).values())

    def session_hashes(self) -> set[str]:
        return {c.session_hash for c in self._connections.values()}

    async def close_sessions(self, hashes: set[str], reason: str = "session ended") -> int:
        """Close every connection whose session is in ``hashes``; returns how many."""
        closing = [c for c in self._connections.values() if c.session_hash in hashes]
        for conn in closing:
            await conn.ws.close(code=SESSION_ENDED, message=reason.encode())
        return len(closing)

    async def close_all(self) -> None:
        """Shutdown: tell every client to reconnect elsewhere (1001 Going Away)."""
        for conn in self.all():
            await conn.ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutting down")
