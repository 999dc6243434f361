"""Middlewares and request helpers shared by every view.

Order (outermost first): request context (id, log, metrics), security headers, problems
(errors as problem+json or an error page), session (who is calling, CSRF, Origin).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

import structlog
from aiohttp import web
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from advice_line import sessions
from advice_line.appkeys import (
    DB,
    METRICS,
    OUTAGE_WATCH,
    REQUEST_ID,
    SESSION,
    SESSION_CACHE,
    SETTINGS,
)  # fmt: skip
from advice_line.audit import Actor
from advice_line.db import DATABASE_AWAY
from advice_line.problems import (
    Problem,
    bad_request,
    forbidden,
    from_http_error,
    invalid,
    problem_response,
    unauthenticated,
)
from advice_line.validation import Field, ValidationFailed, validate

log = structlog.get_logger("advice_line.http")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
_UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Logging in again over a stale session needs no CSRF token (the Origin check still applies).
_CSRF_EXEMPT = frozenset({"/api/v1/auth/login"})
_CSP = (
    "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; "
    "connect-src 'self' ws: wss:; style-src 'self'; script-src 'self'; "
    # The advisor console's service worker (/sw.js) and web app manifest: our own only.
    "worker-src 'self'; manifest-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)


def route_name(request: web.Request) -> str:
    """The route template (``/api/v1/patients/{id}``), never the raw path, for logs and metrics."""
    resource = request.match_info.route.resource
    if resource is None:
        return "unmatched"
    return resource.canonical


def client_address(request: web.Request) -> str:
    if request.app[SETTINGS].trust_proxy_headers:
        forwarded = request.headers.get("X-Forwarded-For", "")
        if forwarded:
            return forwarded.split(",")[0].strip()[:64]
    return request.remote or "unknown"


@web.middleware
async def request_context(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Bind a request id to logs, time the request, count it."""
    incoming = request.headers.get("X-Request-ID", "")
    request_id = incoming if _REQUEST_ID.match(incoming) else secrets.token_hex(8)
    request[REQUEST_ID] = request_id
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(request_id=request_id)
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        response.headers["X-Request-ID"] = request_id
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        elapsed = time.perf_counter() - started
        route = route_name(request)
        metrics = request.app[METRICS]
        metrics.requests.labels(request.method, route, str(status)).inc()
        metrics.latency.labels(request.method, route).observe(elapsed)
        log.info("http.request", method=request.method, route=route, status=status,
                 duration_ms=round(elapsed * 1000, 2))  # fmt: skip


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    response = await handler(request)
    if not response.prepared:
        headers = response.headers
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Referrer-Policy", "same-origin")
        headers.setdefault("Content-Security-Policy", _CSP)
        headers.setdefault("Permissions-Policy", "camera=(self), microphone=(self), geolocation=()")
        if request.path.startswith("/api/") or "text/html" in headers.get("Content-Type", ""):
            headers.setdefault("Cache-Control", "no-store")
        elif request.path.startswith("/static/"):
            # Revalidate every time (a cheap 304): after an upgrade nobody runs stale scripts.
            headers.setdefault("Cache-Control", "no-cache")
    return response


def _wants_problem(request: web.Request) -> bool:
    return request.path.startswith("/api/") or "text/html" not in request.headers.get("Accept", "")


#: What a request fails with while a store cannot be reached (not a programming error).
UNREACHABLE = (*DATABASE_AWAY, RedisConnectionError, RedisTimeoutError)


@web.middleware
async def problems(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn errors into RFC 9457 problem+json for the API and into an error page for people."""
    try:
        return await handler(request)
    except Problem as problem:
        return await _render_problem(request, problem)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return await _render_problem(request, from_http_error(exc))
    except ValidationFailed as exc:
        return await _render_problem(request, invalid(exc.errors))
    except UNREACHABLE:
        # A store cannot be reached (PostgreSQL failing over, Redis restarting): nothing was
        # stored, and the same request may succeed in a moment.
        log.warning("http.store_unreachable", route=route_name(request), exc_info=True)
        unavailable = Problem(
            503, "unavailable", "Service briefly unavailable",
            "a database cannot be reached right now; try again shortly",
            headers={"Retry-After": "5"},
        )  # fmt: skip
        return await _render_problem(request, unavailable)
    except Exception:
        log.exception("http.unhandled_error", route=route_name(request))
        return await _render_problem(
            request, Problem(500, "server-error", "Internal error", "the error has been logged")
        )


async def _render_problem(request: web.Request, problem: Problem) -> web.StreamResponse:
    if _wants_problem(request):
        return problem_response(problem, request.path)
    from advice_line.views.pages import error_page  # the page layer depends on this module

    return await error_page(request, problem)


def same_origin(request: web.Request, origin: str) -> bool:
    """Whether an Origin header names this service (its public origin, or the Host it was asked as)."""
    public = request.app[SETTINGS].public_origin
    if public and origin == public:
        return True
    parts = urlsplit(origin)
    return bool(parts.netloc) and parts.netloc == request.host


@web.middleware
async def session_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Attach the caller's session (or None); enforce Origin and CSRF on state changes."""
    token = request.cookies.get(sessions.COOKIE_NAME, "")
    session = await _load_session(request.app, token) if token else None
    request[SESSION] = session
    if session is not None:
        structlog.contextvars.bind_contextvars(user_id=session.user.id)
    if request.method in _UNSAFE:
        origin = request.headers.get("Origin")
        if origin is not None and not same_origin(request, origin):
            raise forbidden("cross-origin request refused")
        if (
            session is not None
            and request.path not in _CSRF_EXEMPT
            and not _csrf_ok(request, session)
        ):
            raise Problem(403, "csrf", "CSRF token missing or wrong",
                          "send the csrf_token from login as the X-CSRF-Token header")  # fmt: skip
    return await handler(request)


async def _load_session(app: web.Application, token: str) -> sessions.Session | None:
    """The live session for a cookie token; while PostgreSQL is away, the session as it was
    last read there (kept in Redis for its idle time), so people stay signed in."""
    watch = app.get(OUTAGE_WATCH)
    if watch is None or not watch.down:
        try:
            async with app[DB].acquire() as conn:
                session = await sessions.load(conn, token, app[SETTINGS])
        except DATABASE_AWAY:
            if watch is None:
                raise
            watch.note_failure()
        else:
            if session is not None and SESSION_CACHE in app:
                await app[SESSION_CACHE].remember(session)
            return session
    return await app[SESSION_CACHE].recall(token) if SESSION_CACHE in app else None


def _csrf_ok(request: web.Request, session: sessions.Session) -> bool:
    sent = request.headers.get("X-CSRF-Token", "")
    return bool(sent) and secrets.compare_digest(sent, session.csrf_token)


def current_session(request: web.Request, *, allow_pending_totp: bool = False) -> sessions.Session:
    """The caller's session, or 401; a user who must still enrol TOTP may only do that."""
    session: sessions.Session | None = request.get(SESSION)
    if session is None:
        raise unauthenticated()
    if session.user.must_enrol_totp and not allow_pending_totp:
        raise Problem(403, "totp-enrolment-required", "Second factor required",
                      "your role requires a second factor: enrol one at /api/v1/auth/totp")  # fmt: skip
    return session


def require_role(request: web.Request, *roles: str) -> sessions.SessionUser:
    """The caller, if their role is one of ``roles``; 401 or 403 otherwise."""
    user = current_session(request).user
    if roles and user.role not in roles:
        raise forbidden("your role may not do this")
    return user


def actor(request: web.Request) -> Actor:
    session: sessions.Session | None = request.get(SESSION)
    return Actor(
        user_id=session.user.id if session else None,
        username=session.user.username if session else "anonymous",
        ip=client_address(request),
        request_id=request.get(REQUEST_ID),
    )


async def read_json(
    request: web.Request, schema: Mapping[str, Field], *, partial: bool = False
) -> dict[str, Any]:
    """The request's JSON body, validated strictly against ``schema`` (4xx on any problem)."""
    if request.content_type != "application/json":
        raise Problem(415, "unsupported-media-type", "Unsupported media type",
                      "send the body as application/json")  # fmt: skip
    raw = await request.read()  # aiohttp enforces client_max_size: 413 beyond it
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise bad_request("the body is not valid JSON") from None
    return validate(schema, data, partial=partial)


def int_param(request: web.Request, name: str) -> int:
    """A positive integer path parameter; 404 if it is not one (so ids cannot be probed)."""
    raw = request.match_info.get(name, "")
    if not raw.isdigit() or len(raw) > 18:
        raise Problem(404, "not-found", "Not found", f"no such {name}")
    return int(raw)


def query_instant(request: web.Request, name: str) -> dt.datetime | None:
    """An RFC 3339 instant from the query string (in UTC), None if absent; 400 if malformed."""
    raw = request.query.get(name)
    if raw is None:
        return None
    try:
        value = dt.datetime.fromisoformat(raw.replace("z", "Z"))
    except ValueError:
        raise bad_request(f"{name} must be an RFC 3339 date-time with an offset") from None
    if value.tzinfo is None:
        raise bad_request(f"{name} must include a time-zone offset")
    return value.astimezone(dt.UTC)


def json_response(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=_dumps)


def _dumps(data: Any) -> str:
    return json.dumps(data, default=_default, ensure_ascii=False)


def _default(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
