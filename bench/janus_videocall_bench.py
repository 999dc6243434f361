"""Janus's VideoCall plugin doing the routing bench's job: call -> incoming call, under load.

The yardstick for ``bench/routing_bench.py`` (which runs this right after its own part, in
the same process): the same number of WebSocket clients and the same open-loop rate,
against Janus from the Debian package (``apt-get install -y janus``).

* A minimal configuration is written to a temporary directory: only the VideoCall plugin
  and the WebSockets transport (on 127.0.0.1, a free port, ``janus-protocol``), found by
  pointing the plugin and transport folders at directories holding just those two
  libraries; no event handlers, loggers, HTTP or admin API; logging at level 3 (warnings),
  like our server's ``warning``. Everything else is Janus's default.
* Every client opens a WebSocket, creates a session, attaches ``janus.plugin.videocall``,
  registers a username, and sends a keepalive every 15 s (sessions time out after 60 s).
* Clients are paired; at each slot of the open loop a caller sends ``{"request": "call",
  "username": callee}`` with a real SDP offer (made once with aiortc, its candidates moved
  to 127.0.0.1), and we time how long until the callee's WebSocket delivers the
  ``incomingcall`` event. The caller then hangs up, and we time ``hangup`` sent -> the
  callee's ``hangup`` event (the nearest thing to our "other rings withdrawn").

Run alone: ``/tmp/venv/bin/python bench/janus_videocall_bench.py`` (``--clients``,
``--rate``, ``--duration``). Janus runs at most for the run (SIGTERM, then SIGKILL).
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import itertools
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))

from load_harness import (
    Cleanup,
    LoopLag,
    Summary,
    free_port,
    gather_limited,
    lag_line,
    open_loop,
    peak_rss_bytes,
    raise_fd_limit,
    sample,
    self_cpu_seconds,
    show,
    tail,
    wait_until,
)

LIBRARIES = Path("/usr/lib/x86_64-linux-gnu/janus")
PLUGIN = "janus.plugin.videocall"
KEEPALIVE_SECONDS = 15.0
CONNECT_CONCURRENCY = 100


# Janus itself ----------------------------------------------------------------------------------


def write_config(root: Path, port: int) -> Path:
    """A configuration with only the VideoCall plugin and the WebSockets transport."""
    for kind, library in (
        ("plugins", "libjanus_videocall.so"),
        ("transports", "libjanus_websockets.so"),
    ):
        folder = root / kind
        folder.mkdir(parents=True)
        (folder / library).symlink_to(LIBRARIES / kind / library)
    for empty in ("events", "loggers"):
        (root / empty).mkdir()
    (root / "janus.jcfg").write_text(f"""general: {{
    configs_folder = "{root}"
    plugins_folder = "{root / "plugins"}"
    transports_folder = "{root / "transports"}"
    events_folder = "{root / "events"}"
    loggers_folder = "{root / "loggers"}"
    debug_level = 3
    session_timeout = 60
}}
certificates: {{
}}
media: {{
}}
nat: {{
    ice_enforce_list = "lo"
}}
plugins: {{
}}
transports: {{
}}
events: {{
    broadcast = false
}}
""")
    (root / "janus.transport.websockets.jcfg").write_text(f"""general: {{
    json = "compact"
    ws = true
    ws_port = {port}
    ws_ip = "127.0.0.1"
    wss = false
}}
admin: {{
    admin_ws = false
    admin_wss = false
}}
""")
    (root / "janus.plugin.videocall.jcfg").write_text("general: {\n}\n")
    return root / "janus.jcfg"


def start_janus(root: Path, cleanup: Cleanup) -> tuple[subprocess.Popen[bytes], int, Path]:
    binary = shutil.which("janus")
    if binary is None:
        raise RuntimeError("janus is not installed: apt-get install -y janus")
    port = free_port()
    config = write_config(root / "conf", port)
    log_file = root / "janus.log"
    with log_file.open("wb") as log:
        process = subprocess.Popen(
            [binary, "-C", str(config), "-F", str(config.parent), "-o"],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    cleanup.process("janus", process, grace=10)
    return process, port, log_file


async def wait_listening(process: subprocess.Popen[bytes], port: int, log_file: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"janus exited with {process.returncode}:\n{tail(log_file)}")
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            await asyncio.sleep(0.1)  # polling interval of the deadline loop
    raise RuntimeError(f"janus did not listen on {port} within 30 s:\n{tail(log_file)}")


async def sdp_offer() -> str:
    """A real WebRTC offer (audio and video) from aiortc, with its candidates on 127.0.0.1."""
    from aiortc import RTCPeerConnection

    pc = RTCPeerConnection()
    try:
        pc.addTransceiver("audio", direction="sendrecv")
        pc.addTransceiver("video", direction="sendrecv")
        await pc.setLocalDescription(await pc.createOffer())
        sdp = pc.localDescription.sdp
    finally:
        await pc.close()
    lines = []
    for line in sdp.splitlines():
        if line.startswith("a=candidate:"):
            parts = line.split()
            if ":" in parts[4]:  # IPv6: dropped
                continue
            parts[4] = "127.0.0.1"
            line = " ".join(parts)
        elif line.startswith("a=fingerprint:") and not line.startswith("a=fingerprint:sha-256 "):
            continue  # one fingerprint, as browsers send
        elif line.startswith("c=IN IP4 "):
            line = "c=IN IP4 127.0.0.1"
        lines.append(line)
    return "\r\n".join(lines) + "\r\n"


# Clients ---------------------------------------------------------------------------------------


@dataclass(eq=False)
class Peer:
    """One Janus API client: a WebSocket, a session, a VideoCall handle, a username."""

    name: str
    ws: aiohttp.ClientWebSocketResponse | None = None
    session_id: int = 0
    handle_id: int = 0
    waiting: dict[str, asyncio.Future[dict[str, Any]]] = field(default_factory=dict)


@dataclass
class JanusCall:
    caller: Peer
    callee: Peer
    sent: float = 0.0
    incoming: float | None = None
    hangup_sent: float = 0.0
    hangup_seen: float | None = None
    errors: list[str] = field(default_factory=list)


class Clients:
    def __init__(self, base: str) -> None:
        self.base = base
        self.transactions = (f"t{n}" for n in itertools.count())
        self.calls: dict[tuple[str, str], JanusCall] = {}  # (callee, caller) -> the call
        self.ringing: dict[str, JanusCall] = {}  # callee -> the call being hung up
        self.kinds: Counter[str] = Counter()

    async def send(
        self, peer: Peer, message: dict[str, Any], *, wait: str | None = None
    ) -> dict[str, Any] | None:
        """Send a Janus API message; with ``wait``, the reply of that kind to its transaction."""
        transaction = next(self.transactions)
        message = {**message, "transaction": transaction}
        if peer.session_id:
            message.setdefault("session_id", peer.session_id)
        future: asyncio.Future[dict[str, Any]] | None = None
        if wait is not None:
            future = asyncio.get_running_loop().create_future()
            peer.waiting[transaction] = future
        assert peer.ws is not None
        await peer.ws.send_str(json.dumps(message))
        if future is None:
            return None
        return await asyncio.wait_for(future, 30)

    async def read(self, peer: Peer) -> None:
        assert peer.ws is not None
        async for message in peer.ws:
            if message.type == aiohttp.WSMsgType.TEXT:
                try:
                    self.on_message(peer, json.loads(message.data), time.time())
                except Exception as exc:  # a bench bug must show, not stop the reader
                    self.kinds[f"handler error {exc!r}"[:100]] += 1

    def on_message(self, peer: Peer, message: dict[str, Any], at: float) -> None:
        kind = message.get("janus", "")
        result = message.get("plugindata", {}).get("data", {}).get("result", {})
        event = result.get("event") if isinstance(result, dict) else None
        self.kinds[f"{kind}:{event}" if event else kind] += 1
        waiting = peer.waiting.get(message.get("transaction", ""))
        replied = kind in ("success", "error") or (
            kind == "event" and event in ("registered", None)
        )
        if waiting is not None and not waiting.done() and replied:
            waiting.set_result(message)
            del peer.waiting[message["transaction"]]
        if event == "incomingcall":
            call = self.calls.get((peer.name, result.get("username", "")))
            if call is not None and call.incoming is None:
                call.incoming = at
                task = asyncio.create_task(self.hang_up(call))
                task.add_done_callback(lambda t: t.exception())
        elif event == "hangup":
            call = self.ringing.get(peer.name)
            if call is not None and call.hangup_seen is None and call.hangup_sent:
                call.hangup_seen = at

    async def join(
        self, peer: Peer, ws_client: aiohttp.ClientSession, readers: list[asyncio.Task[None]]
    ) -> float:
        started = time.perf_counter()
        peer.ws = await ws_client.ws_connect(
            self.base, protocols=("janus-protocol",), max_msg_size=0
        )
        readers.append(asyncio.create_task(self.read(peer)))
        created = await self.send(peer, {"janus": "create"}, wait="success")
        peer.session_id = expect(created, "success")["data"]["id"]
        attached = await self.send(peer, {"janus": "attach", "plugin": PLUGIN}, wait="success")
        peer.handle_id = expect(attached, "success")["data"]["id"]
        register = self.body({"request": "register", "username": peer.name}, peer)
        registered = expect(await self.send(peer, register, wait="event"), "event")
        if "error" in registered["plugindata"]["data"]:
            raise RuntimeError(f"register refused: {registered}")
        return (time.perf_counter() - started) * 1000

    @staticmethod
    def body(
        body: dict[str, Any], peer: Peer, jsep: dict[str, str] | None = None
    ) -> dict[str, Any]:
        message: dict[str, Any] = {"janus": "message", "handle_id": peer.handle_id, "body": body}
        if jsep is not None:
            message["jsep"] = jsep
        return message

    async def call(self, call: JanusCall, sdp: str) -> None:
        self.calls[(call.callee.name, call.caller.name)] = call
        self.ringing[call.callee.name] = call
        call.sent = time.time()
        try:
            await self.send(
                call.caller,
                self.body(
                    {"request": "call", "username": call.callee.name},
                    call.caller,
                    {"type": "offer", "sdp": sdp},
                ),
            )
        except (aiohttp.ClientError, ConnectionError) as exc:
            call.errors.append(repr(exc))

    async def hang_up(self, call: JanusCall) -> None:
        call.hangup_sent = time.time()
        await self.send(call.caller, self.body({"request": "hangup"}, call.caller))

    async def keepalives(self, peers: list[Peer], until: float) -> None:
        """Every peer's session kept alive, spread evenly over each KEEPALIVE_SECONDS."""
        loop = asyncio.get_running_loop()
        gap = KEEPALIVE_SECONDS / max(1, len(peers))
        while loop.time() < until:
            for peer in peers:
                if loop.time() >= until:
                    return
                if peer.ws is not None and not peer.ws.closed:
                    await self.send(peer, {"janus": "keepalive"})
                await asyncio.sleep(gap)


def expect(reply: dict[str, Any] | None, kind: str) -> dict[str, Any]:
    if reply is None or reply.get("janus") != kind:
        raise RuntimeError(f"expected {kind}, got {reply}")
    return reply


def janus_version() -> str:
    found = subprocess.run(["janus", "--version"], capture_output=True, text=True, check=False)
    return found.stdout.splitlines()[0] if found.stdout else "janus (version unknown)"


def log_problems(log_file: Path) -> list[str]:
    text = log_file.read_text(errors="replace")
    return [line for line in text.splitlines() if re.search(r"\[(ERR|WARN)\]", line)]


# The run ---------------------------------------------------------------------------------------


@dataclass
class JanusResult:
    incoming: Summary | None
    hangup: Summary | None


async def run(
    clients: int = 2000, rate: float = 50.0, duration: float = 20.0, cleanup: Cleanup | None = None
) -> JanusResult:
    """Start Janus, connect ``clients``, drive ``rate`` calls/s for ``duration`` s, report."""
    cleanup = cleanup or Cleanup()
    root = Path(tempfile.mkdtemp(prefix="janus-bench-"))
    cleanup.add("janus temporary directory", lambda: shutil.rmtree(root, ignore_errors=True))
    sdp = await sdp_offer()
    process, port, log_file = start_janus(root, cleanup)
    print(f"  {janus_version()}, pid {process.pid}, port {port}")
    await wait_listening(process, port, log_file)
    base = f"ws://127.0.0.1:{port}/"
    ws_client = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
    janus = Clients(base)
    peers = [Peer(f"user{n}") for n in range(clients - clients % 2)]
    readers: list[asyncio.Task[None]] = []
    try:
        idle = sample([process.pid])
        started = time.perf_counter()
        results = await gather_limited(
            [functools.partial(janus.join, p, ws_client, readers) for p in peers],
            CONNECT_CONCURRENCY,
        )
        wall = time.perf_counter() - started
        failures = [r for r in results if isinstance(r, BaseException)]
        joined = Summary.of([r for r in results if isinstance(r, float)])
        after = sample([process.pid])
        print(
            f"  CONNECT: {len(peers) - len(failures)} clients connected, with a session, a VideoCall handle "
            f"and a username, in {wall:.1f} s; Janus RSS {idle.rss_bytes / 2**20:.0f} -> "
            f"{after.rss_bytes / 2**20:.0f} MiB, {after.threads} threads"
        )
        print(show("time to registered per client", joined, 56))
        if failures:
            raise RuntimeError(
                f"{len(failures)} Janus clients failed, e.g. {failures[0]!r}\n{tail(log_file)}"
            )
        return await drive(janus, peers, sdp, rate, duration, process.pid, log_file)
    finally:
        for task in readers:
            task.cancel()
        await asyncio.gather(*readers, return_exceptions=True)
        await asyncio.gather(
            *(p.ws.close() for p in peers if p.ws is not None and not p.ws.closed),
            return_exceptions=True,
        )
        await ws_client.close()
        cleanup.run()


async def drive(
    janus: Clients,
    peers: list[Peer],
    sdp: str,
    rate: float,
    duration: float,
    pid: int,
    log_file: Path,
) -> JanusResult:
    loop = asyncio.get_running_loop()
    keepalive = asyncio.create_task(janus.keepalives(peers, loop.time() + duration + 10))
    pairs = [(peers[i], peers[i + 1]) for i in range(0, len(peers), 2)]
    calls = [JanusCall(*pairs[i % len(pairs)]) for i in range(int(rate * duration))]
    before, cpu_before, t0 = sample([pid]), self_cpu_seconds(), time.monotonic()
    lag = LoopLag()
    lag.start(duration + 10)

    async def place(i: int, _slot: float) -> None:
        await janus.call(calls[i], sdp)

    schedule = await open_loop(rate, duration, place)
    await wait_until(lambda: all(c.hangup_seen or c.errors for c in calls), 5.0)
    after, cpu_after, wall = sample([pid]), self_cpu_seconds(), time.monotonic() - t0
    lag_summary = await lag.stop()
    keepalive.cancel()
    await asyncio.gather(keepalive, return_exceptions=True)

    incoming = Summary.of([(c.incoming - c.sent) * 1000 for c in calls if c.incoming])
    hangup = Summary.of([(c.hangup_seen - c.hangup_sent) * 1000 for c in calls if c.hangup_seen])
    print(
        f"  LOAD: {len(calls)} calls at {rate:g}/s for {duration:g} s (open loop), "
        f"{sum(c.incoming is not None for c in calls)} delivered as incomingcall"
    )
    print(show("scheduler slip (send time minus its slot)", Summary.of(schedule.slip_ms), 56))
    print(lag_line(lag_summary, 56))
    print(show("call sent -> callee's incomingcall", incoming, 56))
    print(show("hangup sent -> callee's hangup", hangup, 56))
    cpu = after.cpu_seconds - before.cpu_seconds
    print(
        f"  janus CPU {cpu:.1f} s over {wall:.1f} s ({100 * cpu / wall:.1f}% of one core), RSS "
        f"{after.rss_bytes / 2**20:.0f} MiB (peak {peak_rss_bytes(pid) / 2**20:.0f} MiB), "
        f"{after.threads} threads; bench client CPU {cpu_after - cpu_before:.1f} s"
    )
    print(f"  messages: {dict(janus.kinds.most_common(12))}")
    warnings = log_problems(log_file)
    if warnings:
        print(f"  janus log: {len(warnings)} warnings/errors, e.g. {warnings[0][:160]}")
    return JanusResult(incoming, hangup)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--duration", type=float, default=20.0)
    args = parser.parse_args()
    raise_fd_limit(4 * args.clients + 1024)
    cleanup = Cleanup()
    try:
        asyncio.run(
            asyncio.wait_for(run(args.clients, args.rate, args.duration, cleanup), timeout=180)
        )
    finally:
        cleanup.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
