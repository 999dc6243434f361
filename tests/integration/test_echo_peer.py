"""The pre-call test: a real aiortc client offers to ``POST /api/v1/echo-test`` and gets its
own test pattern and tone back, its pings answered and the server's measurements; the limits
(lifetime, per node, one per user), bad bodies and shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from aiortc.rtcconfiguration import RTCIceTransportPolicy
from av import AudioFrame, VideoFrame

from advice_line.app import create_app
from advice_line.appkeys import ECHO_PEERS
from signalling.call_peer import rtc_ice_servers
from signalling.echo_peer import EchoPeers
from signalling.synthetic_media import PatternTrack, ToneTrack, audio_peak
from tests.conftest import login
from tests.integration.call_helpers import (
    Coturn,
    StunResponder,
    eventually,
    keep_ice_on_loopback,
    turnserver_or_skip,
)

pytestmark = pytest.mark.slow

WIDTH, HEIGHT = 256, 144
FRAMES, DEADLINE = 10, 20.0


def pattern_phase(frame: VideoFrame) -> int | None:
    """The shift of :class:`PatternTrack`'s moving bars in a decoded frame, None if the frame
    is not that pattern (the bars are 32 px wide and move 4 px a frame, so 16 phases)."""
    plane = frame.planes[0]
    middle = frame.height // 2
    row = bytes(plane)[middle * plane.line_size : middle * plane.line_size + frame.width]
    bright = [value > 130 for value in row]
    best, phase = 0.0, None
    for shift in range(0, 64, 4):
        hits = sum(b == bool(((x + shift) // 32) % 2) for x, b in enumerate(bright))
        if hits / len(bright) > best:
            best, phase = hits / len(bright), shift
    return phase if best >= 0.9 else None


class EchoClient:
    """The nurse's side: an aiortc peer sending the synthetic pattern and tone, with the
    ``echo`` data channel, that decodes and recognises what comes back."""

    def __init__(
        self, servers: list[dict[str, Any]], *, video: bool = True, relay_only: bool = False
    ) -> None:
        policy = RTCIceTransportPolicy.RELAY if relay_only else RTCIceTransportPolicy.ALL
        self.pc = RTCPeerConnection(
            RTCConfiguration(iceServers=rtc_ice_servers(servers), iceTransportPolicy=policy)
        )
        self.sources: list[MediaStreamTrack] = [ToneTrack()]
        if video:
            self.sources.append(PatternTrack(WIDTH, HEIGHT))
        for track in self.sources:
            self.pc.addTrack(track)
        self.channel = self.pc.createDataChannel("echo")
        self.messages: list[dict[str, Any]] = []
        self.channel.on("message", lambda raw: self.messages.append(json.loads(raw)))
        self.phases: list[int] = []
        self.foreign_frames = 0
        self.video_size = (0, 0)
        self.audio_frames = 0
        self.audio_peak = 0
        self.kinds: set[str] = set()
        self._tasks: list[asyncio.Task[None]] = []
        self.pc.on("track", self._on_track)

    async def offer(self) -> str:
        await self.pc.setLocalDescription(await self.pc.createOffer())
        return str(self.pc.localDescription.sdp)

    async def accept(self, answer: dict[str, Any]) -> None:
        await self.pc.setRemoteDescription(
            RTCSessionDescription(sdp=answer["sdp"], type=answer["type"])
        )

    def _on_track(self, track: MediaStreamTrack) -> None:
        self.kinds.add(track.kind)
        self._tasks.append(asyncio.create_task(self._consume(track)))

    async def _consume(self, track: MediaStreamTrack) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await track.recv()
                if isinstance(frame, VideoFrame):
                    self.video_size = (frame.width, frame.height)
                    phase = pattern_phase(frame)
                    if phase is None:
                        self.foreign_frames += 1
                    else:
                        self.phases.append(phase)
                elif isinstance(frame, AudioFrame):
                    self.audio_frames += 1
                    self.audio_peak = max(self.audio_peak, audio_peak(frame))

    def got(self, kind: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m.get("type") == kind]

    async def close(self) -> None:
        for track in self.sources:
            track.stop()
        await self.pc.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


@pytest.fixture
def loopback_ice(monkeypatch: pytest.MonkeyPatch) -> None:
    keep_ice_on_loopback(monkeypatch)


@pytest.fixture
def no_stun(settings):
    """Host candidates on loopback only: no STUN server to wait for."""
    return settings.replace(stun_urls=())


@pytest.fixture
async def start(aiohttp_client, make_user, loopback_ice) -> AsyncIterator[Any]:
    """``start(settings)``: a client of a fresh app, signed in as a new nurse."""
    clients: list[EchoClient] = []

    async def begin(settings: Any, role: str = "nurse") -> Any:
        client = await aiohttp_client(create_app(settings))
        user = await make_user(role)
        await login(client, user["username"])
        client.peers = clients  # the EchoClients made through ``offer`` are closed at the end
        return client

    yield begin
    for peer in clients:
        await peer.close()


async def offer(http: Any, **options: Any) -> tuple[EchoClient, Any]:
    """A new EchoClient's offer posted; the client and the HTTP response."""
    peer = EchoClient([], **options)
    http.peers.append(peer)
    response = await http.post(
        "/api/v1/echo-test", json={"sdp": await peer.offer(), "type": "offer"}
    )
    return peer, response


async def connected(http: Any, **options: Any) -> tuple[EchoClient, dict[str, Any]]:
    peer, response = await offer(http, **options)
    assert response.status == 200, await response.text()
    answer = await response.json()
    await peer.accept(answer)
    return peer, answer


def peers_of(http: Any) -> EchoPeers:
    return http.app[ECHO_PEERS]


async def test_video_and_audio_come_back_as_the_clients_own(start, no_stun):
    http = await start(no_stun)
    peer, answer = await connected(http)

    assert answer["type"] == "answer" and answer["expires_in"] == 60 and answer["id"]
    assert "a=candidate:" in answer["sdp"]  # half-trickle: every candidate in the answer
    await eventually(
        lambda: len(peer.phases) >= FRAMES and peer.audio_frames >= FRAMES, within=DEADLINE
    )
    assert peer.video_size == (WIDTH, HEIGHT)
    assert len(set(peer.phases)) > 1, "the echoed pattern does not move"
    assert peer.foreign_frames <= len(peer.phases) // 4, "frames that are not ours came back"
    assert peer.audio_peak > 1000, "the echoed tone is silent"
    assert len(peers_of(http)) == 1


async def test_pings_are_answered_and_the_server_reports_what_it_measures(start, no_stun):
    http = await start(no_stun)
    peer, _ = await connected(http)
    await eventually(lambda: peer.channel.readyState == "open", within=DEADLINE)

    peer.channel.send(json.dumps({"type": "ping", "seq": 7, "t": 1234.5}))
    peer.channel.send("not json")  # ignored, the channel stays
    peer.channel.send(json.dumps({"type": "ping", "seq": 8, "t": 1, "extra": "x" * 600}))
    await eventually(lambda: peer.got("pong"), within=5)
    await eventually(lambda: len(peer.got("stats")) >= 3, within=10)

    assert peer.got("pong") == [{"type": "pong", "seq": 7, "t": 1234.5}]  # the long one ignored
    last = peer.got("stats")[-1]
    assert last["kinds"]["audio"]["packets_received"] > 0
    assert last["kinds"]["video"]["packets_received"] > 0
    assert last["kinds"]["video"]["sent_kbps"] > 0
    assert last["bitrate_kbps"] > 0 and last["bytes_received"] > 0
    assert last["elapsed_s"] >= 2


async def test_an_audio_only_offer_gets_only_audio_back(start, no_stun):
    http = await start(no_stun)
    peer, answer = await connected(http, video=False)

    assert "m=video" not in answer["sdp"]
    await eventually(lambda: peer.audio_frames >= FRAMES, within=DEADLINE)
    assert peer.kinds == {"audio"} and peer.phases == [] and peer.audio_peak > 1000


async def test_the_peer_is_closed_when_its_lifetime_ends(start, no_stun):
    http = await start(no_stun.replace(echo_lifetime_seconds=2.0))
    peer, answer = await connected(http)

    assert answer["expires_in"] == 2
    await eventually(lambda: peer.audio_frames > 0, within=DEADLINE)
    await eventually(lambda: len(peers_of(http)) == 0, within=6)
    await eventually(lambda: peer.channel.readyState == "closed", within=10)
    assert (await (await http.delete("/api/v1/echo-test")).json()) == {"ended": False}


async def test_ending_the_test(start, no_stun):
    http = await start(no_stun)
    _peer, answer = await connected(http)
    [echo] = peers_of(http).running()

    other = await http.delete("/api/v1/echo-test", params={"id": "not-this-one"})
    assert (await other.json()) == {"ended": False} and len(peers_of(http)) == 1
    response = await http.delete("/api/v1/echo-test", params={"id": answer["id"]})

    assert response.status == 200 and (await response.json()) == {"ended": True}
    assert len(peers_of(http)) == 0 and echo.pc.connectionState == "closed"


async def test_the_node_limit_answers_503_with_retry_after(start, no_stun, make_user):
    http = await start(no_stun.replace(echo_max_peers=1, echo_lifetime_seconds=30.0))
    await connected(http)
    other = await make_user("advisor")
    await login(http, other["username"])  # the same client, now as someone else

    _, response = await offer(http)

    assert response.status == 503
    body = await response.json()
    assert body["type"].endswith("/echo-busy")
    assert 1 <= int(response.headers["Retry-After"]) <= 30
    assert body["retry_after"] == int(response.headers["Retry-After"])
    assert len(peers_of(http)) == 1


async def test_a_second_test_of_the_same_user_replaces_the_first(start, no_stun):
    http = await start(no_stun.replace(echo_max_peers=1))
    _first, first_answer = await connected(http)
    [old] = peers_of(http).running()

    second, second_answer = await connected(http)  # the limit of one does not refuse it

    assert second_answer["id"] != first_answer["id"]
    assert old.closed and old.pc.connectionState == "closed"
    assert len(peers_of(http)) == 1
    await eventually(lambda: second.audio_frames >= FRAMES, within=DEADLINE)
    ended = await http.delete("/api/v1/echo-test", params={"id": first_answer["id"]})
    assert (await ended.json()) == {"ended": False}


def _video_only(sdp: str) -> str:
    """The offer without its audio section (sections split at each ``m=`` line)."""
    head, *sections = sdp.split("\r\nm=")
    kept = [s for s in sections if not s.startswith("audio")]
    return "\r\nm=".join([head, *kept])


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b"{not json", 400, None),
        (b"[]", 422, "not_object"),
        (json.dumps({"type": "offer"}).encode(), 422, "required"),
        (json.dumps({"sdp": "@offer", "type": "answer"}).encode(), 422, "choice"),
        (json.dumps({"sdp": 5, "type": "offer"}).encode(), 422, "not_string"),
        (json.dumps({"sdp": "@offer", "type": "offer", "x": 1}).encode(), 422, "unknown_field"),
        (json.dumps({"sdp": "v=0\r\nm=audio x y\r\n", "type": "offer"}).encode(), 422, "invalid_sdp"),
        (json.dumps({"sdp": "v=0\r\nhello there\r\n", "type": "offer"}).encode(), 422, "no_audio"),
        (json.dumps({"sdp": "nonsense", "type": "offer"}).encode(), 422, "invalid_sdp"),
        (json.dumps({"sdp": "@video-only", "type": "offer"}).encode(), 422, "no_audio"),
        (json.dumps({"sdp": "v=0\r\n" + "a=x\r\n" * 20_000, "type": "offer"}).encode(), 413, None),
    ],
)  # fmt: skip
async def test_bad_bodies_are_refused_and_nothing_is_kept(start, no_stun, body, status, code):
    http = await start(no_stun)
    if b"@" in body:  # a real offer put in
        peer = EchoClient([])
        http.peers.append(peer)
        sdp = await peer.offer()
        real = _video_only(sdp) if b"@video-only" in body else sdp
        body = body.replace(b'"@offer"', json.dumps(real).encode())
        body = body.replace(b'"@video-only"', json.dumps(real).encode())

    response = await http.post(
        "/api/v1/echo-test", data=body, headers={"Content-Type": "application/json"}
    )

    assert response.status == status, await response.text()
    assert response.content_type == "application/problem+json"
    problem = await response.json()
    if code:
        assert code in [e["code"] for e in problem["errors"]], problem
    assert len(peers_of(http)) == 0


async def test_not_signed_in_is_401(aiohttp_client, no_stun):
    http = await aiohttp_client(create_app(no_stun))

    for method in ("POST", "DELETE"):
        response = await http.request(
            method, "/api/v1/echo-test", json={"sdp": "v=0\r\n", "type": "offer"}
        )
        assert response.status == 401
        assert response.content_type == "application/problem+json"
    assert len(peers_of(http)) == 0


async def test_shutdown_closes_every_peer_and_leaves_no_task(start, no_stun, make_user):
    http = await start(no_stun)
    peer, _ = await connected(http)
    await eventually(lambda: peer.audio_frames > 0, within=DEADLINE)
    registry = peers_of(http)
    [echo] = registry.running()

    await http.close()  # runs the cleanup contexts

    assert len(registry) == 0 and echo.closed and echo.pc.connectionState == "closed"
    left = [t.get_name() for t in asyncio.all_tasks() if t.get_name().startswith("echo-")]
    assert left == []


async def test_the_server_peer_uses_the_services_stun_server(start, settings):
    loop = asyncio.get_running_loop()
    transport, stun = await loop.create_datagram_endpoint(
        StunResponder, local_addr=("127.0.0.1", 0)
    )
    try:
        http = await start(settings.replace(stun_urls=(f"stun:127.0.0.1:{stun.port}",)))
        peer, _ = await connected(http)  # the client itself is given no servers
        await eventually(lambda: peer.audio_frames > 0, within=DEADLINE)
        assert stun.requests > 0
    finally:
        transport.close()


@pytest.fixture
async def coturn(tmp_path) -> AsyncIterator[Coturn]:
    """A real coturn; requested before ``start`` so it outlives the peers' TURN allocations
    (closing one with coturn gone would wait for retransmissions to time out)."""
    server = await Coturn(turnserver_or_skip(), tmp_path).start()
    yield server
    await server.stop()


async def test_through_coturn_with_the_server_peers_own_credential(coturn, start, settings):
    relayed = settings.replace(
        stun_urls=(f"stun:127.0.0.1:{coturn.port}",),
        turn_urls=(f"turn:127.0.0.1:{coturn.port}?transport=udp",),
        turn_secret=coturn.secret,
    )
    http = await start(relayed)
    servers = (await (await http.get("/api/v1/ice-servers")).json())["ice_servers"]
    peer = EchoClient(servers, relay_only=True)
    http.peers.append(peer)
    response = await http.post(
        "/api/v1/echo-test", json={"sdp": await peer.offer(), "type": "offer"}
    )
    await peer.accept(await response.json())

    await eventually(
        lambda: len(peer.phases) >= FRAMES and peer.audio_frames >= FRAMES, within=DEADLINE
    )
    log = coturn.log_tail(400)
    assert ":0>: incoming packet ALLOCATE processed, success" in log, log
