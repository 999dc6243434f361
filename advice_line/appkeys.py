"""Typed keys for everything the application object holds, in one place."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import asyncpg
from aiohttp import web
from redis.asyncio import Redis

if TYPE_CHECKING:
    from advice_line.i18n import Catalogue
    from advice_line.metrics import Metrics
    from advice_line.settings import Settings
    from signalling.registry import ConnectionRegistry

SETTINGS: web.AppKey[Settings] = web.AppKey("settings")
DB: web.AppKey[asyncpg.Pool] = web.AppKey("db", asyncpg.Pool)
REDIS: web.AppKey[Redis] = web.AppKey("redis", Redis)
STORE_URLS: web.AppKey[dict[str, str]] = web.AppKey("store_urls", dict)
METRICS: web.AppKey[Metrics] = web.AppKey("metrics")
CATALOGUE: web.AppKey[Catalogue] = web.AppKey("catalogue")
CONNECTIONS: web.AppKey[ConnectionRegistry] = web.AppKey("connections")

if TYPE_CHECKING:
    from advice_line.redis_keys import RedisKeys
    from advice_line.throttle import LoginThrottle

KEYS: web.AppKey[RedisKeys] = web.AppKey("redis_keys")
THROTTLE: web.AppKey[LoginThrottle] = web.AppKey("login_throttle")

if TYPE_CHECKING:
    from advice_line.sessions import Session

#: Per-request values set by the middlewares.
REQUEST_ID: web.RequestKey[str] = web.RequestKey("request_id", str)
SESSION: web.RequestKey[Session | None] = web.RequestKey("session")

if TYPE_CHECKING:
    from advice_line.notify import Senders
    from advice_line.routing_engine import RoutingEngine
    from signalling.bus import UserBus
    from signalling.presence import Presence

ROUTING: web.AppKey[RoutingEngine] = web.AppKey("routing")
PRESENCE: web.AppKey[Presence] = web.AppKey("presence")
BUS: web.AppKey[UserBus] = web.AppKey("bus")
SENDERS: web.AppKey[Senders] = web.AppKey("senders")
NODE_ID: web.AppKey[str] = web.AppKey("node_id", str)

if TYPE_CHECKING:
    from advice_line.outage.router import OutageRouter
    from advice_line.outage.watch import OutageWatch
    from advice_line.session_cache import SessionCache

OUTAGE: web.AppKey[OutageRouter] = web.AppKey("outage")
OUTAGE_WATCH: web.AppKey[OutageWatch] = web.AppKey("outage_watch")
SESSION_CACHE: web.AppKey[SessionCache] = web.AppKey("session_cache")

if TYPE_CHECKING:
    from advice_line.web_push import WebPush

WEB_PUSH: web.AppKey[WebPush] = web.AppKey("web_push")

if TYPE_CHECKING:
    from advice_line.call_relay import CallRelay

CALLS: web.AppKey[CallRelay] = web.AppKey("calls")

if TYPE_CHECKING:
    from signalling.resume import ResumeTokens

RESUME: web.AppKey[ResumeTokens] = web.AppKey("resume_tokens")

if TYPE_CHECKING:
    from advice_line.nurse_watch import NurseWatch

NURSE_WATCH: web.AppKey[NurseWatch] = web.AppKey("nurse_watch")

if TYPE_CHECKING:
    from signalling.echo_peer import EchoPeers

#: The pre-call test's echo peers on this node (closed by a cleanup context at shutdown).
ECHO_PEERS: web.AppKey[EchoPeers] = web.AppKey("echo_peers")

#: Set when the node begins to shut down (``advice-line serve`` on SIGTERM): from then on
#: ``/readyz`` answers 503, so load balancers send it no new connections, while the calls it
#: holds go on until their sockets are closed with 1001 (docs/operations.md, "Draining").
DRAINING: web.AppKey[asyncio.Event] = web.AppKey("draining", asyncio.Event)
