"""Routing with PostgreSQL away, against routing with it, in one run on one node.

What it does, in order:

1. Starts embedded PostgreSQL and Redis (or uses ``ADVICE_LINE_BENCH_DATABASE_URL`` and
   ``ADVICE_LINE_BENCH_REDIS_URL``), a fresh database with the routing bench's world (nurses,
   round-the-clock senior nurses, GPs and specialists, patients, one session per user), and
   ONE ``advice-line serve`` that reaches PostgreSQL through a gate in this process
   (``tests/pg_gate.py``): open, connections pass; shut, they are refused and dropped.
2. Opens one WebSocket per user. Advisors pounce as in ``routing_bench.py``: the first free
   advisor rung accepts at once, ends the call and documents it (``/end``,
   ``/wrap-up-done``).
3. **Database up**: consultations at ``--rate`` per second for ``--duration`` seconds (open
   loop), until every one is done.
4. Shuts the gate. **Database away**: the same load again; every consultation is routed
   without PostgreSQL (state in Redis, each step fsynced to the node's spool before anyone is
   told).
5. Opens the gate and times the hand back: until every consultation of step 4 is in
   PostgreSQL, closed, with its whole timeline; checks each timeline.

Prints, for both phases: request -> 201, request -> first ``consultation.ringing``, accept ->
the other rings withdrawn (p50/p99/max) and the ratio away/up; then the hand back.

Run: ``/tmp/venv/bin/python bench/outage_bench.py`` (``--help`` for the knobs). Exits 1
when a consultation of the outage is missing or incomplete after the hand back, 2 when the
run failed.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import aiohttp
import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from load_harness import Cleanup, Summary, open_loop, raise_fd_limit, show, wait_until
from routing_bench import (
    Call,
    Load,
    Population,
    arrange,
    connect_all,
    create_database,
    login_once,
    start_server,
    start_stores,
    wait_ready,
)

from advice_line.db import _init_connection
from advice_line.logsetup import configure_logging
from advice_line.migrate import migrate
from tests.pg_gate import PostgresGate

#: The timeline of a call answered at once, ended and documented.
ANSWERED = ["requested", "offered", "accepted", "joined", "ended", "wrap_up_done", "completed"]


def figures(calls: list[Call]) -> dict[str, Summary | None]:
    answered = [c for c in calls if c.status == 201]
    return {
        "request -> 201": Summary.of([(c.responded - c.sent) * 1000 for c in answered]),
        "request -> first ring": Summary.of(
            [(c.first_ring - c.sent) * 1000 for c in answered if c.first_ring is not None]
        ),
        "accept -> other rings withdrawn": Summary.of(
            [ms for c in answered for ms in c.withdrawn_after_ms]
        ),
    }


async def phase(
    load: Load, name: str, first: int, count: int, rate: float, drain: float
) -> list[Call]:
    """Send ``count`` of the planned calls from ``first`` on at ``rate``; wait until done."""
    calls = load.calls[first : first + count]

    async def send(i: int, slot: float) -> None:
        await load.request(first + i, slot)

    started = time.monotonic()
    await open_loop(rate, count / rate, send)
    done = await wait_until(
        lambda: all(c.phase == "done" or (c.sent and c.status not in (0, 201)) for c in calls),
        drain,
    )
    failed = [c for c in calls if c.status != 201]
    print(f"\n{name}: {count} consultations at {rate:g}/s, done in "
          f"{time.monotonic() - started:.1f} s{'' if done else ' (NOT all done)'}; "
          f"{len(failed)} refused" + (f", e.g. {failed[0].errors[:1]}" if failed else ""))  # fmt: skip
    for label, summary in figures(calls).items():
        print(show(label, summary))
    return calls


async def hand_back(conn: asyncpg.Connection, ids: list[int], within: float) -> tuple[float, int]:
    """Seconds until every one of ``ids`` is in the database and closed; how many are."""
    started = time.monotonic()
    closed = 0
    while time.monotonic() - started < within:
        closed = await conn.fetchval(
            """SELECT count(*) FROM consultations
                WHERE id = ANY($1::bigint[]) AND routed_in_outage AND state = 'ended'""",
            ids,
        )
        if closed == len(ids):
            break
        await asyncio.sleep(0.05)  # the polling interval of the deadline loop
    return time.monotonic() - started, int(closed)


async def run(args: argparse.Namespace, cleanup: Cleanup, root: Path) -> bool:
    stores = start_stores(root, cleanup)
    await create_database(stores, cleanup)
    conn = await asyncpg.connect(stores.database_url)
    await _init_connection(conn)
    await migrate(conn)
    population = Population(
        users=args.users, seniors=args.seniors, gps=10, specialists=5, own_gps=0,
        organisations=4, patients_per_organisation=25,
    )  # fmt: skip
    world = await arrange(conn, population)
    gate = await PostgresGate.for_url(stores.database_url).open()
    server = start_server(
        replace(stores, admin_url=gate.url(stores.admin_url)), root, cleanup, db_pool_max=None
    )
    await wait_ready(server)
    ws_client = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=0), cookie_jar=aiohttp.DummyCookieJar()
    )
    rest = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=0), cookie_jar=aiohttp.DummyCookieJar(),
        timeout=aiohttp.ClientTimeout(total=30),
    )  # fmt: skip
    load = Load(server.base, world, rest)
    readers: list[asyncio.Task[None]] = []
    count = int(args.rate * args.duration)
    try:
        await login_once(rest, server.base, world)
        await connect_all(load, world.members, ws_client, readers)
        # Every session is read once through the database, as people's pages do, so the node
        # keeps it for an outage; then the node's copy of the database is at most 5 s old.
        for member in world.members:
            async with rest.get(server.base + "/api/v1/auth/me",
                                headers=member.headers(server.base)) as r:  # fmt: skip
                assert r.status == 200, await r.text()
        await asyncio.sleep(6.0)
        load.plan(2 * count, timer_every=0)
        up = await phase(load, "DATABASE UP", 0, count, args.rate, args.drain)

        await gate.shut()
        away = await phase(load, "DATABASE AWAY", count, count, args.rate, args.drain)
        up_f, away_f = figures(up), figures(away)
        print("\nRATIO away / up (same run):")
        for label in up_f:
            a, b = up_f[label], away_f[label]
            if a and b:
                print(f"  {label:<40} p50 x{b.p50 / a.p50:.2f}, p99 x{b.p99 / a.p99:.2f}")

        ids = [c.consultation_id for c in away if c.status == 201 and c.consultation_id]
        await gate.open()
        took, closed = await hand_back(conn, ids, args.drain)
        print(f"\nHAND BACK: {closed} of {len(ids)} consultations of the outage in PostgreSQL, "
              f"closed, {took:.1f} s after it answered again (the node probes every second)")  # fmt: skip
        rows = await conn.fetch(
            """SELECT consultation_id, array_agg(type ORDER BY id) AS types,
                      array_agg(outage_seq ORDER BY id) AS seqs
                 FROM consultation_events WHERE consultation_id = ANY($1::bigint[])
                GROUP BY consultation_id""",
            ids,
        )
        # Every event the outage acknowledged, once and in order (its place in the timeline
        # counts 1, 2, 3 ... with no gap), from the request to the documented end.
        complete = sum(
            1 for r in rows
            if list(r["seqs"]) == list(range(1, len(r["seqs"]) + 1))
            and r["types"][0] == "requested" and r["types"][-1] == "completed"
        )  # fmt: skip
        answered_at_once = sum(1 for r in rows if list(r["types"]) == ANSWERED)
        print(f"  timelines complete (each event once, in order, requested to completed): "
              f"{complete} of {len(ids)}; {answered_at_once} answered at the first ring")  # fmt: skip
        return closed == len(ids) == complete and len(ids) == count
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
        await gate.shut()
        await conn.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=400, help="connected users (WebSockets)")
    parser.add_argument("--seniors", type=int, default=40, help="senior nurses on duty")
    parser.add_argument("--rate", type=float, default=10.0, help="new consultations per second")
    parser.add_argument("--duration", type=float, default=15.0, help="seconds of load per phase")
    parser.add_argument("--drain", type=float, default=30.0, help="seconds to let calls finish")
    args = parser.parse_args()
    raise_fd_limit(4 * args.users + 1024)
    configure_logging("console", "warning")
    cleanup = Cleanup()
    root = Path(tempfile.mkdtemp(prefix="outage-bench-"))
    cleanup.add("temporary directory", lambda: shutil.rmtree(root, ignore_errors=True))
    print(f"outage bench: {args.users} users, {args.seniors} senior nurses, {args.rate:g} "
          f"consultations/s for {args.duration:g} s per phase, in {root}")  # fmt: skip
    try:
        ok = asyncio.run(asyncio.wait_for(run(args, cleanup, root), timeout=300))
    except Exception as exc:
        print(f"\nRUN FAILED: {exc!r}")
        return 2
    finally:
        cleanup.run()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
