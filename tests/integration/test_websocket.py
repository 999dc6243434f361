"""The /ws endpoint: authentication, Origin, ping, bad messages, revocation, shutdown."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest
from aiohttp import WSMsgType

from advice_line.app import create_app
from advice_line.appkeys import CONNECTIONS
from tests.conftest import login


def origin_of(client) -> dict[str, str]:
    return {"Origin": str(client.make_url("/")).rstrip("/")}


async def receive_json(ws):
    message = await ws.receive(timeout=5.0)
    assert message.type == WSMsgType.TEXT, message
    return json.loads(message.data)


async def open_ws(client):
    ws = await client.ws_connect("/ws", headers=origin_of(client))
    welcome = await receive_json(ws)
    assert welcome["type"] == "welcome"
    return ws, welcome


async def test_anonymous_websocket_is_refused(client):
    with pytest.raises(aiohttp.WSServerHandshakeError) as raised:
        await client.ws_connect("/ws", headers=origin_of(client))
    assert raised.value.status == 401


async def test_foreign_or_missing_origin_is_refused(client, login_as):
    await login_as("nurse")
    for headers in ({"Origin": "https://evil.example"}, {}):
        with pytest.raises(aiohttp.WSServerHandshakeError) as raised:
            await client.ws_connect("/ws", headers=headers)
        assert raised.value.status == 403


async def test_welcome_and_ping(client, login_as):
    user = await login_as("nurse")
    ws, welcome = await open_ws(client)
    assert welcome["v"] == 1
    assert welcome["user"]["id"] == user["id"]
    await ws.send_str(json.dumps({"v": 1, "type": "ping", "id": "p1"}))
    assert await receive_json(ws) == {"v": 1, "type": "pong", "id": "p1"}
    await ws.close()


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ("not json", "malformed"),
        ("[1]", "malformed"),
        ('{"v": 2, "type": "ping"}', "unsupported_version"),
        ('{"v": 1, "type": "launch"}', "unknown_type"),
        ('{"v": 1, "type": "ping", "extra": 1}', "invalid_fields"),
        ('{"v": 1, "type": "ping", "pad": "' + "x" * 70_000 + '"}', "too_large"),
    ],
)
async def test_bad_messages_get_an_error_and_the_connection_stays_up(
    client, login_as, payload, code
):
    await login_as("nurse")
    ws, _ = await open_ws(client)
    await ws.send_str(payload)
    error = await receive_json(ws)
    assert error["type"] == "error"
    assert error["code"] == code
    await ws.send_str(json.dumps({"v": 1, "type": "ping"}))
    assert (await receive_json(ws))["type"] == "pong"
    await ws.close()


async def test_binary_frames_are_refused_politely(client, login_as):
    await login_as("nurse")
    ws, _ = await open_ws(client)
    await ws.send_bytes(b"\x00\x01")
    assert (await receive_json(ws))["code"] == "malformed"
    await ws.close()


async def test_flooding_is_rate_limited(client, login_as):
    await login_as("nurse")
    ws, _ = await open_ws(client)
    for _ in range(60):
        await ws.send_str(json.dumps({"v": 1, "type": "ping"}))
    replies = [await receive_json(ws) for _ in range(60)]
    assert any(r.get("code") == "rate_limited" for r in replies)
    await ws.close()


async def test_logout_closes_the_socket_with_session_ended(client, login_as):
    await login_as("nurse")
    ws, _ = await open_ws(client)
    response = await client.post("/api/v1/auth/logout")
    assert response.status == 204
    message = await ws.receive(timeout=5)
    assert message.type in (WSMsgType.CLOSE, WSMsgType.CLOSED, WSMsgType.CLOSING)
    assert ws.close_code == 4401


async def test_expired_session_closes_the_socket_within_a_heartbeat(client, login_as, db):
    await login_as("nurse")
    ws, _ = await open_ws(client)
    await db.execute("UPDATE sessions SET expires_at = now() - interval '1 second'")
    message = await ws.receive(timeout=5)
    assert message.type in (WSMsgType.CLOSE, WSMsgType.CLOSED, WSMsgType.CLOSING)
    assert ws.close_code == 4401


async def test_a_bad_connection_does_not_disturb_another(
    client, make_user, aiohttp_client, settings
):
    first = await make_user("nurse")
    await login(client, first["username"])
    ws_a, _ = await open_ws(client)
    other = await aiohttp_client(create_app(settings))
    second = await make_user("nurse")
    await login(other, second["username"])
    ws_b, _ = await open_ws(other)
    for _ in range(10):
        await ws_b.send_str("{{{{")
    await ws_a.send_str(json.dumps({"v": 1, "type": "ping"}))
    assert (await receive_json(ws_a))["type"] == "pong"
    await ws_a.close()
    await ws_b.close()


async def test_shutdown_closes_sockets_with_going_away(aiohttp_server, settings, make_user):
    app = create_app(settings)
    server = await aiohttp_server(app)
    user = await make_user("nurse")
    jar = aiohttp.CookieJar(unsafe=True)  # keep cookies for an IP-address host
    async with aiohttp.ClientSession(base_url=str(server.make_url("/")), cookie_jar=jar) as session:
        response = await session.post(
            "/api/v1/auth/login",
            json={"username": user["username"], "password": "correct-horse-battery"},
        )
        assert response.status == 200
        origin = str(server.make_url("/")).rstrip("/")
        ws = await session.ws_connect("/ws", headers={"Origin": origin})
        assert (await receive_json(ws))["type"] == "welcome"
        assert len(app[CONNECTIONS]) == 1
        closing = asyncio.create_task(server.close())
        message = await ws.receive(timeout=10)
        assert message.type in (WSMsgType.CLOSE, WSMsgType.CLOSED, WSMsgType.CLOSING)
        assert ws.close_code == aiohttp.WSCloseCode.GOING_AWAY
        await closing
        assert len(app[CONNECTIONS]) == 0
