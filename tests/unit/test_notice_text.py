"""The words of outbound notices, and which push endpoints a subscription may name."""

from __future__ import annotations

import datetime as dt

import pytest

from advice_line import notice_text
from advice_line.views.push_api import endpoint_problem

AT = dt.datetime(2026, 3, 29, 0, 59, tzinfo=dt.UTC)  # 01:59 CET, a minute before DST starts


@pytest.mark.parametrize(
    ("kind", "tier", "subject"),
    [
        ("tier_skipped", "gp", "Rådgivningslinjen: ingen på vagt – læge"),
        ("tier_skipped", "senior_nurse", "Rådgivningslinjen: ingen på vagt – erfaren sygeplejerske"),
        ("tier_asleep", "specialist", "Rådgivningslinjen: ingen online på vagt – palliativ specialist"),
        ("all_tiers_exhausted", "gp", "Rådgivningslinjen: ingen kunne tage opkaldet – læge"),
        ("consultation_failed", None, "Rådgivningslinjen: et opkald fejlede – ukendt niveau"),
        ("something_new", 2, "Rådgivningslinjen: advarsel (something_new) – læge"),
    ],
)  # fmt: skip
def test_alert_subjects(kind: str, tier: object, subject: str) -> None:
    assert notice_text.alert_subject(kind, tier) == subject


def test_alert_body_names_only_what_happened_where_and_when() -> None:
    body = notice_text.alert_body("tier_skipped", "gp", 12, AT, None)
    assert "Niveau: læge" in body
    assert "Konsultation: 12" in body
    assert "Tidspunkt: 29.03.2026 kl. 01:59 (dansk tid)" in body
    assert "ingen patientoplysninger" in body
    after_dst = notice_text.alert_body("tier_skipped", "gp", 12, AT + dt.timedelta(minutes=2), None)
    assert "kl. 03:01" in after_dst


@pytest.mark.parametrize(("tier", "label"), [(1, "erfaren sygeplejerske"), (2, "læge"),
                                             (3, "palliativ specialist"), ("gp", "læge")])  # fmt: skip
def test_wake_texts_name_the_tier(tier: object, label: str) -> None:
    title, body = notice_text.wake_texts(tier)
    assert title == "Rådgivningslinjen: et opkald venter"
    assert f"Du har vagt som {label}." in body


@pytest.mark.parametrize(
    ("endpoint", "environment", "ok"),
    [
        ("https://fcm.googleapis.com/fcm/send/abc", "production", True),
        ("https://updates.push.services.mozilla.com/wpush/v2/abc", "production", True),
        ("https://web.push.apple.com/abc", "production", True),
        ("http://127.0.0.1:8123/push/x", "test", True),
        ("http://127.0.0.1:8123/push/x", "development", True),
        ("http://127.0.0.1:8123/push/x", "production", False),
        ("http://localhost:8123/push/x", "test", False),
        ("http://fcm.googleapis.com/fcm/send/abc", "development", False),
        ("https://10.0.0.5/push", "production", False),
        ("https://[::1]/push", "production", False),
        ("https://localhost/push", "production", False),
        ("https://push.example.com:99999/x", "test", False),
        ("https://user:pw@push.example.com/x", "test", False),
        ("https:///nohost", "test", False),
        ("javascript:alert(1)", "test", False),
    ],
)  # fmt: skip
def test_push_endpoints(endpoint: str, environment: str, ok: bool) -> None:
    assert (endpoint_problem(endpoint, environment) is None) is ok
