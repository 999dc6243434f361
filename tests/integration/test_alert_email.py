"""E-mail alerts to coordinators against a real SMTP server (aiosmtpd on 127.0.0.1)."""

from __future__ import annotations

import asyncio
import datetime as dt
import email
import email.policy
import smtplib
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import AuthResult, LoginPassword

from advice_line.alert_email import EmailAlerts
from advice_line.app import create_app
from advice_line.appkeys import SENDERS
from advice_line.notify import Notice, RecordingSender
from tests.integration.routing_helpers import Person

COORDINATORS = ("koordinator@example.dk", "vagtleder@example.dk")
PATIENT = "Karl Fiktivsen"
SITUATION = "Uro og smerter om natten"


@dataclass
class Mail:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage

    @property
    def text(self) -> str:
        return str(self.message.get_content())


@dataclass
class MailServer:
    """What a local SMTP server received; refuses recipients listed in ``refuse``."""

    port: int = 0
    received: list[Mail] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)
    logins: list[tuple[str, str]] = field(default_factory=list)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options) -> str:
        if address in self.refuse:
            return "550 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope) -> str:
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.received.append(Mail(envelope.mail_from, list(envelope.rcpt_tos), parsed))
        return "250 Message accepted"

    def authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        self.logins.append((auth_data.login.decode(), auth_data.password.decode()))
        return AuthResult(success=auth_data.password == b"hemmeligt-kodeord")

    async def wait_for(self, count: int, within: float = 5.0) -> list[Mail]:
        deadline = asyncio.get_running_loop().time() + within
        while len(self.received) < count:
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"{len(self.received)} e-mails arrived, not {count}")
            await asyncio.sleep(0.02)
        return self.received


@pytest.fixture
async def mail_server():
    """An SMTP server on 127.0.0.1 in the test's own event loop (smtplib runs in a thread)."""
    mails = MailServer()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTPServer(mails, hostname="mail.test", authenticator=mails.authenticate,
                           auth_require_tls=False, loop=loop),
        "127.0.0.1", 0,
    )  # fmt: skip
    mails.port = server.sockets[0].getsockname()[1]
    yield mails
    server.close()
    await server.wait_closed()


@pytest.fixture
def email_settings(settings, mail_server):
    return settings.replace(
        smtp_host="127.0.0.1", smtp_port=mail_server.port, alert_email_to=COORDINATORS,
        smtp_from="Rådgivningslinjen <noreply@advice-line.dk>",
        public_origin="https://advice.example.dk",
    )  # fmt: skip


def assert_no_patient_data(mail: Mail) -> None:
    raw = mail.message.as_string()
    for secret in (PATIENT, "Fiktivsen", SITUATION, "smerter"):
        assert secret not in mail.text and secret not in raw
        assert secret not in str(mail.message["Subject"])


async def test_an_alert_is_a_short_danish_mail_to_the_configured_coordinators(
    email_settings, mail_server
):
    at = dt.datetime(2026, 11, 2, 10, 15, tzinfo=dt.UTC)
    alerts = EmailAlerts(email_settings, clock=lambda: at)
    notice = Notice("alert", None, {"kind": "tier_skipped", "tier": "gp",
                                    "detail": "nobody_on_duty", "consultation_id": 17})  # fmt: skip
    await alerts.email_alert(notice)

    (mail,) = await mail_server.wait_for(1)
    assert mail.mail_from == "noreply@advice-line.dk"
    assert mail.rcpt_tos == list(COORDINATORS)
    assert mail.message["Subject"] == "Rådgivningslinjen: ingen på vagt – læge"
    assert mail.message["To"] == ", ".join(COORDINATORS)
    assert mail.message["From"] == "Rådgivningslinjen <noreply@advice-line.dk>"
    assert mail.message["Auto-Submitted"] == "auto-generated"
    assert mail.message.get_content_type() == "text/plain"
    assert "Konsultation: 17" in mail.text
    assert "Niveau: læge" in mail.text
    assert "Tidspunkt: 02.11.2026 kl. 11:15 (dansk tid)" in mail.text  # CET in November
    assert "https://advice.example.dk" in mail.text
    assert "nobody_on_duty" not in mail.text  # the detail stays out: only kind, tier, id, time
    assert len(mail.text.splitlines()) < 15


async def test_a_call_nobody_can_take_mails_the_coordinators(
    aiohttp_server, email_settings, mail_server, make_user, make_org, db
):
    app = create_app(email_settings)
    alerts = RecordingSender()
    server = await aiohttp_server(app)
    app[SENDERS].register("alert", alerts)
    home = await make_org(kind="home_care")
    nurse = await Person(
        str(server.make_url("/")), await make_user("nurse", organisation_id=home["id"])
    ).login()
    try:
        patient_id = await db.fetchval(
            """INSERT INTO patients (reference, organisation_id, name, diagnosis_group)
               VALUES ('R-1', $1, $2, 'cancer') RETURNING id""",
            home["id"], PATIENT,
        )  # fmt: skip
        status, body = await nurse.call("POST", "/api/v1/consultations", json={
            "patient_id": patient_id, "channel": "audio", "urgency": "acute",
            "isbar": {"situation": SITUATION, "request": f"Råd om {PATIENT}"}})  # fmt: skip
        assert status == 201, body
        consultation = body["consultation"]
        assert consultation["state"] == "queued"  # nobody on duty anywhere
    finally:
        await nurse.close()

    # Notices go out in the background, each on its own (so not necessarily in the order they
    # were decided): wait until the recording sender has them all and no more come ...
    deadline = asyncio.get_running_loop().time() + 10
    seen, quiet_since = -1, 0.0
    while True:
        now = asyncio.get_running_loop().time()
        if len(alerts.notices) != seen:
            seen, quiet_since = len(alerts.notices), now
        exhausted = any(n.data.get("kind") == "all_tiers_exhausted" for n in alerts.notices)
        if exhausted and now - quiet_since > 0.5:
            break
        assert now < deadline, [n.data for n in alerts.notices]
        await asyncio.sleep(0.02)
    expected = len(alerts.notices)
    assert expected >= 2
    # ... and for one e-mail per notice.
    mails = await mail_server.wait_for(expected)
    await asyncio.sleep(0.3)  # none more than that
    assert len(mails) == expected
    subjects = [str(m.message["Subject"]) for m in mails]
    assert "Rådgivningslinjen: ingen på vagt – erfaren sygeplejerske" in subjects
    assert any(s.startswith("Rådgivningslinjen: ingen kunne tage opkaldet") for s in subjects)
    for mail in mails:
        assert mail.rcpt_tos == list(COORDINATORS)
        assert f"Konsultation: {consultation['id']}" in mail.text
        assert_no_patient_data(mail)


async def test_an_smtp_login_is_used_when_configured(email_settings, mail_server):
    settings = email_settings.replace(smtp_username="alerts", smtp_password="hemmeligt-kodeord")
    notice = Notice("alert", None, {"kind": "all_tiers_exhausted", "tier": "specialist",
                                    "detail": "", "consultation_id": 3})  # fmt: skip
    await EmailAlerts(settings).email_alert(notice)
    (mail,) = await mail_server.wait_for(1)
    assert mail_server.logins == [("alerts", "hemmeligt-kodeord")]
    assert mail.message["Subject"] == (
        "Rådgivningslinjen: ingen kunne tage opkaldet – palliativ specialist"
    )


async def test_a_refused_mail_raises_so_the_registry_logs_it(email_settings, mail_server):
    mail_server.refuse = set(COORDINATORS)
    alerts = EmailAlerts(email_settings)
    notice = Notice("alert", None, {"kind": "tier_asleep", "tier": "senior_nurse",
                                    "detail": "1 on duty, none online", "consultation_id": 5})  # fmt: skip
    with pytest.raises(smtplib.SMTPRecipientsRefused):
        await alerts.email_alert(notice)
    assert mail_server.received == []


async def test_no_smtp_host_means_no_email_sender(aiohttp_client, settings):
    client = await aiohttp_client(create_app(settings))
    senders = client.app[SENDERS].by_kind.get("alert", [])
    assert [type(s).__name__ for s in senders] == ["CoordinatorBoard"], "only the live board"


async def test_with_smtp_the_alert_sender_is_registered(aiohttp_client, email_settings):
    client = await aiohttp_client(create_app(email_settings))
    senders: list[Any] = client.app[SENDERS].by_kind["alert"]
    names = [getattr(s, "__name__", type(s).__name__) for s in senders]
    assert names == ["CoordinatorBoard", "email_alert"]
