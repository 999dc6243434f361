"""Real WebRTC media between two aiortc peers that negotiate through the server's ``/ws``:
directly on loopback, audio-only, and forced through a real coturn with credentials the
service issued."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from advice_line.app import create_app
from signalling.call_peer import CallPeer
from tests.integration.call_helpers import (
    ConnectedCall,
    Coturn,
    StunResponder,
    connected_call,
    eventually,
    keep_ice_on_loopback,
    turnserver_or_skip,
)

pytestmark = pytest.mark.slow

#: Decoded frames each side must receive from the other before the deadline.
VIDEO_FRAMES, AUDIO_FRAMES, DEADLINE = 10, 10, 20.0


@pytest.fixture
def loopback_ice(monkeypatch: pytest.MonkeyPatch) -> None:
    keep_ice_on_loopback(monkeypatch)


@pytest.fixture
async def stun_server() -> AsyncIterator[StunResponder]:
    loop = asyncio.get_running_loop()
    transport, responder = await loop.create_datagram_endpoint(
        StunResponder, local_addr=("127.0.0.1", 0)
    )
    yield responder
    transport.close()


@pytest.fixture
async def coturn(tmp_path) -> AsyncIterator[Coturn]:
    server = await Coturn(turnserver_or_skip(), tmp_path).start()
    yield server
    await server.stop()


@pytest.fixture
async def start_call(aiohttp_server, make_user, make_org, db, loopback_ice):
    """``start(settings, channel)``: a server and a connected consultation on it."""
    people: list[Any] = []

    async def start(settings: Any, channel: str = "video") -> ConnectedCall:
        server = await aiohttp_server(create_app(settings))
        base = str(server.make_url("/"))
        return await connected_call(base, make_user, make_org, db, people, channel=channel)

    yield start
    for person in people:
        await person.close()


async def negotiate(
    call: ConnectedCall, *, video: bool = True, relay_only: bool = False
) -> tuple[CallPeer, CallPeer]:
    """Both join; each gets an aiortc peer with the ICE servers from its ``call.joined``; the
    nurse offers (her SDP carries all her candidates), the senior nurse answers."""
    cid, nurse, senior = call.consultation_id, call.nurse, call.senior
    nurse_joined = await nurse.join(cid)
    senior_joined = await senior.join(cid)
    assert nurse_joined["channel"] == ("video" if video else "audio")
    peers = []
    for person, joined in ((nurse, nurse_joined), (senior, senior_joined)):
        peer = CallPeer(cid, joined["ice_servers"], person.send, relay_only=relay_only)
        peer.add_media(video=video, audio=True)
        person.listeners.append(peer.handle)
        peers.append(peer)
    nurse_peer, senior_peer = peers
    await nurse_peer.offer(senior.id)
    return nurse_peer, senior_peer


async def media_flows(call: ConnectedCall, peers: tuple[CallPeer, ...], *, video: bool) -> None:
    """Each side decodes real frames from the other (non-blank video, a non-silent tone)."""

    def enough(peer: CallPeer) -> bool:
        seen = peer.received
        return seen.audio_frames >= AUDIO_FRAMES and (
            not video or seen.video_frames >= VIDEO_FRAMES
        )

    try:
        await eventually(lambda: all(enough(p) for p in peers), within=DEADLINE)
    finally:
        assert call.nurse.failures == [] and call.senior.failures == []
    for peer in peers:
        seen = peer.received
        assert seen.audio_peak > 1000, "decoded audio is silent"
        if video:
            assert seen.video_size == (320, 240)
        else:
            assert seen.video_frames == 0 and seen.kinds == {"audio"}


async def close_all(*peers: CallPeer) -> None:
    for peer in peers:
        await peer.close()


async def test_video_and_audio_flow_between_two_aiortc_peers(settings, start_call, stun_server):
    call = await start_call(settings.replace(stun_urls=(f"stun:127.0.0.1:{stun_server.port}",)))
    peers = await negotiate(call)
    try:
        await media_flows(call, peers, video=True)
        assert stun_server.requests > 0, "the peers did not use the STUN server they were given"
        offers = [m for m in call.senior.got("signal") if "description" in m]
        assert "a=candidate:" in offers[0]["description"]["sdp"]  # half-trickle: in the SDP
    finally:
        await close_all(*peers)


async def test_an_audio_only_consultation_has_no_video(settings, start_call, stun_server):
    stun = settings.replace(stun_urls=(f"stun:127.0.0.1:{stun_server.port}",))
    call = await start_call(stun, channel="audio")
    peers = await negotiate(call, video=False)
    try:
        await media_flows(call, peers, video=False)
    finally:
        await close_all(*peers)


async def test_media_flows_through_coturn_with_relay_only_ice(settings, start_call, coturn):
    relayed = settings.replace(
        stun_urls=(f"stun:127.0.0.1:{coturn.port}",),
        turn_urls=(f"turn:127.0.0.1:{coturn.port}?transport=udp",),
        turn_secret=coturn.secret,
    )
    call = await start_call(relayed)
    peers = await negotiate(call, relay_only=True)
    try:
        await media_flows(call, peers, video=True)
        for peer in peers:
            pairs = peer.selected_pairs()
            assert pairs and all(pair == ("relay", "relay") for pair in pairs), pairs
        log = coturn.log_tail(400)
        for person in (call.nurse, call.senior):  # each allocated with its own credential
            assert f":{person.id}>: incoming packet ALLOCATE processed, success" in log, log
    finally:
        await close_all(*peers)


async def test_a_dropped_socket_mid_call_resumes_and_media_never_stops(
    settings, start_call, stun_server
):
    call = await start_call(settings.replace(stun_urls=(f"stun:127.0.0.1:{stun_server.port}",)))
    peers = await negotiate(call)
    try:
        await media_flows(call, peers, video=True)
        senior, cid = call.senior, call.consultation_id
        welcome = senior.got("welcome")[-1]
        query = {
            "resume": welcome["resume_token"],
            "last": senior.seqs[-1] if senior.seqs else welcome["seq"],
        }
        assert senior.ws is not None
        await senior.ws.close(code=4000)  # the 4G signal goes
        before = peers[1].received.video_frames
        await eventually(lambda: peers[1].received.video_frames >= before + 15, within=10)
        await senior.connect(query)
        await eventually(lambda: len(senior.got("welcome")) == 2)
        assert senior.got("welcome")[-1]["resumed"] is True
        await senior.send(
            {"v": 1, "type": "call.join", "consultation_id": cid, "resume": True, "id": "r"}
        )
        assert (await senior.wait_for("call.joined", id="r"))["resumed"] is True
        _status, body = await senior.call("GET", f"/api/v1/consultations/{cid}")
        assert body["consultation"]["state"] == "connected", body
        assert call.nurse.got("call.peer_left") == []
        after = peers[0].received.video_frames
        await eventually(lambda: peers[0].received.video_frames >= after + 15, within=10)
    finally:
        await close_all(*peers)
