"""Login, logout, the caller's own account, and TOTP enrolment."""

from __future__ import annotations

from aiohttp import web

from advice_line import audit, sessions, totp, users
from advice_line.appkeys import (
    DB,
    KEYS,
    METRICS,
    OUTAGE,
    REDIS,
    REQUEST_ID,
    SESSION_CACHE,
    SETTINGS,
    THROTTLE,
)
from advice_line.db import DATABASE_AWAY
from advice_line.http import actor, client_address, current_session, json_response, read_json
from advice_line.openapi import api
from advice_line.passwords import hash_password, needs_rehash, verify_password
from advice_line.problems import Problem, conflict, forbidden, invalid
from advice_line.revocation import publish_revoked
from advice_line.validation import Field

LOGIN_SCHEMA = {
    "username": Field("str", required=True, min_length=1, max_length=63),
    "password": Field("str", required=True, min_length=1, max_length=256),
    "totp": Field("str", max_length=6, pattern=r"\d{6}"),
}
CODE_SCHEMA = {"code": Field("str", required=True, min_length=6, max_length=6, pattern=r"\d{6}")}
ME_SCHEMA = {"language": Field("enum", required=True, choices=("da", "en"))}
PASSWORD_SCHEMA = {
    "current_password": Field("str", required=True, min_length=1, max_length=256),
    "new_password": Field("str", required=True, min_length=1, max_length=256),
}

routes = web.RouteTableDef()


def _bad_login() -> Problem:
    return Problem(401, "login-failed", "Login failed", "wrong username or password")


def set_session_cookie(request: web.Request, response: web.StreamResponse, token: str) -> None:
    settings = request.app[SETTINGS]
    response.set_cookie(
        sessions.COOKIE_NAME, token, httponly=True, samesite="Lax", secure=settings.cookie_secure,
        path="/", max_age=settings.session_max_hours * 3600,
    )  # fmt: skip


@routes.post("/api/v1/auth/login")
@api(
    "Log in; sets the session cookie and returns the CSRF token",
    tag="auth",
    request=LOGIN_SCHEMA,
    authenticated=False,
    responses={200: "Logged in", 401: "Wrong credentials or TOTP code needed", 429: "Throttled"},
)
async def login(request: web.Request) -> web.StreamResponse:
    body = await read_json(request, LOGIN_SCHEMA)
    username = body["username"].lower()
    address = client_address(request)
    throttle = request.app[THROTTLE]
    metrics = request.app[METRICS]
    await throttle.check(username, address)
    async with request.app[DB].acquire() as conn:
        user = await users.by_username(conn, username)
        ok = verify_password(user["password_hash"] if user else None, body["password"])
        if not ok or user is None or user["disabled_at"] is not None:
            await throttle.failed(username, address)
            metrics.logins.labels("failed").inc()
            raise _bad_login()
        if user["totp_enabled"]:
            code = body.get("totp")
            if not code:
                raise Problem(
                    401, "totp-required", "Second factor needed", "enter the 6-digit code"
                )
            if not await totp.verify(
                request.app[REDIS], request.app[KEYS], user["id"], user["totp_secret"], code
            ):
                await throttle.failed(username, address)
                metrics.logins.labels("failed").inc()
                raise Problem(
                    401,
                    "totp-invalid",
                    "Wrong code",
                    "the 6-digit code is wrong or was used already",
                )
        await throttle.succeeded(username)
        async with conn.transaction():
            if needs_rehash(user["password_hash"]):
                await conn.execute("UPDATE users SET password_hash = $2 WHERE id = $1", user["id"],
                                   hash_password(body["password"]))  # fmt: skip
            token, csrf = await sessions.create(
                conn,
                user["id"],
                request.app[SETTINGS],
                ip=address,
                user_agent=request.headers.get("User-Agent"),
            )
            who = audit.Actor(user["id"], user["username"], address, request.get(REQUEST_ID))
            await audit.record(conn, who, "auth.login", "user", user["id"], "login")
            session = await sessions.load(conn, token, request.app[SETTINGS])
    assert session is not None
    await request.app[SESSION_CACHE].remember(session)  # signed in through a database outage
    metrics.logins.labels("ok").inc()
    response = json_response({
        "user": session.user.public(), "csrf_token": csrf,
        "totp_enrolment_required": session.user.must_enrol_totp,
    })  # fmt: skip
    set_session_cookie(request, response, token)
    return response


@routes.post("/api/v1/auth/logout")
@api(
    "Log out: ends the session everywhere, WebSockets included",
    tag="auth",
    responses={204: "Logged out"},
)
async def logout(request: web.Request) -> web.StreamResponse:
    session = current_session(request, allow_pending_totp=True)
    # Ended in the session cache first: a logout holds even while the database is away.
    await request.app[SESSION_CACHE].forget([session.token_hash])
    try:
        async with request.app[DB].acquire() as conn, conn.transaction():
            await sessions.revoke(conn, session.token_hash)
            await audit.record(conn, actor(request), "auth.logout", "user", session.user.id,
                               "logout")  # fmt: skip
    except DATABASE_AWAY:  # ended in the database (and audited) at the outage's hand back
        await request.app[OUTAGE].note_logout(session, actor(request))
    await publish_revoked(request.app, [session.token_hash])
    response = web.Response(status=204)
    response.del_cookie(sessions.COOKIE_NAME, path="/")
    return response


@routes.get("/api/v1/auth/me")
@api("The signed-in user and the CSRF token", tag="auth")
async def me(request: web.Request) -> web.StreamResponse:
    session = current_session(request, allow_pending_totp=True)
    return json_response({"user": session.user.public(), "csrf_token": session.csrf_token,
                          "totp_enrolment_required": session.user.must_enrol_totp})  # fmt: skip


@routes.patch("/api/v1/auth/me")
@api("Change one's own preferences (language)", tag="auth", request=ME_SCHEMA)
async def update_me(request: web.Request) -> web.StreamResponse:
    session = current_session(request, allow_pending_totp=True)
    body = await read_json(request, ME_SCHEMA)
    async with request.app[DB].acquire() as conn:
        user = await users.update(conn, actor(request), session.user.id, body)
    return json_response({"user": user})


@routes.post("/api/v1/auth/password")
@api(
    "Change one's own password; ends one's other sessions",
    tag="auth",
    request=PASSWORD_SCHEMA,
    responses={204: "Changed", 422: "Wrong current password or weak new one", 429: "Throttled"},
)
async def change_password(request: web.Request) -> web.StreamResponse:
    session = current_session(request, allow_pending_totp=True)
    body = await read_json(request, PASSWORD_SCHEMA)
    throttle = request.app[THROTTLE]
    address = client_address(request)
    await throttle.check(session.user.username, address)
    async with request.app[DB].acquire() as conn:
        stored = await conn.fetchval(
            "SELECT password_hash FROM users WHERE id = $1", session.user.id
        )
        if not verify_password(stored, body["current_password"]):
            await throttle.failed(session.user.username, address)
            raise invalid(
                [
                    {
                        "field": "current_password",
                        "code": "wrong_password",
                        "message": "wrong password",
                    }
                ]
            )
        ended = await users.set_password(
            conn, actor(request), session.user.id, body["new_password"],
            field="new_password", keep_session=session.token_hash,
        )  # fmt: skip
    await publish_revoked(request.app, ended)
    return web.Response(status=204)


@routes.post("/api/v1/auth/totp")
@api(
    "Start TOTP enrolment: returns a new secret and its otpauth:// URI",
    tag="auth",
    responses={200: "Secret issued", 409: "Already enrolled"},
)
async def totp_start(request: web.Request) -> web.StreamResponse:
    session = current_session(request, allow_pending_totp=True)
    if session.user.totp_enabled:
        raise conflict("a second factor is enrolled already; remove it first")
    secret = totp.new_secret()
    async with request.app[DB].acquire() as conn:
        await conn.execute(
            "UPDATE users SET totp_secret = $2 WHERE id = $1", session.user.id, secret
        )
    return json_response(
        {"secret": secret, "otpauth_uri": totp.provisioning_uri(secret, session.user.username)}
    )


@routes.post("/api/v1/auth/totp/confirm")
@api(
    "Confirm TOTP enrolment with a code from the authenticator app",
    tag="auth",
    request=CODE_SCHEMA,
    responses={200: "Enrolled", 422: "Wrong code"},
)
async def totp_confirm(request: web.Request) -> web.StreamResponse:
    session = current_session(request, allow_pending_totp=True)
    body = await read_json(request, CODE_SCHEMA)
    async with request.app[DB].acquire() as conn, conn.transaction():
        row = await conn.fetchrow("SELECT totp_secret, totp_enabled FROM users WHERE id = $1 FOR UPDATE",
                                  session.user.id)  # fmt: skip
        if row["totp_enabled"]:
            raise conflict("a second factor is enrolled already")
        if not row["totp_secret"]:
            raise conflict("start enrolment first (POST /api/v1/auth/totp)")
        if not await totp.verify(
            request.app[REDIS], request.app[KEYS], session.user.id, row["totp_secret"], body["code"]
        ):
            raise Problem(422, "validation", "The request has invalid fields",
                          errors=[{"field": "code", "code": "wrong_code", "message": "wrong code"}])  # fmt: skip
        await conn.execute("UPDATE users SET totp_enabled = true WHERE id = $1", session.user.id)
        await audit.record(
            conn, actor(request), "auth.totp_enrolled", "user", session.user.id, "security"
        )
    return json_response({"totp_enabled": True})


@routes.delete("/api/v1/auth/totp")
@api(
    "Remove one's second factor (needs a current code; refused where the role requires one)",
    tag="auth",
    request=CODE_SCHEMA,
    responses={204: "Removed"},
)
async def totp_remove(request: web.Request) -> web.StreamResponse:
    session = current_session(request)
    if session.user.totp_required:
        raise forbidden("your role requires a second factor")
    body = await read_json(request, CODE_SCHEMA)
    async with request.app[DB].acquire() as conn, conn.transaction():
        secret = await conn.fetchval("SELECT totp_secret FROM users WHERE id = $1 AND totp_enabled",
                                     session.user.id)  # fmt: skip
        if not secret:
            raise conflict("no second factor is enrolled")
        if not await totp.verify(
            request.app[REDIS], request.app[KEYS], session.user.id, secret, body["code"]
        ):
            raise Problem(422, "validation", "The request has invalid fields",
                          errors=[{"field": "code", "code": "wrong_code", "message": "wrong code"}])  # fmt: skip
        await conn.execute("UPDATE users SET totp_enabled = false, totp_secret = NULL WHERE id = $1",
                           session.user.id)  # fmt: skip
        await audit.record(
            conn, actor(request), "auth.totp_removed", "user", session.user.id, "security"
        )
    return web.Response(status=204)
