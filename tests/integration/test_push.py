"""Web Push against a real local push service: subscribe, wake, decrypt, verify VAPID, expire.

The push service is an aiohttp server on 127.0.0.1 that records what it is sent. The test
plays the browser: it makes its own P-256 key pair and auth secret, subscribes with them,
and decrypts what arrives (RFC 8291, aes128gcm) with http_ece, as a browser would.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import stat
import time
from dataclasses import dataclass, field
from typing import Any

import http_ece
import pytest
from aiohttp import web
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from multidict import CIMultiDict

from advice_line import push_keys
from advice_line.app import create_app
from advice_line.appkeys import SENDERS, WEB_PUSH
from advice_line.notify import Notice, RecordingSender
from advice_line.web_push import PushFailed
from tests.conftest import login
from tests.integration.routing_helpers import Person, on_duty_always


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Received:
    token: str
    headers: CIMultiDict[str]
    body: bytes


@dataclass
class PushService:
    """A push service on 127.0.0.1: records each push; answers 201 unless told otherwise."""

    base: str
    received: list[Received] = field(default_factory=list)
    answers: dict[str, int] = field(default_factory=dict)

    def endpoint(self, token: str) -> str:
        return f"{self.base}/push/{token}"

    async def wait_for(self, count: int, within: float = 5.0) -> list[Received]:
        deadline = asyncio.get_running_loop().time() + within
        while len(self.received) < count:
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"{len(self.received)} pushes arrived, not {count}")
            await asyncio.sleep(0.02)
        return self.received


@pytest.fixture
async def push_service(aiohttp_server) -> PushService:
    service: PushService

    async def receive(request: web.Request) -> web.Response:
        token = request.match_info["token"]
        service.received.append(Received(token, request.headers.copy(), await request.read()))
        return web.Response(status=service.answers.get(token, 201))

    app = web.Application()
    app.router.add_post("/push/{token}", receive)
    server = await aiohttp_server(app)
    service = PushService(str(server.make_url("")).rstrip("/"))
    return service


@dataclass
class Browser:
    """A browser's side of a subscription: its own key pair and auth secret."""

    endpoint: str
    key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    auth: bytes = field(default_factory=lambda: os.urandom(16))

    def subscription(self) -> dict[str, Any]:
        """As ``PushSubscription.toJSON()`` gives it."""
        point = self.key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return {"endpoint": self.endpoint, "expirationTime": None,
                "keys": {"p256dh": b64url(point), "auth": b64url(self.auth)}}  # fmt: skip

    def decrypt(self, body: bytes) -> dict[str, Any]:
        plain = http_ece.decrypt(
            body, private_key=self.key, auth_secret=self.auth, version="aes128gcm"
        )
        return json.loads(plain)


def verify_vapid(authorization: str, public_key: str) -> dict[str, Any]:
    """Check an RFC 8292 ``vapid t=..., k=...`` header independently; return the JWT claims."""
    scheme, _, params = authorization.partition(" ")
    assert scheme == "vapid"
    parts = dict(p.strip().split("=", 1) for p in params.split(","))
    assert parts["k"] == public_key
    signing_input, _, signature = parts["t"].rpartition(".")
    header = json.loads(unb64url(signing_input.split(".")[0]))
    assert header == {"typ": "JWT", "alg": "ES256"}
    raw = unb64url(signature)
    assert len(raw) == 64
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64url(parts["k"]))
    key.verify(der, signing_input.encode(), ec.ECDSA(hashes.SHA256()))  # raises if forged
    return json.loads(unb64url(signing_input.split(".")[1]))


async def subscribe(client, browser: Browser) -> Any:
    return await client.post("/api/v1/push/subscriptions", json=browser.subscription())


async def server_key(client) -> str:
    response = await client.get("/api/v1/push/key")
    assert response.status == 200
    return (await response.json())["public_key"]


# The API ---------------------------------------------------------------------------------


async def test_an_advisor_subscribes_and_a_wake_arrives_encrypted_and_signed(
    client, login_as, db, push_service
):
    advisor = await login_as("advisor", tier="gp")
    browser = Browser(push_service.endpoint("phone"))
    response = await subscribe(client, browser)
    assert response.status == 201, await response.text()
    assert (await response.json())["subscription"]["push_service"] == "127.0.0.1"
    public_key = await server_key(client)

    await client.app[WEB_PUSH].push_wake(
        Notice("wake", advisor["id"], {"consultation_id": 42, "tier": 2})
    )

    (push,) = await push_service.wait_for(1)
    assert push.token == "phone"
    assert push.headers["Content-Encoding"] == "aes128gcm"
    assert push.headers["TTL"] == "60"
    assert push.headers["Urgency"] == "high"
    message = browser.decrypt(push.body)
    assert message["type"] == "wake"
    assert message["consultation_id"] == 42
    assert message["tier"] == "gp"
    assert "læge" in message["body"] and message["title"].startswith("Rådgivningslinjen")
    claims = verify_vapid(push.headers["Authorization"], public_key)
    assert claims["aud"] == push_service.base
    assert claims["sub"] == "mailto:drift@advice-line.dk"
    assert time.time() < claims["exp"] <= time.time() + 24 * 3600
    row = await db.fetchrow("SELECT * FROM push_subscriptions WHERE user_id = $1", advisor["id"])
    assert row["last_success_at"] is not None and row["failures"] == 0


async def test_subscribing_is_audited_and_again_updates_the_same_row(
    client, login_as, db, push_service
):
    advisor = await login_as("advisor")
    browser = Browser(push_service.endpoint("laptop"))
    assert (await subscribe(client, browser)).status == 201
    browser.auth = os.urandom(16)  # the browser renewed its subscription's keys
    again = await subscribe(client, browser)
    assert again.status == 200
    rows = await db.fetch("SELECT * FROM push_subscriptions")
    assert len(rows) == 1 and rows[0]["user_id"] == advisor["id"]
    assert rows[0]["auth"] == b64url(browser.auth)
    assert rows[0]["user_agent"]  # the client's User-Agent, to tell devices apart
    audits = await db.fetch("SELECT * FROM audit_log WHERE action = 'push.subscribed'")
    assert [a["actor_id"] for a in audits] == [advisor["id"], advisor["id"]]
    assert "laptop" not in json.dumps([dict(a["details"]) for a in audits])  # no capability URL


async def test_a_test_notification_reaches_ones_own_devices(client, login_as, push_service):
    await login_as("advisor")
    phone, laptop = Browser(push_service.endpoint("phone")), Browser(push_service.endpoint("pc"))
    for browser in (phone, laptop):
        assert (await subscribe(client, browser)).status == 201
    response = await client.post("/api/v1/push/test")
    assert response.status == 200
    assert await response.json() == {"delivered": 2, "removed": 0, "failed": 0}
    received = {r.token: r for r in await push_service.wait_for(2)}
    assert phone.decrypt(received["phone"].body)["type"] == "test"
    assert laptop.decrypt(received["pc"].body)["type"] == "test"


async def test_a_user_without_devices_gets_zero_delivered(client, login_as):
    await login_as("nurse")
    response = await client.post("/api/v1/push/test")
    assert await response.json() == {"delivered": 0, "removed": 0, "failed": 0}


async def test_unsubscribing_removes_only_ones_own(client, db, push_service, make_user):
    owner, other = await make_user("advisor"), await make_user("advisor")
    browser = Browser(push_service.endpoint("phone"))
    await login(client, owner["username"])
    assert (await subscribe(client, browser)).status == 201
    body = {"endpoint": browser.endpoint}
    await login(client, other["username"])
    response = await client.delete("/api/v1/push/subscriptions", json=body)
    assert await response.json() == {"removed": False}
    assert await db.fetchval("SELECT count(*) FROM push_subscriptions") == 1
    await login(client, owner["username"])
    response = await client.delete("/api/v1/push/subscriptions", json=body)
    assert await response.json() == {"removed": True}
    assert await db.fetchval("SELECT count(*) FROM push_subscriptions") == 0
    audits = await db.fetch("SELECT actor_id FROM audit_log WHERE action = 'push.unsubscribed'")
    assert [a["actor_id"] for a in audits] == [owner["id"]]


def _bad_subscriptions(service_base: str) -> dict[str, tuple[dict[str, Any], set[str]]]:
    good = Browser(f"{service_base}/push/x").subscription()
    not_on_curve = b64url(b"\x04" + b"\x01" * 64)
    compressed = b64url(
        ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint
        )
    )  # fmt: skip
    return {
        "plain http elsewhere": ({**good, "endpoint": "http://push.example.com/x"}, {"endpoint"}),
        "not a url": ({**good, "endpoint": "push service"}, {"endpoint"}),
        "ftp": ({**good, "endpoint": "ftp://push.example.com/x"}, {"endpoint"}),
        "credentials in url": ({**good, "endpoint": "https://a:b@push.example.com/x"}, {"endpoint"}),
        "point not on the curve": ({**good, "keys": {**good["keys"], "p256dh": not_on_curve}},
                                   {"keys.p256dh"}),
        "compressed point": ({**good, "keys": {**good["keys"], "p256dh": compressed}},
                             {"keys.p256dh"}),
        "key not base64url": ({**good, "keys": {**good["keys"], "p256dh": "a+b/c"}},
                              {"keys.p256dh"}),
        "auth too short": ({**good, "keys": {**good["keys"], "auth": b64url(b"x" * 8)}},
                           {"keys.auth"}),
        "auth missing": ({**good, "keys": {"p256dh": good["keys"]["p256dh"]}}, {"keys.auth"}),
        "several at once": ({**good, "endpoint": "http://x.dk/", "keys": {"p256dh": "AA",
                             "auth": "AA"}}, {"endpoint", "keys.p256dh", "keys.auth"}),
    }  # fmt: skip


@pytest.mark.parametrize(
    "case",
    ["plain http elsewhere", "not a url", "ftp", "credentials in url", "point not on the curve",
     "compressed point", "key not base64url", "auth too short", "auth missing", "several at once"],
)  # fmt: skip
async def test_bad_subscriptions_are_refused_with_422(client, login_as, db, push_service, case):
    await login_as("advisor")
    body, fields = _bad_subscriptions(push_service.base)[case]
    response = await client.post("/api/v1/push/subscriptions", json=body)
    assert response.status == 422, await response.text()
    assert response.content_type == "application/problem+json"
    assert {e["field"] for e in (await response.json())["errors"]} == fields
    assert await db.fetchval("SELECT count(*) FROM push_subscriptions") == 0


async def test_only_advisors_subscribe_and_strangers_get_nothing(client, login_as, push_service):
    anonymous = await client.get("/api/v1/push/key")
    assert anonymous.status == 401
    await login_as("nurse")
    response = await subscribe(client, Browser(push_service.endpoint("n")))
    assert response.status == 403


# What push services answer -------------------------------------------------------------


async def test_a_gone_subscription_is_deleted(client, login_as, db, push_service):
    advisor = await login_as("advisor")
    push_service.answers["old"] = 410
    push_service.answers["missing"] = 404
    for token in ("old", "missing", "fine"):
        assert (await subscribe(client, Browser(push_service.endpoint(token)))).status == 201
    await client.app[WEB_PUSH].push_wake(Notice("wake", advisor["id"], {"consultation_id": 1, "tier": 1}))  # fmt: skip
    await push_service.wait_for(3)
    left = await db.fetch("SELECT endpoint FROM push_subscriptions")
    assert [r["endpoint"] for r in left] == [push_service.endpoint("fine")]


async def test_other_failures_count_and_raise_so_the_registry_logs_them(
    client, login_as, db, push_service
):
    advisor = await login_as("advisor")
    push_service.answers["flaky"] = 503
    assert (await subscribe(client, Browser(push_service.endpoint("flaky")))).status == 201
    with socket.socket() as s:  # a port with nobody listening: connection refused
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    assert (
        await subscribe(client, Browser(f"http://127.0.0.1:{closed_port}/push/z"))
    ).status == 201
    notice = Notice("wake", advisor["id"], {"consultation_id": 7, "tier": 1})
    with pytest.raises(PushFailed):
        await client.app[WEB_PUSH].push_wake(notice)
    failures = await db.fetch("SELECT failures FROM push_subscriptions ORDER BY id")
    assert [r["failures"] for r in failures] == [1, 1]
    await client.app[SENDERS].send(notice)  # through the registry: logged, not raised
    failures = await db.fetch("SELECT failures FROM push_subscriptions ORDER BY id")
    assert [r["failures"] for r in failures] == [2, 2]


# End to end: a call wakes the advisor on duty ---------------------------------------------


async def test_a_call_for_an_offline_advisor_on_duty_wakes_them_by_push(
    aiohttp_server, settings, make_user, make_org, db, push_service
):
    app = create_app(settings.replace(wake_grace_seconds=30.0))
    wakes = RecordingSender()
    server = await aiohttp_server(app)
    app[SENDERS].register("wake", wakes)
    base = str(server.make_url("/"))
    home = await make_org(kind="home_care")
    nurse = await Person(base, await make_user("nurse", organisation_id=home["id"])).login()
    senior = await Person(base, await make_user("advisor", tier="senior_nurse")).login()
    try:
        patient_id = await db.fetchval(
            """INSERT INTO patients (reference, organisation_id, name, diagnosis_group)
               VALUES ('R-9', $1, 'Karl Fiktivsen', 'cancer') RETURNING id""",
            home["id"],
        )
        browser = Browser(push_service.endpoint("senior-phone"))
        status, _ = await senior.call(
            "POST", "/api/v1/push/subscriptions", json=browser.subscription()
        )
        assert status == 201
        await on_duty_always(db, "senior_nurse", [senior.id])  # on duty, but no socket open

        status, body = await nurse.call("POST", "/api/v1/consultations", json={
            "patient_id": patient_id, "channel": "video", "urgency": "urgent",
            "isbar": {"situation": "Åndenød"}})  # fmt: skip
        assert status == 201, body
        consultation = body["consultation"]
        assert consultation["state"] == "waking"

        (push,) = await push_service.wait_for(1)
        message = browser.decrypt(push.body)
        assert message["type"] == "wake" and message["consultation_id"] == consultation["id"]
        assert message["tier"] == "senior_nurse"
        assert "Fiktivsen" not in json.dumps(message, ensure_ascii=False)
        assert "Åndenød" not in json.dumps(message, ensure_ascii=False)
        for _ in range(100):  # the recording sender runs after the push sender
            if wakes.notices:
                break
            await asyncio.sleep(0.02)
        assert [n.user_id for n in wakes.notices] == [senior.id]
    finally:
        await nurse.close()
        await senior.close()


# The VAPID key ------------------------------------------------------------------------------


async def test_the_key_is_made_once_in_the_data_dir_and_kept(aiohttp_client, settings):
    first = await aiohttp_client(create_app(settings))
    key_file = settings.data_dir / push_keys.KEY_FILE
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    key = first.app[WEB_PUSH].public_key
    await first.close()
    second = await aiohttp_client(create_app(settings))
    assert second.app[WEB_PUSH].public_key == key
    assert len(unb64url(key)) == 65 and unb64url(key)[0] == 4


async def test_a_configured_key_is_used_and_nothing_is_written(aiohttp_client, settings):
    private = ec.generate_private_key(ec.SECP256R1())
    raw = b64url(private.private_numbers().private_value.to_bytes(32, "big"))
    client = await aiohttp_client(create_app(settings.replace(vapid_private_key=raw)))
    assert client.app[WEB_PUSH].public_key == push_keys.public_key_b64(private)
    assert not (settings.data_dir / push_keys.KEY_FILE).exists()


async def test_two_nodes_sharing_a_data_dir_agree_on_the_key(settings):
    keys = await asyncio.gather(*(
        asyncio.to_thread(push_keys.load_or_create, None, settings.data_dir) for _ in range(8)
    ))  # fmt: skip
    assert len({push_keys.public_key_b64(k) for k in keys}) == 1
    assert [p.name for p in settings.data_dir.iterdir() if "vapid" in p.name] == [
        push_keys.KEY_FILE
    ]
