"""Routing under load on one node, side by side with Janus's VideoCall plugin in the same run.

The issue: 2,000 connected users on one node, 50 new consultations a second; time from the
request to the first ``consultation.ringing``, from an accept to the other rings withdrawn,
and ring-timer lateness; p99 not slower than Janus's VideoCall doing the same job (call ->
incoming call) measured in the same run.

What it does, in order:

1. Starts embedded PostgreSQL and Redis in a temporary directory (or uses
   ``ADVICE_LINE_BENCH_DATABASE_URL``, a server URL whose user may create databases, and
   ``ADVICE_LINE_BENCH_REDIS_URL``), creates and migrates a fresh database, and arranges the
   world directly in it: organisations, users (one production-cost argon2 hash shared by
   all), patients, one-person round-the-clock rotas (a tier's on-duty set is the union of
   its rotas), GP commitments, and one server-side session per user.
2. Starts ONE ``advice-line serve`` process (environment ``test``, log level ``warning``,
   ring seconds 5,5,5, every other setting at its default) and opens one authenticated
   WebSocket per user (2,000 by default), at most 100 connecting at once.
3. Drives 50 consultations a second for 20 s with an open-loop scheduler (each request is
   sent at its slot whatever happened to earlier ones), each ``POST /api/v1/consultations``
   from a nurse. Advisors answer like people who pounce: the first free advisor whose
   WebSocket delivers the ring accepts at once, ends the call and documents it
   (``/end``, ``/wrap-up-done``), so they are free again; the others wait for the
   withdrawal. One call in ten is a *timer call*: the senior nurse who takes it escalates at
   once, and tier 2 first rings the patient's own GP alone (a GP commitment), who never
   answers; after 5 s the ring timer moves the call on to the rota's GPs, one of whom joins.
4. Measures (a) request sent -> first ``consultation.ringing`` received by any advisor;
   (b) accept sent -> ``consultation.withdrawn`` received by each other rung advisor;
   (c) ring-timer lateness: the timer's ``timed_out`` instant in the timeline, and the next
   stage's ring as received, each minus the due time (offer instant + ring seconds); and
   the server's CPU time and memory from ``/proc`` (PostgreSQL's, Redis's and this
   client's CPU too, since all share two cores).
5. Stops the server and the stores, then runs ``bench/janus_videocall_bench.py`` with the
   same number of WebSocket clients and the same rate, and prints both side by side.

Why the timer calls go through an own GP: ``ring_all`` makes every advisor it rings busy
until the ring ends, so a silent ring of tier 1 would hold all of tier 1 for 5 s and push
every other call to tier 2. The own-GP stage rings one GP for the same 5 s through the same
durable timer, without taking the tier away from the other calls.

Run: ``/tmp/venv/bin/python bench/routing_bench.py`` (``--help`` for the knobs;
``--profile PATH`` samples the server with py-spy for 10 s in the middle of the load;
``--skip-janus`` for our side only). Exits 1 when a goal is missed, 2 when the run failed.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import functools
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
from redis.asyncio import Redis

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
    peak_rss_bytes,
    raise_fd_limit,
    sample,
    self_cpu_seconds,
    show,
    tail,
    wait_until,
)

from advice_line import audit, rota_store, sessions
from advice_line.db import _init_connection
from advice_line.embedded import EmbeddedPostgres, EmbeddedRedis
from advice_line.logsetup import configure_logging
from advice_line.migrate import migrate
from advice_line.passwords import hash_password
from advice_line.settings import Settings

ACTOR = audit.Actor(None, "routing-bench")
RING_SECONDS = (5.0, 5.0, 5.0)
JANUS_P99_REFERENCE_MS = 16.0  # the figure for Janus on these machines
TIMER_GOAL_MS = 250.0
CONNECT_CONCURRENCY = 100
MARKER = re.compile(r"bench call (\d+)")
ALWAYS = {
    "name": "always",
    "shift_length": 1,
    "unit": "days",
    "handoff": dt.time(0),
    "start_date": dt.date(2025, 1, 6),
    "windows": [],
}
WHOLE_WEEK = [{"days": [0, 1, 2, 3, 4, 5, 6], "start": "00:00", "end": "00:00"}]


# The world ---------------------------------------------------------------------------------


@dataclass(eq=False)
class Member:
    """One simulated user: a server-side session, a WebSocket, and (advisors) being busy."""

    user_id: int
    kind: str  # nurse, senior, gp, specialist, own_gp
    organisation_id: int
    cookie: str = ""
    csrf: str = ""
    ws: aiohttp.ClientWebSocketResponse | None = None
    busy: bool = False
    messages: int = 0

    def headers(self, base: str) -> dict[str, str]:
        return {
            "Cookie": f"{sessions.COOKIE_NAME}={self.cookie}",
            "X-CSRF-Token": self.csrf,
            "Origin": base.rstrip("/"),
        }


@dataclass
class World:
    members: list[Member]
    patients: dict[int, list[int]]  # organisation -> its ordinary patients
    own_gp_patients: list[tuple[int, int]]  # (patient, organisation) with an own-GP commitment
    password: str

    def of_kind(self, kind: str) -> list[Member]:
        return [m for m in self.members if m.kind == kind]


@dataclass(frozen=True)
class Population:
    users: int
    seniors: int
    gps: int
    specialists: int
    own_gps: int
    organisations: int
    patients_per_organisation: int

    @property
    def nurses(self) -> int:
        return self.users - self.seniors - self.gps - self.specialists - self.own_gps


async def arrange(conn: asyncpg.Connection, population: Population) -> World:
    """Everything directly in the database, as an administrator's tools would leave it."""
    password = f"bench-{uuid.uuid4().hex}"
    password_hash = hash_password(password)  # one production-cost hash, shared by everyone
    orgs = {}
    for kind, count in (
        ("home_care", population.organisations),
        ("gp_practice", 1),
        ("hospital", 1),
    ):
        orgs[kind] = [
            await conn.fetchval(
                "INSERT INTO organisations (name, kind) VALUES ($1, $2) RETURNING id",
                f"Bench {kind} {n}",
                kind,
            )
            for n in range(count)
        ]
    plan: list[tuple[str, str | None, int, str]] = []
    for n in range(population.nurses):
        plan.append(("nurse", None, orgs["home_care"][n % population.organisations], "nurse"))
    for kind, tier, count, org in (
        ("senior", "senior_nurse", population.seniors, orgs["home_care"][0]),
        ("gp", "gp", population.gps, orgs["gp_practice"][0]),
        ("specialist", "specialist", population.specialists, orgs["hospital"][0]),
        ("own_gp", "gp", population.own_gps, orgs["gp_practice"][0]),
    ):
        plan.extend((kind, tier, org, "advisor") for _ in range(count))
    rows = [
        (f"bench-{kind}-{i}", f"Bench {kind} {i}", role, tier, org, password_hash)
        for i, (kind, tier, org, role) in enumerate(plan)
    ]
    await conn.executemany(
        """INSERT INTO users (username, display_name, role, tier, organisation_id, password_hash)
           VALUES ($1, $2, $3, $4, $5, $6)""",
        rows,
    )
    ids = {r["username"]: r["id"] for r in await conn.fetch("SELECT id, username FROM users")}
    members = [
        Member(ids[row[0]], kind, org) for row, (kind, _, org, _) in zip(rows, plan, strict=True)
    ]

    for member in members:  # one rota per advisor, on duty around the clock
        rota_tier = {"senior": "senior_nurse", "gp": "gp", "specialist": "specialist"}.get(
            member.kind
        )
        if rota_tier is not None:
            rota = await rota_store.create_rota(
                conn, ACTOR, {"name": f"{rota_tier} {member.user_id}", "tier": rota_tier}
            )
            await rota_store.save_layer(
                conn, ACTOR, rota.id, None, {**ALWAYS, "participants": [member.user_id]}
            )

    patients: dict[int, list[int]] = {}
    for org in orgs["home_care"]:
        patients[org] = [
            await conn.fetchval(
                """INSERT INTO patients (reference, organisation_id, name, diagnosis_group, dnr,
                                         dnr_decided_by, treatment_level, treatment_limitations)
                   VALUES ($1, $2, $3, 'cancer', true, 'Bench GP', 'limited', 'No ICU')
                   RETURNING id""",
                f"B-{org}-{n}",
                org,
                f"Bench Patient {org}-{n}",
            )
            for n in range(population.patients_per_organisation)
        ]
    own_gp_patients = []
    for n, gp in enumerate(m for m in members if m.kind == "own_gp"):
        org = orgs["home_care"][n % population.organisations]
        patient = await conn.fetchval(
            """INSERT INTO patients (reference, organisation_id, name, diagnosis_group)
               VALUES ($1, $2, $3, 'non_cancer') RETURNING id""",
            f"G-{n}",
            org,
            f"Bench Own-GP Patient {n}",
        )
        await conn.execute(
            """INSERT INTO gp_commitments (patient_id, gp_id, windows, valid_from, note)
               VALUES ($1, $2, $3, '2020-01-01', 'bench')""",
            patient,
            gp.user_id,
            WHOLE_WEEK,
        )
        own_gp_patients.append((patient, org))

    settings = Settings()
    for member in members:
        member.cookie, member.csrf = await sessions.create(
            conn, member.user_id, settings, ip="127.0.0.1", user_agent="routing-bench"
        )
    return World(members, patients, own_gp_patients, password)


# Stores and the server ------------------------------------------------------------------------


@dataclass
class Stores:
    admin_url: str
    redis_url: str
    database: str = ""
    postmaster_pid: int | None = None
    redis_pid: int | None = None

    @property
    def database_url(self) -> str:
        return self.admin_url.rsplit("/", 1)[0] + "/" + self.database


def start_stores(root: Path, cleanup: Cleanup) -> Stores:
    admin_url = os.environ.get("ADVICE_LINE_BENCH_DATABASE_URL", "")
    redis_url = os.environ.get("ADVICE_LINE_BENCH_REDIS_URL", "")
    postmaster = redis_pid = None
    if not admin_url:
        pg = EmbeddedPostgres(root / "postgres")
        cleanup.add("embedded PostgreSQL", pg.stop)
        admin_url = pg.start()
        postmaster = int((pg.pgdata / "postmaster.pid").read_text().split()[0])
    if not redis_url:
        rd = EmbeddedRedis(root / "redis")
        cleanup.add("embedded Redis", rd.stop)
        redis_url = rd.start()
        redis_pid = int((rd.root / "redis.pid").read_text().strip())
    return Stores(admin_url, redis_url, postmaster_pid=postmaster, redis_pid=redis_pid)


async def create_database(stores: Stores, cleanup: Cleanup) -> None:
    stores.database = f"routing_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(stores.admin_url)
    try:
        await admin.execute(f'CREATE DATABASE "{stores.database}"')
    finally:
        await admin.close()

    def drop() -> None:
        async def go() -> None:
            conn = await asyncpg.connect(stores.admin_url)
            try:
                await conn.execute(f'DROP DATABASE IF EXISTS "{stores.database}" WITH (FORCE)')
            finally:
                await conn.close()

        asyncio.run(go())

    if os.environ.get("ADVICE_LINE_BENCH_DATABASE_URL"):
        cleanup.add("bench database", drop)  # an embedded cluster goes with its directory


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    base: str
    log_file: Path


def start_server(
    stores: Stores,
    root: Path,
    cleanup: Cleanup,
    *,
    db_pool_max: int | None,
    event_loop: str | None = None,
) -> Server:
    """ONE ``advice-line serve``, configured through ADVICE_LINE_* as an operator would."""
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("ADVICE_LINE_")}
    env = {
        **inherited,
        "ADVICE_LINE_DATABASE_URL": stores.database_url,
        "ADVICE_LINE_REDIS_URL": stores.redis_url,
        "ADVICE_LINE_REDIS_KEY_PREFIX": f"rb{uuid.uuid4().hex[:8]}:",
        "ADVICE_LINE_DATA_DIR": str(root / "server-data"),
        "ADVICE_LINE_ENVIRONMENT": "test",
        "ADVICE_LINE_LOG_LEVEL": "warning",
        "ADVICE_LINE_MIGRATE_ON_START": "false",
        "ADVICE_LINE_RING_SECONDS": ",".join(str(s) for s in RING_SECONDS),
    }
    if db_pool_max is not None:
        env["ADVICE_LINE_DB_POOL_MAX"] = str(db_pool_max)
    if event_loop is not None:
        env["ADVICE_LINE_EVENT_LOOP"] = event_loop
    port = free_port()
    log_file = root / "server.log"
    command = str(Path(sys.executable).parent / "advice-line")
    with log_file.open("wb") as log:
        process = subprocess.Popen(
            [command, "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    cleanup.process("advice-line serve", process, grace=15)
    return Server(process, f"http://127.0.0.1:{port}", log_file)


async def wait_ready(server: Server, within: float = 60.0) -> None:
    deadline = time.monotonic() + within
    async with aiohttp.ClientSession() as client:
        while time.monotonic() < deadline:
            if server.process.poll() is not None:
                raise RuntimeError(f"the server exited:\n{tail(server.log_file)}")
            try:
                async with client.get(
                    server.base + "/readyz", timeout=aiohttp.ClientTimeout(total=2)
                ) as r:
                    if r.status == 200:
                        return
            except (aiohttp.ClientError, TimeoutError):
                pass
            await asyncio.sleep(0.1)  # polling interval of the deadline loop
    raise RuntimeError(f"the server was not ready within {within}s:\n{tail(server.log_file)}")


# The load ------------------------------------------------------------------------------------


@dataclass(eq=False)
class Call:
    """One consultation as the clients saw it (wall-clock seconds, ``time.time()``)."""

    index: int
    nurse: Member
    patient: int
    timer_call: bool
    sent: float = 0.0
    responded: float = 0.0
    status: int = 0
    state: str = ""
    consultation_id: int | None = None
    first_ring: float | None = None
    first_ring_tier: str | None = None
    phase: str = "waiting"  # waiting, escalating, done
    taker: Member | None = None  # who is answering the present phase
    advisors: list[Member] = field(default_factory=list)  # in the call
    accept_sent: float = 0.0
    accepts: list[tuple[float, float, int]] = field(default_factory=list)  # sent, done, status
    withdrawn_after_ms: list[float] = field(default_factory=list)  # answered_elsewhere
    own_gp_ring: float | None = None
    next_stage_ring: float | None = None
    errors: list[str] = field(default_factory=list)


class Load:
    """The clients' side of the run: the requests, the rings and the advisors' answers."""

    def __init__(self, base: str, world: World, rest: aiohttp.ClientSession) -> None:
        self.base = base
        self.world = world
        self.rest = rest
        self.calls: list[Call] = []
        self.by_id: dict[int, Call] = {}
        self.kinds: Counter[str] = Counter()
        self.stray: Counter[str] = Counter()
        self.tasks: set[asyncio.Task[None]] = set()

    # Requests ----------------------------------------------------------------------------

    def plan(self, count: int, timer_every: int) -> None:
        nurses = self.world.of_kind("nurse")
        own = self.world.own_gp_patients
        by_org: dict[int, list[Member]] = {}
        for nurse in nurses:
            by_org.setdefault(nurse.organisation_id, []).append(nurse)
        used: Counter[int] = Counter()
        for i in range(count):
            timer_call = timer_every > 0 and i % timer_every == timer_every // 2
            if timer_call:
                patient, org = own[(i // timer_every) % len(own)]
            else:
                org = nurses[i % len(nurses)].organisation_id
                patients = self.world.patients[org]
                patient = patients[i % len(patients)]
            staff = by_org[org]
            nurse = staff[used[org] % len(staff)]
            used[org] += 1
            self.calls.append(Call(i, nurse, patient, timer_call))

    async def request(self, index: int, _slot: float) -> None:
        call = self.calls[index]
        body = {
            "patient_id": call.patient,
            "channel": "video",
            "urgency": "urgent",
            "isbar": {"situation": f"bench call {index}", "request": "Råd om dosis"},
        }
        call.sent = time.time()
        try:
            async with self.rest.post(
                self.base + "/api/v1/consultations",
                json=body,
                headers=call.nurse.headers(self.base),
            ) as response:
                call.status = response.status
                payload = await response.json(content_type=None)
            call.responded = time.time()
            if call.status == 201:
                consultation = payload["consultation"]
                call.state = consultation["state"]
                call.consultation_id = consultation["id"]
                self.by_id[consultation["id"]] = call
            else:
                call.errors.append(f"request {call.status}: {str(payload)[:200]}")
        except (aiohttp.ClientError, TimeoutError) as exc:
            call.errors.append(f"request failed: {exc!r}")

    # Messages ----------------------------------------------------------------------------

    async def read(self, member: Member) -> None:
        assert member.ws is not None
        async for message in member.ws:
            if message.type != aiohttp.WSMsgType.TEXT:
                continue
            try:
                self.on_text(member, message.data, time.time())
            except Exception as exc:  # a bench bug must show, not silently stop this reader
                self.stray[f"handler error {exc!r}"[:120]] += 1

    def on_text(self, member: Member, data: str, at: float) -> None:
        member.messages += 1
        head = data[:64]
        if '"consultation.ringing"' in head:
            self.kinds["ringing"] += 1
            self.on_ring(member, json.loads(data), at)
        elif '"consultation.withdrawn"' in head:
            self.kinds["withdrawn"] += 1
            self.on_withdrawn(member, json.loads(data), at)
        elif '"consultation.updated"' in head:
            self.kinds["updated"] += 1
        elif '"consultation.status"' in head:
            self.kinds["status"] += 1
        else:
            self.kinds["other"] += 1

    def on_ring(self, member: Member, message: dict[str, Any], at: float) -> None:
        found = MARKER.fullmatch(str(message.get("isbar", {}).get("situation", "")))
        if found is None:
            self.stray["ring without a bench marker"] += 1
            return
        call = self.calls[int(found[1])]
        call.consultation_id = message["consultation"]["id"]
        self.by_id.setdefault(call.consultation_id, call)
        if call.first_ring is None:
            call.first_ring, call.first_ring_tier = at, message.get("tier")
        if member.kind == "own_gp":  # the own GP who never answers: the timer's stage
            call.own_gp_ring = call.own_gp_ring or at
            return
        if call.own_gp_ring is not None and call.next_stage_ring is None:
            call.next_stage_ring = at
        if member.busy:
            self.kinds["rings to an advisor busy in another call"] += 1
        elif call.phase != "done" and call.taker is None:
            call.taker, member.busy = member, True
            task = asyncio.create_task(self.answer(call, member))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    def on_withdrawn(self, member: Member, message: dict[str, Any], at: float) -> None:
        call = self.by_id.get(message.get("consultation_id", -1))
        if call is None:
            self.stray["withdrawal of an unknown call"] += 1
            return
        if message.get("reason") == "answered_elsewhere" and call.accept_sent:
            call.withdrawn_after_ms.append((at - call.accept_sent) * 1000)

    # Advisors' answers -------------------------------------------------------------------

    async def post(self, member: Member, call: Call, action: str, body: Any = None) -> int:
        url = f"{self.base}/api/v1/consultations/{call.consultation_id}/{action}"
        try:
            async with self.rest.post(
                url, json=body, headers=member.headers(self.base)
            ) as response:
                await response.read()
                if response.status != 200:
                    call.errors.append(f"{action} by {member.kind}: {response.status}")
                return response.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            call.errors.append(f"{action} failed: {exc!r}")
            return 0

    async def answer(self, call: Call, member: Member) -> None:
        call.accept_sent = sent = time.time()
        status = await self.post(member, call, "accept")
        call.accepts.append((sent, time.time(), status))
        if status != 200:  # withdrawn meanwhile (timed out): let the next ring be taken
            call.taker, member.busy = None, False
            return
        call.advisors.append(member)
        escalate = call.timer_call and member.kind == "senior" and call.own_gp_ring is None
        if escalate and call.phase == "waiting":
            call.phase, call.taker = "escalating", None  # the next ring (tier 2) is taken by a GP
            if (
                await self.post(member, call, "escalate", {"note": "bench: own GP never answers"})
                == 200
            ):
                return
        await self.finish(call)

    async def finish(self, call: Call) -> None:
        """End the call and document it, so every advisor in it is free again."""
        call.phase = "done"
        await self.post(call.advisors[-1], call, "end")
        for advisor in call.advisors:
            # Free as soon as the server has it: it may ring them before we read the answer.
            advisor.busy = False
            await self.post(advisor, call, "wrap-up-done")

    def settled(self) -> bool:
        return all(c.phase == "done" or (c.sent and c.status not in (0, 201)) for c in self.calls)


# Connecting ----------------------------------------------------------------------------------


async def connect_all(
    load: Load,
    members: list[Member],
    ws_client: aiohttp.ClientSession,
    readers: list[asyncio.Task[None]],
) -> tuple[Summary | None, float, int]:
    """Open every member's WebSocket (at most CONNECT_CONCURRENCY at once), wait for each
    welcome; returns the per-socket time to welcome, the wall time, and the failures."""
    took: list[float] = []

    async def one(member: Member) -> None:
        started = time.perf_counter()
        member.ws = await ws_client.ws_connect(
            load.base + "/ws",
            headers=member.headers(load.base),
            autoping=True,
            heartbeat=None,
            max_msg_size=0,
        )
        first = await member.ws.receive(timeout=30)
        if first.type != aiohttp.WSMsgType.TEXT or '"welcome"' not in first.data[:40]:
            raise RuntimeError(f"no welcome: {first.type} {str(first.data)[:80]}")
        took.append((time.perf_counter() - started) * 1000)
        readers.append(asyncio.create_task(load.read(member)))

    started = time.perf_counter()
    results = await gather_limited(
        [functools.partial(one, m) for m in members], CONNECT_CONCURRENCY
    )
    wall = time.perf_counter() - started
    failures = [r for r in results if isinstance(r, BaseException)]
    if failures:
        print(f"  {len(failures)} connections failed, e.g. {failures[0]!r}")
    return Summary.of(took), wall, len(failures)


# Profiling -----------------------------------------------------------------------------------


def start_profile(pid: int, path: Path, seconds: int) -> subprocess.Popen[bytes] | None:
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(spy).exists():
        print("  py-spy not found (pip install py-spy): no profile")
        return None
    raw = path.with_suffix(".raw.txt")
    return subprocess.Popen(
        [
            spy,
            "record",
            "--pid",
            str(pid),
            "--duration",
            str(seconds),
            "--rate",
            "100",
            "--nonblocking",
            "--format",
            "raw",
            "--output",
            str(raw),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


FRAME = re.compile(r"^(.*) \(([^:]+):\d+\)$")  # "function (path/file.py:line)"
PROJECT = ("advice_line/", "signalling/", "escalation/", "rota/")
WRAPPERS = {"serve", "problems", "request_context", "security_headers", "session_middleware"}
LIBRARIES = {
    "asyncpg/": "PostgreSQL (asyncpg)",
    "redis/": "Redis (redis-py)",
    "aiohttp/": "WebSockets/HTTP (aiohttp)",
}


def _frames(stack: str) -> list[tuple[str, str]]:
    found = [FRAME.match(f) for f in stack.split(";")]
    return [(m[1], m[2]) for m in found if m]


def summarise_profile(raw: Path, top: int = 18) -> list[str]:
    """From py-spy's raw (collapsed) stacks of the busy server: the share of the samples
    inside each of the project's functions (inclusive, middleware wrappers left out), the
    leaf functions (own time), and whose socket writes the ``transport.write`` time is."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    writes: Counter[str] = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        frames = _frames(stack)
        if not frames or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        for name in {
            f"{fn} ({path})"
            for fn, path in frames
            if path.startswith(PROJECT) and fn not in WRAPPERS
        }:
            inclusive[name] += count
        leaf_fn, leaf_path = frames[-1]
        own[f"{leaf_fn} ({leaf_path.rsplit('/', 1)[-1]})"] += count
        if leaf_fn.endswith("Transport.write"):
            owner = next((label for _, path in reversed(frames) for prefix, label in LIBRARIES.items()
                          if path.startswith(prefix)), "other")  # fmt: skip
            writes[owner] += count
    if not total:
        return ["  no samples"]

    def share(n: int) -> str:
        return f"{100 * n / total:5.1f}%"

    lines = [f"  {total} samples while busy (100 Hz); inside the project's functions (inclusive):"]
    lines += [f"    {share(n)}  {name}" for name, n in inclusive.most_common(top)]
    lines.append("  leaf functions (own time):")
    lines += [f"    {share(n)}  {name}" for name, n in own.most_common(8)]
    lines.append("  socket writes (transport.write) on behalf of: "
                 + ", ".join(f"{label} {share(n).strip()}" for label, n in writes.most_common()))  # fmt: skip
    return lines


# Reading the results -------------------------------------------------------------------------


async def timer_lateness(
    conn: asyncpg.Connection, load: Load
) -> tuple[list[float], list[float], list[float]]:
    """For every ring timer that fired: ``timed_out`` instant minus due, from the timeline;
    for the own-GP timers also the next stage's ring as received minus due."""
    rows = await conn.fetch(
        "SELECT consultation_id, at, type, data FROM consultation_events WHERE type IN ('offered', 'timed_out') ORDER BY id"
    )
    last_offer: dict[tuple[int, int, str], dt.datetime] = {}
    fired_own: list[float] = []
    fired_other: list[float] = []
    delivered: list[float] = []
    for row in rows:
        data = row["data"]
        key = (row["consultation_id"], data.get("tier", 0), data.get("stage", ""))
        if row["type"] == "offered" and not data.get("late") and not data.get("queue"):
            last_offer[key] = row["at"]
        elif row["type"] == "timed_out" and key in last_offer:
            due = last_offer[key] + dt.timedelta(seconds=RING_SECONDS[key[1] - 1])
            late_ms = (row["at"] - due).total_seconds() * 1000
            (fired_own if key[2] == "own_gp" else fired_other).append(late_ms)
            call = load.by_id.get(row["consultation_id"])
            if key[2] == "own_gp" and call is not None and call.next_stage_ring is not None:
                delivered.append((call.next_stage_ring - due.timestamp()) * 1000)
    return fired_own, fired_other, delivered


@dataclass
class Usage:
    server: tuple[ProcSample, ProcSample]
    postgres: tuple[ProcSample, ProcSample] | None
    redis: tuple[ProcSample, ProcSample] | None
    client_cpu: float
    server_peak_rss: int
    server_load_only: tuple[float, float]  # CPU seconds and wall seconds while requests were sent


def cpu_line(label: str, pair: tuple[ProcSample, ProcSample] | None, wall: float) -> str:
    if pair is None:
        return f"  {label:<22} (external, not measured)"
    before, after = pair
    cpu = after.cpu_seconds - before.cpu_seconds
    return (
        f"  {label:<22} CPU {cpu:6.1f} s over {wall:.1f} s ({100 * cpu / wall:5.1f}% of one core), "
        f"RSS {after.rss_bytes / 2**20:6.0f} MiB, {after.threads} threads"
    )


@dataclass
class OurResult:
    first_ring: Summary | None
    first_ring_routed: Summary | None
    never_rung: int
    withdrawn: Summary | None
    timer_fired: Summary | None
    timer_delivered: Summary | None
    ok: bool


def windows(calls: list[Call], duration: float, width: float = 5.0) -> list[str]:
    """(a) per slice of the load, by send time: does the latency settle or grow?"""
    if not calls:
        return []
    t0 = min(c.sent for c in calls)
    lines = []
    for start in range(0, int(duration), int(width)):
        part = [c for c in calls if start <= c.sent - t0 < start + width]
        rung = Summary.of([(c.first_ring - c.sent) * 1000 for c in part if c.first_ring])
        queued = sum(c.state == "queued" for c in part)
        lines.append(
            show(
                f"    sent at {start:>2}-{start + width:g} s: {len(part)} calls, {queued} queued",
                rung,
            )
        )
    return lines


def first_ring_lines(
    calls: list[Call], duration: float
) -> tuple[Summary | None, Summary | None, list[str]]:
    rung = [c for c in calls if c.first_ring is not None]
    first_ring = Summary.of([(c.first_ring - c.sent) * 1000 for c in rung if c.first_ring])
    routed = Summary.of(
        [(c.first_ring - c.sent) * 1000 for c in rung if c.first_ring and c.state != "queued"]
    )
    from_queue = Summary.of(
        [(c.first_ring - c.sent) * 1000 for c in rung if c.first_ring and c.state == "queued"]
    )
    lines = [
        f"  first ring at tier: {dict(Counter(c.first_ring_tier for c in rung))}; "
        f"never rung by the end: {len(calls) - len(rung)}",
        show("(a) request sent -> first consultation.ringing", first_ring),
        show("    of calls rung by their own routing (not queued)", routed),
        show("    of calls queued (everyone busy), rung from the queue", from_queue),
        *windows(calls, duration),
        show("    POST /consultations round trip (201)",
             Summary.of([(c.responded - c.sent) * 1000 for c in calls if c.status == 201])),
    ]  # fmt: skip
    return first_ring, routed, lines


def report(load: Load, rate: float, duration: float, schedule_slip: Summary | None,
           lag: Summary | None, usage: Usage, wall: float,
           lateness: tuple[list[float], list[float], list[float]]) -> OurResult:  # fmt: skip
    calls = [c for c in load.calls if c.sent]
    withdrawn = Summary.of([ms for c in calls for ms in c.withdrawn_after_ms])
    last_withdrawn = Summary.of([max(c.withdrawn_after_ms) for c in calls if c.withdrawn_after_ms])
    accept_rtt = Summary.of(
        [(done - sent) * 1000 for c in calls for sent, done, s in c.accepts if s == 200]
    )
    fired_own, fired_other, delivered = lateness
    timer_fired = Summary.of(fired_own + fired_other)
    first_ring, routed, ring_lines = first_ring_lines(calls, duration)
    never_rung = sum(c.first_ring is None for c in calls)

    print(f"\nLOAD: {len(calls)} consultations at {rate:g}/s for {duration:g} s (open loop)")
    print(show("scheduler slip (send time minus its slot)", schedule_slip))
    print(lag_line(lag))
    print(
        f"  POST answers: {dict(Counter(c.status for c in calls))}; "
        f"states in the answer: {dict(Counter(c.state for c in calls))}"
    )
    print(f"  messages received: {dict(load.kinds)}; stray: {dict(load.stray) or 'none'}")
    print("\n".join(ring_lines))
    print(show("(b) accept sent -> each other ring withdrawn", withdrawn))
    print(show("    accept sent -> last ring of the call withdrawn", last_withdrawn))
    print(show("    POST /accept round trip (200)", accept_rtt))
    print(show("(c) ring timer: timed_out instant - due, all", timer_fired))
    print(show("    of the own-GP stage (the timer calls)", Summary.of(fired_own)))
    print(show("    of other rings (rung, not answered in time)", Summary.of(fired_other)))
    print(show("    own-GP stage: next stage's ring received - due", Summary.of(delivered)))
    errors = Counter(e.split(":")[0] for c in calls for e in c.errors)
    timer_calls = [c for c in calls if c.timer_call]
    print(
        f"  timer calls: {len(timer_calls)}, own GP rung in {sum(c.own_gp_ring is not None for c in timer_calls)}, "
        f"moved on to the rota GPs in {len(delivered)}; errors: {dict(errors) or 'none'}"
    )
    print(f"  unfinished calls at the end: {sum(c.phase != 'done' for c in calls)}")
    print(f"\nRESOURCES over the load and drain ({wall:.1f} s wall):")
    print(
        cpu_line("advice-line serve", usage.server, wall)
        + f", peak RSS {usage.server_peak_rss / 2**20:.0f} MiB"
    )
    cpu, span = usage.server_load_only
    print(
        f"  {'':<22} of which while sending: CPU {cpu:.1f} s over {span:.1f} s ({100 * cpu / span:.0f}% of one core)"
    )
    print(cpu_line("PostgreSQL (all)", usage.postgres, wall))
    print(cpu_line("Redis", usage.redis, wall))
    print(
        f"  {'bench client':<22} CPU {usage.client_cpu:6.1f} s ({100 * usage.client_cpu / wall:5.1f}% of one core)"
    )
    ok = timer_fired is not None and timer_fired.p99 <= TIMER_GOAL_MS
    return OurResult(
        first_ring, routed, never_rung, withdrawn, timer_fired, Summary.of(delivered), ok
    )


# The run -------------------------------------------------------------------------------------


async def run_ours(args: argparse.Namespace, cleanup: Cleanup, root: Path) -> OurResult:
    population = Population(
        users=args.users,
        seniors=40,
        gps=40,
        specialists=20,
        own_gps=60,
        organisations=20,
        patients_per_organisation=50,
    )
    started = time.perf_counter()
    stores = await asyncio.get_running_loop().run_in_executor(None, start_stores, root, cleanup)
    await create_database(stores, cleanup)
    conn = await asyncpg.connect(stores.database_url)
    await _init_connection(conn)
    try:
        await migrate(conn)
        world = await arrange(conn, population)
        print(
            f"SETUP: stores, schema and {len(world.members)} users ({population.nurses} nurses, "
            f"40 senior nurses, 40 GPs, 20 specialists on duty; 60 own GPs) in "
            f"{time.perf_counter() - started:.1f} s"
        )
        server = start_server(
            stores, root, cleanup, db_pool_max=args.db_pool_max, event_loop=args.event_loop
        )
        await wait_ready(server)
        return await drive(args, world, server, stores, conn)
    finally:
        await conn.close()


def pids_of(stores: Stores) -> tuple[list[int], list[int]]:
    """PostgreSQL's processes (the postmaster and its backends) and Redis's, if embedded."""
    postgres = (
        [stores.postmaster_pid, *children_of(stores.postmaster_pid)]
        if stores.postmaster_pid
        else []
    )
    return postgres, [stores.redis_pid] if stores.redis_pid else []


async def store_work(conn: asyncpg.Connection, stores: Stores) -> dict[str, int]:
    """Counters of work done by PostgreSQL and Redis so far (differences are what a run did)."""
    committed = await conn.fetchval(
        "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"
    )
    audit_rows = await conn.fetchval("SELECT count(*) FROM audit_log")
    events = await conn.fetchval("SELECT count(*) FROM consultation_events")
    redis = Redis.from_url(stores.redis_url)
    try:
        stats = await redis.info("stats")
        commands = await redis.info("commandstats")
    finally:
        await redis.aclose()
    per_command = {f"Redis {name.removeprefix('cmdstat_')}": int(v["calls"])
                   for name, v in commands.items()}  # fmt: skip
    return {
        "PostgreSQL commits": int(committed), "audit rows": int(audit_rows),
        "timeline events": int(events), "Redis commands": int(stats["total_commands_processed"]),
        **per_command,
    }  # fmt: skip


async def profile_later(pid: int, path: Path, delay: float) -> subprocess.Popen[bytes] | None:
    await asyncio.sleep(delay)
    return start_profile(pid, path, 10)


async def drive(
    args: argparse.Namespace, world: World, server: Server, stores: Stores, conn: asyncpg.Connection
) -> OurResult:
    pid = server.process.pid
    ws_client = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=0), cookie_jar=aiohttp.DummyCookieJar()
    )
    rest = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=0),
        cookie_jar=aiohttp.DummyCookieJar(),
        timeout=aiohttp.ClientTimeout(total=30),
    )
    load = Load(server.base, world, rest)
    readers: list[asyncio.Task[None]] = []
    try:
        await login_once(rest, server.base, world)
        await connect_phase(load, world, ws_client, readers, pid)
        await asyncio.sleep(1.0)  # let the welcome-time work (presence, queue checks) finish

        load.plan(int(args.rate * args.duration), args.timer_every)
        work_before = await store_work(conn, stores)
        postgres, redis = pids_of(stores)
        before = (
            sample([pid]),
            sample(postgres),
            sample(redis),
            self_cpu_seconds(),
            time.monotonic(),
        )
        lag = LoopLag()
        lag.start(args.duration + args.drain + 5)
        profiling = (
            asyncio.create_task(profile_later(pid, args.profile, args.duration / 2 - 5))
            if args.profile
            else None
        )
        schedule = await open_loop(args.rate, args.duration, load.request)
        during = (sample([pid]), time.monotonic())
        await wait_until(load.settled, args.drain)
        postgres, redis = pids_of(stores)
        after = (
            sample([pid]),
            sample(postgres),
            sample(redis),
            self_cpu_seconds(),
            time.monotonic(),
        )
        usage = Usage(
            server=(before[0], after[0]),
            postgres=(before[1], after[1]) if stores.postmaster_pid else None,
            redis=(before[2], after[2]) if stores.redis_pid else None,
            client_cpu=after[3] - before[3],
            server_peak_rss=peak_rss_bytes(pid),
            server_load_only=(during[0].cpu_seconds - before[0].cpu_seconds, during[1] - before[4]),
        )
        lateness = await timer_lateness(conn, load)
        await asyncio.sleep(1.0)  # PostgreSQL publishes its statistics within a second
        work_after = await store_work(conn, stores)
        work = {what: n - work_before.get(what, 0) for what, n in work_after.items()}
        by_command = sorted(((n, what) for what, n in work.items()
                             if what.startswith("Redis ") and what != "Redis commands"), reverse=True)  # fmt: skip
        work = {what: n for what, n in work.items() if (n, what) not in by_command}
        result = report(
            load,
            args.rate,
            args.duration,
            Summary.of(schedule.slip_ms),
            await lag.stop(),
            usage,
            after[4] - before[4],
            lateness,
        )
        started = sum(1 for c in load.calls if c.sent)
        print("  work in the stores during the run: " + ", ".join(
            f"{n} {what} ({n / max(1, started):.0f} per consultation)" for what, n in work.items()))  # fmt: skip
        print("  the most frequent Redis commands: " + ", ".join(
            f"{what.removeprefix('Redis ')} {n / max(1, started):.0f}" for n, what in by_command[:8])
              + " (per consultation)")  # fmt: skip
        if profiling is not None:
            await show_profile(await profiling, args.profile)
        return result
    finally:
        for task in [*readers, *load.tasks]:
            task.cancel()
        await asyncio.gather(*readers, *load.tasks, return_exceptions=True)
        await asyncio.gather(
            *(m.ws.close() for m in world.members if m.ws is not None and not m.ws.closed),
            return_exceptions=True,
        )
        await ws_client.close()
        await rest.close()
        server.process.send_signal(signal.SIGTERM)
        await asyncio.get_running_loop().run_in_executor(None, server.process.wait, 20)


async def connect_phase(
    load: Load,
    world: World,
    ws_client: aiohttp.ClientSession,
    readers: list[asyncio.Task[None]],
    pid: int,
) -> None:
    idle = sample([pid])
    connect, wall, failed = await connect_all(load, world.members, ws_client, readers)
    after = sample([pid])
    opened = len(world.members) - failed
    print(
        f"CONNECT: {opened} WebSockets open and welcomed in {wall:.1f} s ({opened / wall:.0f}/s, "
        f"{CONNECT_CONCURRENCY} at once); server RSS {idle.rss_bytes / 2**20:.0f} -> "
        f"{after.rss_bytes / 2**20:.0f} MiB, server CPU {after.cpu_seconds - idle.cpu_seconds:.1f} s"
    )
    print(show("time to welcome per socket", connect))
    if failed:
        raise RuntimeError(f"{failed} WebSockets failed to connect")


async def show_profile(profiler: subprocess.Popen[bytes] | None, path: Path) -> None:
    if profiler is None:
        return
    await asyncio.get_running_loop().run_in_executor(None, profiler.wait, 30)
    raw = path.with_suffix(".raw.txt")
    if raw.exists():
        print(f"\nPROFILE of the server, 10 s in the middle of the load ({raw}):")
        print("\n".join(summarise_profile(raw)))


async def login_once(rest: aiohttp.ClientSession, base: str, world: World) -> None:
    """One real login through the API, whose session the first nurse then uses (the other
    sessions were made directly in the database)."""
    nurse = world.of_kind("nurse")[0]
    started = time.perf_counter()
    async with rest.post(
        base + "/api/v1/auth/login",
        headers={"Origin": base},
        json={"username": "bench-nurse-0", "password": world.password},
    ) as r:
        body = await r.json()
        assert r.status == 200, body
        nurse.cookie, nurse.csrf = r.cookies[sessions.COOKIE_NAME].value, body["csrf_token"]
    print(
        f"  one login through the API: {(time.perf_counter() - started) * 1000:.0f} ms "
        f"(argon2id at production cost); the other {len(world.members) - 1} sessions made directly"
    )


# Comparison ----------------------------------------------------------------------------------


def row(label: str, summary: Summary | None) -> str:
    figures = (
        f"{summary.p50:9.1f} {summary.p99:9.1f} {summary.max:9.1f}" if summary else "   no samples"
    )
    return f"  {label:<52} {figures}"


def compare(ours: OurResult, janus: Any) -> bool:
    """The table of the issue's goals; True when every goal is met."""
    incoming, hangup = getattr(janus, "incoming", None), getattr(janus, "hangup", None)
    print("\nCOMPARISON (same run, same machine; ours first, then Janus)")
    print(f"  {'':<52} {'p50 ms':>9} {'p99 ms':>9} {'max ms':>9}")
    print(row("advice line: request -> first ring (all calls)", ours.first_ring))
    print(row("advice line: the same, calls not queued", ours.first_ring_routed))
    print(row("Janus VideoCall: call -> incomingcall", incoming))
    print(row("advice line: accept -> other rings withdrawn", ours.withdrawn))
    print(row("Janus VideoCall: hangup -> peer's hangup", hangup))
    print(row("advice line: ring timer lateness (timed_out - due)", ours.timer_fired))
    if ours.never_rung:
        print(
            f"  {ours.never_rung} of our calls were never rung by the end of the run (not in the figures)"
        )
    reference = incoming.p99 if incoming else JANUS_P99_REFERENCE_MS
    if ours.first_ring and incoming:
        print(
            f"  ratio ours / Janus, first ring vs incomingcall: p50 x{ours.first_ring.p50 / incoming.p50:.1f}, "
            f"p99 x{ours.first_ring.p99 / incoming.p99:.1f}"
        )
    first = ours.first_ring
    ring_ok = first is not None and first.p99 <= reference and ours.never_rung == 0
    print(
        f"  goal: first-ring p99 not slower than Janus's ({reference:.1f} ms"
        f"{'' if incoming else ', the issue figure: Janus not run'}): {'met' if ring_ok else 'MISSED'}"
    )
    timer = ours.timer_fired
    print(
        f"  goal: timer lateness p99 <= {TIMER_GOAL_MS:g} ms: "
        + (
            "no samples"
            if timer is None
            else f"{timer.p99:.0f} ms, {'met' if ours.ok else 'MISSED'}"
        )
    )
    return ring_ok and ours.ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=2000, help="connected users (WebSockets)")
    parser.add_argument("--rate", type=float, default=50.0, help="new consultations per second")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of load")
    parser.add_argument("--drain", type=float, default=20.0, help="seconds to let calls finish")
    parser.add_argument("--timer-every", type=int, default=10, help="one timer call in N (0: none)")
    parser.add_argument(
        "--db-pool-max", type=int, default=None, help="ADVICE_LINE_DB_POOL_MAX (default: the app's)"
    )
    parser.add_argument(
        "--profile", type=Path, default=None, help="py-spy the server: write PATH.raw.txt"
    )
    parser.add_argument(
        "--event-loop", choices=("uvloop", "asyncio"), default=None,
        help="ADVICE_LINE_EVENT_LOOP (default: the app's, uvloop)",
    )  # fmt: skip
    parser.add_argument("--skip-janus", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args()
    if args.profile and args.duration < 14:
        parser.error("--profile needs --duration of at least 14 s")

    raise_fd_limit(4 * args.users + 1024)
    configure_logging("console", "warning")  # the stores' start and stop messages are noise here
    cleanup = Cleanup()
    root = Path(tempfile.mkdtemp(prefix="routing-bench-"))
    if not args.keep:
        cleanup.add("temporary directory", lambda: shutil.rmtree(root, ignore_errors=True))
    print(
        f"routing bench: {args.users} users, {args.rate:g} consultations/s for {args.duration:g} s, "
        f"ring seconds {RING_SECONDS}, event loop {args.event_loop or 'default'}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}, in {root}"
    )
    try:
        ours = asyncio.run(asyncio.wait_for(run_ours(args, cleanup, root), timeout=200))
        cleanup.run()  # the server and the stores are stopped before Janus starts
        janus = None
        if not args.skip_janus:
            import janus_videocall_bench

            print(
                "\nJANUS VideoCall, same clients and rate, right after (our server and stores stopped):"
            )
            janus = asyncio.run(
                asyncio.wait_for(
                    janus_videocall_bench.run(
                        clients=args.users,
                        rate=args.rate,
                        duration=args.duration,
                        cleanup=cleanup,
                    ),
                    timeout=100,
                )
            )
    except Exception as exc:
        print(f"\nRUN FAILED: {exc!r}")
        return 2
    finally:
        cleanup.run()
    return 0 if compare(ours, janus) else 1


if __name__ == "__main__":
    sys.exit(main())
