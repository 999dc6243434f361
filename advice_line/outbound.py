"""The production senders, registered when the routing engine's registry is made.

"wake" goes out by Web Push to the advisor's subscribed browsers, always (an advisor with
no subscription simply gets none). "alert" goes out by e-mail to the configured addresses
when an SMTP server is configured; tests and the coordinators' board add their own senders.
"""

from __future__ import annotations

import structlog
from aiohttp import web

from advice_line import push_keys
from advice_line.alert_email import EmailAlerts
from advice_line.appkeys import DB, SENDERS, SETTINGS, WEB_PUSH
from advice_line.web_push import WebPush

log = structlog.get_logger("advice_line.outbound")


def register_senders(app: web.Application) -> None:
    """Make the Web Push sender (and the e-mail sender, if configured) and register them."""
    settings = app[SETTINGS]
    key = push_keys.load_or_create(settings.vapid_private_key, settings.data_dir)
    push = WebPush(app[DB], key, settings.vapid_subject)
    app[WEB_PUSH] = push
    app[SENDERS].register("wake", push.push_wake)
    email = bool(settings.smtp_host and settings.alert_email_to)
    if email:
        app[SENDERS].register("alert", EmailAlerts(settings).email_alert)
    log.info("notify.senders_ready", web_push=True, alert_email=email,
             vapid_key="configured" if settings.vapid_private_key else "data_dir")  # fmt: skip
