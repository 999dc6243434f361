"""A local cluster on loopback: two ``advice-line serve`` nodes sharing one PostgreSQL and one
Redis, behind a real HAProxy running the production proxy config (``deploy/haproxy.cfg``,
TLS with a self-signed certificate made here).

``scripts/cluster.sh`` runs :func:`main` (try the cluster by hand); the tests in
``tests/integration/test_cluster.py`` use the pieces with the ``cluster`` fixture of
``test_routing_processes`` (fresh database, Redis prefix, node teardown). The nodes are
``tests.integration.test_routing_processes.Node``; what is added here is a node on a port of
the caller's choosing with a drain time (a rolling restart brings a node back where the
balancer expects it), the balancer, and a client that behaves like ``web/static/live.js``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import datetime as dt
import io
import ipaddress
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from tests.conftest import TEST_PASSWORD
from tests.integration.call_helpers import Caller, free_port
from tests.integration.test_routing_processes import COMMAND, Node, _wait_until_ready

ROOT = Path(__file__).resolve().parents[1]
HAPROXY_CONFIG = ROOT / "deploy" / "haproxy.cfg"
#: The balancer's names for the two nodes (``server app1``/``app2`` in deploy/haproxy.cfg).
SLOTS = ("app1", "app2")
#: Seconds between reconnection attempts, as in web/static/live.js (plus up to 30 % jitter).
BACKOFF_SECONDS = (1, 2, 4, 8, 15)
NODE_HEADER = "X-Advice-Line-Node"


def haproxy_binary() -> str | None:
    return shutil.which("haproxy") or next(
        (p for p in ("/usr/sbin/haproxy", "/usr/bin/haproxy") if os.path.exists(p)), None
    )


def haproxy_or_skip() -> str:
    """The HAProxy binary; a missing one skips the test locally but fails it in CI."""
    import pytest

    found = haproxy_binary()
    if found:
        return found
    reason = "HAProxy is not installed (sudo apt-get install haproxy)"
    if os.environ.get("CI"):
        pytest.fail(f"CI must run the cluster tests: {reason}; .ci/run installs it")
    pytest.skip(reason)


def write_self_signed_pem(directory: Path) -> Path:
    """A certificate for localhost and 127.0.0.1 followed by its key, as HAProxy takes it."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    alt = x509.SubjectAlternativeName(
        [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    )
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=2))
        .add_extension(alt, critical=False).sign(key, hashes.SHA256())
    )  # fmt: skip
    path = directory / "localhost.pem"
    path.write_bytes(
        cert.public_bytes(serialization.Encoding.PEM)
        + key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)
    return path


def proxy_environment(
    cert: Path, https_port: int, http_port: int, nodes: dict[str, int], socket_path: Path
) -> dict[str, str]:
    """The variables deploy/haproxy.cfg reads, for a balancer on loopback."""
    return {
        **os.environ,
        "HTTPS_BIND": f"127.0.0.1:{https_port}",
        "HTTP_BIND": f"127.0.0.1:{http_port}",
        "TLS_CERT": str(cert),
        "APP_NODE_1": f"127.0.0.1:{nodes['app1']}",
        "APP_NODE_2": f"127.0.0.1:{nodes['app2']}",
        "ADMIN_SOCKET": str(socket_path),
    }


@dataclass
class Balancer:
    """HAProxy with deploy/haproxy.cfg on loopback, driven through its runtime API."""

    binary: str
    directory: Path
    nodes: dict[str, int]  # slot -> port
    https_port: int = field(default_factory=free_port)
    http_port: int = field(default_factory=free_port)
    process: asyncio.subprocess.Process | None = None

    def __post_init__(self) -> None:
        # A Unix socket path must stay short (108 bytes): not under pytest's deep tmp_path.
        self.socket_dir = Path(tempfile.mkdtemp(prefix="al-lb-"))
        self.cert = write_self_signed_pem(self.directory)

    @property
    def base(self) -> str:
        return f"https://127.0.0.1:{self.https_port}/"

    @property
    def socket_path(self) -> Path:
        return self.socket_dir / "admin.sock"

    @property
    def log_path(self) -> Path:
        return self.directory / "haproxy.log"

    def environment(self) -> dict[str, str]:
        return proxy_environment(
            self.cert, self.https_port, self.http_port, self.nodes, self.socket_path
        )

    async def start(self, within: float = 15.0) -> Balancer:
        """Start it and wait (with a deadline) until both nodes are in service."""
        with self.log_path.open("wb") as log:
            self.process = await asyncio.create_subprocess_exec(
                self.binary, "-db", "-f", str(HAPROXY_CONFIG), env=self.environment(),
                stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        for slot in SLOTS:
            await self.wait_status(slot, "UP", within)
        return self

    async def admin(self, command: str) -> str:
        """One command on the runtime API; its answer."""
        reader, writer = await asyncio.open_unix_connection(str(self.socket_path))
        try:
            writer.write(command.encode() + b"\n")
            await writer.drain()
            return (await reader.read()).decode()
        finally:
            writer.close()

    async def status(self) -> dict[str, str]:
        """Each node slot's state as HAProxy sees it (UP, DOWN, MAINT, ...)."""
        text = (await self.admin("show stat")).lstrip("# ")
        rows = csv.DictReader(io.StringIO(text))
        return {r["svname"]: r["status"] for r in rows if r["pxname"] == "nodes" and r["svname"] in SLOTS}  # fmt: skip

    async def wait_status(self, slot: str, want: str, within: float = 10.0) -> float:
        """Wait until ``slot`` is ``want`` (e.g. UP, DOWN); the seconds it took."""
        started = time.monotonic()
        seen = "no answer"
        while True:
            if self.process is not None and self.process.returncode is not None:
                raise AssertionError(f"haproxy exited:\n{self.log_tail()}")
            with contextlib.suppress(OSError):
                seen = (await self.status()).get(slot, "missing")
                if seen == want:  # not "UP 1/2" (going down) nor "DOWN 1/2" (going up)
                    return time.monotonic() - started
            if time.monotonic() - started > within:
                raise AssertionError(f"{slot} not {want} within {within}s (is {seen})")
            await asyncio.sleep(0.05)  # the polling interval of the deadline loop

    async def point(self, slot: str, port: int) -> None:
        """Send ``slot``'s traffic to a node on another port (as a new pod's address)."""
        self.nodes[slot] = port
        answer = await self.admin(f"set server nodes/{slot} addr 127.0.0.1 port {port}")
        assert "changed" in answer or not answer.strip(), answer

    async def set_state(self, slot: str, state: str) -> None:
        """``maint`` (no traffic), ``drain`` (no new traffic) or ``ready``."""
        answer = await self.admin(f"set server nodes/{slot} state {state}")
        assert not answer.strip(), answer

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return "(no log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    async def stop(self) -> None:
        try:
            if self.process is not None and self.process.returncode is None:
                self.process.terminate()
                try:
                    await asyncio.wait_for(self.process.wait(), 5)
                except TimeoutError:
                    self.process.kill()
                    await self.process.wait()
        finally:
            shutil.rmtree(self.socket_dir, ignore_errors=True)


async def start_node(
    nodes: list[Node], root: Path, env: dict[str, str], name: str, port: int,
    *, drain_seconds: float = 0.0,
) -> Node:  # fmt: skip
    """``advice-line serve`` on ``port`` (appended to ``nodes``), once it answers /readyz."""
    log_file = root / f"{name}-{len(nodes)}.log"
    with log_file.open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            COMMAND, "serve", "--host", "127.0.0.1", "--port", str(port),
            "--drain-seconds", str(drain_seconds), env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    node = Node(name, port, process, log_file, time.time())
    nodes.append(node)
    await _wait_until_ready(node)
    return node


# A client like the browser's -------------------------------------------------------------


def _seq_after(a: str, b: str) -> bool:
    am, an = (int(x) for x in a.split("-"))
    bm, bn = (int(x) for x in b.split("-"))
    return (am, an) > (bm, bn)


@dataclass
class LiveClient(Caller):
    """A signed-in person whose WebSocket behaves like ``web/static/live.js``: after a drop it
    reconnects (with the same backoff) through the balancer and resumes with its token and the
    last ``seq`` it saw; a message seen twice (by ``seq``) is handed on once."""

    resume_token: str | None = None
    last_seq: str | None = None
    #: (monotonic time, welcome) for every connection; (monotonic time, close code) per drop.
    welcomes: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    drops: list[tuple[float, int | None]] = field(default_factory=list)
    #: The node (balancer's name) each WebSocket landed on, in order.
    nodes: list[str] = field(default_factory=list)
    duplicates: int = 0
    stopping: bool = False

    async def login(self) -> LiveClient:
        trace = aiohttp.TraceConfig()
        trace.on_request_end.append(self._note_node)
        self.session = aiohttp.ClientSession(
            base_url=self.base, cookie_jar=aiohttp.CookieJar(unsafe=True),
            connector=aiohttp.TCPConnector(ssl=False), trace_configs=[trace],
        )  # fmt: skip
        response = await self.session.post(
            "/api/v1/auth/login",
            json={"username": self.user["username"], "password": TEST_PASSWORD},
        )
        assert response.status == 200, await response.text()
        self.session.headers["X-CSRF-Token"] = (await response.json())["csrf_token"]
        return self

    async def _note_node(self, _session: Any, _context: Any, params: Any) -> None:
        if params.url.path == "/ws" and params.response.status == 101:
            self.nodes.append(params.response.headers.get(NODE_HEADER, "?"))

    @property
    def node(self) -> str:
        """The node holding the current (or last) WebSocket."""
        return self.nodes[-1]

    async def connect(self, query: dict[str, str] | None = None) -> LiveClient:
        self._reader = asyncio.create_task(self._run())
        await self.wait_for("welcome")
        return self

    async def _run(self) -> None:
        attempt = 0
        while not self.stopping:
            params = None
            if self.resume_token and self.last_seq:
                params = {"resume": self.resume_token, "last": self.last_seq}
            try:
                ws = await self.session.ws_connect(
                    "/ws", headers={"Origin": self.base.rstrip("/")}, params=params
                )
            except (aiohttp.ClientError, OSError):
                ws = None
            if ws is not None:
                self.ws = ws
                async for frame in ws:
                    if frame.type == aiohttp.WSMsgType.TEXT and self._receive(
                        json.loads(frame.data)
                    ):
                        attempt = 0  # a welcome: the next drop starts the backoff afresh
                self.ws = None
                if self.stopping or ws.close_code == 4401:
                    return
                self.drops.append((time.monotonic(), ws.close_code))
            delay = BACKOFF_SECONDS[min(attempt, len(BACKOFF_SECONDS) - 1)]
            attempt += 1
            await asyncio.sleep(delay * (1 + random.random() * 0.3))

    def _receive(self, message: dict[str, Any]) -> bool:
        """Keep ``message`` (unless seen already); whether it was a welcome."""
        if message.get("type") == "welcome":
            self.resume_token = message.get("resume_token")
            self.last_seq = message.get("seq")
            self.welcomes.append((time.monotonic(), message))
            self.inbox.append(message)
            return True
        seq = message.get("seq")
        if isinstance(seq, str):
            if self.last_seq and not _seq_after(seq, self.last_seq):
                self.duplicates += 1
                return False
            self.last_seq = seq
            self.seqs.append(seq)
        self.inbox.append(message)
        return False

    async def reconnected(self, after: float, within: float = 5.0) -> dict[str, Any]:
        """The first welcome later than ``after`` (monotonic), waiting up to ``within``."""
        deadline = time.monotonic() + within
        while True:
            for at, welcome in self.welcomes:
                if at > after:
                    return welcome
            if time.monotonic() > deadline:
                raise AssertionError(f"user {self.id} not back within {within}s")
            await asyncio.sleep(0.02)

    async def close(self) -> None:
        self.stopping = True
        await super().close()


# scripts/cluster.sh -----------------------------------------------------------------------


async def _run_cluster(args: argparse.Namespace, root: Path) -> None:
    from advice_line.embedded import EmbeddedPostgres, EmbeddedRedis

    binary = haproxy_binary()
    if binary is None:
        raise SystemExit("HAProxy is not installed (sudo apt-get install haproxy)")
    started: list[EmbeddedPostgres | EmbeddedRedis] = []
    database_url, redis_url = args.database_url, args.redis_url
    if not database_url:
        pg = EmbeddedPostgres(root / "postgres")
        database_url = pg.start()
        started.append(pg)
    if not redis_url:
        rd = EmbeddedRedis(root / "redis")
        redis_url = rd.start()
        started.append(rd)
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("ADVICE_LINE_")}
    env = {
        **inherited, "ADVICE_LINE_DATABASE_URL": database_url, "ADVICE_LINE_REDIS_URL": redis_url,
        "ADVICE_LINE_DATA_DIR": str(root / "data"), "ADVICE_LINE_TRUST_PROXY_HEADERS": "true",
    }  # fmt: skip
    nodes: list[Node] = []
    balancer = Balancer(binary, root, {slot: free_port() for slot in SLOTS})
    if args.port:
        balancer.https_port = args.port
    try:
        seeder = await asyncio.create_subprocess_exec(
            COMMAND, "demo", env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        out, err = await seeder.communicate()
        if seeder.returncode != 0:
            raise SystemExit(f"advice-line demo failed:\n{err.decode()}")
        for slot in SLOTS:
            await start_node(nodes, root, env, slot, balancer.nodes[slot], drain_seconds=2.0)
        await balancer.start()
        print(out.decode().strip(), file=sys.stderr)
        print(f"\nThe cluster is running at {balancer.base} (self-signed certificate);"
              f"\nnode logs and haproxy.log in {root}. Ctrl-C stops everything.", file=sys.stderr)  # fmt: skip
        print(balancer.base, flush=True)
        stop = asyncio.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            asyncio.get_running_loop().add_signal_handler(signum, stop.set)
        await stop.wait()
    finally:
        await asyncio.gather(*(n.stop() for n in nodes), return_exceptions=True)
        await balancer.stop()
        for server in reversed(started):
            server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, help="HTTPS port of the balancer (default: free)")
    parser.add_argument("--database-url", default=os.environ.get("ADVICE_LINE_DATABASE_URL"),
                        help="PostgreSQL (default: an embedded one in the work directory)")  # fmt: skip
    parser.add_argument("--redis-url", default=os.environ.get("ADVICE_LINE_REDIS_URL"),
                        help="Redis (default: an embedded one in the work directory)")  # fmt: skip
    parser.add_argument("--dir", type=Path, help="Work directory (default: a new temporary one)")
    args = parser.parse_args()
    root = args.dir or Path(tempfile.mkdtemp(prefix="advice-line-cluster-"))
    root.mkdir(parents=True, exist_ok=True)
    asyncio.run(_run_cluster(args, root.resolve()))


if __name__ == "__main__":
    main()
