"""What the load benchmarks share: child processes that always die, an open-loop scheduler,
latency summaries, CPU and memory of a process from ``/proc``, and the client's own lag.

Every child process (and every store started for a run) is registered here and stopped on
any exit: normal return, exception, SIGINT/SIGTERM (turned into ``SystemExit``) or
``atexit``. Nothing here loops without a deadline.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
import resource
import signal
import socket
import subprocess
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")


# Cleanup -----------------------------------------------------------------------------------


class Cleanup:
    """Stops registered children and runs registered stop functions, last first, each once."""

    def __init__(self) -> None:
        self._steps: list[tuple[str, Callable[[], None]]] = []
        atexit.register(self.run)
        for sig in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, self._on_signal)

    def _on_signal(self, signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)  # unwinds through every finally, then atexit

    def add(self, name: str, stop: Callable[[], None]) -> None:
        self._steps.append((name, stop))

    def process(self, name: str, process: subprocess.Popen[bytes], grace: float = 10.0) -> None:
        """Stop ``process`` (SIGTERM, then SIGKILL after ``grace`` seconds) at cleanup."""
        self.add(name, lambda: stop_process(process, grace))

    def run(self) -> None:
        """Run every step registered so far (later ones first); may be called again later."""
        while self._steps:
            name, stop = self._steps.pop()
            try:
                stop()
            except Exception as exc:  # keep stopping the others
                print(f"cleanup: stopping {name} failed: {exc!r}", flush=True)


def stop_process(process: subprocess.Popen[bytes], grace: float = 10.0) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def raise_fd_limit(wanted: int = 16384) -> int:
    """Allow this process (and the children it starts) enough sockets; returns the limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = min(wanted, hard) if hard != resource.RLIM_INFINITY else wanted
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return max(soft, target)


def tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return ""


# Processes, from /proc ------------------------------------------------------------------------


@dataclass(frozen=True)
class ProcSample:
    """CPU seconds (user + system) and resident memory of a set of processes at an instant."""

    at: float
    cpu_seconds: float
    rss_bytes: int
    threads: int


def _stat(pid: int) -> tuple[int, float, int, int] | None:
    """(ppid, cpu seconds, rss bytes, threads) of ``pid``, or None if it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    fields = raw[raw.rindex(")") + 2 :].split()  # after "pid (comm) "
    ppid = int(fields[1])
    cpu = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    threads = int(fields[17])
    rss = int(fields[21]) * PAGE_BYTES
    return ppid, cpu, rss, threads


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            stat = _stat(int(entry.name))
            if stat is not None and stat[0] == pid:
                found.append(int(entry.name))
    return found


def sample(pids: Sequence[int]) -> ProcSample:
    """CPU and RSS summed over ``pids`` (those still alive)."""
    cpu, rss, threads = 0.0, 0, 0
    for pid in pids:
        stat = _stat(pid)
        if stat is not None:
            cpu, rss, threads = cpu + stat[1], rss + stat[2], threads + stat[3]
    return ProcSample(time.monotonic(), cpu, rss, threads)


def peak_rss_bytes(pid: int) -> int:
    """VmHWM: the highest resident set size of ``pid`` so far."""
    with contextlib.suppress(FileNotFoundError, ProcessLookupError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def self_cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


# Latencies ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Summary:
    """Latencies in milliseconds: count, p50, p99, max and mean."""

    count: int
    p50: float
    p99: float
    max: float
    mean: float

    @classmethod
    def of(cls, values_ms: Sequence[float]) -> Summary | None:
        if not values_ms:
            return None
        ordered = sorted(values_ms)
        return cls(
            count=len(ordered),
            p50=percentile(ordered, 0.50),
            p99=percentile(ordered, 0.99),
            max=ordered[-1],
            mean=sum(ordered) / len(ordered),
        )

    def line(self) -> str:
        return (
            f"p50 {self.p50:8.1f} ms   p99 {self.p99:8.1f} ms   max {self.max:8.1f} ms"
            f"   (n={self.count}, mean {self.mean:.1f} ms)"
        )


def percentile(ordered: Sequence[float], fraction: float) -> float:
    """The value at ``fraction`` of an ascending sequence (as ``bench/rota_bench.py``)."""
    assert ordered, "no values"
    return float(ordered[min(len(ordered) - 1, int(fraction * len(ordered)))])


def show(label: str, summary: Summary | None, width: int = 58) -> str:
    return f"  {label:<{width}} " + (summary.line() if summary else "no samples")


#: Above this p99 of its own event-loop lag, the client was starved of CPU by something else.
CLIENT_LAG_LIMIT_MS = 20.0


def lag_line(lag: Summary | None, width: int = 58) -> str:
    """The client's own event-loop lag, with a warning when the machine was too busy."""
    line = show("client event-loop lag (10 ms timer)", lag, width)
    if lag is not None and lag.p99 > CLIENT_LAG_LIMIT_MS:
        line += (f"\n  WARNING: the client itself was starved (lag p99 {lag.p99:.0f} ms > "
                 f"{CLIENT_LAG_LIMIT_MS:g} ms): the machine is busy, latencies are overstated")  # fmt: skip
    return line


# Load ------------------------------------------------------------------------------------------


@dataclass
class Schedule:
    """What an open-loop run did: how late each send left compared with its slot."""

    planned: int = 0
    started: int = 0
    slip_ms: list[float] = field(default_factory=list)


async def open_loop(
    rate: float, duration: float, action: Callable[[int, float], Coroutine[Any, Any, None]]
) -> Schedule:
    """Start ``action(i, slot_time)`` at ``t0 + i / rate`` for ``duration`` seconds, never
    waiting for earlier actions (an open loop: a slow server does not slow the offered load).

    Returns when every action has been started; the caller awaits their outcomes itself.
    """
    loop = asyncio.get_running_loop()
    schedule = Schedule(planned=int(rate * duration))
    t0 = loop.time() + 0.05
    tasks: set[asyncio.Task[None]] = set()
    for i in range(schedule.planned):
        slot = t0 + i / rate
        delay = slot - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        schedule.slip_ms.append((loop.time() - slot) * 1000)
        task = asyncio.create_task(action(i, time.time()))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        schedule.started += 1
    return schedule


class LoopLag:
    """Measures how late this process's event loop wakes up (the client's own overload)."""

    def __init__(self, interval: float = 0.01) -> None:
        self.interval = interval
        self.lag_ms: list[float] = []
        self._task: asyncio.Task[None] | None = None

    async def _run(self, until: float) -> None:
        loop = asyncio.get_running_loop()
        while loop.time() < until:
            before = loop.time()
            await asyncio.sleep(self.interval)
            self.lag_ms.append((loop.time() - before - self.interval) * 1000)

    def start(self, seconds: float) -> None:
        until = asyncio.get_running_loop().time() + seconds
        self._task = asyncio.create_task(self._run(until))

    async def stop(self) -> Summary | None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        return Summary.of(self.lag_ms)


async def wait_until(condition: Callable[[], bool], within: float, interval: float = 0.05) -> bool:
    """Poll ``condition`` until it holds or ``within`` seconds pass; returns whether it held."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not condition():
        if loop.time() > deadline:
            return False
        await asyncio.sleep(interval)
    return True


async def gather_limited(
    factories: Sequence[Callable[[], Awaitable[object]]], limit: int
) -> list[object]:
    """Run the coroutines made by ``factories`` with at most ``limit`` at once; return their
    results (exceptions included) in order."""
    semaphore = asyncio.Semaphore(limit)

    async def one(factory: Callable[[], Awaitable[object]]) -> object:
        async with semaphore:
            return await factory()

    return list(await asyncio.gather(*(one(f) for f in factories), return_exceptions=True))
