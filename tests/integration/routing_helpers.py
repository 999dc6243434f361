"""People with their own browser-like sessions (cookies, CSRF, a WebSocket) for routing tests."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from advice_line import rota_store
from tests.conftest import TEST_ACTOR, TEST_PASSWORD


def unstamped(message: dict[str, Any], seqs: list[str]) -> dict[str, Any]:
    """``message`` without its delivery ``seq`` (kept in ``seqs``), which every message sent
    through the user bus carries and which must only ever grow."""
    if message.get("type") == "welcome":
        return message  # its seq is where this connection starts (see docs/protocol.md)
    seq = message.pop("seq", None)
    if seq is not None:
        ms, n = (int(part) for part in seq.split("-"))
        if seqs:
            last_ms, last_n = (int(part) for part in seqs[-1].split("-"))
            assert (ms, n) > (last_ms, last_n), f"seq went back: {seqs[-1]} then {seq}"
        seqs.append(seq)
    return message


@dataclass
class Person:
    """One signed-in user talking to a real server over HTTP and a WebSocket."""

    base: str
    user: dict[str, Any]
    session: aiohttp.ClientSession = field(init=False)
    ws: aiohttp.ClientWebSocketResponse | None = None
    inbox: list[dict[str, Any]] = field(default_factory=list)
    #: The ``seq`` of every message that had one, in arrival order (see ``unstamped``).
    seqs: list[str] = field(default_factory=list)
    _reader: asyncio.Task[None] | None = None

    async def login(self) -> Person:
        self.session = aiohttp.ClientSession(
            base_url=self.base, cookie_jar=aiohttp.CookieJar(unsafe=True)
        )
        response = await self.session.post(
            "/api/v1/auth/login",
            json={"username": self.user["username"], "password": TEST_PASSWORD},
        )
        assert response.status == 200, await response.text()
        self.session.headers["X-CSRF-Token"] = (await response.json())["csrf_token"]
        return self

    @property
    def id(self) -> int:
        return int(self.user["id"])

    async def connect(self, query: dict[str, str] | None = None) -> Person:
        """Open the WebSocket (being online) and collect every message into ``inbox``."""
        self.ws = await self.session.ws_connect(
            "/ws", headers={"Origin": self.base.rstrip("/")}, params=query
        )

        async def read() -> None:
            assert self.ws is not None
            async for message in self.ws:
                if message.type == aiohttp.WSMsgType.TEXT:
                    self.inbox.append(unstamped(json.loads(message.data), self.seqs))

        self._reader = asyncio.create_task(read())
        await self.wait_for("welcome")
        return self

    async def wait_for(self, kind: str, within: float = 5.0, **match: Any) -> dict[str, Any]:
        """The first message of ``kind`` (whose fields include ``match``), waiting if needed."""
        deadline = asyncio.get_running_loop().time() + within
        while True:
            for message in self.inbox:
                if message.get("type") == kind and _matches(message, match):
                    return message
            if asyncio.get_running_loop().time() > deadline:
                kinds = [m.get("type") for m in self.inbox]
                raise AssertionError(f"no {kind} {match} within {within}s; got {kinds}")
            await asyncio.sleep(0.02)

    def got(self, kind: str, **match: Any) -> list[dict[str, Any]]:
        return [m for m in self.inbox if m.get("type") == kind and _matches(m, match)]

    async def call(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        response = await self.session.request(method, path, **kwargs)
        body = (
            await response.json()
            if response.content_type.endswith("json")
            else await response.text()
        )
        return response.status, body

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self._reader is not None:
            self._reader.cancel()
        await self.session.close()


def _matches(message: dict[str, Any], match: dict[str, Any]) -> bool:
    for key, value in match.items():
        here: Any = message
        for part in key.split("__"):
            here = here.get(part) if isinstance(here, dict) else None
        if here != value:
            return False
    return True


async def on_duty_always(db: Any, tier: str, advisors: list[int]) -> None:
    """Put each of ``advisors`` on duty around the clock (one rota each: a tier's on-duty set
    is the union of its rotas, while within one rota the higher layer wins)."""
    for advisor in advisors:
        rota = await rota_store.create_rota(
            db, TEST_ACTOR, {"name": f"{tier} {advisor}", "tier": tier}
        )
        await rota_store.save_layer(db, TEST_ACTOR, rota.id, None, {
            "name": "always", "participants": [advisor], "shift_length": 1, "unit": "days",
            "handoff": dt.time(0), "start_date": dt.date(2025, 1, 6), "windows": [],
        })  # fmt: skip
