"""Outbound notifications behind a registry of senders (wake-ups, coordinator alerts).

A sender is ``async def send(notice)``; raising means "retry later". The registry sends a
notice to every sender registered for its kind and logs (never swallows silently) a
failure. Production adds Web Push and e-mail; tests register a recording sender.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import structlog

log = structlog.get_logger("advice_line.notify")


@dataclass(frozen=True)
class Notice:
    kind: str  # "wake" (an advisor on duty is offline) or "alert" (for coordinators)
    user_id: int | None
    data: dict[str, Any]


Sender = Callable[[Notice], Awaitable[None]]


@dataclass
class Senders:
    by_kind: dict[str, list[Sender]] = field(default_factory=dict)
    _pending: set[asyncio.Task[None]] = field(default_factory=set)

    def register(self, kind: str, sender: Sender) -> None:
        self.by_kind.setdefault(kind, []).append(sender)

    def dispatch(self, notice: Notice) -> None:
        """Send in the background: a slow push service or mail server never holds up routing."""
        task = asyncio.create_task(self.send(notice), name=f"notice-{notice.kind}")
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def drain(self, within: float = 10.0) -> None:
        """Wait (a bounded time) for notices still being sent, e.g. at shutdown."""
        if self._pending:
            await asyncio.wait(set(self._pending), timeout=within)

    async def send(self, notice: Notice) -> None:
        log.info("notify.notice", kind=notice.kind, user_id=notice.user_id,
                 detail={k: v for k, v in notice.data.items() if k != "detail"})  # fmt: skip
        for sender in self.by_kind.get(notice.kind, []):
            try:
                await sender(notice)
            except Exception:
                log.exception(
                    "notify.sender_failed",
                    kind=notice.kind,
                    sender=getattr(sender, "__name__", "?"),
                )


@dataclass
class RecordingSender:
    """Keeps every notice it is given (tests, and the coordinator's live board)."""

    notices: list[Notice] = field(default_factory=list)

    async def __call__(self, notice: Notice) -> None:
        self.notices.append(notice)
