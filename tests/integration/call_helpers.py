"""Calls in tests: a connected consultation, WebSocket clients that feed aiortc peers, a tiny
STUN responder, and a real coturn started on loopback."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import secrets
import shutil
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aioice import stun

from tests.integration.routing_helpers import Person, on_duty_always, unstamped

ISBAR = {"situation": "Dyspnø og uro", "background": "Lungekræft", "assessment": "TOBS 4",
         "request": "Råd om lindring"}  # fmt: skip

Listener = Callable[[dict[str, Any]], Awaitable[None]]


@dataclass
class Caller(Person):
    """A signed-in person whose WebSocket messages also go to listeners (e.g. a CallPeer)."""

    listeners: list[Listener] = field(default_factory=list)
    failures: list[BaseException] = field(default_factory=list)

    async def connect(self, query: dict[str, str] | None = None) -> Caller:
        self.ws = await self.session.ws_connect(
            "/ws", headers={"Origin": self.base.rstrip("/")}, params=query
        )

        async def read() -> None:
            assert self.ws is not None
            async for frame in self.ws:
                if frame.type != aiohttp.WSMsgType.TEXT:
                    continue
                message = unstamped(json.loads(frame.data), self.seqs)
                self.inbox.append(message)
                for listener in self.listeners:
                    try:
                        await listener(message)
                    except Exception as exc:  # surfaced by the test through ``failures``
                        self.failures.append(exc)

        self._reader = asyncio.create_task(read())
        await self.wait_for("welcome")
        return self

    async def send(self, message: dict[str, Any]) -> None:
        assert self.ws is not None
        await self.ws.send_str(json.dumps(message))

    async def join(self, consultation_id: int) -> dict[str, Any]:
        """Join the call; the ``call.joined`` answer."""
        await self.send({"v": 1, "type": "call.join", "consultation_id": consultation_id,
                         "id": f"join-{consultation_id}"})  # fmt: skip
        return await self.wait_for("call.joined", consultation_id=consultation_id)

    async def request(self, message: dict[str, Any], within: float = 5.0) -> dict[str, Any]:
        """Send a message with a fresh id; the error or reply that carries that id."""
        message_id = secrets.token_hex(6)
        await self.send({"v": 1, **message, "id": message_id})
        deadline = asyncio.get_running_loop().time() + within
        while True:
            for received in self.inbox:
                if received.get("id") == message_id:
                    return received
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"no reply to {message.get('type')} within {within}s")
            await asyncio.sleep(0.02)


@dataclass
class ConnectedCall:
    """A consultation in state ``connected``: the nurse who asked and the senior nurse in it."""

    consultation_id: int
    nurse: Caller
    senior: Caller
    patient_id: int
    organisation_id: int


async def make_patient(db: Any, organisation_id: int, reference: str) -> int:
    return int(
        await db.fetchval(
            """INSERT INTO patients (reference, organisation_id, name, diagnosis_group)
               VALUES ($1, $2, 'Inger Fiktivsen', 'cancer') RETURNING id""",
            reference,
            organisation_id,
        )
    )


async def ask(nurse: Person, patient_id: int, channel: str = "video") -> int:
    status, body = await nurse.call("POST", "/api/v1/consultations", json={
        "patient_id": patient_id, "channel": channel, "urgency": "urgent", "isbar": ISBAR})  # fmt: skip
    assert status == 201, body
    return int(body["consultation"]["id"])


async def connected_call(
    base: str, make_user: Any, make_org: Any, db: Any, people: list[Person],
    *, channel: str = "video",
) -> ConnectedCall:  # fmt: skip
    """Nurse asks, the on-duty senior nurse accepts: a connected consultation, both online."""
    home = await make_org(kind="home_care")
    nurse = await Caller(base, await make_user("nurse", organisation_id=home["id"])).login()
    senior = await Caller(base, await make_user("advisor", tier="senior_nurse")).login()
    people += [nurse, senior]
    await senior.connect()
    await on_duty_always(db, "senior_nurse", [senior.id])
    patient_id = await make_patient(db, home["id"], f"R-{secrets.token_hex(3)}")
    cid = await ask(nurse, patient_id, channel)
    await senior.wait_for("consultation.ringing", consultation__id=cid)
    status, body = await senior.call("POST", f"/api/v1/consultations/{cid}/accept")
    assert status == 200 and body["consultation"]["state"] == "connected", body
    await nurse.connect()
    return ConnectedCall(cid, nurse, senior, patient_id, home["id"])


async def eventually(condition: Callable[[], bool], within: float = 5.0) -> None:
    """Wait (with a deadline, never a fixed sleep) until ``condition`` holds."""
    deadline = asyncio.get_running_loop().time() + within
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def eventually_found(
    fetch: Callable[[], Awaitable[list[Any]]], within: float = 5.0
) -> list[Any]:
    """Poll ``fetch`` (a query, say) until it finds something; what it found."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        found = await fetch()
        if found:
            return found
        assert asyncio.get_running_loop().time() < deadline, "nothing found in time"
        await asyncio.sleep(0.02)


# ICE on loopback ----------------------------------------------------------------------


def keep_ice_on_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    """aiortc peers gather host candidates on 127.0.0.1 only (aioice skips loopback by
    default), and any fallback to aiortc's default public STUN server fails the test."""
    import aioice.ice
    from aiortc.rtcicetransport import RTCIceGatherer

    monkeypatch.setattr(aioice.ice, "get_host_addresses", lambda use_ipv4, use_ipv6: ["127.0.0.1"])

    def no_default_servers(cls: type) -> list[Any]:
        raise AssertionError("aiortc was about to use its default public STUN server")

    monkeypatch.setattr(RTCIceGatherer, "getDefaultIceServers", classmethod(no_default_servers))


class StunResponder(asyncio.DatagramProtocol):
    """Answers STUN Binding requests on loopback (RFC 5389), counting them."""

    def __init__(self) -> None:
        self.transport: asyncio.DatagramTransport | None = None
        self.requests = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  (a datagram transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        try:
            request = stun.parse_message(data)
        except ValueError:
            return
        if (
            request.message_method != stun.Method.BINDING
            or request.message_class != stun.Class.REQUEST
        ):
            return
        self.requests += 1
        response = stun.Message(
            message_method=stun.Method.BINDING, message_class=stun.Class.RESPONSE,
            transaction_id=request.transaction_id,
        )  # fmt: skip
        response.attributes["XOR-MAPPED-ADDRESS"] = addr
        response.add_fingerprint()
        assert self.transport is not None
        self.transport.sendto(bytes(response), addr)

    @property
    def port(self) -> int:
        assert self.transport is not None
        return int(self.transport.get_extra_info("sockname")[1])


async def stun_binding(port: int, within: float = 0.5) -> bool:
    """True if a STUN server answers a Binding request on 127.0.0.1:port in time."""
    loop = asyncio.get_running_loop()
    answered: asyncio.Future[None] = loop.create_future()

    class Client(asyncio.DatagramProtocol):
        def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
            if not answered.done():
                answered.set_result(None)

    transport, _ = await loop.create_datagram_endpoint(Client, remote_addr=("127.0.0.1", port))
    try:
        request = stun.Message(message_method=stun.Method.BINDING, message_class=stun.Class.REQUEST)
        transport.sendto(bytes(request))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(answered, within)
        return answered.done()
    finally:
        transport.close()


# coturn -------------------------------------------------------------------------------


def turnserver_or_skip() -> str:
    """The coturn binary; a missing one skips the test locally but fails it in CI."""
    found = shutil.which("turnserver") or next(
        (p for p in ("/usr/bin/turnserver", "/usr/sbin/turnserver") if os.path.exists(p)), None
    )
    if found:
        return found
    reason = "coturn's turnserver is not installed (sudo apt-get install coturn)"
    if os.environ.get("CI"):
        pytest.fail(f"CI must run the TURN tests: {reason}; .ci/run installs it")
    pytest.skip(reason)


def free_port() -> int:
    """A port free on 127.0.0.1 for both UDP and TCP (coturn listens on both)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", 0))
            port = int(udp.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind(("127.0.0.1", port))
                except OSError:
                    continue
            return port
    raise RuntimeError("no free port")


@dataclass
class Coturn:
    """A real coturn on loopback with the REST-API shared secret."""

    binary: str
    directory: Path
    secret: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    port: int = field(default_factory=free_port)
    realm: str = "advice-line.test"
    process: asyncio.subprocess.Process | None = None

    @property
    def log_path(self) -> Path:
        return self.directory / "turnserver.log"

    def config(self) -> str:
        relay_low = random.randrange(50000, 59000, 32)
        return "\n".join([
            "listening-ip=127.0.0.1", f"listening-port={self.port}", "relay-ip=127.0.0.1",
            f"min-port={relay_low}", f"max-port={relay_low + 31}",
            "use-auth-secret", f"static-auth-secret={self.secret}", f"realm={self.realm}",
            "fingerprint", "no-tls", "no-dtls", "no-cli", "no-rfc5780", "no-tcp-relay",
            "no-multicast-peers", "allow-loopback-peers", "no-software-attribute",
            f"userdb={self.directory / 'turndb'}", f"pidfile={self.directory / 'turnserver.pid'}",
            f"log-file={self.log_path}", "simple-log", "no-stdout-log", "verbose", "",
        ])  # fmt: skip

    def for_loopback(self, config: str) -> str:
        """An operator's config made to run here: its own settings, but listening, relaying,
        logging and keeping state in the test's places, with the test's secret."""
        ours = self.config().splitlines()
        replaced = {line.split("=", 1)[0] for line in ours if line}
        replaced |= {"tls-listening-port", "cert", "pkey", "syslog", "proc-user", "proc-group"}
        kept = [
            line
            for line in config.splitlines()
            if line.strip() and not line.startswith("#")
            and line.split("=", 1)[0].strip() not in replaced
            and line.strip() != "allow-loopback-peers"
        ]  # fmt: skip
        return "\n".join([*kept, *(line for line in ours if line != "allow-loopback-peers"), ""])

    async def start(self, within: float = 10.0, config_text: str | None = None) -> Coturn:
        config = self.directory / "turnserver.conf"
        config.write_text(config_text or self.config())
        self.process = await asyncio.create_subprocess_exec(
            self.binary, "-c", str(config), stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        deadline = asyncio.get_running_loop().time() + within
        while not await stun_binding(self.port):
            if self.process.returncode is not None or asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"turnserver did not start:\n{self.log_tail()}")
        return self

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return "(no log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    async def stop(self) -> None:
        if self.process is None or self.process.returncode is not None:
            return
        self.process.terminate()
        try:
            await asyncio.wait_for(self.process.wait(), 5)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()
