"""Ending sessions everywhere: revoked sessions' sockets close on every node at once.

Logout and disabling a user publish the session hashes on a Redis channel; each node
listens and closes matching WebSockets. A sweep also re-checks every open socket's
session each heartbeat interval, which covers idle or absolute expiry and a missed message.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import structlog
from aiohttp import web

from advice_line.appkeys import CONNECTIONS, DB, KEYS, OUTAGE_WATCH, REDIS, SESSION_CACHE, SETTINGS
from advice_line.background import running
from advice_line.db import DATABASE_AWAY

log = structlog.get_logger("advice_line.revocation")


async def publish_revoked(app: web.Application, hashes: list[str]) -> None:
    """Close the sessions' sockets everywhere and forget them in the session cache."""
    if hashes:
        if SESSION_CACHE in app:
            await app[SESSION_CACHE].forget(hashes)
        await app[REDIS].publish(app[KEYS].session_revoked_channel, json.dumps(hashes))


async def _listen(app: web.Application) -> None:
    registry = app[CONNECTIONS]
    while True:
        try:
            async with app[REDIS].pubsub() as pubsub:
                await pubsub.subscribe(app[KEYS].session_revoked_channel)
                async for message in pubsub.listen():
                    if message.get("type") != "message":
                        continue
                    hashes = set(json.loads(message["data"]))
                    closed = await registry.close_sessions(hashes)
                    if closed:
                        log.info("ws.sessions_revoked", closed=closed)
        except asyncio.CancelledError:
            raise
        except Exception:  # Redis restarting: the sweep covers the gap; reconnect soon.
            log.warning("revocation.listener_error", exc_info=True)
            await asyncio.sleep(1.0)


async def sweep_once(app: web.Application) -> int:
    """Close sockets whose sessions are no longer live; returns how many closed."""
    registry = app[CONNECTIONS]
    hashes = registry.session_hashes()
    if not hashes:
        return 0
    settings = app[SETTINGS]
    async with app[DB].acquire() as conn:
        # An open socket is activity: it keeps its session from idling out (not past expiry).
        live = {
            r["token_hash"]
            for r in await conn.fetch(
                """UPDATE sessions s SET last_seen_at = now() FROM users u
                    WHERE u.id = s.user_id AND s.token_hash = ANY($1::text[])
                      AND s.revoked_at IS NULL AND s.expires_at > now() AND u.disabled_at IS NULL
                      AND s.last_seen_at > now() - make_interval(mins => $2)
                RETURNING s.token_hash""",
                list(hashes), settings.session_idle_minutes,
            )
        }  # fmt: skip
    return await registry.close_sessions(hashes - live)


async def _sweep(app: web.Application) -> None:
    while True:
        await asyncio.sleep(app[SETTINGS].ws_heartbeat_seconds)
        watch = app.get(OUTAGE_WATCH)
        if watch is not None and watch.down:
            continue  # sockets stay open on their last check until the database is back
        try:
            await sweep_once(app)
        except asyncio.CancelledError:
            raise
        except DATABASE_AWAY:
            log.warning("revocation.sweep_needs_database")
        except Exception:
            log.warning("revocation.sweep_error", exc_info=True)


async def revocation_ctx(app: web.Application) -> AsyncIterator[None]:
    """Cleanup context: run the listener and the sweep; cancel and await them on shutdown."""
    async with running(
        ("revocation-listener", lambda: _listen(app)), ("session-sweep", lambda: _sweep(app))
    ):
        yield
