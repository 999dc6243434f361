"""An aiortc participant in a consultation's call, negotiating through the ``/ws`` protocol.

Used by the test suite and the benchmarks as a stand-in for a nurse's tablet or an advisor's
laptop. aiortc's limits shape it: it gathers every candidate before it returns a description
(so its SDP carries them and it never trickles), it cannot roll back an offer nor restart
ICE, so it offers only when told to and otherwise answers. Candidates trickled by the other
side (a browser) are added, and held until the description they belong to has arrived.
It is always given explicit ICE servers: without them aiortc would ask a public STUN server.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import structlog
from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCIceServer,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamError
from aiortc.rtcconfiguration import RTCIceTransportPolicy
from aiortc.rtcicetransport import RTCIceCandidate
from aiortc.sdp import candidate_from_sdp
from av import AudioFrame, VideoFrame

from signalling.synthetic_media import PatternTrack, ToneTrack, audio_peak

log = structlog.get_logger("signalling.call_peer")

Send = Callable[[dict[str, Any]], Awaitable[None]]


@dataclass
class Received:
    """What arrived from the remote peer, decoded."""

    video_frames: int = 0
    video_size: tuple[int, int] = (0, 0)
    audio_frames: int = 0
    audio_peak: int = 0
    kinds: set[str] = field(default_factory=set)


def rtc_ice_servers(servers: list[dict[str, Any]]) -> list[RTCIceServer]:
    """``RTCIceServer`` objects from the JSON list the service hands out."""
    return [
        RTCIceServer(urls=s["urls"], username=s.get("username"), credential=s.get("credential"))
        for s in servers
    ]


def parse_candidate(data: dict[str, Any] | None) -> RTCIceCandidate | None:
    """An ``RTCIceCandidateInit`` as browsers send it; None (or an empty one) ends candidates."""
    if data is None or not data.get("candidate"):
        return None
    text = data["candidate"]
    candidate = candidate_from_sdp(text.split(":", 1)[1] if text.startswith("candidate:") else text)
    candidate.sdpMid = data.get("sdpMid")
    candidate.sdpMLineIndex = data.get("sdpMLineIndex")
    return candidate


class CallPeer:
    """One side of a call with one remote user, in consultation ``consultation_id``."""

    def __init__(
        self, consultation_id: int, ice_servers: list[dict[str, Any]], send: Send,
        *, relay_only: bool = False,
    ) -> None:  # fmt: skip
        policy = RTCIceTransportPolicy.RELAY if relay_only else RTCIceTransportPolicy.ALL
        self.pc = RTCPeerConnection(
            RTCConfiguration(iceServers=rtc_ice_servers(ice_servers), iceTransportPolicy=policy)
        )
        self.consultation_id = consultation_id
        self.send = send
        self.remote: int | None = None
        self.received = Received()
        self._tracks: list[MediaStreamTrack] = []
        self._held: list[RTCIceCandidate | None] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self.pc.on("track", self._on_track)
        self.pc.on("connectionstatechange", self._on_state)

    def add_media(self, *, video: bool = True, audio: bool = True) -> None:
        """Send a synthetic test pattern and/or tone (an audio-only call sends no video)."""
        for wanted, make in ((video, PatternTrack), (audio, ToneTrack)):
            if wanted:
                track = make()
                self._tracks.append(track)
                self.pc.addTrack(track)

    async def offer(self, to: int) -> None:
        """Start negotiating with ``to`` (the SDP carries every candidate)."""
        self.remote = to
        await self.pc.setLocalDescription(await self.pc.createOffer())
        await self._send_description(to)

    async def _send_description(self, to: int) -> None:
        description = self.pc.localDescription
        await self.send({
            "v": 1, "type": "signal", "consultation_id": self.consultation_id, "to": to,
            "description": {"type": description.type, "sdp": description.sdp},
        })  # fmt: skip

    async def handle(self, message: dict[str, Any]) -> None:
        """A ``signal`` from the service for this call (others are ignored)."""
        if (
            message.get("type") != "signal"
            or message.get("consultation_id") != self.consultation_id
        ):
            return
        sender = int(message["from"])
        if self.remote is not None and sender != self.remote:
            return  # one RTCPeerConnection talks to one remote user
        self.remote = sender
        if "description" in message:
            await self._on_description(sender, message["description"])
        if "candidate" in message:
            await self._on_candidate(parse_candidate(message["candidate"]))

    async def _on_description(self, sender: int, description: dict[str, Any]) -> None:
        if description["type"] == "rollback":
            log.info("call_peer.rollback_ignored")  # aiortc cannot roll back
            return
        await self.pc.setRemoteDescription(RTCSessionDescription(**description))
        for candidate in self._held:
            await self.pc.addIceCandidate(candidate)
        self._held.clear()
        if description["type"] == "offer":
            await self.pc.setLocalDescription(await self.pc.createAnswer())
            await self._send_description(sender)

    async def _on_candidate(self, candidate: RTCIceCandidate | None) -> None:
        if self.pc.remoteDescription is None:
            self._held.append(candidate)  # it arrived before its description
        else:
            await self.pc.addIceCandidate(candidate)

    def _on_track(self, track: MediaStreamTrack) -> None:
        task = asyncio.create_task(self._consume(track), name=f"call-peer-{track.kind}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _consume(self, track: MediaStreamTrack) -> None:
        seen = self.received
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await track.recv()
                seen.kinds.add(track.kind)
                if isinstance(frame, VideoFrame):
                    seen.video_frames += 1
                    seen.video_size = (frame.width, frame.height)
                elif isinstance(frame, AudioFrame):
                    seen.audio_frames += 1
                    seen.audio_peak = max(seen.audio_peak, audio_peak(frame))

    async def _on_state(self) -> None:
        log.info("call_peer.state", state=self.pc.connectionState)
        if self.pc.connectionState == "failed":
            await self.close()

    def selected_pairs(self) -> list[tuple[str, str]]:
        """(local, remote) candidate types of each nominated ICE pair (e.g. relay, relay)."""
        pairs = []
        for transceiver in self.pc.getTransceivers():
            ice = transceiver.sender.transport.transport
            for pair in ice._connection._nominated.values():  # aioice keeps no public view
                pairs.append((pair.local_candidate.type, pair.remote_candidate.type))
        return pairs

    async def close(self) -> None:
        for track in self._tracks:
            track.stop()
        await self.pc.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
