"""This node's spool: an append-only file of JSON lines, each on disk before it counts.

``append`` writes one line and returns only after ``fsync``, so a step acknowledged to a
user during a database outage survives a crash of the node, or of the whole machine, as long
as the disk does. Each node writes its own file (named by node) and holds an exclusive
``flock`` on it while it runs; a node replaying spools after an outage replays its own file
and every file no running node holds (a node that died with lines still unreplayed), so a
shared volume loses nothing either. A line torn by a crash mid-write is the last one and was
never acknowledged: reading skips it.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import structlog

log = structlog.get_logger("advice_line.outage.spool")

SUFFIX = ".spool"


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def read_lines(path: Path, end: int | None = None) -> list[dict[str, Any]]:
    """Every whole record in a spool file (up to byte ``end``), in order; a torn last line
    is skipped."""
    records: list[dict[str, Any]] = []
    with path.open("rb") as handle:
        data = handle.read() if end is None else handle.read(end)
        for raw in data.splitlines(keepends=True):
            if not raw.endswith(b"\n"):
                log.warning("spool.torn_line_skipped", file=path.name)
                break
            try:
                records.append(json.loads(raw))
            except ValueError:
                log.warning("spool.unreadable_line_skipped", file=path.name)
    return records


class Spool:
    """One node's spool file in ``directory``; open it before use and close it at the end."""

    def __init__(self, directory: Path, node: str) -> None:
        self.directory = directory
        self.path = directory / f"{node}{SUFFIX}"
        self._handle: IO[bytes] | None = None
        self._lock = asyncio.Lock()  # one write (or rewrite) of the file at a time
        self._pending: list[tuple[bytes, asyncio.Future[None]]] = []
        self._broken = False
        self._flushing: asyncio.Task[None] | None = None

    def open(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        handle = self.path.open("ab")
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        self._handle = handle
        _fsync_directory(self.directory)  # the file's name is durable too

    def close(self) -> None:
        """Close the file; an empty one is deleted (node ids are new at every start)."""
        if self._handle is not None:
            if self.size() == 0:
                self.path.unlink(missing_ok=True)
            self._handle.close()
            self._handle = None

    @property
    def writable(self) -> bool:
        return not self._broken and self._handle is not None and not self._handle.closed

    def _write(self, data: bytes) -> None:
        """Append ``data`` and fsync it; after a failure, cut the file back to where the write
        began (no torn line before the next one) and refuse further writes (the node then
        answers 503 rather than acknowledge what it cannot keep)."""
        assert self._handle is not None, "the spool is not open"
        if self._broken:
            raise OSError("the spool could not be written earlier")
        start = os.fstat(self._handle.fileno()).st_size
        try:
            self._handle.write(data)
            self._handle.flush()
            os.fsync(self._handle.fileno())
        except OSError:
            self._broken = True
            log.error("spool.write_failed", file=self.path.name, exc_info=True)
            with contextlib.suppress(OSError):
                os.ftruncate(self._handle.fileno(), start)
            raise

    async def settled_size(self) -> int:
        """The size with no write under way (so the end of a whole record)."""
        async with self._lock:
            return self.size()

    async def append(self, record: dict[str, Any]) -> None:
        """Write one record and return once it is on disk.

        Appends that arrive while a write is on its way to the disk go together in the next
        write and its one ``fsync`` (group commit): under load a step waits for at most one
        write before its own, not for every step queued ahead of it."""
        line = json.dumps(record, separators=(",", ":"), default=str).encode() + b"\n"
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((line, done))
        if self._flushing is None or self._flushing.done():
            self._flushing = asyncio.create_task(self._flush(), name="spool-flush")
        await done

    async def _flush(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, []
            try:
                async with self._lock:
                    await asyncio.to_thread(self._write, b"".join(line for line, _ in batch))
            except Exception as exc:  # each waiting step learns it was not stored
                for _, done in batch:
                    if not done.done():
                        done.set_exception(exc)
            else:
                for _, done in batch:
                    if not done.done():
                        done.set_result(None)

    async def truncate(self, keep_from: int) -> None:
        """Drop the first ``keep_from`` bytes' worth of replayed records: rewrite the file
        with what was appended since (under the append lock, so nothing is lost)."""
        async with self._lock:
            await asyncio.to_thread(self._rewrite_from, keep_from)

    def _rewrite_from(self, offset: int) -> None:
        assert self._handle is not None
        with self.path.open("rb") as handle:
            handle.seek(offset)
            rest = handle.read()
        fresh = self.path.with_suffix(".tmp")
        with fresh.open("wb") as out:
            out.write(rest)
            out.flush()
            os.fsync(out.fileno())
        old = self._handle
        new = open(fresh, "ab")  # noqa: SIM115 - held for the node's life
        fcntl.flock(new.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.replace(fresh, self.path)
        _fsync_directory(self.directory)
        self._handle = new
        old.close()

    def size(self) -> int:
        return self.path.stat().st_size if self.path.exists() else 0


@contextmanager
def orphan(path: Path) -> Iterator[bool]:
    """Hold another node's spool file if no running node does (True), for its replay."""
    with path.open("rb") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def spool_files(directory: Path) -> list[Path]:
    return sorted(directory.glob(f"*{SUFFIX}")) if directory.exists() else []
