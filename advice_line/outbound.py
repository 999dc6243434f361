"""The production senders, registered when the routing engine's registry is made.

"wake" goes out by Web Push to the advisor's subscribed browsers, always (an advisor with
no subscription simply gets none). "alert" goes out by e-mail to the configured addresses
when an SMTP server is configured, and always to the coordinators' live board (WebSocket).
"""

from __future__ import annotations

import datetime as dt

import asyncpg
import structlog
from aiohttp import web

from advice_line import push_keys
from advice_line.alert_email import EmailAlerts
from advice_line.appkeys import BUS, DB, SENDERS, SETTINGS, WEB_PUSH
from advice_line.db import DATABASE_AWAY
from advice_line.notify import Notice
from advice_line.outage.directory import Directory
from advice_line.web_push import WebPush
from signalling.bus import UserBus

log = structlog.get_logger("advice_line.outbound")


class CoordinatorBoard:
    """Alerts to the coordinators' live board: a ``coordinator.alert`` message to every
    coordinator's open pages (no patient data: kind, tier, consultation id)."""

    def __init__(self, pool: asyncpg.Pool, bus: UserBus, directory: Directory) -> None:
        self.pool = pool
        self.bus = bus
        self.directory = directory

    async def __call__(self, notice: Notice) -> None:
        try:
            async with self.pool.acquire() as conn:
                found = await conn.fetch(
                    "SELECT id FROM users WHERE role = 'coordinator' AND disabled_at IS NULL"
                )
            rows = [r["id"] for r in found]
        except DATABASE_AWAY:  # the coordinators as the last copy of the database has them
            rows = sorted(self.directory.coordinators)
        message = {"v": 1, "type": "coordinator.alert", "kind": notice.data.get("kind"),
                   "at": dt.datetime.now(dt.UTC).isoformat(),
                   "tier": notice.data.get("tier"),
                   "consultation_id": notice.data.get("consultation_id")}  # fmt: skip
        for coordinator in rows:
            await self.bus.send(coordinator, message)


def register_senders(app: web.Application, directory: Directory) -> None:
    """Make the Web Push sender (and the e-mail sender, if configured) and register them;
    while the database is away they take whom to reach from ``directory``."""
    settings = app[SETTINGS]
    key = push_keys.load_or_create(settings.vapid_private_key, settings.data_dir)
    push = WebPush(app[DB], key, settings.vapid_subject)
    push.remembered = lambda user_id: directory.subscriptions.get(user_id, [])
    app[WEB_PUSH] = push
    app[SENDERS].register("wake", push.push_wake)
    app[SENDERS].register("alert", CoordinatorBoard(app[DB], app[BUS], directory))
    email = bool(settings.smtp_host and settings.alert_email_to)
    if email:
        app[SENDERS].register("alert", EmailAlerts(settings).email_alert)
    log.info("notify.senders_ready", web_push=True, alert_email=email,
             vapid_key="configured" if settings.vapid_private_key else "data_dir")  # fmt: skip
