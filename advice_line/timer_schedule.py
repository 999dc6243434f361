"""When this node tries to fire each timer it knows of: at its due time, not at the next poll.

The timer rows in PostgreSQL are the truth (``consultation_timers``); this schedule only
says when to try one. A step on this node that starts a timer plans it at once (it knows the
due time); the engine's poll plans the rows due soon that it does not know yet (timers
started on other nodes, or due while this node was down). At its time each timer is tried by
a task of its own, a few at once, so timers due together do not wait for each other; the
try takes the row in a transaction, so of several nodes (or tries) exactly one fires it.

A try answers whether the timer fired, was gone (fired elsewhere, cancelled or replaced), or
met its consultation locked by another step: then it is tried again shortly, and after that
the poll plans it again. A step that cancels or replaces a timer forgets it here, so a call
answered before its ring timer costs no try at all.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import enum
from collections.abc import Awaitable, Callable

import structlog

log = structlog.get_logger("advice_line.timers")

#: A timer row: the consultation, the kind ("ring", "wake", ...) and its sequence number.
TimerKey = tuple[int, str, int]
#: How long to wait before trying again a timer whose consultation another step holds.
BUSY_RETRY = 0.02
#: Tries in a row against a held consultation before the timer is left to the poll.
BUSY_TRIES = 25


class Tried(enum.Enum):
    FIRED = "fired"
    GONE = "gone"
    BUSY = "busy"


class TimerSchedule:
    """Exact-time tries of known timers, at most ``concurrency`` at once."""

    def __init__(
        self,
        fire: Callable[[TimerKey], Awaitable[Tried]],
        clock: Callable[[], dt.datetime],
        concurrency: int = 4,
    ) -> None:
        self._fire = fire
        self._clock = clock
        self._gate = asyncio.Semaphore(concurrency)
        #: Per consultation, per kind the one live timer: its sequence number, its handle, and
        #: whether its tries have begun (then this schedule alone says when it is tried next).
        self._planned: dict[int, dict[str, tuple[int, asyncio.TimerHandle, bool]]] = {}
        self._closed = False
        self._running: set[asyncio.Task[None]] = set()

    def __len__(self) -> int:
        return sum(len(kinds) for kinds in self._planned.values())

    def plan(self, key: TimerKey, due: dt.datetime) -> None:
        """Try ``key`` at ``due``; it replaces a planned timer of the same kind (as its row
        does), and a timer planned for later than ``due`` whose tries have not begun is
        brought forward."""
        if self._closed:
            return
        consultation, kind, seq = key
        loop = asyncio.get_running_loop()
        at = loop.time() + max(0.0, (due - self._clock()).total_seconds())
        kinds = self._planned.setdefault(consultation, {})
        planned = kinds.get(kind)
        if planned is not None:
            planned_seq, handle, begun = planned
            if planned_seq > seq:
                return  # a newer timer of that kind
            if planned_seq == seq and (begun or handle.when() <= at + 0.001):
                return  # this one, being tried or planned in time
            handle.cancel()
        kinds[kind] = (seq, loop.call_at(at, self._start, key, 0), False)

    def forget(self, consultation: int) -> None:
        """The consultation's timers were cancelled: no tries for them."""
        for _, handle, _ in self._planned.pop(consultation, {}).values():
            handle.cancel()

    def close(self) -> None:
        """Cancel every planned try; plans made after this are ignored (shutting down)."""
        self._closed = True
        for kinds in self._planned.values():
            for _, handle, _ in kinds.values():
                handle.cancel()
        self._planned.clear()
        for task in self._running:
            task.cancel()

    def _start(self, key: TimerKey, tries: int) -> None:
        consultation, kind, seq = key
        planned = self._planned.get(consultation, {}).get(kind)
        if planned is not None and planned[0] == seq:
            self._planned[consultation][kind] = (seq, planned[1], True)
        task = asyncio.create_task(self._try(key, tries), name=f"timer-{key[0]}-{key[1]}")
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def _try(self, key: TimerKey, tries: int) -> None:
        consultation, kind, seq = key
        try:
            async with self._gate:
                tried = await self._fire(key)
        except asyncio.CancelledError:
            raise
        except Exception:  # if its row is still there, the poll plans it again
            log.exception("routing.timer_failed", consultation=consultation, kind=kind)
            tried = Tried.GONE
        kinds = self._planned.get(consultation, {})
        planned = kinds.get(kind)
        if planned is None or planned[0] != seq:
            return  # replaced or forgotten meanwhile
        if tried is Tried.BUSY and tries + 1 < BUSY_TRIES:
            handle = asyncio.get_running_loop().call_later(BUSY_RETRY, self._start, key, tries + 1)
            kinds[kind] = (seq, handle, True)
            return
        del kinds[kind]
        if not kinds:
            del self._planned[consultation]
