"""Capacity: how much one node holds within its latency goals, how much two hold, and the
memory and CPU of 1,000 connections.

Issue 8: "Concurrent connections and consultations one node holds within its latency goals;
the same with two nodes (goal at least 1.8x); memory and CPU per 1,000 connections."

Three parts, each its own subcommand:

``one``
    ONE ``advice-line serve``, clients connecting to it directly. A *step* is K live calls
    among N connected users, with this mixed load:

    - every user has one authenticated WebSocket and sends the browser's heartbeat ``ping``
      every 15 s (``web/static/live.js``), spread evenly; the pong's round trip is timed;
    - K pairs (a nurse and a senior nurse) are in live calls: each call asked for through the
      REST API, rung, accepted, and ``call.join``-ed by both; each side sends the other a
      ``signal`` ICE candidate ``--signal-rate`` times a second (default 1, send time in the
      candidate: one-way latency as ``bench/signalling_bench.py`` measures it) and a
      ``call.quality`` report every 10 s (``web/static/media_call.js``);
    - the rest are idle nurses, and a pool of 12 senior nurses, 8 GPs and 8 own GPs on duty;
      new consultations arrive at ``--rate`` a second (default 2, open loop) from 100 of the
      idle nurses and are routed, rung, accepted, ended and documented exactly as
      ``bench/routing_bench.py`` does (its ``Load``), one in five a *timer call* whose own GP
      never answers, so the 5 s ring timer moves it on.

    N is ``--users-per-call`` times K (default 6: two in the call, four idle), at least the
    pool and the 100 asking nurses besides the calls. K doubles from ``--start-calls`` until a
    step breaks a goal, then is bisected (``--resolution``), each step measured for
    ``--measure`` seconds after ``--warmup``. A step *holds* when: relay p99 <= 20 ms (issue 5)
    with no signal lost or refused; request -> first ring p99 <= 250 ms with every call rung
    and every request answered 201; ring-timer lateness p99 <= 250 ms; no socket dropped and
    no error message. Reported: the largest step that holds, with its p50/p99s, each
    process's CPU and the nodes' RSS.
``two``
    In the same run, with the same stores and world: first ``one`` (unless ``--one-calls K``
    gives its result), then TWO nodes behind HAProxy (``balance leastconn``, plain HTTP; the
    backend options of ``deploy/haproxy.cfg``), clients connecting through HAProxy, stepping
    from one node's capacity. Reports two / one; goal at least 1.8.
``per1000``
    ONE node: server RSS and CPU with no sockets, then with ``--idle`` idle authenticated
    sockets (heartbeat pings every 15 s), then with ``--active`` more sockets in live calls
    (signalling and quality reports as above); RSS settled each time (as ``signalling_bench
    idle``) and CPU over ``--hold`` seconds; per 1,000 connections of each kind.

This machine has 2 cores, shared by PostgreSQL, Redis, HAProxy, the bench client and the
nodes (and by other sessions' work): every step prints the CPU each of them used, the whole
machine's and what other processes used, so a reader sees when a step was limited by the
machine (a core saturated by the client or the stores, or the two cores full) rather than by
the service. A step that breaks while other processes used more than ``--quiet`` % of a
core is measured once more. ``--pin`` pins node i to CPU i-1 with ``taskset``; not the
default, because with the stores and the client free to run anywhere a pinned node waits
whenever they run on its core (measured: docs/benchmarks.md). Each node loads a
``sitecustomize`` that logs its garbage collections of 5 ms or more; each step reports them.

Stores and people as ``bench/routing_bench.py`` arranges them (embedded PostgreSQL and Redis,
or ``ADVICE_LINE_BENCH_DATABASE_URL``/``ADVICE_LINE_BENCH_REDIS_URL``; users, one-person
round-the-clock rotas, patients and sessions directly in SQL). Every process started is
stopped on any exit.

Run: ``/tmp/venv/bin/python bench/capacity_bench.py one|two|per1000`` (``--help`` per part;
``--quick`` for a smoke run of a minute). Exits 1 when the 1.8x goal is missed (``two``), 2
when the run failed.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from load_harness import (
    Cleanup,
    LoopLag,
    ProcSample,
    Summary,
    children_of,
    free_port,
    gather_limited,
    lag_line,
    open_loop,
    raise_fd_limit,
    sample,
    self_cpu_seconds,
    show,
    tail,
    wait_until,
)
from routing_bench import (
    RING_SECONDS,
    TIMER_GOAL_MS,
    Load,
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
    start_stores,
    summarise_profile,
    timer_lateness,
    wait_ready,
)
from signalling_bench import (
    RELAY_P99_GOAL_MS,
    Flow,
    Traffic,
    accept,
    ask,
    index,
    post,
    rest_client,
    send_loop,
    settled_rss,
    ws_client,
)

from advice_line.db import _init_connection
from advice_line.logsetup import configure_logging
from advice_line.migrate import migrate

T = TypeVar("T")

#: Request -> first ring: the bound used here as "within the latency goals" (issue 8 names
#: none; the routing goal is relative to Janus, see docs/benchmarks.md): the timer goal's.
RING_P99_GOAL_MS = 250.0
SCALE_GOAL = 1.8
POOL_SENIORS, POOL_GPS, POOL_OWN_GPS = 12, 8, 8
ASKING_NURSES = 100
ORGANISATIONS = 10
PING_SECONDS = 15.0  # web/static/live.js pings at the server's heartbeat interval (15 s)
QUALITY_SECONDS = 10.0  # web/static/media_call.js reports call quality every 10 s
SIGNAL_WINDOW = 8  # signals in flight per direction before a sender waits
CALL_KINDS = ("call_nurse", "call_senior")
MiB = 2**20


# Who plays what -----------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Pair:
    """The two people of one live call, and the patient it is about."""

    nurse: Member
    senior: Member
    patient: int


@dataclass(frozen=True)
class Shape:
    """A step: ``calls`` live calls among ``users`` connected users."""

    calls: int
    users: int


@dataclass
class Cast:
    """The arranged world, split into roles: pairs for live calls (in order: a step with K
    calls uses the first K), idle nurses (the first ASKING_NURSES ask for new consultations),
    and the pool of advisors who take the new consultations."""

    world: World
    pairs: list[Pair]
    idle: list[Member]
    pool: list[Member]
    routing: World  # what routing_bench.Load sees: the asking nurses and the pool

    def shape(self, calls: int, users_per_call: float) -> Shape:
        floor = 2 * calls + len(self.pool) + ASKING_NURSES
        return Shape(calls, max(floor, round(users_per_call * calls)))

    def members(self, shape: Shape) -> list[Member]:
        """Who is connected at ``shape``."""
        if not shape.users:
            return []
        assert shape.calls <= len(self.pairs), "more calls than arranged pairs"
        in_calls = [m for p in self.pairs[: shape.calls] for m in (p.nurse, p.senior)]
        rest = shape.users - len(self.pool) - len(in_calls)
        assert rest <= len(self.idle), "more users than arranged"
        return [*self.pool, *in_calls, *self.idle[:rest]]


async def set_status(conn: asyncpg.Connection, user_ids: Sequence[int], status: str) -> None:
    """Advisors' chosen availability, as ``PUT /api/v1/presence`` stores it."""
    await conn.execute(
        """INSERT INTO advisor_presence (user_id, status) SELECT unnest($1::bigint[]), $2
           ON CONFLICT (user_id) DO UPDATE SET status = EXCLUDED.status, updated_at = now()""",
        list(user_ids),
        status,
    )


async def arrange_cast(conn: asyncpg.Connection, max_calls: int, max_users: int) -> Cast:
    """``routing_bench.arrange`` sized for the largest step, then split into roles."""
    population = Population(
        users=max_users, seniors=POOL_SENIORS + max_calls, gps=POOL_GPS, specialists=0,
        own_gps=POOL_OWN_GPS, organisations=ORGANISATIONS,
        patients_per_organisation=max_calls // ORGANISATIONS + 10,
    )  # fmt: skip
    assert population.nurses >= max_calls + ASKING_NURSES, "too few users for the calls"
    world = await arrange(conn, population)
    nurses, seniors = world.of_kind("nurse"), world.of_kind("senior")
    pairs = []
    for i in range(max_calls):
        nurse, senior = nurses[i], seniors[POOL_SENIORS + i]
        nurse.kind, senior.kind = CALL_KINDS  # their messages go to the calls, not to Load
        patients = world.patients[nurse.organisation_id]
        pairs.append(Pair(nurse, senior, patients[(i // ORGANISATIONS) % len(patients)]))
    idle = nurses[max_calls:]
    pool = [*seniors[:POOL_SENIORS], *world.of_kind("gp"), *world.of_kind("own_gp")]
    routing = World([*idle[:ASKING_NURSES], *pool], world.patients, world.own_gp_patients,
                    world.password)  # fmt: skip
    # Away until their call is set up: each request must ring exactly its senior nurse.
    await set_status(conn, [p.senior.user_id for p in pairs], "away")
    return Cast(world, pairs, idle, pool, routing)


# Nodes and the balancer ---------------------------------------------------------------------------

HAPROXY_CONFIG = """\
# Written by bench/capacity_bench.py: deploy/haproxy.cfg's balancing, timeouts and health
# checks, without TLS (the bench measures the nodes, not the proxy's TLS) and without logs.
global
    maxconn {maxconn}
defaults
    mode http
    retries 3
    option redispatch 1
    timeout connect 5s
    timeout http-request 10s
    timeout queue 10s
    timeout client 30s
    timeout server 30s
    timeout tunnel 12h
    timeout client-fin 10s
    timeout server-fin 10s
frontend advice_line
    bind 127.0.0.1:{port}
    option forwardfor
    http-response set-header X-Advice-Line-Node %s
    default_backend nodes
backend nodes
    balance leastconn
    option http-server-close
    option httpchk
    http-check send meth GET uri /readyz ver HTTP/1.1 hdr Host advice-line-check
    http-check expect status 200
    default-server check inter 1s fastinter 500ms downinter 1s fall 2 rise 2
{servers}
"""


#: A ``sitecustomize`` the nodes load (through PYTHONPATH): every garbage collection of 5 ms
#: or more, with its generation, appended to the file named by CAPACITY_BENCH_GC_LOG. It
#: costs a Python call per collection; it shows whether the node's stalls are collections.
GC_HOOK = """\
import gc, os, time

_path = os.environ.get("CAPACITY_BENCH_GC_LOG")
_began = [0.0]


def _timed(phase, info):
    if phase == "start":
        _began[0] = time.perf_counter()
    elif time.perf_counter() - _began[0] >= 0.005:
        with open(_path, "a") as log:
            log.write(f"{time.time():.3f} {info['generation']} "
                      f"{(time.perf_counter() - _began[0]) * 1000:.1f}\\n")


if _path:
    gc.callbacks.append(_timed)
"""


@dataclass
class Deployment:
    """The nodes, the balancer in front of them (two nodes), and where clients connect."""

    nodes: list[Server]
    base: str
    cpus: list[int | None]
    proxy: subprocess.Popen[bytes] | None = None

    def node_pids(self) -> list[list[int]]:
        return [[n.process.pid, *children_of(n.process.pid)] for n in self.nodes]

    def pauses(self, start: float, end: float) -> list[list[tuple[int, float]]]:
        """Each node's garbage collections of 5 ms or more between ``start`` and ``end``
        (wall clock): (generation, milliseconds)."""
        found = []
        for node in self.nodes:
            path = gc_log(node.log_file)
            lines = path.read_text().splitlines() if path.exists() else []
            rows = [line.split() for line in lines]
            found.append([(int(g), float(ms)) for at, g, ms in rows if start <= float(at) <= end])
        return found


def gc_log(log_file: Path) -> Path:
    return log_file.with_suffix(".gc.log")


def pause_line(pauses: list[list[tuple[int, float]]]) -> str:
    parts = []
    for i, found in enumerate(pauses, 1):
        full = [ms for generation, ms in found if generation == 2]
        parts.append(f"node{i} {len(found)}" + (f" (max {max(ms for _, ms in found):.0f} ms; "
                     f"{len(full)} full, {sum(full):.0f} ms in all)" if found else ""))  # fmt: skip
    return "  garbage collections of 5 ms or more: " + ", ".join(parts)


def start_node(stores: Stores, root: Path, cleanup: Cleanup, *, prefix: str, name: str,
               cpu: int | None, behind_proxy: bool) -> Server:  # fmt: skip
    """``advice-line serve`` configured through ADVICE_LINE_* as ``routing_bench`` starts it,
    but with the Redis prefix the nodes share, and pinned to ``cpu`` with taskset."""
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("ADVICE_LINE_")}
    env = {
        **inherited,
        "ADVICE_LINE_DATABASE_URL": stores.database_url,
        "ADVICE_LINE_REDIS_URL": stores.redis_url,
        "ADVICE_LINE_REDIS_KEY_PREFIX": prefix,
        "ADVICE_LINE_DATA_DIR": str(root / f"{name}-data"),
        "ADVICE_LINE_ENVIRONMENT": "test",
        "ADVICE_LINE_LOG_LEVEL": "warning",
        "ADVICE_LINE_MIGRATE_ON_START": "false",
        "ADVICE_LINE_RING_SECONDS": ",".join(str(s) for s in RING_SECONDS),
        "ADVICE_LINE_TRUST_PROXY_HEADERS": "true" if behind_proxy else "false",
    }
    hook = root / "gc-hook"
    hook.mkdir(exist_ok=True)
    (hook / "sitecustomize.py").write_text(GC_HOOK)
    log_file = root / f"{name}.log"
    gc_log(log_file).unlink(missing_ok=True)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(hook), env.get("PYTHONPATH")]))
    env["CAPACITY_BENCH_GC_LOG"] = str(gc_log(log_file))
    port = free_port()
    command = [str(Path(sys.executable).parent / "advice-line"), "serve",
               "--host", "127.0.0.1", "--port", str(port)]  # fmt: skip
    if cpu is not None:
        command = ["taskset", "-c", str(cpu), *command]  # taskset execs: the same pid
    with log_file.open("wb") as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    cleanup.process(name, process, grace=15)
    return Server(process, f"http://127.0.0.1:{port}", log_file)


def start_proxy(root: Path, cleanup: Cleanup, nodes: list[Server], maxconn: int) -> tuple[
        subprocess.Popen[bytes], str]:  # fmt: skip
    binary = shutil.which("haproxy") or "/usr/sbin/haproxy"
    if not Path(binary).exists():
        raise RuntimeError("HAProxy is not installed (apt-get install haproxy)")
    port = free_port()
    servers = "\n".join(f"    server app{i} {n.base.removeprefix('http://')}"
                        for i, n in enumerate(nodes, 1))  # fmt: skip
    config = root / "haproxy.cfg"
    config.write_text(HAPROXY_CONFIG.format(maxconn=maxconn, port=port, servers=servers))
    log_file = root / "haproxy.log"
    with log_file.open("wb") as log:
        process = subprocess.Popen([binary, "-db", "-f", str(config)], stdin=subprocess.DEVNULL,
                                   stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
    cleanup.process("haproxy", process)
    return process, f"http://127.0.0.1:{port}"


async def wait_balanced(base: str, nodes: int, proxy: subprocess.Popen[bytes], log: Path) -> None:
    """Until ``/readyz`` through the balancer has been answered by every node."""
    seen: set[str] = set()
    deadline = time.monotonic() + 20
    async with aiohttp.ClientSession() as client:
        while len(seen) < nodes:
            if proxy.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"HAProxy not balancing over {nodes} nodes (saw {seen}):\n"
                                   f"{tail(log)}")  # fmt: skip
            try:
                async with client.get(base + "/readyz") as r:
                    if r.status == 200:
                        seen.add(r.headers.get("X-Advice-Line-Node", "?"))
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)  # polling interval of the deadline loop


async def deploy(stores: Stores, root: Path, cleanup: Cleanup, count: int, *, pin: bool,
                 maxconn: int) -> Deployment:  # fmt: skip
    """``count`` nodes sharing the stores and one Redis prefix; HAProxy in front of two."""
    prefix = f"cb{uuid.uuid4().hex[:8]}:"
    ncpu = os.cpu_count() or 1
    cpus: list[int | None] = [i % ncpu if pin else None for i in range(count)]
    nodes = [
        start_node(
            stores,
            root,
            cleanup,
            prefix=prefix,
            name=f"node{i + 1}",
            cpu=cpu,
            behind_proxy=count > 1,
        )
        for i, cpu in enumerate(cpus)
    ]
    await asyncio.gather(*(wait_ready(n) for n in nodes))
    if count == 1:
        return Deployment(nodes, nodes[0].base, cpus)
    proxy, base = start_proxy(root, cleanup, nodes, maxconn)
    await wait_balanced(base, count, proxy, root / "haproxy.log")
    return Deployment(nodes, base, cpus, proxy)


async def undeploy(deployment: Deployment) -> None:
    loop = asyncio.get_running_loop()
    for process in [n.process for n in deployment.nodes] + [deployment.proxy]:
        if process is not None and process.poll() is None:
            process.terminate()
            await loop.run_in_executor(None, process.wait, 20)


# CPU and memory -----------------------------------------------------------------------------------


def machine_ticks() -> tuple[int, int]:
    """(busy, total) clock ticks of all CPUs since boot, from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


@dataclass(frozen=True)
class Snapshot:
    at: float
    nodes: list[ProcSample]
    postgres: ProcSample
    redis: ProcSample
    proxy: ProcSample | None
    client: float
    machine: tuple[int, int]


def snapshot(deployment: Deployment, stores: Stores) -> Snapshot:
    postgres, redis = pids_of(stores)
    proxy = deployment.proxy
    return Snapshot(
        time.monotonic(), [sample(p) for p in deployment.node_pids()], sample(postgres),
        sample(redis), sample([proxy.pid]) if proxy else None, self_cpu_seconds(), machine_ticks(),
    )  # fmt: skip


def cpu_shares(before: Snapshot, after: Snapshot) -> dict[str, float]:
    """Each process's CPU over the span, in % of one core; "machine" is all CPUs' busy time
    (at most 100 x cores) and "others" what processes not of this bench used meanwhile."""
    wall = max(1e-9, after.at - before.at)

    def pct(a: float, b: float) -> float:
        return 100 * (b - a) / wall

    shares = {f"node{i}": pct(b.cpu_seconds, a.cpu_seconds)
              for i, (b, a) in enumerate(zip(before.nodes, after.nodes, strict=True), 1)}  # fmt: skip
    shares["PostgreSQL"] = pct(before.postgres.cpu_seconds, after.postgres.cpu_seconds)
    shares["Redis"] = pct(before.redis.cpu_seconds, after.redis.cpu_seconds)
    if before.proxy and after.proxy:
        shares["HAProxy"] = pct(before.proxy.cpu_seconds, after.proxy.cpu_seconds)
    shares["client"] = pct(before.client, after.client)
    ours = sum(shares.values())
    busy = after.machine[0] - before.machine[0]
    total = max(1, after.machine[1] - before.machine[1])
    shares["machine"] = 100 * (os.cpu_count() or 1) * busy / total
    shares["others"] = max(0.0, shares["machine"] - ours)
    return shares


# The clients --------------------------------------------------------------------------------------


class Mix:
    """Every socket's reader, and who a message is for: pongs are timed here, the live calls'
    messages go to a ``signalling_bench.Traffic``, the rest to the step's routing ``Load``."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.rest = rest_client()
        self.client = ws_client()
        self.traffic = Traffic()
        self.load: Load | None = None
        self.readers: list[asyncio.Task[None]] = []
        self.tasks: set[asyncio.Task[None]] = set()
        self.waiting: dict[int, Pair] = {}  # senior nurse -> the pair whose call she is to take
        self.calls: dict[Pair, int] = {}  # pair -> consultation id
        self.flows: list[Flow] = []
        self.pongs: list[tuple[float, float]] = []  # (sent, round trip ms)
        self.pings = 0
        self.errors: Counter[str] = Counter()

    async def read(self, member: Member) -> None:
        ws = member.ws
        assert ws is not None
        async for message in ws:
            if message.type == aiohttp.WSMsgType.TEXT:
                try:
                    self.on_text(member, message.data, time.time())
                except Exception as exc:  # a bench bug must show, not stop this reader
                    self.errors[f"handler error {exc!r}"[:120]] += 1
        if member.ws is ws:  # the bench clears member.ws before it closes a socket itself
            self.errors[f"socket closed by the server ({ws.close_code})"] += 1

    def on_text(self, member: Member, data: str, at: float) -> None:
        head = data[:40]
        if '"type":"pong"' in head:
            sent = int(json.loads(data)["id"][1:]) / 1e9
            self.pongs.append((sent, (at - sent) * 1000))
        elif member.kind in CALL_KINDS:
            if '"consultation.ringing"' in head:
                self.on_setup_ring(member, json.loads(data))
            self.traffic.on_text(member, data, at)
        elif self.load is not None:
            self.load.on_text(member, data, at)

    def spawn(self, coroutine: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coroutine)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    # Live calls ----------------------------------------------------------------------------

    def on_setup_ring(self, senior: Member, message: dict[str, Any]) -> None:
        pair = self.waiting.pop(senior.user_id, None)
        if pair is None:
            self.errors["a ring to a senior nurse not setting up a call"] += 1
            return
        self.spawn(self.take(pair, int(message["consultation"]["id"])))

    async def take(self, pair: Pair, cid: int) -> None:
        """The senior nurse accepts on the ring; both join the call."""
        try:
            await accept(self.rest, self.base, pair.senior, cid)
            self.calls[pair] = cid
            for member in (pair.nurse, pair.senior):
                assert member.ws is not None
                await member.ws.send_str(
                    json.dumps({"v": 1, "type": "call.join", "consultation_id": cid})
                )
        except Exception as exc:
            self.errors[f"call set-up: {exc!r}"[:120]] += 1

    async def open_calls(
        self, conn: asyncpg.Connection, pairs: list[Pair], pool: list[int]
    ) -> None:
        """One call per pair through the API. Only the pair's senior nurse is available when
        her nurse asks (the pool is away meanwhile), so each request rings her alone; the
        requests follow each other without waiting for the accepts."""
        await set_status(conn, pool, "away")
        try:
            for pair in pairs:
                await set_status(conn, [pair.senior.user_id], "available")
                self.waiting[pair.senior.user_id] = pair
                await ask(self.rest, self.base, pair.nurse, pair.patient)

            def joined() -> bool:
                return all(self.traffic.joined[self.calls.get(p, -1)] >= 2 for p in pairs)

            if not await wait_until(joined, 30 + 0.05 * len(pairs)):
                missing = sum(1 for p in pairs if self.traffic.joined[self.calls.get(p, -1)] < 2)
                raise RuntimeError(f"{missing} of {len(pairs)} calls not set up; "
                                   f"errors {dict(self.errors)}")  # fmt: skip
        finally:
            await set_status(conn, pool, "available")
        for pair in pairs:
            cid = self.calls[pair]
            self.flows += [Flow(pair.nurse, pair.senior.user_id, cid),
                           Flow(pair.senior, pair.nurse.user_id, cid)]  # fmt: skip
        index(self.traffic, self.flows)

    async def end_calls(self, conn: asyncpg.Connection, pairs: list[Pair]) -> None:
        """The senior nurse ends each call and documents it; she is away afterwards."""

        async def end(pair: Pair) -> None:
            cid = self.calls.pop(pair)
            for path in ("end", "wrap-up-done"):
                status, body = await post(self.rest, self.base, pair.senior,
                                          f"/api/v1/consultations/{cid}/{path}")  # fmt: skip
                if status != 200:
                    raise RuntimeError(f"{path} of call {cid}: {status} {str(body)[:200]}")

        results = await gather_limited([functools.partial(end, p) for p in pairs], 20)
        failed = [r for r in results if isinstance(r, BaseException)]
        if failed:
            raise RuntimeError(f"{len(failed)} calls could not be ended: {failed[0]!r}")
        await set_status(conn, [p.senior.user_id for p in pairs], "away")
        gone = {id(p.nurse) for p in pairs} | {id(p.senior) for p in pairs}
        self.flows = [f for f in self.flows if id(f.sender) not in gone]
        index(self.traffic, self.flows)

    # Sockets ----------------------------------------------------------------------------------

    async def connect(self, members: list[Member]) -> None:
        if not members:
            return
        _, wall, failed = await connect_all(self, members, self.client, self.readers)  # type: ignore[arg-type]
        if failed:
            raise RuntimeError(f"{failed} of {len(members)} WebSockets failed to connect")
        print(f"  connected {len(members)} WebSockets in {wall:.1f} s")

    async def disconnect(self, members: list[Member]) -> None:
        """Close on purpose (1000, leaving the page): no resume grace."""
        sockets = []
        for member in members:
            if member.ws is not None:
                sockets.append(member.ws)
                member.ws = None
        await gather_limited([s.close for s in sockets], 200)

    async def close(self) -> None:
        for task in [*self.readers, *self.tasks]:
            task.cancel()
        await asyncio.gather(*self.readers, *self.tasks, return_exceptions=True)
        await self.client.close()
        await self.rest.close()

    # Background chatter -----------------------------------------------------------------------

    def signal(self, rate: float, until: float) -> list[asyncio.Task[None]]:
        """A paced sender per flow (``signalling_bench.send_loop``), their phases spread."""
        spread = 1 / (rate * max(1, len(self.flows)))
        tasks = []
        for i, flow in enumerate(self.flows):
            assert flow.sender.ws is not None
            sending = send_loop(flow, flow.sender.ws, i * spread, until, rate, SIGNAL_WINDOW)
            tasks.append(asyncio.create_task(sending))
        return tasks

    async def send(self, member: Member, text: str) -> None:
        if member.ws is None:
            return
        try:
            await member.ws.send_str(text)
        except (aiohttp.ClientError, ConnectionError) as exc:
            self.errors[f"send failed: {exc!r}"[:120]] += 1

    async def ping(self, member: Member) -> None:
        self.pings += 1
        await self.send(member, f'{{"v":1,"type":"ping","id":"p{time.time_ns()}"}}')

    async def quality(self, flow: Flow) -> None:
        await self.send(flow.sender, json.dumps({
            "v": 1, "type": "call.quality", "consultation_id": flow.cid, "rtt_ms": 42.0,
            "packet_loss": 0.01, "bitrate_kbps": 900, "relay": False}))  # fmt: skip


async def paced(items: Sequence[T], period: float, until: float,
                send: Callable[[T], Awaitable[None]]) -> None:  # fmt: skip
    """Call ``send`` for each item once every ``period`` seconds, spread evenly over the
    period, until ``until`` (the loop's clock)."""
    if not items:
        return
    loop = asyncio.get_running_loop()
    gap = period / len(items)
    next_at = loop.time()
    n = 0
    while next_at < until:
        delay = next_at - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        await send(items[n % len(items)])
        n += 1
        next_at += gap


# One step -----------------------------------------------------------------------------------------


@dataclass
class Step:
    nodes: int
    shape: Shape
    relay: Summary | None
    signals: tuple[int, int, int, int]  # sent, delivered, refused, lost
    ring: Summary | None
    never_rung: int
    requests: int
    timers: Summary | None
    pong: Summary | None
    cpu: dict[str, float]
    rss: list[int]
    lag: Summary | None
    load_average: float
    pauses: list[list[tuple[int, float]]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    attempts: int = 1  # measured again when other work on the machine disturbed a break

    @property
    def ok(self) -> bool:
        return not self.problems


def problems_of(step: Step, errors: Counter[str], request_errors: int) -> list[str]:
    found = []
    relay, ring, timers = step.relay, step.ring, step.timers
    if relay is None or relay.p99 > RELAY_P99_GOAL_MS:
        found.append(
            f"relay p99 {relay.p99 if relay else float('nan'):.1f} ms > {RELAY_P99_GOAL_MS:g}"
        )
    if step.signals[2] or step.signals[3]:
        found.append(f"signals refused {step.signals[2]}, lost {step.signals[3]}")
    if ring is None or ring.p99 > RING_P99_GOAL_MS:
        found.append(
            f"first ring p99 {ring.p99 if ring else float('nan'):.0f} ms > {RING_P99_GOAL_MS:g}"
        )
    if step.never_rung or request_errors:
        found.append(f"{step.never_rung} calls never rung, {request_errors} requests failed")
    if timers is not None and timers.p99 > TIMER_GOAL_MS:
        found.append(f"timer lateness p99 {timers.p99:.0f} ms > {TIMER_GOAL_MS:g}")
    if errors:
        found.append(f"errors {dict(errors.most_common(3))}")
    return found


@dataclass
class Bench:
    """A deployment, its clients, and the shape they are in; steps are measured on it."""

    args: argparse.Namespace
    stores: Stores
    conn: asyncpg.Connection
    cast: Cast
    deployment: Deployment
    mix: Mix
    shape: Shape = Shape(0, 0)

    async def resize(self, shape: Shape) -> None:
        """From the present shape to ``shape``: fewer calls first, then sockets, then calls."""
        started = time.perf_counter()
        old, cast, mix = self.shape, self.cast, self.mix
        if shape.calls < old.calls:
            await mix.end_calls(self.conn, cast.pairs[shape.calls : old.calls])
        wanted = set(map(id, cast.members(shape)))
        present = cast.members(old) if old.users else []
        await mix.disconnect([m for m in present if id(m) not in wanted])
        await mix.connect([m for m in cast.members(shape) if m.ws is None])
        if shape.calls > old.calls:
            pool = [m.user_id for m in cast.pool]
            await mix.open_calls(self.conn, cast.pairs[old.calls : shape.calls], pool)
        self.shape = shape
        print(f"  now {shape.calls} live calls among {shape.users} users "
              f"(changed in {time.perf_counter() - started:.1f} s)")  # fmt: skip

    async def step(self, calls: int) -> Step:
        args = self.args
        shape = self.cast.shape(calls, args.users_per_call)
        print(f"\nSTEP: {len(self.deployment.nodes)} node(s), {shape.calls} live calls, "
              f"{shape.users} users, load average {os.getloadavg()[0]:.2f}")  # fmt: skip
        await self.resize(shape)
        await asyncio.sleep(1.0)  # the last joins' and welcomes' messages arrive
        await self.quiet()
        step = await self.measure(shape)
        print(self.describe(step))
        if not step.ok and step.cpu["others"] > args.quiet:
            print(f"  other work on the machine used {step.cpu['others']:.0f}% of a core "
                  "meanwhile: measuring this step once more")  # fmt: skip
            await self.quiet()
            step = await self.measure(shape)
            step.attempts = 2
            print(self.describe(step))
        return step

    async def quiet(self) -> None:
        """Wait, at most ``--wait-quiet`` seconds, until processes that are not this bench's
        use at most ``--quiet`` % of a core (other sessions share this machine)."""
        if self.args.wait_quiet <= 0:
            return
        deadline = time.monotonic() + self.args.wait_quiet
        while True:
            before = snapshot(self.deployment, self.stores)
            await asyncio.sleep(2.0)  # the span over which the machine's use is sampled
            others = cpu_shares(before, snapshot(self.deployment, self.stores))["others"]
            if others <= self.args.quiet:
                return
            if time.monotonic() > deadline:
                print(f"  the machine did not quieten (others {others:.0f}% of a core): measuring")
                return

    def reset_counters(self, start: float, end: float) -> None:
        traffic = self.mix.traffic
        traffic.latencies_ms.clear()
        traffic.received_in_window = 0
        traffic.kinds.clear()
        traffic.window = (start, end)
        for flow in self.mix.flows:
            flow.in_flight = flow.sent = flow.delivered = flow.refused = 0
        self.mix.pongs.clear()
        self.mix.pings = 0
        self.mix.errors.clear()

    async def measure(self, shape: Shape) -> Step:
        args, mix = self.args, self.mix
        loop = asyncio.get_running_loop()
        routing = Load(mix.base, self.cast.routing, mix.rest)
        routing.plan(int(args.rate * args.measure), args.timer_every)
        own_before, other_before, _ = await timer_lateness(self.conn, routing)
        start = time.time() + args.warmup
        self.reset_counters(start, start + args.measure)
        until = loop.time() + args.warmup + args.measure
        members = self.cast.members(shape)
        senders = mix.signal(args.signal_rate, until)
        senders.append(asyncio.create_task(paced(members, PING_SECONDS, until, mix.ping)))
        senders.append(asyncio.create_task(paced(mix.flows, QUALITY_SECONDS, until, mix.quality)))
        lag = LoopLag()
        lag.start(args.warmup + args.measure)
        mix.load = routing
        try:
            await asyncio.sleep(args.warmup)
            before = snapshot(self.deployment, self.stores)
            profiler = self.profile(shape)
            await open_loop(args.rate, args.measure, routing.request)
            await asyncio.gather(*senders)
            after = snapshot(self.deployment, self.stores)
            lag_summary = await lag.stop()
            await wait_until(lambda: all(f.in_flight <= 0 for f in mix.flows), 5.0)
            await wait_until(routing.settled, args.drain)
        finally:
            for task in senders:
                task.cancel()
            mix.load = None
        if profiler is not None:
            await self.show_profile(profiler)
        own, other, _ = await timer_lateness(self.conn, routing)
        return self.result(shape, routing, own[len(own_before):] + other[len(other_before):],
                           before, after, lag_summary)  # fmt: skip

    def profile(self, shape: Shape) -> tuple[subprocess.Popen[bytes], Path] | None:
        """py-spy on node 1 over the measured span (``--profile DIR``)."""
        if self.args.profile is None:
            return None
        self.args.profile.mkdir(parents=True, exist_ok=True)
        path = self.args.profile / f"node1-{len(self.deployment.nodes)}n-{shape.calls}calls"
        spy = start_profile(self.deployment.nodes[0].process.pid, path, int(self.args.measure))
        return None if spy is None else (spy, path.with_suffix(".raw.txt"))

    async def show_profile(self, profiler: tuple[subprocess.Popen[bytes], Path]) -> None:
        spy, raw = profiler
        await asyncio.get_running_loop().run_in_executor(None, spy.wait, 30)
        if raw.exists():
            print(f"  PROFILE of node 1 over the measured span ({raw}):")
            print("\n".join(summarise_profile(raw, top=14)))

    def result(self, shape: Shape, routing: Load, lateness: list[float], before: Snapshot,
               after: Snapshot, lag: Summary | None) -> Step:  # fmt: skip
        mix, traffic = self.mix, self.mix.traffic
        start, end = traffic.window
        calls = [c for c in routing.calls if c.sent]
        sent = sum(f.sent for f in mix.flows)
        delivered = sum(f.delivered for f in mix.flows)
        refused = sum(f.refused for f in mix.flows)
        for kind, n in traffic.kinds.items():
            if kind.startswith("error"):
                mix.errors[kind] += n
        for kind, n in routing.stray.items():
            mix.errors[f"routing: {kind}"] += n
        step = Step(
            nodes=len(self.deployment.nodes), shape=shape,
            relay=Summary.of(traffic.latencies_ms),
            signals=(sent, delivered, refused, sent - delivered - refused),
            ring=Summary.of([(c.first_ring - c.sent) * 1000 for c in calls if c.first_ring]),
            never_rung=sum(1 for c in calls if c.first_ring is None), requests=len(calls),
            timers=Summary.of(lateness),
            pong=Summary.of([ms for at, ms in mix.pongs if start <= at <= end]),
            cpu=cpu_shares(before, after), rss=[s.rss_bytes for s in after.nodes], lag=lag,
            load_average=os.getloadavg()[0], pauses=self.deployment.pauses(start, end),
        )  # fmt: skip
        request_errors = sum(1 for c in calls if c.status != 201)
        step.problems = problems_of(step, mix.errors, request_errors)
        return step

    def describe(self, step: Step) -> str:
        sent, delivered, refused, lost = step.signals
        cpu = ", ".join(f"{name} {pct:.0f}%" for name, pct in step.cpu.items())
        rss = ", ".join(f"{r / MiB:.0f}" for r in step.rss)
        return "\n".join([
            show("signal one-way (sent in the measured span)", step.relay),
            f"  {'':<58} {sent} sent, {delivered} delivered, {refused} refused, {lost} lost",
            show(f"request -> first ring ({step.requests} requests, {step.never_rung} never rung)",
                 step.ring),
            show("ring-timer lateness (timed_out - due)", step.timers),
            show(f"heartbeat ping -> pong ({self.mix.pings} pings)", step.pong),
            lag_line(step.lag),
            pause_line(step.pauses),
            f"  CPU (% of one core): {cpu}",
            f"  node RSS: {rss} MiB; load average at the end {step.load_average:.2f}",
            "  holds every goal" if step.ok else "  BREAKS: " + "; ".join(step.problems),
        ])  # fmt: skip

    async def stop(self) -> None:
        await self.resize(Shape(0, 0))
        await undeploy(self.deployment)


# Stepping -----------------------------------------------------------------------------------------


def next_calls(held: int, broke: int | None, last: int, args: argparse.Namespace) -> int | None:
    """Doubling until a step breaks, then bisecting between the largest step that held and
    the smallest that broke; None when the gap is within the resolution."""
    if broke is None:
        return None if last >= args.max_calls else min(2 * last, args.max_calls)
    if broke - held <= max(2, args.resolution * held):
        return None
    return (held + broke) // 2 if held else broke // 2


async def find_capacity(bench: Bench, start: int) -> tuple[Step | None, list[Step]]:
    steps: list[Step] = []
    held: Step | None = None
    broke: int | None = None
    calls: int | None = start
    while calls and len(steps) < bench.args.max_steps:
        step = await bench.step(calls)
        steps.append(step)
        if step.ok and (held is None or calls > held.shape.calls):
            held = step
        if not step.ok:
            broke = calls if broke is None else min(broke, calls)
        calls = next_calls(held.shape.calls if held else 0, broke, calls, bench.args)
    return held, steps


def pair(x: Summary | None) -> str:
    return f"{x.p50:.1f}/{x.p99:.1f}" if x else "-"


def table(steps: list[Step]) -> list[str]:
    """One row per step; CPU in % of one core (the machine's at most 100 x cores)."""
    lines = [
        f"  {'':18}  {'p50/p99 ms':^23}  {'p99 ms':^21}  {'max ms':^6}  {'CPU, % of one core':^48}",
        f"  {'nodes':>5} {'calls':>5} {'users':>5}  {'relay':>11} {'first ring':>11}  "
        f"{'timer':>6} {'pong':>6} {'lag':>6}  {'GC':>6}  {'nodes':>7} {'PG':>4} {'Redis':>5} "
        f"{'HAProxy':>7} {'client':>6} {'machine':>7} {'others':>6}  {'RSS MiB':>7}  verdict",
    ]
    for s in steps:
        cpu = s.cpu
        nodes = "+".join(f"{cpu[f'node{i}']:.0f}" for i in range(1, s.nodes + 1))
        longest_gc = max((ms for found in s.pauses for _, ms in found), default=0.0)

        def p99(x: Summary | None) -> str:
            return f"{x.p99:.0f}" if x else "-"

        lines.append(
            f"  {s.nodes:>5} {s.shape.calls:>5} {s.shape.users:>5}  {pair(s.relay):>11} "
            f"{pair(s.ring):>11}  {p99(s.timers):>6} {p99(s.pong):>6} {p99(s.lag):>6}  "
            f"{longest_gc:>6.0f}  {nodes:>7} {cpu['PostgreSQL']:>4.0f} {cpu['Redis']:>5.0f} "
            f"{cpu.get('HAProxy', 0):>7.0f} {cpu['client']:>6.0f} {cpu['machine']:>7.0f} "
            f"{cpu['others']:>6.0f}  {'+'.join(f'{r / MiB:.0f}' for r in s.rss):>7}  "
            f"{'holds' if s.ok else 'breaks'}{' (2nd try)' if s.attempts > 1 else ''}"
        )
    return lines


# The parts ----------------------------------------------------------------------------------------


def stores_up(root: Path, cleanup: Cleanup) -> Stores:
    """``routing_bench.start_stores``, once more if Redis's pid file was not there yet: it is
    read as soon as the port answers and now and then comes a moment later. The second call
    reuses the stores the first started (``advice_line.embedded`` reuses a running one)."""
    try:
        return start_stores(root, cleanup)
    except FileNotFoundError:
        time.sleep(1.0)  # the pid file is written right after the port opens
        return start_stores(root, cleanup)


@dataclass
class Stage:
    """Stores, a migrated database and the cast, shared by the deployments of a run."""

    stores: Stores
    conn: asyncpg.Connection
    cast: Cast


async def stage(args: argparse.Namespace, cleanup: Cleanup, root: Path, max_calls: int,
                max_users: int) -> Stage:  # fmt: skip
    started = time.perf_counter()
    stores = await asyncio.get_running_loop().run_in_executor(None, stores_up, root, cleanup)
    await create_database(stores, cleanup)
    conn = await asyncpg.connect(stores.database_url)
    await _init_connection(conn)
    await migrate(conn)
    cast = await arrange_cast(conn, max_calls, max_users)
    print(f"SETUP: stores, schema and {len(cast.world.members)} users ({max_calls} call pairs, "
          f"{len(cast.pool)} advisors in the routing pool) in "
          f"{time.perf_counter() - started:.1f} s")  # fmt: skip
    return Stage(stores, conn, cast)


async def capacity_on(args: argparse.Namespace, cleanup: Cleanup, root: Path, staged: Stage,
                      nodes: int, start: int) -> tuple[Step | None, list[Step]]:  # fmt: skip
    # HAProxy holds two descriptors per connection, within the hard limit it inherits.
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    maxconn = min(args.max_users + 1000, (hard - 200) // 2)
    deployment = await deploy(staged.stores, root, cleanup, nodes, pin=args.pin, maxconn=maxconn)
    pins = ", ".join(f"node{i} on CPU {c}" if c is not None else f"node{i} unpinned"
                     for i, c in enumerate(deployment.cpus, 1))  # fmt: skip
    print(f"\n{nodes} NODE(S) at {deployment.base}: {pins}; PostgreSQL, Redis, "
          f"{'HAProxy, ' if nodes > 1 else ''}the bench client unpinned")  # fmt: skip
    bench = Bench(args, staged.stores, staged.conn, staged.cast, deployment, Mix(deployment.base))
    try:
        return await find_capacity(bench, start)
    finally:
        try:
            await bench.stop()
        finally:
            await bench.mix.close()


def verdict(label: str, held: Step | None, steps: list[Step]) -> str:
    if held is None:
        return (
            f"  {label}: no step held (smallest tried: {min(s.shape.calls for s in steps)} calls)"
        )
    broke = [s for s in steps if not s.ok and s.shape.calls > held.shape.calls]
    if not broke:
        return (f"  {label}: {held.shape.calls} live calls among {held.shape.users} users, "
                "no larger step tried")  # fmt: skip
    first = min(broke, key=lambda s: s.shape.calls)
    return (f"  {label}: {held.shape.calls} live calls among {held.shape.users} users; the next "
            f"step up ({first.shape.calls} calls) broke, when {limit(first)}")  # fmt: skip


def limit(step: Step) -> str:
    """What the CPU figures say about a step that broke: the machine, a process, or neither."""
    cpu, cores = step.cpu, os.cpu_count() or 1
    busiest = max((n for n in cpu if n not in ("machine", "others")), key=lambda n: cpu[n])
    if cpu["machine"] >= 90 * cores:
        return f"the machine's {cores} cores were full ({cpu['machine']:.0f}% of a core)"
    if cpu[busiest] >= 90:
        return f"{busiest} saturated a core ({cpu[busiest]:.0f}%)"
    if cpu["others"] > 25:
        return f"other work on the machine used {cpu['others']:.0f}% of a core"
    return (f"no core was full (machine {cpu['machine']:.0f}% of {100 * cores}%, busiest "
            f"{busiest} {cpu[busiest]:.0f}%): the latency tail broke first")  # fmt: skip


async def run_capacity(args: argparse.Namespace, cleanup: Cleanup, root: Path) -> int:
    staged = await stage(args, cleanup, root, args.max_calls, args.max_users)
    try:
        one: Step | None = None
        steps: list[Step] = []
        if args.part == "one" or not args.one_calls:
            one, steps = await capacity_on(args, cleanup, root, staged, 1, args.start_calls)
        if args.part == "one":
            print("\nCAPACITY, ONE NODE (largest step holding every goal)")
            print("\n".join(table(steps)))
            print(verdict("one node", one, steps))
            return 0
        one_calls = one.shape.calls if one else args.one_calls
        two, two_steps = await capacity_on(args, cleanup, root, staged, 2,
                                           max(one_calls, args.start_calls))  # fmt: skip
    finally:
        await staged.conn.close()
    print("\nCAPACITY, ONE NODE AND TWO (largest step holding every goal)")
    print("\n".join(table(steps + two_steps)))
    if steps:
        print(verdict("one node", one, steps))
    else:
        print(f"  one node: {one_calls} live calls (given with --one-calls)")
    print(verdict("two nodes", two, two_steps))
    ratio = (two.shape.calls / one_calls) if two and one_calls else 0.0
    ok = ratio >= SCALE_GOAL
    print(f"  two / one: x{ratio:.2f} in live calls; goal at least x{SCALE_GOAL:g}: "
          f"{'met' if ok else 'MISSED'}")  # fmt: skip
    return 0 if ok else 1


async def per_thousand(args: argparse.Namespace, cleanup: Cleanup, root: Path) -> int:
    pairs = args.active // 2
    staged = await stage(args, cleanup, root, pairs,
                         args.idle + 2 * pairs + POOL_SENIORS + POOL_GPS + POOL_OWN_GPS)  # fmt: skip
    deployment = await deploy(staged.stores, root, cleanup, 1, pin=args.pin, maxconn=0)
    pid = deployment.nodes[0].process.pid
    mix = Mix(deployment.base)
    cast = staged.cast
    chatter: list[asyncio.Task[None]] = []
    loop = asyncio.get_running_loop()
    forever = loop.time() + 3600

    async def hold(label: str) -> tuple[int, float]:
        rss, waited = await settled_rss(pid, args.settle)
        before = sample([pid])
        began = time.time()
        await asyncio.sleep(args.hold)
        after = sample([pid])
        cpu = 100 * (after.cpu_seconds - before.cpu_seconds) / (after.at - before.at)
        print(f"  {label}: RSS {rss / MiB:.1f} MiB (settled in {waited:.0f} s), "
              f"CPU {cpu:.1f}% of one core over {args.hold:g} s")  # fmt: skip
        pongs = Summary.of([ms for at, ms in mix.pongs if at >= began])
        print(show("    heartbeat ping -> pong meanwhile", pongs))
        print("  " + pause_line(deployment.pauses(began, time.time())))
        return rss, cpu

    try:
        print(f"\nPER 1,000 CONNECTIONS, one node ({'CPU 0' if args.pin else 'unpinned'})")
        base_rss, base_cpu = await hold("no sockets")
        idle = cast.idle[: args.idle]
        await mix.connect(idle)
        chatter.append(asyncio.create_task(paced(idle, PING_SECONDS, forever, mix.ping)))
        idle_rss, idle_cpu = await hold(f"{len(idle)} idle sockets, pinging every 15 s")
        active = cast.pairs[:pairs]
        await mix.connect([m for p in active for m in (p.nurse, p.senior)])
        await mix.open_calls(staged.conn, active, [])
        members = [*idle, *(m for p in active for m in (p.nurse, p.senior))]
        chatter[0].cancel()
        chatter.append(asyncio.create_task(paced(members, PING_SECONDS, forever, mix.ping)))
        chatter.append(asyncio.create_task(paced(mix.flows, QUALITY_SECONDS, forever, mix.quality)))
        chatter += mix.signal(args.signal_rate, forever)
        mix.traffic.window = (time.time(), time.time() + 3600)
        active_rss, active_cpu = await hold(
            f"and {2 * pairs} sockets in {pairs} live calls "
            f"({args.signal_rate:g} signals/s per side, quality every 10 s)")  # fmt: skip
        print(show("  signal one-way latency meanwhile", Summary.of(mix.traffic.latencies_ms)))
        print("\nPER 1,000 CONNECTIONS (one node; RSS settled, CPU in % of one core)")
        print(f"  idle, authenticated (pings every 15 s): "
              f"{(idle_rss - base_rss) / len(idle) * 1000 / MiB:.1f} MiB RSS, "
              f"{(idle_cpu - base_cpu) / len(idle) * 1000:.2f}% CPU")  # fmt: skip
        print(f"  active, in a live call ({args.signal_rate:g} signals/s and a quality report "
              f"per 10 s each): {(active_rss - idle_rss) / (2 * pairs) * 1000 / MiB:.1f} MiB RSS, "
              f"{(active_cpu - idle_cpu) / (2 * pairs) * 1000:.1f}% CPU")  # fmt: skip
        print(f"  the node alone: {base_rss / MiB:.0f} MiB RSS, {base_cpu:.1f}% CPU; errors: "
              f"{dict(mix.errors) or 'none'}")  # fmt: skip
        return 0 if not mix.errors else 2
    finally:
        for task in chatter:
            task.cancel()
        await asyncio.gather(*chatter, return_exceptions=True)
        await mix.disconnect([m for m in cast.world.members if m.ws is not None])
        await mix.close()
        await undeploy(deployment)
        await staged.conn.close()


# Main ---------------------------------------------------------------------------------------------


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--keep", action="store_true", help="keep the temporary directory")
    common.add_argument("--pin", action="store_true",
                        help="pin node i to CPU i-1 with taskset (default: unpinned)")  # fmt: skip
    common.add_argument("--quick", action="store_true", help="a smoke run, not a measurement")
    parts = parser.add_subparsers(dest="part", required=True)
    for name, what in (("one", "capacity of one node"),
                       ("two", "capacity of two nodes behind HAProxy, and two / one")):  # fmt: skip
        part = parts.add_parser(name, help=what, parents=[common])
        part.add_argument("--start-calls", type=int, default=50)
        part.add_argument("--max-calls", type=int, default=800, help="pairs arranged")
        part.add_argument("--users-per-call", type=float, default=6.0)
        part.add_argument("--resolution", type=float, default=0.25,
                          help="stop bisecting when the gap is within this fraction")  # fmt: skip
        part.add_argument("--max-steps", type=int, default=6, help="per node count")
        part.add_argument("--signal-rate", type=float, default=1.0, help="per side, a second")
        part.add_argument("--rate", type=float, default=2.0, help="new consultations a second")
        part.add_argument("--timer-every", type=int, default=5, help="one timer call in N")
        part.add_argument("--warmup", type=float, default=5.0)
        part.add_argument("--measure", type=float, default=20.0, help="seconds measured a step")
        part.add_argument("--drain", type=float, default=15.0, help="seconds for calls to end")
        part.add_argument("--profile", type=Path, default=None,
                          help="py-spy node 1 during each step: DIR/node1-*.raw.txt")  # fmt: skip
        part.add_argument("--quiet", type=float, default=25.0,
                          help="%% of a core other processes may use before a step starts")  # fmt: skip
        part.add_argument("--wait-quiet", type=float, default=20.0,
                          help="seconds to wait for that at most")  # fmt: skip
        if name == "two":
            part.add_argument("--one-calls", type=int, default=0,
                              help="one node's capacity from an earlier run (skip measuring it)")  # fmt: skip
    per = parts.add_parser("per1000", help="memory and CPU per 1,000 connections", parents=[common])
    per.add_argument("--idle", type=int, default=3000, help="idle sockets")
    per.add_argument("--active", type=int, default=1000, help="sockets in live calls (even)")
    per.add_argument("--signal-rate", type=float, default=1.0, help="per side, a second")
    per.add_argument("--settle", type=float, default=60.0, help="seconds to wait for RSS")
    per.add_argument("--hold", type=float, default=20.0, help="seconds CPU is measured")
    args = parser.parse_args()
    if args.quick:
        quick(args)
    if args.part != "per1000":
        args.max_users = round(max(args.users_per_call * args.max_calls,
                                   2 * args.max_calls + ASKING_NURSES
                                   + POOL_SENIORS + POOL_GPS + POOL_OWN_GPS))  # fmt: skip
    return args


def quick(args: argparse.Namespace) -> None:
    """Small and short: a smoke run, not a measurement."""
    if args.part == "per1000":
        args.idle, args.active, args.settle, args.hold = 200, 40, 8.0, 3.0
        return
    args.start_calls, args.max_calls, args.max_steps = 4, 8, 1
    args.warmup, args.measure, args.drain, args.rate = 1.0, 3.0, 12.0, 3.0
    args.wait_quiet, args.quiet = 0.0, float("inf")  # neither waited for nor measured again


def main() -> int:
    args = parse()
    raise_fd_limit(1 << 20)  # as many as the hard limit allows (the nodes inherit it)
    configure_logging("console", "warning")
    cleanup = Cleanup()
    root = Path(tempfile.mkdtemp(prefix="capacity-bench-"))
    if not args.keep:
        cleanup.add("temporary directory", lambda: shutil.rmtree(root, ignore_errors=True))
    print(f"capacity bench, part {args.part}: {os.cpu_count()} CPUs, load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}, in {root}")  # fmt: skip
    started = time.monotonic()
    try:
        run = per_thousand if args.part == "per1000" else run_capacity
        return asyncio.run(asyncio.wait_for(run(args, cleanup, root), timeout=1800))
    except Exception as exc:
        traceback.print_exc()
        print(f"\nRUN FAILED: {exc!r}")
        return 2
    finally:
        cleanup.run()
        print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; "
              f"the run took {time.monotonic() - started:.0f} s")  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
