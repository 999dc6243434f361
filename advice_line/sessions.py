"""Server-side sessions: a random token in an HttpOnly cookie, its SHA-256 in PostgreSQL.

A session ends when it is revoked (logout, user disabled), when it has been idle longer
than the idle limit, or at its absolute expiry, whichever comes first. Checks use the
database clock, so every node agrees.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

import asyncpg

from advice_line.settings import Settings

COOKIE_NAME = "al_session"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class SessionUser:
    """What every request needs to know about the signed-in user."""

    id: int
    username: str
    display_name: str
    role: str
    tier: str | None
    organisation_id: int | None
    organisation_name: str | None
    language: str
    totp_enabled: bool
    totp_required: bool

    @property
    def must_enrol_totp(self) -> bool:
        return self.totp_required and not self.totp_enabled

    def public(self) -> dict[str, object]:
        return {
            "id": self.id, "username": self.username, "display_name": self.display_name,
            "role": self.role, "tier": self.tier, "organisation_id": self.organisation_id,
            "organisation_name": self.organisation_name, "language": self.language,
            "totp_enabled": self.totp_enabled, "totp_required": self.totp_required,
        }  # fmt: skip


@dataclass(frozen=True)
class Session:
    token_hash: str
    csrf_token: str
    user: SessionUser


async def create(
    conn: asyncpg.Connection,
    user_id: int,
    settings: Settings,
    *,
    ip: str | None,
    user_agent: str | None,
) -> tuple[str, str]:
    """A new session for ``user_id``; returns (cookie token, CSRF token)."""
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    await conn.execute(
        """INSERT INTO sessions (token_hash, user_id, csrf_token, expires_at, ip, user_agent)
           VALUES ($1, $2, $3, now() + make_interval(hours => $4), $5, $6)""",
        token_hash(token), user_id, csrf, settings.session_max_hours, ip, (user_agent or "")[:300],
    )  # fmt: skip
    return token, csrf


#: A session's last use is written at most this often: a request inside it only reads, so
#: most requests commit nothing (no WAL flush). The idle limit may end a session this much early.
TOUCH_SECONDS = 15

_LOAD = f"""
WITH live AS (
    SELECT token_hash, user_id, csrf_token, last_seen_at FROM sessions
     WHERE token_hash = $1 AND revoked_at IS NULL AND expires_at > now()
       AND last_seen_at > now() - make_interval(mins => $2)
), touched AS (
    UPDATE sessions t SET last_seen_at = now() FROM live
     WHERE t.token_hash = live.token_hash
       AND live.last_seen_at < now() - interval '{TOUCH_SECONDS} seconds'
)
SELECT s.token_hash, s.csrf_token, u.id, u.username, u.display_name, u.role, u.tier,
       u.organisation_id, o.name AS organisation_name, u.language, u.totp_enabled,
       p.totp_required
  FROM live s JOIN users u ON u.id = s.user_id
  LEFT JOIN organisations o ON o.id = u.organisation_id
  JOIN role_policies p ON p.role = u.role
 WHERE u.disabled_at IS NULL
"""


async def load(conn: asyncpg.Connection, token: str, settings: Settings) -> Session | None:
    """The live session for a cookie token (touched if its last use is older than
    ``TOUCH_SECONDS``), or None if it has ended."""
    if not token or len(token) > 128:
        return None
    row = await conn.fetchrow(_LOAD, token_hash(token), settings.session_idle_minutes)
    if row is None:
        return None
    user = SessionUser(
        id=row["id"], username=row["username"], display_name=row["display_name"],
        role=row["role"], tier=row["tier"], organisation_id=row["organisation_id"],
        organisation_name=row["organisation_name"], language=row["language"],
        totp_enabled=row["totp_enabled"], totp_required=row["totp_required"],
    )  # fmt: skip
    return Session(token_hash=row["token_hash"], csrf_token=row["csrf_token"], user=user)


async def is_live(conn: asyncpg.Connection, hashed: str, settings: Settings) -> bool:
    """Whether a session (by hash) is still valid; used by long-lived WebSockets."""
    return bool(
        await conn.fetchval(
            """SELECT 1 FROM sessions s JOIN users u ON u.id = s.user_id
                WHERE s.token_hash = $1 AND s.revoked_at IS NULL AND s.expires_at > now()
                  AND s.last_seen_at > now() - make_interval(mins => $2) AND u.disabled_at IS NULL""",
            hashed,
            settings.session_idle_minutes,
        )
    )


async def revoke(conn: asyncpg.Connection, hashed: str) -> None:
    await conn.execute(
        "UPDATE sessions SET revoked_at = now() WHERE token_hash = $1 AND revoked_at IS NULL",
        hashed,
    )


async def revoked_for_user(conn: asyncpg.Connection, user_id: int) -> list[str]:
    """Hashes of a user's sessions that were revoked in the last minute (for socket closing)."""
    rows = await conn.fetch(
        "SELECT token_hash FROM sessions WHERE user_id = $1 AND revoked_at > now() - interval '1 minute'",
        user_id,
    )
    return [r["token_hash"] for r in rows]


async def purge_expired(conn: asyncpg.Connection, keep_days: int = 30) -> int:
    """Delete sessions that ended more than ``keep_days`` ago; returns how many."""
    result = await conn.execute(
        """DELETE FROM sessions
            WHERE expires_at < now() - make_interval(days => $1)
               OR revoked_at < now() - make_interval(days => $1)""",
        keep_days,
    )
    return int(result.split()[-1])
