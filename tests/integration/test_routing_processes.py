"""Routing across real server processes: cross-node rings, a node killed mid-ring, a restart.

Each test gets a freshly created and migrated database and a Redis key prefix of its own,
arranges its people and rotas directly in that database, and starts ``advice-line serve``
processes against them exactly as an operator would (1 s ring times, 0.5 s heartbeats).
Processes are killed with SIGKILL where a crash is the point, and always cleaned up.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest

from advice_line import organisations, users
from advice_line.db import _init_connection
from tests.conftest import TEST_ACTOR, TEST_PASSWORD, Servers, recreate_database
from tests.integration.routing_helpers import Person, on_duty_always

pytestmark = pytest.mark.slow

COMMAND = str(Path(sys.executable).parent / "advice-line")
STARTUP_SECONDS = 60.0
RING_SECONDS = 1.0
ISBAR = {"situation": "Smerter trods morfin", "request": "Råd om dosis"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Node:
    """One ``advice-line serve`` process."""

    name: str
    port: int
    process: asyncio.subprocess.Process
    log_file: Path
    started_at: float  # time.time() when spawned
    ready_at: float = 0.0  # time.time() when /readyz first answered 200

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    async def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as in a crash."""
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGKILL)
        await self.process.wait()

    async def stop(self) -> None:
        """SIGTERM (a graceful shutdown), SIGKILL if that takes more than 15 s."""
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), 15)
            except TimeoutError:
                await self.kill()


@dataclass
class Cluster:
    """The database, the environment the nodes share, the nodes and the people."""

    db: asyncpg.Connection
    env: dict[str, str]
    root: Path
    nodes: list[Node] = field(default_factory=list)
    people: list[Person] = field(default_factory=list)

    async def start(self, name: str) -> Node:
        """Start a node and wait (with a deadline) until it answers /readyz."""
        log_file = self.root / f"{name}-{len(self.nodes)}.log"
        port = _free_port()
        with log_file.open("wb") as log:
            process = await asyncio.create_subprocess_exec(
                COMMAND, "serve", "--host", "127.0.0.1", "--port", str(port),
                env=self.env, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        node = Node(name, port, process, log_file, time.time())
        self.nodes.append(node)
        await _wait_until_ready(node)
        return node

    async def person(self, node: Node, user: dict[str, Any], *, online: bool = False) -> Person:
        """``user`` signed in on ``node`` (with a WebSocket to it when ``online``)."""
        person = await Person(node.base, user).login()
        self.people.append(person)
        return await person.connect() if online else person


async def _wait_until_ready(node: Node) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    async with aiohttp.ClientSession() as session:
        while True:
            if node.process.returncode is not None:
                pytest.fail(f"{node.name} exited with {node.process.returncode}:\n{_tail(node)}")
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                response = await session.get(
                    node.base + "readyz", timeout=aiohttp.ClientTimeout(total=2)
                )
                if response.status == 200:
                    node.ready_at = time.time()
                    return
            if time.monotonic() > deadline:
                pytest.fail(f"{node.name} not ready after {STARTUP_SECONDS}s:\n{_tail(node)}")
            await asyncio.sleep(0.05)  # the polling interval of the deadline loop


def _tail(node: Node, lines: int = 60) -> str:
    return "\n".join(node.log_file.read_text(errors="replace").splitlines()[-lines:])


def _environment(database_url: str, redis_url: str, data_dir: Path) -> dict[str, str]:
    # Any ADVICE_LINE_ setting of the caller's shell is left out: the nodes get exactly these.
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("ADVICE_LINE_")}
    return {
        **inherited,
        "ADVICE_LINE_DATABASE_URL": database_url,
        "ADVICE_LINE_REDIS_URL": redis_url,
        "ADVICE_LINE_REDIS_KEY_PREFIX": f"p{uuid.uuid4().hex[:8]}:",
        "ADVICE_LINE_DATA_DIR": str(data_dir),
        "ADVICE_LINE_ENVIRONMENT": "test",
        "ADVICE_LINE_RING_SECONDS": ",".join([str(RING_SECONDS)] * 3),
        "ADVICE_LINE_WS_HEARTBEAT_SECONDS": "0.5",
    }


@pytest.fixture
async def cluster(servers: Servers, tmp_path: Path) -> AsyncIterator[Cluster]:
    """A fresh database and Redis prefix; nodes are started by the test and always stopped."""
    name = f"advice_line_procs_{uuid.uuid4().hex[:8]}"
    url = await recreate_database(servers, name)
    db = await asyncpg.connect(url)
    await _init_connection(db)
    (tmp_path / "data").mkdir()
    cluster = Cluster(db, _environment(url, servers.redis_url, tmp_path / "data"), tmp_path)
    try:
        yield cluster
    finally:
        try:
            for person in cluster.people:
                with contextlib.suppress(aiohttp.ClientError, ConnectionError):
                    await person.close()
        finally:
            # Every node is stopped even if stopping another fails; the first failure is raised.
            stopped = await asyncio.gather(
                *(n.stop() for n in cluster.nodes), return_exceptions=True
            )
            await db.close()
            admin = await asyncpg.connect(servers.admin_database_url)
            try:
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            finally:
                await admin.close()
            for outcome in stopped:
                if isinstance(outcome, BaseException):
                    raise outcome


async def arrange(db: asyncpg.Connection) -> dict[str, Any]:
    """A nurse with a patient; a senior nurse and a GP, each on duty around the clock."""
    home = await organisations.create(db, TEST_ACTOR, "Hjemmeplejen Fiktiv", "home_care")
    practice = await organisations.create(db, TEST_ACTOR, "Lægehuset Fiktiv", "gp_practice")

    async def user(username: str, role: str, org: int, tier: str | None = None) -> dict[str, Any]:
        # The cheap test hash still verifies in the server (argon2 hashes carry their cost).
        return await users.create(db, TEST_ACTOR, {
            "username": username, "display_name": username, "password": TEST_PASSWORD,
            "role": role, "tier": tier, "organisation_id": org})  # fmt: skip

    people = {
        "nurse": await user("nurse", "nurse", home["id"]),
        "senior": await user("senior", "advisor", home["id"], "senior_nurse"),
        "gp": await user("gp", "advisor", practice["id"], "gp"),
    }
    await on_duty_always(db, "senior_nurse", [people["senior"]["id"]])
    await on_duty_always(db, "gp", [people["gp"]["id"]])
    patient_id = await db.fetchval(
        """INSERT INTO patients (reference, organisation_id, name, diagnosis_group)
           VALUES ('N-1', $1, 'Karl Fiktivsen', 'cancer') RETURNING id""",
        home["id"],
    )
    return {**people, "patient_id": patient_id}


async def ask(nurse: Person, patient_id: int) -> dict[str, Any]:
    status, body = await nurse.call("POST", "/api/v1/consultations", json={
        "patient_id": patient_id, "channel": "video", "urgency": "urgent", "isbar": ISBAR})  # fmt: skip
    assert status == 201, body
    return dict(body["consultation"])


async def timeline(db: asyncpg.Connection, consultation_id: int) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await db.fetch(
        "SELECT type, at, data FROM consultation_events WHERE consultation_id = $1 ORDER BY id",
        consultation_id,
    )
    return rows


async def wait_for_row(
    db: asyncpg.Connection, query: str, *args: Any, within: float = 10.0
) -> asyncpg.Record:
    """The first row of ``query`` once it has one, polling with a deadline."""
    deadline = time.monotonic() + within
    while (row := await db.fetchrow(query, *args)) is None:
        if time.monotonic() > deadline:
            raise AssertionError(f"no row within {within}s for {query}")
        await asyncio.sleep(0.02)
    return row


async def test_a_request_on_one_node_rings_and_connects_an_advisor_on_another(
    cluster: Cluster,
) -> None:
    world = await arrange(cluster.db)
    a, b = await cluster.start("a"), await cluster.start("b")
    nurse = await cluster.person(a, world["nurse"], online=True)
    senior = await cluster.person(b, world["senior"], online=True)
    await cluster.person(b, world["gp"], online=True)

    consultation = await ask(nurse, world["patient_id"])
    ring = await senior.wait_for("consultation.ringing", consultation__id=consultation["id"])
    assert ring["isbar"]["situation"] == ISBAR["situation"]
    status, body = await senior.call("POST", f"/api/v1/consultations/{consultation['id']}/accept")
    assert status == 200 and body["consultation"]["state"] == "connected"
    update = await nurse.wait_for(
        "consultation.updated", consultation__id=consultation["id"], consultation__state="connected"
    )
    assert update["consultation"]["participants"] == [senior.id]


async def test_the_surviving_node_fires_the_ring_timer_of_a_killed_one(cluster: Cluster) -> None:
    world = await arrange(cluster.db)
    a, b = await cluster.start("a"), await cluster.start("b")
    nurse = await cluster.person(a, world["nurse"])
    senior = await cluster.person(b, world["senior"], online=True)
    gp = await cluster.person(b, world["gp"], online=True)

    consultation = await ask(nurse, world["patient_id"])
    cid = consultation["id"]
    await a.kill()  # the node that created it, while its ring timer runs
    due = await cluster.db.fetchrow(
        "SELECT kind, due_at FROM consultation_timers WHERE consultation_id = $1", cid
    )
    assert due is not None and due["kind"] == "ring", "the timer fired before the kill"
    await senior.wait_for("consultation.ringing", consultation__id=cid)

    await gp.wait_for("consultation.ringing", within=5, consultation__id=cid)
    late = time.time() - due["due_at"].timestamp()
    print(f"\nGP rung by the survivor {late:.3f} s after the ring time")
    assert late < 1.0, f"the GP was rung {late:.2f} s after the ring time"
    withdrawn = await senior.wait_for("consultation.withdrawn", consultation_id=cid)
    assert withdrawn["reason"] == "timed_out"
    status, body = await gp.call("POST", f"/api/v1/consultations/{cid}/accept")
    assert status == 200 and body["consultation"]["participants"] == [gp.id]
    types = [row["type"] for row in await timeline(cluster.db, cid)]
    assert types.count("timed_out") == 1, types


async def test_a_timer_both_live_nodes_know_of_fires_once(cluster: Cluster) -> None:
    """The node that started the ring timer tries it at its due time and the other node's
    poll plans it too: whichever takes the row fires it; the other finds it gone."""
    world = await arrange(cluster.db)
    a, b = await cluster.start("a"), await cluster.start("b")
    nurse = await cluster.person(a, world["nurse"])
    senior = await cluster.person(b, world["senior"], online=True)
    gp = await cluster.person(b, world["gp"], online=True)
    consultation = await ask(nurse, world["patient_id"])
    cid = consultation["id"]
    await senior.wait_for("consultation.ringing", consultation__id=cid)
    await gp.wait_for("consultation.ringing", within=5, consultation__id=cid)
    status, _ = await gp.call("POST", f"/api/v1/consultations/{cid}/accept")
    assert status == 200
    await asyncio.sleep(1.5)  # both nodes' polls have passed the due time since
    types = [row["type"] for row in await timeline(cluster.db, cid)]
    assert types.count("timed_out") == 1, types
    assert types.count("offered") == 2, types  # tier 1, then tier 2 once, not twice
    assert await cluster.db.fetchval(
        "SELECT count(*) FROM consultation_timers WHERE consultation_id = $1 AND kind = 'ring'", cid
    ) == 0  # fmt: skip


async def test_an_overdue_timer_fires_once_at_the_first_start_after_a_full_outage(
    cluster: Cluster,
) -> None:
    world = await arrange(cluster.db)
    a, b = await cluster.start("a"), await cluster.start("b")
    nurse = await cluster.person(a, world["nurse"])
    senior = await cluster.person(b, world["senior"], online=True)  # the GP stays offline
    consultation = await ask(nurse, world["patient_id"])
    cid = consultation["id"]
    await senior.wait_for("consultation.ringing", consultation__id=cid)
    await a.kill()
    await b.kill()
    due = await cluster.db.fetchrow(
        "SELECT kind, due_at FROM consultation_timers WHERE consultation_id = $1", cid
    )
    assert due is not None and due["kind"] == "ring", "the timer fired before the outage"
    await wait_for_row(
        cluster.db, "SELECT 1 WHERE now() > $1::timestamptz + interval '0.5 seconds'", due["due_at"]
    )
    assert "timed_out" not in [row["type"] for row in await timeline(cluster.db, cid)]

    restarted = await cluster.start("a-again")
    fired = await wait_for_row(
        cluster.db,
        "SELECT at FROM consultation_events WHERE consultation_id = $1 AND type = 'timed_out'",
        cid,
    )
    fired_at = fired["at"].timestamp()
    print(
        f"\noverdue timer fired {fired_at - restarted.started_at:.3f} s after the spawn, "
        f"{fired_at - restarted.ready_at:+.3f} s from readiness "
        f"(spawn to ready {restarted.ready_at - restarted.started_at:.3f} s)"
    )
    assert fired_at - restarted.ready_at < 1.0
    # Exactly once: the GP tier is now being woken (the GP is offline) and nothing re-fires.
    await wait_for_row(
        cluster.db, "SELECT 1 FROM consultations WHERE id = $1 AND state = 'waking'", cid
    )
    timers = await cluster.db.fetch(
        "SELECT kind FROM consultation_timers WHERE consultation_id = $1", cid
    )
    assert [t["kind"] for t in timers] == ["wake"]
    types = [row["type"] for row in await timeline(cluster.db, cid)]
    assert types == ["requested", "offered", "timed_out", "waking"], types
    assert fired["at"] > due["due_at"] > fired["at"] - dt.timedelta(minutes=1)
