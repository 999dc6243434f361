"""Keeping this node's sockets present and their resume tokens alive, a slice at a time.

Every live connection must be refreshed in Redis once per heartbeat interval (presence lasts
two intervals). Refreshing all of them at once built one pipeline of four commands per socket
in Python: with 2,000 sockets a burst of some 8,000 commands every 15 s that held the event
loop for tens of milliseconds, and every ring, signal and timer waiting behind it. Instead the
connections are split by id into slices of about ``SLICE`` and the slices are refreshed one
after another, spread over most of the interval. Each slice is taken from the registry at the
moment it is refreshed, so a connection that closed meanwhile is not made present again.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable

import structlog

from signalling.presence import Presence
from signalling.registry import Connection, ConnectionRegistry
from signalling.resume import ResumeTokens

log = structlog.get_logger("advice_line.keepalive")

#: Connections refreshed in one Redis round trip.
SLICE = 200
#: Share of the interval the slices are spread over (the rest is margin before presence lapses).
SPREAD = 0.8


def slice_count(connections: int) -> int:
    """How many slices this many connections are refreshed in (at least one)."""
    return max(1, math.ceil(connections / SLICE))


def in_slice(connections: list[Connection], index: int, count: int) -> list[Connection]:
    """The connections of slice ``index`` of ``count`` (by connection id, so stable)."""
    return [c for c in connections if c.id % count == index]


async def in_slices_forever(
    interval: float, how_many: Callable[[], int],
    refresh: Callable[[int, int], Awaitable[None]], failed: str,
) -> None:  # fmt: skip
    """Until cancelled: once per ``interval``, ``refresh(index, count)`` for each of the
    ``count`` slices of the ``how_many()`` items, spread over ``SPREAD`` of the interval; a
    failed slice is logged as ``failed`` and the next one goes on."""
    while True:
        started = time.monotonic()
        count = slice_count(how_many())
        for index in range(count):
            try:
                await refresh(index, count)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning(failed, exc_info=True)
            if index < count - 1:
                await asyncio.sleep(interval * SPREAD / count)
        await asyncio.sleep(max(0.0, interval - (time.monotonic() - started)))


async def refresh_forever(
    registry: ConnectionRegistry, presence: Presence, tokens: ResumeTokens,
    interval: float, live_ms: int,
) -> None:  # fmt: skip
    """Refresh every connection's presence and resume token once per ``interval``."""

    async def refresh(index: int, count: int) -> None:
        part = in_slice(registry.all(), index, count)
        await presence.refresh([(c.user_id, c.id) for c in part], int(time.time() * 1000))
        await tokens.keep([c.resume_token for c in part if c.resume_token], live_ms)

    await in_slices_forever(interval, lambda: len(registry), refresh, "presence.refresh_failed")
