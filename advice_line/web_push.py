"""Web Push (RFC 8030), payloads encrypted per RFC 8291, signed with VAPID (RFC 8292).

``WebPush.push_wake`` is the sender for "wake" notices: an advisor on duty whose browser is
closed gets a small, high-urgency push on every device they subscribed, short-lived (TTL 60
s: a wake-up that arrives after the grace period is worse than none). pywebpush's call
blocks (it uses requests), so it runs in a thread and the event loop stays free.

A push service that answers 404 or 410 has forgotten the subscription: the row goes. Any
other failure counts against the subscription and is raised, so the registry logs it.
"""

from __future__ import annotations

import asyncio
import enum
import functools
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
import requests
import structlog
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid02
from pywebpush import WebPushException, webpush

from advice_line import push_subscriptions
from advice_line.db import DATABASE_AWAY
from advice_line.notice_text import tier_name, trial_texts, wake_texts
from advice_line.notify import Notice
from advice_line.push_keys import public_key_b64
from advice_line.push_subscriptions import Subscription

log = structlog.get_logger("advice_line.web_push")

WAKE_TTL_SECONDS = 60
TIMEOUT_SECONDS = 10.0
#: Statuses with which a push service says a subscription has expired or was withdrawn.
GONE = frozenset({404, 410})


class Result(enum.Enum):
    DELIVERED = "delivered"
    GONE = "removed"
    FAILED = "failed"


class PushFailed(RuntimeError):
    """Some pushes of a notice failed (other than gone subscriptions): retry later."""


@dataclass(frozen=True)
class Tally:
    """What became of one push to each of a user's subscriptions."""

    delivered: int = 0
    removed: int = 0
    failed: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"delivered": self.delivered, "removed": self.removed, "failed": self.failed}


class WebPush:
    """Sends to the stored subscriptions of a user, with this service's VAPID key."""

    def __init__(self, pool: asyncpg.Pool, key: ec.EllipticCurvePrivateKey, subject: str) -> None:
        self.pool = pool
        self.vapid = Vapid02(private_key=key)
        self.subject = subject
        self.public_key = public_key_b64(key)
        #: An advisor's subscriptions while the database is away (set by the app).
        self.remembered: Callable[[int], list[Subscription]] | None = None

    async def push_wake(self, notice: Notice) -> None:
        """The sender for "wake" notices (``notice.user_id`` is the advisor to wake)."""
        assert notice.kind == "wake"
        assert notice.user_id is not None
        title, body = wake_texts(notice.data.get("tier"))
        payload = {"type": "wake", "consultation_id": notice.data.get("consultation_id"),
                   "tier": tier_name(notice.data.get("tier")), "title": title, "body": body}  # fmt: skip
        tally = await self.send_to_user(notice.user_id, payload, urgency="high")
        if tally.failed:
            raise PushFailed(f"{tally.failed} of the advisor's push subscriptions failed")

    async def send_trial(self, user_id: int) -> Tally:
        """A test push to every device of ``user_id``."""
        title, body = trial_texts()
        return await self.send_to_user(user_id, {"type": "test", "title": title, "body": body})

    async def send_to_user(
        self, user_id: int, payload: dict[str, Any], *, urgency: str = "normal"
    ) -> Tally:
        try:
            async with self.pool.acquire() as conn:
                subscriptions = await push_subscriptions.for_user(conn, user_id)
        except DATABASE_AWAY:
            if self.remembered is None:
                raise
            subscriptions = self.remembered(user_id)  # as the last copy of the database has them
        data = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
        results = await asyncio.gather(*(self._send(s, data, urgency) for s in subscriptions))
        tally = Tally(
            delivered=results.count(Result.DELIVERED),
            removed=results.count(Result.GONE),
            failed=results.count(Result.FAILED),
        )
        log.info("push.sent", user_id=user_id, type=payload.get("type"), **tally.as_dict())
        return tally

    async def _send(self, subscription: Subscription, data: str, urgency: str) -> Result:
        call = functools.partial(
            webpush, subscription.info(), data=data, vapid_private_key=self.vapid,
            vapid_claims={"sub": self.subject},  # a fresh dict: pywebpush adds aud and exp to it
            ttl=WAKE_TTL_SECONDS, headers={"Urgency": urgency}, timeout=TIMEOUT_SECONDS,
        )  # fmt: skip
        where = {"subscription": subscription.id, "push_service": subscription.push_service}
        try:
            await asyncio.get_running_loop().run_in_executor(None, call)
        except WebPushException as exc:
            if exc.status_code in GONE:
                await self._note(push_subscriptions.gone, subscription.id)
                log.info("push.subscription_gone", status=exc.status_code, **where)
                return Result.GONE
            log.warning("push.failed", status=exc.status_code, **where)
        except requests.RequestException as exc:
            log.warning("push.failed", error=type(exc).__name__, **where)
        else:
            await self._note(push_subscriptions.delivered, subscription.id)
            return Result.DELIVERED
        await self._note(push_subscriptions.failed, subscription.id)
        return Result.FAILED

    async def _note(
        self, record: Callable[[asyncpg.Connection, int], Awaitable[None]], subscription_id: int
    ) -> None:
        """Keep a subscription's record (delivered, failed, gone); skipped while the database
        is away, which only costs that bookkeeping."""
        try:
            async with self.pool.acquire() as conn:
                await record(conn, subscription_id)
        except DATABASE_AWAY:
            log.warning("push.bookkeeping_needs_database", subscription=subscription_id)
