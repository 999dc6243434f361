"""The pre-call test's echo peer: an aiortc peer that sends a nurse's own audio and video back.

A browser offers (audio, optionally video, and a data channel labelled ``echo``); the server
peer answers, sends every received track straight back on the same transceiver, answers the
browser's pings on the data channel at once (so the browser measures the application round
trip) and, every second, tells the browser what it measures itself from its ``getStats()``.

aiortc's limits shape it: it gathers every candidate before it returns the answer
(half-trickle), cannot restart ICE nor roll back, so it is always the answerer; it is always
given the service's ICE servers explicitly (with a TURN credential issued for the server peer
itself), never aiortc's default public STUN server. Nothing is recorded: frames go from the
receiver to the sender and nowhere else.

:class:`EchoPeers` holds the node's peers: at most ``max_peers`` at once, one per user (a new
test replaces the user's running one), each closed after ``lifetime_seconds`` or as soon as
its connection fails or closes, all closed at shutdown.
"""

from __future__ import annotations

import asyncio
import json
import math
import secrets
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import structlog
from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCDataChannel,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc import sdp as aiortc_sdp
from aiortc.exceptions import InternalError, InvalidStateError, OperationError

from signalling.call_peer import rtc_ice_servers
from signalling.ice import IceConfig, ice_servers

log = structlog.get_logger("signalling.echo_peer")

#: The TURN username of the server's own echo peers is ``"<expiry>:0"``: user ids start at 1.
SERVER_PEER_ID = 0
#: The label of the data channel the browser opens for pings and measurements.
CHANNEL_LABEL = "echo"
#: Longest SDP accepted (a browser's offer with every candidate is a few KiB).
MAX_SDP_CHARS = 60_000
#: Longest data-channel message read; longer ones are ignored.
MAX_MESSAGE_CHARS = 512
STATS_INTERVAL_SECONDS = 1.0
_MEDIA_KINDS = ("audio", "video", "application")


class BadOffer(ValueError):
    """The offer cannot be answered; ``code`` is stable (clients translate it)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class EchoBusy(Exception):
    """This node runs as many echo peers as it may; ``retry_after`` seconds until one ends."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"all echo peers busy, retry in {retry_after}s")
        self.retry_after = retry_after


class EchoReplaced(Exception):
    """The user started another test while this one was being answered."""


@dataclass(frozen=True)
class EchoAnswer:
    id: str
    sdp: str
    expires_in: float


def check_offer(text: str) -> tuple[str, ...]:
    """The media kinds of an SDP offer the echo peer can answer; :class:`BadOffer` otherwise.

    Checked before any peer exists, so a bad offer leaves nothing behind.
    """
    if not text.startswith("v=0") or len(text) > MAX_SDP_CHARS:
        raise BadOffer("invalid_sdp", "not an SDP session description")
    try:
        description = aiortc_sdp.SessionDescription.parse(text)
    except Exception as exc:  # aiortc's parser raises whatever a malformed line provokes
        raise BadOffer("invalid_sdp", "the SDP cannot be parsed") from exc
    kinds = tuple(media.kind for media in description.media)
    if any(kind not in _MEDIA_KINDS for kind in kinds) or len(set(kinds)) != len(kinds):
        raise BadOffer("unsupported_media", "at most one audio, one video and one data section")
    if "audio" not in kinds:
        raise BadOffer("no_audio", "the offer must send audio (the microphone is tested)")
    for media in description.media:
        ice, dtls = media.ice, media.dtls
        if not ice or not ice.usernameFragment or not ice.password:
            raise BadOffer("invalid_sdp", "ICE credentials missing")
        if not dtls or not dtls.fingerprints:
            raise BadOffer("invalid_sdp", "DTLS fingerprint missing")
        if media.kind != "application" and (media.direction != "sendrecv" or not media.rtcp_mux):
            raise BadOffer("not_sendrecv", f"{media.kind} must be sendrecv with rtcp-mux")
    return kinds


@dataclass(frozen=True)
class _Counters:
    at: float
    bytes_received: int
    bytes_sent: dict[str, int]


def measure(
    report: list[Any], previous: _Counters | None, now: float
) -> tuple[dict[str, Any], _Counters]:
    """What the echo peer tells the browser, from its ``getStats()`` values at ``now``.

    aiortc counts received bytes per transport only (not per kind), so the received bitrate
    is the whole connection's; per kind it counts packets received and lost, and the bytes it
    sent back.
    """
    received = sum(s.bytesReceived for s in report if s.type == "transport")
    sent: dict[str, int] = {}
    kinds: dict[str, dict[str, Any]] = {}
    rtts = []
    for s in report:
        if s.type == "inbound-rtp":
            kinds.setdefault(s.kind, {}).update(
                packets_received=s.packetsReceived, packets_lost=max(s.packetsLost, 0)
            )
        elif s.type == "outbound-rtp":
            sent[s.kind] = sent.get(s.kind, 0) + s.bytesSent
        elif s.type == "remote-inbound-rtp" and s.roundTripTime:
            rtts.append(s.roundTripTime)
    elapsed = now - previous.at if previous else 0.0

    def kbps(now_bytes: int, then_bytes: int) -> float | None:
        if previous is None or elapsed <= 0:
            return None
        return round(max(now_bytes - then_bytes, 0) * 8 / elapsed / 1000, 1)

    for kind, total in sent.items():
        entry = kinds.setdefault(kind, {"packets_received": 0, "packets_lost": 0})
        entry["sent_kbps"] = kbps(total, previous.bytes_sent.get(kind, 0) if previous else 0)
    message = {
        "type": "stats",
        "bytes_received": received,
        "bitrate_kbps": kbps(received, previous.bytes_received if previous else 0),
        "rtt_ms": round(sum(rtts) / len(rtts) * 1000, 1) if rtts else None,
        "kinds": kinds,
    }
    return message, _Counters(now, received, sent)


def pong(raw: object) -> str | None:
    """The answer to one data-channel message: a ping comes straight back as a pong."""
    if not isinstance(raw, str) or len(raw) > MAX_MESSAGE_CHARS:
        return None
    try:
        message = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(message, dict) or message.get("type") != "ping":
        return None
    answer: dict[str, Any] = {"type": "pong"}
    for name in ("seq", "t"):
        value = message.get(name)
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
            answer[name] = value
    return json.dumps(answer)


class EchoPeer:
    """One running test: its peer connection, the data channel and its two tasks."""

    def __init__(
        self, user_id: int, servers: list[dict[str, Any]],
        on_closed: Callable[[EchoPeer], None], monotonic: Callable[[], float],
    ) -> None:  # fmt: skip
        self.id = secrets.token_urlsafe(9)
        self.user_id = user_id
        self.monotonic = monotonic
        self.started = monotonic()
        self.expires_at = math.inf
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=rtc_ice_servers(servers)))
        self.channel: RTCDataChannel | None = None
        self._on_closed = on_closed
        self._tasks: set[asyncio.Task[None]] = set()
        self._closing = False
        self._closed = asyncio.Event()
        self.pc.on("track", self._on_track)
        self.pc.on("datachannel", self._on_datachannel)
        self.pc.on("connectionstatechange", self._on_state)

    @property
    def closed(self) -> bool:
        return self._closing

    async def answer(self, offer: str) -> str:
        """Answer ``offer`` (already checked); the answer's SDP carries every candidate."""
        try:
            await self.pc.setRemoteDescription(RTCSessionDescription(sdp=offer, type="offer"))
        except InvalidStateError as exc:  # closed by a newer test of the same user
            raise EchoReplaced from exc
        except OperationError as exc:
            raise BadOffer("no_common_codec", "no audio or video codec in common") from exc
        except (ValueError, KeyError, IndexError, TypeError, InternalError) as exc:
            raise BadOffer("invalid_sdp", "the offer cannot be applied") from exc
        try:
            await self.pc.setLocalDescription(await self.pc.createAnswer())
        except InvalidStateError as exc:  # closed while gathering candidates
            raise EchoReplaced from exc
        if self._closing:
            raise EchoReplaced
        return str(self.pc.localDescription.sdp)

    def start(self, lifetime_seconds: float) -> None:
        self.expires_at = self.started + lifetime_seconds
        self._spawn(self._expire(lifetime_seconds), "echo-lifetime")
        self._spawn(self._report(), "echo-stats")

    def _spawn(self, work: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(work, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _on_track(self, track: MediaStreamTrack) -> None:
        # Before the answer is made: the sender reuses the transceiver the track came on.
        self.pc.addTrack(track)

    def _on_datachannel(self, channel: RTCDataChannel) -> None:
        if channel.label != CHANNEL_LABEL:
            channel.close()
            return
        self.channel = channel

        def on_message(raw: object) -> None:
            answer = pong(raw)
            if answer is not None and channel.readyState == "open":
                channel.send(answer)

        channel.on("message", on_message)

    def _on_state(self) -> None:
        if self.pc.connectionState in ("failed", "closed") and not self._closing:
            self._spawn(self.close(), "echo-close")

    async def _expire(self, lifetime_seconds: float) -> None:
        await asyncio.sleep(lifetime_seconds)
        await self.close()

    async def _report(self) -> None:
        previous = None
        while True:
            await asyncio.sleep(STATS_INTERVAL_SECONDS)
            try:
                report = await self.pc.getStats()
                message, previous = measure(list(report.values()), previous, self.monotonic())
                channel = self.channel
                if channel is not None and channel.readyState == "open":
                    message["elapsed_s"] = round(self.monotonic() - self.started, 1)
                    channel.send(json.dumps(message))
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("echo.stats_failed", user=self.user_id, exc_info=True)

    async def close(self) -> None:
        """Close the connection and stop the tasks; later calls wait for the first."""
        if self._closing:
            await self._closed.wait()
            return
        self._closing = True
        me = asyncio.current_task()
        others = [task for task in self._tasks if task is not me]
        for task in others:
            task.cancel()
        try:
            await self.pc.close()
        finally:
            for result in await asyncio.gather(*others, return_exceptions=True):
                if isinstance(result, Exception):
                    log.error("echo.task_failed", user=self.user_id, exc_info=result)
            self._on_closed(self)
            self._closed.set()

    async def wait_tasks(self) -> None:
        """Wait until every task of this peer has finished (the closer included)."""
        me = asyncio.current_task()
        await asyncio.gather(*(t for t in self._tasks if t is not me), return_exceptions=True)


class EchoPeers:
    """The node's echo peers, at most one per user and ``max_peers`` in all."""

    def __init__(
        self, ice: IceConfig, max_peers: int, lifetime_seconds: float,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:  # fmt: skip
        assert max_peers > 0
        assert lifetime_seconds > 0
        self.ice = ice
        self.max_peers = max_peers
        self.lifetime_seconds = lifetime_seconds
        self.clock = clock
        self.monotonic = monotonic
        self._by_user: dict[int, EchoPeer] = {}

    def __len__(self) -> int:
        return len(self._by_user)

    def get(self, user_id: int) -> EchoPeer | None:
        return self._by_user.get(user_id)

    def running(self) -> list[EchoPeer]:
        return list(self._by_user.values())

    def ice_servers(self) -> list[dict[str, Any]]:
        """The servers the echo peer uses: the clients' list, TURN credential its own."""
        return ice_servers(self.ice, SERVER_PEER_ID, self.clock())

    async def start(self, user_id: int, offer: str) -> EchoAnswer:
        """Answer ``user_id``'s offer with a new echo peer (ending their running one)."""
        check_offer(offer)
        running = self._by_user.get(user_id)
        if running is not None:
            await running.close()
        if len(self._by_user) >= self.max_peers:
            raise EchoBusy(self._retry_after())
        peer = EchoPeer(user_id, self.ice_servers(), self._forget, self.monotonic)
        self._by_user[user_id] = peer
        try:
            answer = await peer.answer(offer)
        except BaseException:
            await peer.close()
            raise
        peer.start(self.lifetime_seconds)
        log.info("echo.started", user=user_id)
        return EchoAnswer(peer.id, answer, self.lifetime_seconds)

    def _retry_after(self) -> int:
        soonest = min(peer.expires_at for peer in self._by_user.values())
        left = soonest - self.monotonic() if soonest != math.inf else self.lifetime_seconds
        return max(1, math.ceil(left))

    def _forget(self, peer: EchoPeer) -> None:
        if self._by_user.get(peer.user_id) is peer:
            del self._by_user[peer.user_id]
        if peer.expires_at != math.inf:  # it had started (not a refused offer)
            duration = round(self.monotonic() - peer.started, 1)
            log.info("echo.ended", user=peer.user_id, duration_s=duration)

    async def end(self, user_id: int, peer_id: str | None = None) -> bool:
        """End ``user_id``'s test (only if it is ``peer_id``, when given); whether one ended."""
        peer = self._by_user.get(user_id)
        if peer is None or (peer_id is not None and peer.id != peer_id):
            return False
        await peer.close()
        return True

    async def close_all(self) -> None:
        """Close every peer and wait for all of their tasks (at shutdown)."""
        peers = list(self._by_user.values())
        await asyncio.gather(*(peer.close() for peer in peers), return_exceptions=True)
        for peer in peers:
            await peer.wait_tasks()
