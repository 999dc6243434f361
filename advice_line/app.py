"""The application factory: the one place where routes and resources are wired.

Each resource has its own cleanup context, entered in order at start-up and left in
reverse order at shutdown: stores (PostgreSQL pool and Redis, embedded servers when no
URLs are configured), then the WebSocket registry (sockets closed with 1001 on the way
out), then background tasks (cancelled and awaited).
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp_jinja2
import jinja2
import structlog
from aiohttp import web

from advice_line import sessions
from advice_line.appkeys import (
    BUS,
    CALLS,
    CATALOGUE,
    CONNECTIONS,
    DB,
    DRAINING,
    ECHO_PEERS,
    KEYS,
    METRICS,
    NODE_ID,
    NURSE_WATCH,
    OUTAGE,
    OUTAGE_WATCH,
    PRESENCE,
    REDIS,
    RESUME,
    ROUTING,
    SENDERS,
    SESSION_CACHE,
    SETTINGS,
    STORE_URLS,
    THROTTLE,
)
from advice_line.background import running
from advice_line.call_relay import CallRelay, ice_config
from advice_line.http import problems, request_context, security_headers, session_middleware
from advice_line.i18n import Catalogue
from advice_line.keepalive import refresh_forever
from advice_line.metrics import Metrics
from advice_line.notify import Senders
from advice_line.nurse_watch import NurseWatch
from advice_line.outage.directory import Directory
from advice_line.outage.router import OutageRouter
from advice_line.outage.spool import Spool
from advice_line.outage.watch import OutageWatch
from advice_line.outbound import register_senders
from advice_line.redis_keys import RedisKeys
from advice_line.revocation import revocation_ctx
from advice_line.routing_engine import RoutingEngine, routing_policy
from advice_line.session_cache import SessionCache
from advice_line.settings import Settings
from advice_line.stores import open_stores
from advice_line.throttle import LoginThrottle
from advice_line.views import (
    admin_api,
    auth_api,
    board_api,
    calendar_api,
    calls_api,
    commitments_api,
    consultations_api,
    episodes_api,
    fees_api,
    pages,
    patients_api,
    precall_api,
    push_api,
    pwa,
    reports_api,
    rota_api,
    system,
)
from advice_line.ws import websocket
from signalling.bus import UserBus
from signalling.echo_peer import EchoPeers
from signalling.presence import Presence
from signalling.registry import ConnectionRegistry
from signalling.resume import ResumeTokens
from signalling.rooms import CallRooms

log = structlog.get_logger("advice_line.app")

WEB_ROOT = Path(__file__).resolve().parent.parent / "web"


async def stores_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    async with open_stores(settings) as (pool, redis, urls):
        app[DB] = pool
        app[REDIS] = redis
        app[STORE_URLS] = {"database": urls.database, "redis": urls.redis}
        app[THROTTLE] = LoginThrottle(redis, app[KEYS], settings)
        app[SESSION_CACHE] = SessionCache(redis, app[KEYS], settings.session_idle_minutes * 60)
        log.info("stores.ready", embedded_postgres=urls.embedded_postgres is not None,
                 embedded_redis=urls.embedded_redis is not None)  # fmt: skip
        yield


async def connections_ctx(app: web.Application) -> AsyncIterator[None]:
    app[CONNECTIONS] = ConnectionRegistry()
    yield
    await app[CONNECTIONS].close_all()


async def routing_ctx(app: web.Application) -> AsyncIterator[None]:
    """Presence, cross-node delivery and the routing engine with its timer loop."""
    settings = app[SETTINGS]
    node = secrets.token_hex(4)
    app[NODE_ID] = node
    # A connection stays "online" for two heartbeats after its last refresh.
    presence = Presence(app[REDIS], app[KEYS].online, node, settings.ws_heartbeat_seconds * 2)
    grace = settings.ws_resume_grace_seconds
    bus = UserBus(
        app[REDIS], app[KEYS].user_channel, app[KEYS].user_channel_pattern, app[CONNECTIONS],
        app[KEYS].user_stream, keep_seconds=grace + settings.ws_heartbeat_seconds * 2,
    )  # fmt: skip
    app[PRESENCE], app[BUS] = presence, bus
    app[RESUME] = tokens = ResumeTokens(app[REDIS], app[KEYS].resume_token, grace)
    live_ms = int(settings.ws_heartbeat_seconds * 2000)
    app[SENDERS] = Senders()
    directory = Directory()  # this node's copy of what routing needs, for a database outage
    register_senders(app, directory)  # Web Push wake-ups; e-mail alerts when SMTP is configured
    fallback = {"da": settings.fallback_text_da, "en": settings.fallback_text_en,
                "phone": settings.fallback_phone}  # fmt: skip
    app[ROUTING] = RoutingEngine(
        app[DB], bus, presence, routing_policy(settings), app[SENDERS], fallback=fallback
    )

    async def refresh_presence() -> None:
        await refresh_forever(
            app[CONNECTIONS], presence, tokens, settings.ws_heartbeat_seconds, live_ms
        )

    app[NURSE_WATCH] = watch = NurseWatch(
        app[REDIS], app[KEYS].nurses_away, presence, app[ROUTING], app[DB], grace
    )
    spool = Spool(settings.data_dir / "spool", node)
    spool.open()
    app[OUTAGE] = outage = OutageRouter(app[ROUTING], app[REDIS], app[KEYS], directory, spool)
    app[ROUTING].outage = outage
    app[OUTAGE_WATCH] = outage_watch = OutageWatch(
        app[DB], outage, app[METRICS], app[STORE_URLS]["database"]
    )
    app[ROUTING].database_down = lambda: outage_watch.down
    try:
        async with running(
            ("user-bus", bus.run),
            ("routing-timers", app[ROUTING].run_timers),
            ("presence-refresh", refresh_presence),
            ("nurse-watch", lambda: watch.run(min(1.0, grace / 4))),
            ("outage-watch", outage_watch.run),
        ):
            yield
        await app[ROUTING].drain()
        await app[SENDERS].drain()
    finally:
        await outage_watch.close()
        spool.close()


async def calls_ctx(app: web.Application) -> AsyncIterator[None]:
    """The WebRTC call relay: told of consultation changes, its memberships kept alive."""
    settings = app[SETTINGS]
    # Like presence: a membership stays for two heartbeats after its last refresh.
    rooms = CallRooms(
        app[REDIS], app[KEYS].call_members, app[NODE_ID], settings.ws_heartbeat_seconds * 2
    )
    app[CALLS] = relay = CallRelay(
        app[DB], rooms, app[BUS], ice_config(settings),
        resume_grace_seconds=settings.ws_resume_grace_seconds,
        redis=app[REDIS], changed_channel=app[KEYS].calls_changed_channel,
    )  # fmt: skip
    app[ROUTING].observers.append(relay.consultation_changed)
    relay.held = app[OUTAGE].store
    relay.database_down = lambda: app[OUTAGE_WATCH].down

    async def refresh() -> None:
        await relay.run_refresh(settings.ws_heartbeat_seconds)

    async with running(("call-refresh", refresh), ("call-changes", relay.run_changes)):
        yield
    await relay.close()


async def echo_ctx(app: web.Application) -> AsyncIterator[None]:
    """The pre-call test's echo peers: every one still running is closed at shutdown."""
    settings = app[SETTINGS]
    app[ECHO_PEERS] = peers = EchoPeers(
        ice_config(settings), settings.echo_max_peers, settings.echo_lifetime_seconds
    )
    yield
    await peers.close_all()


async def session_purge_ctx(app: web.Application) -> AsyncIterator[None]:
    """Delete long-ended sessions once an hour (the audit log keeps the logins)."""

    async def loop() -> None:
        while True:
            try:
                async with app[DB].acquire() as conn:
                    purged = await sessions.purge_expired(conn)
                if purged:
                    log.info("sessions.purged", count=purged)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("sessions.purge_failed", exc_info=True)
            await asyncio.sleep(3600)

    async with running(("session-purge", loop)):
        yield


async def _on_shutdown(app: web.Application) -> None:
    # Runs before cleanup: close sockets first so handlers finish while stores are up.
    await _hand_over_presence(app)
    await app[CONNECTIONS].close_all()


async def _hand_over_presence(app: web.Application) -> None:
    """Keep the users of the closing sockets online while they reconnect elsewhere.

    Closing a socket removes its presence entry, so an advisor moving to another node after
    the 1001 would be offline for a second or two, and a call asked for just then would skip
    her tier. An entry under another member name (the connection id negated) keeps her
    online, as after a crash, until it lapses two heartbeats later; her new connection has
    its own entry by then.
    """
    connections = [(c.user_id, -c.id) for c in app[CONNECTIONS].all()]
    if not connections:
        return
    try:
        await app[PRESENCE].refresh(connections, int(time.time() * 1000))
    except Exception:  # Redis away: presence is rebuilt by the nodes that hold the sockets next
        log.warning("presence.hand_over_failed", exc_info=True)


def create_app(settings: Settings) -> web.Application:
    """Build the application for ``settings``; resources start when the app starts."""
    app = web.Application(
        middlewares=[request_context, security_headers, problems, session_middleware],
        client_max_size=settings.max_body_bytes,
    )
    app[SETTINGS] = settings
    app[METRICS] = Metrics()
    app[DRAINING] = asyncio.Event()  # set by `advice-line serve` on SIGTERM
    app[KEYS] = RedisKeys(settings.redis_key_prefix)
    app[CATALOGUE] = Catalogue.load(WEB_ROOT / "translations", settings.default_language)
    env = aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(str(WEB_ROOT / "templates")),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
        default_helpers=False,
    )
    # Versioned static URLs (?v=<hash>), so browsers never run a stale script after an upgrade.
    env.globals["static"] = lambda name: str(app.router["static"].url_for(filename=name))
    app.cleanup_ctx.extend(
        [stores_ctx, connections_ctx, routing_ctx, calls_ctx, revocation_ctx, session_purge_ctx]
    )
    app.cleanup_ctx.append(echo_ctx)  # left first at shutdown: peers closed before stores
    app.on_shutdown.append(_on_shutdown)
    for table in (
        system.routes,
        auth_api.routes,
        patients_api.routes,
        rota_api.routes,
        calendar_api.routes,
        board_api.routes,
        calls_api.routes,
        commitments_api.routes,
        consultations_api.routes,
        episodes_api.routes,
        fees_api.routes,
        admin_api.routes,
        push_api.routes,
        pwa.routes,
        precall_api.routes,
        reports_api.routes,
        pages.routes,
    ):
        app.router.add_routes(table)
    app.router.add_get("/ws", websocket)
    app.router.add_static("/static/", WEB_ROOT / "static", name="static", append_version=True)
    return app
