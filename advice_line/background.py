"""Background tasks that are always cancelled, awaited and have their failures logged.

Some libraries swallow a cancellation that lands at an awkward moment (a Redis client in
the middle of connecting, say), so stopping cancels again until the task really ends.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any

import structlog

log = structlog.get_logger("advice_line.background")


async def stop(task: asyncio.Task[Any], *, attempts: int = 50) -> None:
    """Cancel ``task`` and wait for it to end; log (never swallow silently) its failure."""
    for _ in range(attempts):
        if task.done():
            break
        task.cancel()
        await asyncio.wait({task}, timeout=0.1)
    if not task.done():
        log.error("background.task_would_not_stop", task=task.get_name())
        return
    if not task.cancelled() and task.exception() is not None:
        log.error("background.task_failed", task=task.get_name(), exc_info=task.exception())


@asynccontextmanager
async def running(
    *factories: tuple[str, Callable[[], Coroutine[Any, Any, None]]],
) -> AsyncIterator[None]:
    """Run named coroutines for the duration of the block; stop them all on the way out."""
    tasks = [asyncio.create_task(factory(), name=name) for name, factory in factories]
    try:
        yield
    finally:
        for task in tasks:
            await stop(task)
