"""REST for Web Push: the VAPID key, subscribing a browser, unsubscribing, a test push."""

from __future__ import annotations

import ipaddress
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import ec

from advice_line import audit, push_subscriptions
from advice_line.appkeys import DB, SETTINGS, WEB_PUSH
from advice_line.http import actor, current_session, json_response, read_json, require_role
from advice_line.openapi import api
from advice_line.problems import invalid
from advice_line.push_keys import b64url_decode
from advice_line.roles import Role
from advice_line.validation import Field, FieldError

routes = web.RouteTableDef()

ENDPOINT = Field("str", required=True, min_length=1, max_length=2048)
SUBSCRIBE_SCHEMA = {
    "endpoint": ENDPOINT,
    "keys": Field("object", required=True, schema={
        "p256dh": Field("str", required=True, min_length=1, max_length=200),
        "auth": Field("str", required=True, min_length=1, max_length=100),
    }),
    # Sent by PushSubscription.toJSON(); accepted so the browser's object can be posted as is.
    "expirationTime": Field("int", nullable=True, minimum=0),
}  # fmt: skip
UNSUBSCRIBE_SCHEMA = {"endpoint": ENDPOINT}

#: Where plain http is allowed for a push service: a local one in tests and development.
_LOCAL_HTTP = frozenset({"127.0.0.1"})


def endpoint_problem(endpoint: str, environment: str) -> str | None:
    """Why ``endpoint`` is not acceptable as a push service URL, or None."""
    try:
        parts = urlsplit(endpoint)
        host = parts.hostname
        parts.port  # noqa: B018 (raises ValueError on a bad port)
    except ValueError:
        return "must be a URL"
    if not host or parts.username or parts.password or parts.fragment:
        return "must be an https:// URL of a push service"
    if parts.scheme == "http" and host in _LOCAL_HTTP and environment in {"test", "development"}:
        return None
    if parts.scheme != "https":
        return "must be an https:// URL"
    if environment == "production" and _is_address_or_local(host):
        return "must name a push service by its host name"
    return None


def _is_address_or_local(host: str) -> bool:
    if host == "localhost" or host.endswith((".localhost", ".local", ".internal")):
        return True
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def keys_problems(keys: dict[str, str]) -> list[FieldError]:
    """The browser's P-256 public key must be a point on the curve; the secret 16 bytes."""
    errors: list[FieldError] = []
    try:
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b64url_decode(keys["p256dh"]))
        if b64url_decode(keys["p256dh"])[0] != 4:
            raise ValueError("compressed")
    except ValueError:
        message = "must be an uncompressed P-256 public key, base64url (65 bytes)"
        errors.append({"field": "keys.p256dh", "message": message})
    try:
        secret_ok = len(b64url_decode(keys["auth"])) == 16
    except ValueError:
        secret_ok = False
    if not secret_ok:
        errors.append({"field": "keys.auth", "message": "must be 16 bytes, base64url"})
    return errors


def _check_subscription(body: dict[str, Any], environment: str) -> None:
    errors = keys_problems(body["keys"])
    problem = endpoint_problem(body["endpoint"], environment)
    if problem:
        errors.insert(0, {"field": "endpoint", "message": problem})
    if errors:
        raise invalid(errors)


@routes.get("/api/v1/push/key")
@api("The service's VAPID public key (base64url), for PushManager.subscribe", tag="push")
async def public_key(request: web.Request) -> web.StreamResponse:
    current_session(request)
    return json_response({"public_key": request.app[WEB_PUSH].public_key})


@routes.post("/api/v1/push/subscriptions")
@api("Let this browser be woken for calls (advisors): store its push subscription",
     tag="push", request=SUBSCRIBE_SCHEMA,
     responses={201: "Stored", 200: "Already known: updated", 422: "Not a usable subscription"})  # fmt: skip
async def subscribe(request: web.Request) -> web.StreamResponse:
    user = require_role(request, Role.ADVISOR)
    body = await read_json(request, SUBSCRIBE_SCHEMA)
    _check_subscription(body, request.app[SETTINGS].environment)
    user_agent = request.headers.get("User-Agent", "")[:300] or None
    async with request.app[DB].acquire() as conn, conn.transaction():
        row, created = await push_subscriptions.upsert(
            conn, user.id, body["endpoint"], body["keys"]["p256dh"], body["keys"]["auth"],
            user_agent,
        )  # fmt: skip
        service = push_subscriptions.push_service(body["endpoint"])
        await audit.record(conn, actor(request), "push.subscribed", "push_subscription",
                           row["id"], "wake-up notifications on a device",
                           details={"push_service": service, "created": created})  # fmt: skip
    return json_response(
        {"subscription": {**row, "push_service": service}}, status=201 if created else 200
    )


@routes.delete("/api/v1/push/subscriptions")
@api("Stop waking this browser: delete one's own subscription for an endpoint", tag="push",
     request=UNSUBSCRIBE_SCHEMA, responses={200: "Removed (or there was none)"})  # fmt: skip
async def unsubscribe(request: web.Request) -> web.StreamResponse:
    user = current_session(request).user
    body = await read_json(request, UNSUBSCRIBE_SCHEMA)
    async with request.app[DB].acquire() as conn, conn.transaction():
        removed = await push_subscriptions.delete_own(conn, user.id, body["endpoint"])
        if removed is not None:
            await audit.record(conn, actor(request), "push.unsubscribed", "push_subscription",
                               removed, "wake-up notifications on a device",
                               details={"push_service": push_subscriptions.push_service(
                                   body["endpoint"])})  # fmt: skip
    return json_response({"removed": removed is not None})


@routes.post("/api/v1/push/test")
@api("Send a test notification to each of one's own subscribed devices", tag="push",
     responses={200: "How many were delivered, removed (gone) and failed"})  # fmt: skip
async def send_test(request: web.Request) -> web.StreamResponse:
    user = current_session(request).user
    tally = await request.app[WEB_PUSH].send_trial(user.id)
    return json_response(tally.as_dict())
