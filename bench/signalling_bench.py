"""Signalling on one node: relay throughput and latency, idle connections, call set-up.

The issue's speed section for WebRTC signalling, three parts, each its own subcommand:

``relay``
    P pairs (default 50) of connected consultations, each made through the REST API (the
    nurse asks, the senior nurse whose rota has her on duty accepts on the ring, both
    ``call.join``), each side sending ``signal`` ICE candidates to the other for D seconds,
    at most W in flight per direction and paced at R a second per sender (default 18, below
    the ``/ws`` rate limit of 20 a second: a bench that trips the limiter measures the policy,
    not the relay; ``--rate 0`` sends as fast as the window allows, and counts refusals).
    The send time is embedded in the candidate string; the one-way latency is the receive
    time minus it (one process, one clock). Then, in the same run, with our server and
    stores stopped, the same clients and load against ``bench/bare_relay.py`` (aiohttp
    forwarding each frame to the named peer, nothing else). Prints both, the ratio, and the
    goal: throughput at least 0.7 times the bare relay's with p99 at most 20 ms.
``idle``
    N authenticated WebSockets (default 10,000: 200 users x 50 each), at most 100 connecting
    at once; the server's RSS before, once it has settled, and after holding them (default
    20 s, so heartbeats and the session sweep run); per connection; the client's own RSS.
    Goal: 10,000 connections at no more than 600 MB (10^6 bytes) RSS.
``setup``
    K (default 30) calls one after the other between two aiortc peers on loopback (a local
    STUN responder, host candidates on 127.0.0.1): the nurse asks, the senior nurse accepts
    on the ring, both join, the nurse offers; from the request to ICE connected on both
    sides, p50/p99, and the split request -> ring -> accepted -> both joined -> connected.

Every part starts embedded PostgreSQL and Redis (or uses ``ADVICE_LINE_BENCH_DATABASE_URL``
and ``ADVICE_LINE_BENCH_REDIS_URL``), a fresh migrated database arranged directly in SQL and
ONE ``advice-line serve``, exactly as ``bench/routing_bench.py`` does (its functions are
used here), and stops every process and store on any exit (``load_harness.Cleanup``).
The fourth measure of the issue, request -> the callee's incoming call side by side with
Janus's VideoCall plugin, is ``bench/routing_bench.py`` (see ``docs/benchmarks.md``).

Run: ``/tmp/venv/bin/python bench/signalling_bench.py relay|idle|setup`` (``--help`` for the
knobs; ``relay --profile PATH`` samples the server with py-spy during the load). Exits 1
when a goal is missed, 2 when the run failed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import functools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from load_harness import (
    Cleanup,
    LoopLag,
    ProcSample,
    Summary,
    free_port,
    gather_limited,
    lag_line,
    peak_rss_bytes,
    raise_fd_limit,
    sample,
    self_cpu_seconds,
    show,
    wait_until,
)
from routing_bench import (
    Member,
    Population,
    Server,
    Stores,
    World,
    arrange,
    connect_all,
    create_database,
    pids_of,
    start_profile,
    start_server,
    start_stores,
    summarise_profile,
    wait_ready,
)

from advice_line.db import _init_connection
from advice_line.logsetup import configure_logging
from advice_line.migrate import migrate
from advice_line.ws import RATE_PER_SECOND

RATIO_GOAL = 0.7
RELAY_P99_GOAL_MS = 20.0
IDLE_GOAL_CONNECTIONS = 10_000
IDLE_GOAL_BYTES = 600 * 10**6
ISBAR = {"situation": "Bench: dyspnø", "request": "Råd om lindring"}
MiB = 2**20


# A run: stores, a database arranged in SQL, one server --------------------------------------


@dataclass
class Run:
    stores: Stores
    conn: asyncpg.Connection
    world: World
    server: Server


async def start_run(population: Population, root: Path, cleanup: Cleanup) -> Run:
    """Stores, a fresh migrated database with ``population`` in it, and ONE server, ready."""
    started = time.perf_counter()
    stores = await asyncio.get_running_loop().run_in_executor(None, start_stores, root, cleanup)
    await create_database(stores, cleanup)
    conn = await asyncpg.connect(stores.database_url)
    await _init_connection(conn)
    await migrate(conn)
    world = await arrange(conn, population)
    server = start_server(stores, root, cleanup, db_pool_max=None)
    await wait_ready(server)
    print(f"SETUP: stores, schema, {len(world.members)} users and one server in "
          f"{time.perf_counter() - started:.1f} s")  # fmt: skip
    return Run(stores, conn, world, server)


async def stop_server(server: Server) -> None:
    server.process.terminate()
    await asyncio.get_running_loop().run_in_executor(None, server.process.wait, 20)


class Sockets:
    """What ``routing_bench.connect_all`` needs of its load: the base URL and a reader that
    hands every text frame to ``on_text`` (readers also keep the client answering pings)."""

    def __init__(self, base: str, on_text: Callable[[Member, str, float], None] | None) -> None:
        self.base = base
        self.on_text = on_text
        self.readers: list[asyncio.Task[None]] = []

    async def read(self, member: Member) -> None:
        assert member.ws is not None
        async for message in member.ws:
            if message.type == aiohttp.WSMsgType.TEXT and self.on_text is not None:
                self.on_text(member, message.data, time.time())

    async def connect(self, members: list[Member], client: aiohttp.ClientSession) -> None:
        connect, wall, failed = await connect_all(self, members, client, self.readers)  # type: ignore[arg-type]
        print(f"CONNECT: {len(members) - failed} WebSockets welcomed in {wall:.1f} s")
        print(show("time to welcome per socket", connect))
        if failed:
            raise RuntimeError(f"{failed} WebSockets failed to connect")

    async def close(self, members: list[Member]) -> None:
        for task in self.readers:
            task.cancel()
        await asyncio.gather(*self.readers, return_exceptions=True)
        await gather_limited(
            [m.ws.close for m in members if m.ws is not None and not m.ws.closed], 200
        )


def ws_client() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=0), cookie_jar=aiohttp.DummyCookieJar()
    )


def rest_client() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=0), cookie_jar=aiohttp.DummyCookieJar(),
        timeout=aiohttp.ClientTimeout(total=30),
    )  # fmt: skip


async def post(
    rest: aiohttp.ClientSession, base: str, member: Member, path: str, body: Any = None
) -> tuple[int, Any]:
    async with rest.post(base + path, json=body, headers=member.headers(base)) as response:
        return response.status, await response.json(content_type=None)


async def ask(rest: aiohttp.ClientSession, base: str, nurse: Member, patient: int) -> int:
    """The nurse asks for a video consultation; its id."""
    status, body = await post(rest, base, nurse, "/api/v1/consultations", {
        "patient_id": patient, "channel": "video", "urgency": "urgent", "isbar": ISBAR})  # fmt: skip
    if status != 201:
        raise RuntimeError(f"POST /consultations: {status} {str(body)[:200]}")
    return int(body["consultation"]["id"])


async def accept(rest: aiohttp.ClientSession, base: str, advisor: Member, cid: int) -> None:
    status, body = await post(rest, base, advisor, f"/api/v1/consultations/{cid}/accept")
    if status != 200 or body["consultation"]["state"] != "connected":
        raise RuntimeError(f"accept: {status} {str(body)[:200]}")


def pairs_population(pairs: int) -> Population:
    """``pairs`` nurses and ``pairs`` senior nurses (each on duty around the clock)."""
    return Population(users=2 * pairs, seniors=pairs, gps=0, specialists=0, own_gps=0,
                      organisations=1, patients_per_organisation=pairs)  # fmt: skip


def cpu_share(pair: tuple[ProcSample, ProcSample] | None) -> str:
    if pair is None:
        return "not measured"
    before, after = pair
    cpu = after.cpu_seconds - before.cpu_seconds
    return f"{cpu:.1f} s CPU ({100 * cpu / max(1e-9, after.at - before.at):.0f}% of one core)"


# Part 1: relay ---------------------------------------------------------------------------------


@dataclass(eq=False)
class Flow:
    """One direction of a pair: ``sender`` signals ``to`` in consultation ``cid``."""

    sender: Member
    to: int
    cid: int
    in_flight: int = 0
    sent: int = 0
    delivered: int = 0
    refused: int = 0
    freed: asyncio.Event = field(default_factory=asyncio.Event)

    def message(self, n: int) -> str:
        stamp = time.time_ns()
        return json.dumps({
            "v": 1, "type": "signal", "consultation_id": self.cid, "to": self.to,
            "candidate": {"candidate": f"candidate:{n} 1 udp 2130706431 127.0.0.1 9 typ host ts {stamp}",
                          "sdpMid": "0", "sdpMLineIndex": 0},
        }, separators=(",", ":"))  # fmt: skip

    def settle(self) -> None:
        self.in_flight -= 1
        self.freed.set()


@dataclass
class Traffic:
    """What the clients received: rings, join replies, signals (with their latency)."""

    to: dict[int, Flow] = field(default_factory=dict)  # receiver user id -> its flow
    sent_by: dict[int, Flow] = field(default_factory=dict)  # sender user id -> its flow
    rung: dict[int, set[int]] = field(default_factory=dict)  # advisor -> consultations
    joined: Counter[int] = field(default_factory=Counter)  # consultation -> call.joined
    kinds: Counter[str] = field(default_factory=Counter)
    window: tuple[float, float] = (0.0, 0.0)  # the measured span (wall clock)
    latencies_ms: list[float] = field(default_factory=list)
    received_in_window: int = 0

    def on_text(self, member: Member, data: str, at: float) -> None:
        head = data[:48]
        if '"type":"signal"' in head:
            candidate = json.loads(data)["candidate"]["candidate"]
            sent = int(candidate.rsplit(" ", 1)[1]) / 1e9
            start, end = self.window
            if start <= sent <= end:
                self.latencies_ms.append((at - sent) * 1000)
            if start <= at <= end:
                self.received_in_window += 1
            flow = self.to[member.user_id]
            flow.delivered += 1
            flow.settle()
            return
        message = json.loads(data)
        kind = str(message.get("type"))
        if kind == "error":
            kind = f"error {message.get('code')}"
            flow = self.sent_by.get(member.user_id)
            if message.get("code") == "rate_limited" and flow is not None:
                flow.refused += 1  # the limiter refuses without an id: it was this sender's
                flow.settle()
        elif kind == "consultation.ringing":
            self.rung.setdefault(member.user_id, set()).add(message["consultation"]["id"])
        elif kind == "call.joined":
            self.joined[message["consultation_id"]] += 1
        self.kinds[kind] += 1


async def send_loop(flow: Flow, ws: aiohttp.ClientWebSocketResponse, phase: float,
                    until: float, rate: float, window: int) -> None:  # fmt: skip
    """Keep at most ``window`` of the flow's signals in flight, at most ``rate`` a second
    (no catching up after a stall: the sender never exceeds the rate), until ``until``."""
    loop = asyncio.get_running_loop()
    next_at = loop.time() + phase
    while (now := loop.time()) < until:
        if rate and next_at > now:
            await asyncio.sleep(min(next_at, until) - now)
            continue
        if flow.in_flight >= window:
            flow.freed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(flow.freed.wait(), until - now)
            continue
        flow.in_flight += 1
        flow.sent += 1
        await ws.send_str(flow.message(flow.sent))
        if rate:
            next_at = max(next_at + 1 / rate, loop.time())


@dataclass
class RelayResult:
    label: str
    throughput: float
    latency: Summary | None
    sent: int
    delivered: int
    refused: int
    lost: int
    cpu: str


async def drive_relay(
    label: str, traffic: Traffic, flows: list[Flow], sockets: dict[int, aiohttp.ClientWebSocketResponse],
    args: argparse.Namespace, relay_pids: list[int], extra: dict[str, list[int]],
) -> RelayResult:  # fmt: skip
    """The load of part 1 against whichever relay the sockets are connected to."""
    loop = asyncio.get_running_loop()
    for flow in flows:
        flow.in_flight = flow.sent = flow.delivered = flow.refused = 0
    traffic.latencies_ms.clear()
    traffic.received_in_window = 0
    now = time.time()
    traffic.window = (now + args.warmup, now + args.duration)
    until = loop.time() + args.duration
    lag = LoopLag()
    lag.start(args.duration + 1)
    before = {name: sample(pids) for name, pids in {"relay": relay_pids, **extra}.items()}
    client_before = self_cpu_seconds()
    spread = 1 / (args.rate * len(flows)) if args.rate else 0.0
    senders = [
        asyncio.create_task(
            send_loop(flow, sockets[flow.sender.user_id], i * spread, until, args.rate, args.window)
        )
        for i, flow in enumerate(flows)
    ]
    try:
        await asyncio.gather(*senders)
    finally:
        for task in senders:
            task.cancel()
    after = {name: sample(pids) for name, pids in {"relay": relay_pids, **extra}.items()}
    client_cpu = self_cpu_seconds() - client_before
    await wait_until(lambda: all(f.in_flight <= 0 for f in flows), 5.0)
    measured = args.duration - args.warmup
    sent = sum(f.sent for f in flows)
    delivered = sum(f.delivered for f in flows)
    refused = sum(f.refused for f in flows)
    result = RelayResult(
        label, traffic.received_in_window / measured, Summary.of(traffic.latencies_ms), sent,
        delivered, refused, sent - delivered - refused, cpu_share((before["relay"], after["relay"])),
    )  # fmt: skip
    print(f"\n{label}: {len(flows)} flows, {sent} signals sent, {delivered} delivered, "
          f"{refused} refused, {result.lost} lost")  # fmt: skip
    print(show("one-way latency (sent in the measured span)", result.latency))
    print(f"  delivered per second in the measured span: {result.throughput:,.0f}")
    print(lag_line(await lag.stop()))
    print(f"  relay process: {result.cpu}")
    for name in extra:
        print(f"  {name}: {cpu_share((before[name], after[name]))}")
    print(f"  bench client: {client_cpu:.1f} s CPU")
    return result


async def make_calls(run: Run, rest: aiohttp.ClientSession, traffic: Traffic) -> list[Flow]:
    """One connected consultation per nurse, through the REST API, and both joined."""
    base, world = run.server.base, run.world
    nurses, seniors = world.of_kind("nurse"), world.of_kind("senior")
    patients = next(iter(world.patients.values()))
    flows: list[Flow] = []
    started = time.perf_counter()
    for nurse, senior, patient in zip(nurses, seniors, patients, strict=False):
        cid = await ask(rest, base, nurse, patient)
        if not await wait_until(lambda s=senior, c=cid: c in traffic.rung.get(s.user_id, ()), 10):
            raise RuntimeError(f"senior nurse {senior.user_id} was not rung for {cid}")
        await accept(rest, base, senior, cid)
        for member in (nurse, senior):
            assert member.ws is not None
            await member.ws.send_str(json.dumps(
                {"v": 1, "type": "call.join", "consultation_id": cid, "id": f"j{cid}"}))  # fmt: skip
        if not await wait_until(lambda c=cid: traffic.joined[c] == 2, 10):
            raise RuntimeError(f"both did not join call {cid}")
        flows += [Flow(nurse, senior.user_id, cid), Flow(senior, nurse.user_id, cid)]
    print(f"  {len(flows) // 2} consultations asked, rung, accepted and joined through the API "
          f"in {time.perf_counter() - started:.1f} s")  # fmt: skip
    return flows


def index(traffic: Traffic, flows: list[Flow]) -> None:
    traffic.to = {f.to: f for f in flows}
    traffic.sent_by = {f.sender.user_id: f for f in flows}


async def relay_ours(
    args: argparse.Namespace, cleanup: Cleanup, root: Path
) -> tuple[RelayResult, list[int]]:
    """Part 1 against our server; also the user ids of the pairs (nurse, senior, ...)."""
    run = await start_run(pairs_population(args.pairs), root, cleanup)
    traffic = Traffic()
    sockets = Sockets(run.server.base, traffic.on_text)
    client, rest = ws_client(), rest_client()
    members = run.world.members
    try:
        await sockets.connect(members, client)
        flows = await make_calls(run, rest, traffic)
        index(traffic, flows)
        await asyncio.sleep(1.0)  # let the last routing steps' messages arrive
        traffic.kinds.clear()
        postgres, redis = pids_of(run.stores)
        profiler = args.profile and asyncio.get_running_loop().call_later(
            args.warmup, start_profile, run.server.process.pid, args.profile,
            int(args.duration - args.warmup))  # fmt: skip
        result = await drive_relay(
            "ADVICE LINE /ws (one advice-line serve)", traffic, flows,
            {m.user_id: m.ws for m in members if m.ws is not None}, args,
            [run.server.process.pid], {"Redis": redis, "PostgreSQL": postgres},
        )  # fmt: skip
        print(f"  messages other than signals: {dict(traffic.kinds) or 'none'}")
        if profiler:
            await show_profile(args.profile)
        return result, [f.sender.user_id for f in flows]
    finally:
        await sockets.close(members)
        await client.close()
        await rest.close()
        await run.conn.close()
        await stop_server(run.server)


async def show_profile(path: Path) -> None:
    raw = path.with_suffix(".raw.txt")
    await wait_until(raw.exists, 30)
    if raw.exists():
        print(f"\nPROFILE of the server during the load ({raw}):")
        print("\n".join(summarise_profile(raw)))


def start_bare_relay(root: Path, cleanup: Cleanup) -> Server:
    port = free_port()
    log_file = root / "bare-relay.log"
    with log_file.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("bare_relay.py")), "--port", str(port)],
            stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    cleanup.process("bare relay", process)
    return Server(process, f"http://127.0.0.1:{port}", log_file)


async def relay_bare(
    args: argparse.Namespace, cleanup: Cleanup, root: Path, users: list[int]
) -> RelayResult:
    """The same clients and load against the bare relay (same user ids, same pairs)."""
    server = start_bare_relay(root, cleanup)
    await wait_ready(server)
    client = ws_client()
    members = [Member(user, "bare", 0) for user in users]
    traffic = Traffic()
    sockets = Sockets(server.base, traffic.on_text)

    async def one(member: Member) -> None:
        member.ws = await client.ws_connect(f"{server.base}/ws?user={member.user_id}",
                                            autoping=True, heartbeat=None)  # fmt: skip
        sockets.readers.append(asyncio.create_task(sockets.read(member)))

    try:
        failures = [r for r in await gather_limited([functools.partial(one, m) for m in members], 100)
                    if isinstance(r, BaseException)]  # fmt: skip
        if failures:
            raise RuntimeError(f"{len(failures)} bare-relay sockets failed: {failures[0]!r}")
        by_user = {m.user_id: m for m in members}
        flows: list[Flow] = []
        for n, (a, b) in enumerate(zip(users[0::2], users[1::2], strict=True), start=1):
            flows += [Flow(by_user[a], b, n), Flow(by_user[b], a, n)]
        index(traffic, flows)
        return await drive_relay(
            "BARE aiohttp relay (bench/bare_relay.py, same clients)", traffic, flows,
            {m.user_id: m.ws for m in members if m.ws is not None}, args,
            [server.process.pid], {},
        )  # fmt: skip
    finally:
        await sockets.close(members)
        await client.close()
        await stop_server(server)


def relay_main(args: argparse.Namespace, cleanup: Cleanup, root: Path) -> int:
    print(f"relay: {args.pairs} pairs, window {args.window} per direction, "
          + (f"{args.rate:g} signals/s per sender" if args.rate else "unpaced")
          + f" (the /ws limit is {RATE_PER_SECOND:g}/s), {args.duration:g} s "
          f"({args.warmup:g} s warm-up)")  # fmt: skip
    ours, users = asyncio.run(asyncio.wait_for(relay_ours(args, cleanup, root), timeout=300))
    cleanup.run()  # our server and the stores are stopped before the bare relay starts
    if not root.exists():  # removed with the rest: the bare relay's log goes in a new one
        root.mkdir()
        cleanup.add("temporary directory", lambda: shutil.rmtree(root, ignore_errors=True))
    bare = asyncio.run(asyncio.wait_for(relay_bare(args, cleanup, root, users), timeout=120))
    ratio = ours.throughput / bare.throughput if bare.throughput else 0.0
    p99 = ours.latency.p99 if ours.latency else float("inf")
    print("\nCOMPARISON (same run, same clients and load)")
    print(f"  {'':<36} {'msgs/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}  lost  refused  CPU")
    for r in (ours, bare):
        lat = r.latency
        figures = f"{lat.p50:8.1f} {lat.p99:8.1f} {lat.max:8.1f}" if lat else "  no samples"
        print(
            f"  {r.label[:36]:<36} {r.throughput:8,.0f} {figures}  {r.lost:4d}  {r.refused:7d}  {r.cpu}"
        )
    ok = ratio >= RATIO_GOAL and p99 <= RELAY_P99_GOAL_MS and ours.lost == 0
    print(f"  throughput ours / bare: x{ratio:.2f}; goal: at least x{RATIO_GOAL:g} with p99 <= "
          f"{RELAY_P99_GOAL_MS:g} ms (ours {p99:.1f} ms) and nothing lost: "
          f"{'met' if ok else 'MISSED'}")  # fmt: skip
    return 0 if ok else 1


# Part 2: idle ----------------------------------------------------------------------------------


async def settled_rss(pid: int, within: float, window: int = 5) -> tuple[int, float]:
    """Sample ``pid``'s RSS each second until the last ``window`` samples agree within 1%
    (or ``within`` seconds pass); the last RSS and how long it took."""
    started = time.monotonic()
    seen: list[int] = []
    while time.monotonic() - started < within:
        seen.append(sample([pid]).rss_bytes)
        recent = seen[-window:]
        if len(recent) == window and max(recent) - min(recent) <= 0.01 * max(recent):
            break
        await asyncio.sleep(1.0)
    return seen[-1], time.monotonic() - started


async def idle_run(args: argparse.Namespace, cleanup: Cleanup, root: Path) -> bool:
    population = Population(users=args.users, seniors=0, gps=0, specialists=0, own_gps=0,
                            organisations=1, patients_per_organisation=1)  # fmt: skip
    run = await start_run(population, root, cleanup)
    pid = run.server.process.pid
    per_user = -(-args.connections // args.users)
    members = [dataclasses.replace(m) for m in run.world.members for _ in range(per_user)]
    members = members[: args.connections]
    sockets = Sockets(run.server.base, None)
    client = ws_client()
    try:
        idle, waited = await settled_rss(pid, 30)
        print(f"  server RSS idle (no sockets): {idle / MiB:.0f} MiB (settled in {waited:.0f} s)")
        client_before = sample([os.getpid()]).rss_bytes
        await sockets.connect(members, client)
        connected, waited = await settled_rss(pid, args.settle)
        print(f"  server RSS with {len(members)} sockets: {connected / MiB:.0f} MiB "
              f"(settled {waited:.0f} s after the last connected)")  # fmt: skip
        cpu_before = sample([pid])
        await asyncio.sleep(args.hold)
        held = sample([pid])
        open_now = sum(1 for m in members if m.ws is not None and not m.ws.closed)
        client_rss = sample([os.getpid()]).rss_bytes
        peak = peak_rss_bytes(pid)
        worst = max(connected, held.rss_bytes)
        per_connection = (worst - idle) / len(members)
        print(f"  after holding them {args.hold:g} s: server RSS {held.rss_bytes / MiB:.0f} MiB, "
              f"peak {peak / MiB:.0f} MiB, {open_now} still open; server "
              f"{cpu_share((cpu_before, held))} while idle")  # fmt: skip
        print(f"  per connection: {per_connection / 1024:.1f} KiB of server RSS; bench client RSS "
              f"{client_before / MiB:.0f} -> {client_rss / MiB:.0f} MiB "
              f"({(client_rss - client_before) / len(members) / 1024:.1f} KiB per socket)")  # fmt: skip
        ok = (len(members) >= IDLE_GOAL_CONNECTIONS and open_now == len(members)
              and worst <= IDLE_GOAL_BYTES)  # fmt: skip
        print(f"  goal: {IDLE_GOAL_CONNECTIONS:,} connections at <= {IDLE_GOAL_BYTES / 1e6:.0f} MB "
              f"RSS: {len(members):,} at {worst / 1e6:.0f} MB ({worst / MiB:.0f} MiB): "
              f"{'met' if ok else 'MISSED'}")  # fmt: skip
        return ok
    finally:
        await sockets.close(members)
        await client.close()
        await run.conn.close()
        await stop_server(run.server)


# Part 3: set-up ---------------------------------------------------------------------------------


@dataclass
class Setup:
    """One call's instants (``time.monotonic()``)."""

    requested: float = 0.0
    rung: float = 0.0
    accepted: float = 0.0
    joined: float = 0.0
    connected: dict[int, float] = field(default_factory=dict)  # user -> ICE connected
    secured: dict[int, float] = field(default_factory=dict)  # user -> DTLS done (media ready)


class SetupTraffic:
    """The two people's messages: rings are accepted at once; signals go to their peer."""

    def __init__(self, run: Run, rest: aiohttp.ClientSession) -> None:
        self.run = run
        self.rest = rest
        self.call: Setup | None = None
        self.cid = 0
        self.joined: Counter[int] = Counter()
        self.peers: dict[int, Any] = {}  # user -> CallPeer of the present call
        self.inbox: dict[int, asyncio.Queue[dict[str, Any]]] = {}
        self.errors: list[str] = []
        self.tasks: set[asyncio.Task[None]] = set()

    def spawn(self, coroutine: Any) -> None:
        task = asyncio.create_task(coroutine)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def on_text(self, member: Member, data: str, _at: float) -> None:
        message = json.loads(data)
        kind = message.get("type")
        if kind == "consultation.ringing" and self.call is not None:
            self.call.rung = time.monotonic()
            self.spawn(self.accept(member, message["consultation"]["id"]))
        elif kind == "call.joined":
            self.joined[message["consultation_id"]] += 1
        elif kind == "signal":
            self.inbox[member.user_id].put_nowait(message)
        elif kind == "error":
            self.errors.append(f"{message.get('code')}: {message.get('detail')}")

    async def accept(self, senior: Member, cid: int) -> None:
        try:
            await accept(self.rest, self.run.server.base, senior, cid)
            if self.call is not None:
                self.call.accepted = time.monotonic()
        except Exception as exc:
            self.errors.append(repr(exc))

    async def feed(self, user: int) -> None:
        """Hand the user's signals to its present peer, in order."""
        queue = self.inbox[user]
        while True:
            message = await queue.get()
            peer = self.peers.get(user)
            if peer is not None:
                try:
                    await peer.handle(message)
                except Exception as exc:
                    self.errors.append(f"peer {user}: {exc!r}")


def make_peer(traffic: SetupTraffic, call: Setup, cid: int, member: Member,
              stun: list[dict[str, Any]]) -> Any:  # fmt: skip
    """An aiortc peer for ``member`` sending video and audio, its state changes timed."""
    from signalling.call_peer import CallPeer

    assert member.ws is not None
    peer = CallPeer(cid, stun, functools.partial(send_json, member.ws))
    peer.add_media(video=True, audio=True)

    def on_ice() -> None:
        if peer.pc.iceConnectionState in ("connected", "completed"):
            call.connected.setdefault(member.user_id, time.monotonic())

    def on_state() -> None:
        if peer.pc.connectionState == "connected":
            call.secured.setdefault(member.user_id, time.monotonic())

    peer.pc.on("iceconnectionstatechange", on_ice)
    peer.pc.on("connectionstatechange", on_state)
    traffic.peers[member.user_id] = peer
    return peer


async def one_call(traffic: SetupTraffic, nurse: Member, senior: Member, patient: int,
                   stun: list[dict[str, Any]]) -> Setup:  # fmt: skip
    """Ask, accept on the ring, join, negotiate; timed. The senior nurse is free after it."""
    run, rest = traffic.run, traffic.rest
    call = traffic.call = Setup(requested=time.monotonic())
    cid = await ask(rest, run.server.base, nurse, patient)
    if not await wait_until(lambda: call.accepted > 0, 10, interval=0.002):
        raise RuntimeError(f"call {cid} was not accepted: {traffic.errors[-3:]}")
    for member in (nurse, senior):
        assert member.ws is not None
        await member.ws.send_str(json.dumps({"v": 1, "type": "call.join", "consultation_id": cid}))
    if not await wait_until(lambda: traffic.joined[cid] == 2, 10, interval=0.002):
        raise RuntimeError(f"both did not join call {cid}")
    call.joined = time.monotonic()
    peers = [make_peer(traffic, call, cid, member, stun) for member in (nurse, senior)]
    try:
        await peers[0].offer(senior.user_id)
        if not await wait_until(lambda: len(call.connected) == 2, 20, interval=0.002):
            raise RuntimeError(f"ICE did not connect in call {cid}: {traffic.errors[-3:]}")
        # Closed before DTLS is done, aiortc's own connect task fails noisily: wait for it.
        if not await wait_until(lambda: len(call.secured) == 2, 10, interval=0.002):
            raise RuntimeError(f"DTLS did not complete in call {cid}")
    finally:
        traffic.peers.clear()
        for peer in peers:
            await peer.close()
    base = run.server.base
    for path in ("end", "wrap-up-done"):  # the senior nurse is free for the next call
        status, body = await post(rest, base, senior, f"/api/v1/consultations/{cid}/{path}")
        if status != 200:
            raise RuntimeError(f"{path}: {status} {str(body)[:200]}")
    return call


async def send_json(ws: aiohttp.ClientWebSocketResponse, message: dict[str, Any]) -> None:
    await ws.send_str(json.dumps(message))


async def setup_run(args: argparse.Namespace, cleanup: Cleanup, root: Path) -> bool:
    population = Population(users=2, seniors=1, gps=0, specialists=0, own_gps=0,
                            organisations=1, patients_per_organisation=args.calls)  # fmt: skip
    run = await start_run(population, root, cleanup)
    # Imported only now: the test helpers make password hashing cheap for their process.
    import pytest

    from tests.integration.call_helpers import StunResponder, keep_ice_on_loopback

    patch = pytest.MonkeyPatch()
    keep_ice_on_loopback(patch)  # host candidates on 127.0.0.1; never a public STUN server
    cleanup.add("ICE patches", patch.undo)
    loop = asyncio.get_running_loop()
    transport, responder = await loop.create_datagram_endpoint(
        StunResponder, local_addr=("127.0.0.1", 0))  # fmt: skip
    stun = [{"urls": [f"stun:127.0.0.1:{responder.port}"]}]
    client, rest = ws_client(), rest_client()
    traffic = SetupTraffic(run, rest)
    sockets = Sockets(run.server.base, traffic.on_text)
    nurse, senior = run.world.of_kind("nurse")[0], run.world.of_kind("senior")[0]
    patients = next(iter(run.world.patients.values()))
    try:
        await sockets.connect([nurse, senior], client)
        for member in (nurse, senior):
            traffic.inbox[member.user_id] = asyncio.Queue()
            traffic.spawn(traffic.feed(member.user_id))
        calls = []
        for n in range(args.calls):
            calls.append(await one_call(traffic, nurse, senior, patients[n], stun))
        return report_setup(calls, responder.requests, traffic.errors)
    finally:
        for task in list(traffic.tasks):
            task.cancel()
        await asyncio.gather(*traffic.tasks, return_exceptions=True)
        transport.close()
        await sockets.close([nurse, senior])
        await client.close()
        await rest.close()
        await run.conn.close()
        await stop_server(run.server)


def report_setup(calls: list[Setup], stun_requests: int, errors: list[str]) -> bool:
    def ms(pairs: list[tuple[float, float]]) -> Summary | None:
        return Summary.of([(b - a) * 1000 for a, b in pairs])

    total = ms([(c.requested, max(c.connected.values())) for c in calls])
    print(f"\nSETUP of {len(calls)} calls, one after the other (STUN requests answered: "
          f"{stun_requests}; errors: {errors or 'none'})")  # fmt: skip
    print(show("request -> ICE connected on both sides", total))
    print(show("  request -> ring at the senior nurse", ms([(c.requested, c.rung) for c in calls])))
    print(show("  ring -> accept answered (200)", ms([(c.rung, c.accepted) for c in calls])))
    print(show("  accepted -> both call.joined", ms([(c.accepted, c.joined) for c in calls])))
    print(show("  both joined -> ICE connected on both",
               ms([(c.joined, max(c.connected.values())) for c in calls])))  # fmt: skip
    print(show("request -> connected on both (DTLS done: media flows)",
               ms([(c.requested, max(c.secured.values())) for c in calls])))  # fmt: skip
    return total is not None and not errors


# Main -------------------------------------------------------------------------------------------


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parts = parser.add_subparsers(dest="part", required=True)
    relay = parts.add_parser("relay", help="relay throughput and latency against a bare relay")
    relay.add_argument("--pairs", type=int, default=50, help="connected consultations")
    relay.add_argument("--duration", type=float, default=20.0, help="seconds of load")
    relay.add_argument("--warmup", type=float, default=2.0, help="seconds not measured")
    relay.add_argument("--window", type=int, default=4, help="signals in flight per direction")
    relay.add_argument("--rate", type=float, default=0.9 * RATE_PER_SECOND,
                       help="signals a second per sender (0: as fast as the window allows)")  # fmt: skip
    relay.add_argument("--profile", type=Path, default=None,
                       help="py-spy the server during the load: write PATH.raw.txt")  # fmt: skip
    idle = parts.add_parser("idle", help="memory of idle authenticated connections")
    idle.add_argument("--connections", type=int, default=IDLE_GOAL_CONNECTIONS)
    idle.add_argument("--users", type=int, default=200, help="users the sockets belong to")
    idle.add_argument("--settle", type=float, default=60.0, help="seconds to wait for RSS")
    idle.add_argument("--hold", type=float, default=20.0, help="seconds to hold them open")
    setup = parts.add_parser("setup", help="call set-up between two aiortc peers")
    setup.add_argument("--calls", type=int, default=30)
    args = parser.parse_args()
    if args.part == "relay" and args.warmup >= args.duration:
        parser.error("--warmup must be shorter than --duration")
    return args


def main() -> int:
    args = parse()
    sockets_needed = getattr(args, "connections", 0) + 2 * getattr(args, "pairs", 0)
    raise_fd_limit(2 * sockets_needed + 4096)  # the server inherits it
    configure_logging("console", "warning")
    cleanup = Cleanup()
    root = Path(tempfile.mkdtemp(prefix="signalling-bench-"))
    if not args.keep:
        cleanup.add("temporary directory", lambda: shutil.rmtree(root, ignore_errors=True))
    print(f"signalling bench, part {args.part}: {os.cpu_count()} CPUs, load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}, in {root}")  # fmt: skip
    try:
        if args.part == "relay":
            return relay_main(args, cleanup, root)
        run = idle_run if args.part == "idle" else setup_run
        ok = asyncio.run(asyncio.wait_for(run(args, cleanup, root), timeout=900))
        return 0 if ok else 1
    except Exception as exc:
        print(f"\nRUN FAILED: {exc!r}")
        return 2
    finally:
        cleanup.run()
        print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    sys.exit(main())
