"""Health, readiness, metrics and the OpenAPI document."""

from __future__ import annotations

import asyncio

from aiohttp import web

from advice_line import openapi
from advice_line.appkeys import DB, DRAINING, METRICS, OUTAGE, OUTAGE_WATCH, REDIS
from advice_line.http import json_response
from advice_line.openapi import api

routes = web.RouteTableDef()


@routes.get("/healthz")
async def healthz(_request: web.Request) -> web.StreamResponse:
    """The process is up and serving (liveness)."""
    return json_response({"status": "ok"})


@routes.get("/readyz")
async def readyz(request: web.Request) -> web.StreamResponse:
    """PostgreSQL and Redis both answer within two seconds, and the node is not draining
    (readiness: whether to send it new connections). With PostgreSQL away the node is still
    ready ("degraded", 200) while it can route new calls without it."""
    if request.app[DRAINING].is_set():
        return json_response({"status": "draining", "checks": {}}, status=503)
    checks: dict[str, str] = {}

    async def database() -> None:
        async with request.app[DB].acquire(timeout=2) as conn:
            await conn.fetchval("SELECT 1")

    async def redis() -> None:
        await request.app[REDIS].ping()

    for name, check in (("postgres", database), ("redis", redis)):
        try:
            await asyncio.wait_for(check(), timeout=2)
            checks[name] = "ok"
        except Exception as exc:  # any failure means not ready; say which
            checks[name] = f"unavailable: {type(exc).__name__}"
    watch = request.app.get(OUTAGE_WATCH)
    if checks["postgres"] == "ok" and watch is not None and watch.down:
        checks["postgres"] = "answering again; this node still routes without it"
    ready = all(v == "ok" for v in checks.values())
    if not ready and checks["redis"] == "ok" and OUTAGE in request.app:
        # PostgreSQL away, Redis here: the node still routes new calls (outage routing) if it
        # has its copy of the database and its spool, so it stays in the balancer.
        if request.app[OUTAGE].ready:
            checks["outage_routing"] = "ok"
            return json_response({"status": "degraded", "checks": checks})
        checks["outage_routing"] = "unavailable: no copy of the database yet"
    return json_response({"status": "ready" if ready else "not ready", "checks": checks},
                         status=200 if ready else 503)  # fmt: skip


@routes.get("/metrics")
async def metrics(request: web.Request) -> web.StreamResponse:
    """Prometheus text exposition format."""
    return web.Response(body=request.app[METRICS].render(),
                        headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"})  # fmt: skip


@routes.get("/api/v1/openapi.json")
@api("This document", tag="meta", authenticated=False)
async def openapi_document(request: web.Request) -> web.StreamResponse:
    return json_response(openapi.build(request.app))
