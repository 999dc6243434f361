"""E-mail alerts to coordinators: a tier was skipped or asleep, or no tier could answer.

``EmailAlerts.email_alert`` is the sender for "alert" notices. The message is short Danish
plain text naming only the kind, the tier, the consultation's id and the time; never a
patient, since mail servers are outside our control. smtplib blocks, so it runs in a thread.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import smtplib
import ssl
from collections.abc import Callable
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

import structlog

from advice_line.notice_text import alert_body, alert_subject
from advice_line.notify import Notice
from advice_line.settings import Settings

log = structlog.get_logger("advice_line.alert_email")

TIMEOUT_SECONDS = 15.0


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def alert_message(notice: Notice, settings: Settings, now: dt.datetime) -> EmailMessage:
    """The e-mail for one alert notice (only kind, tier, consultation id and time)."""
    kind = str(notice.data.get("kind", "alert"))
    tier = notice.data.get("tier")
    message = EmailMessage()
    message["Subject"] = alert_subject(kind, tier)
    message["From"] = settings.smtp_from
    message["To"] = ", ".join(settings.alert_email_to)
    message["Date"] = format_datetime(now)
    message["Message-ID"] = make_msgid(domain=settings.smtp_from.rsplit("@", 1)[-1].rstrip(">"))
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies, please
    body = alert_body(kind, tier, notice.data.get("consultation_id"), now, settings.public_origin)
    message.set_content(body)
    return message


class EmailAlerts:
    """Sends alert notices to ``settings.alert_email_to`` through ``settings.smtp_host``."""

    def __init__(self, settings: Settings, clock: Callable[[], dt.datetime] = utc_now) -> None:
        assert settings.smtp_host, "checked by the settings"
        assert settings.alert_email_to, "checked by the settings"
        self.settings = settings
        self.clock = clock

    async def email_alert(self, notice: Notice) -> None:
        """The sender for "alert" notices; raises (so the registry logs it) if the send fails."""
        message = alert_message(notice, self.settings, self.clock())
        await asyncio.get_running_loop().run_in_executor(None, self._send, message)
        log.info("alert_email.sent", kind=notice.data.get("kind"),
                 consultation=notice.data.get("consultation_id"),
                 recipients=len(self.settings.alert_email_to))  # fmt: skip

    def _send(self, message: EmailMessage) -> None:
        s = self.settings
        assert s.smtp_host is not None
        with smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=TIMEOUT_SECONDS) as smtp:
            if s.smtp_starttls:
                smtp.starttls(context=ssl.create_default_context())
            if s.smtp_username and s.smtp_password:
                smtp.login(s.smtp_username, s.smtp_password)
            smtp.send_message(message, to_addrs=list(s.alert_email_to))
