"""The Danish words of outbound notices: wake-up pushes and coordinators' alert e-mails.

Pure functions of what a notice carries: tier, kind, consultation id and a time. Nothing
here may ever take patient data; a notice carries none, and these texts leave the service
through third parties (push services, mail servers).
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from advice_line.consultations import TIER_NAMES_BY_NUMBER

DANISH_TIME = ZoneInfo("Europe/Copenhagen")
SERVICE = "Rådgivningslinjen"

TIER_LABELS = {"senior_nurse": "erfaren sygeplejerske", "gp": "læge",
               "specialist": "palliativ specialist"}  # fmt: skip

#: Per alert kind: the subject's words, and the sentence saying what happened.
ALERT_TEXTS = {
    "tier_skipped": ("ingen på vagt", "Der var ingen på vagt på niveauet; opkaldet gik videre."),
    "tier_asleep": (
        "ingen online på vagt",
        "De vagthavende på niveauet var ikke online; de forsøges vækket nu.",
    ),
    "all_tiers_exhausted": (
        "ingen kunne tage opkaldet",
        "Ingen på noget niveau kunne tage opkaldet; det står i kø og tilbydes igen.",
    ),
    "consultation_failed": ("et opkald fejlede", "Et opkald kunne ikke gennemføres."),
}


def tier_name(tier: Any) -> str | None:
    """A tier's name from its number (as actions carry it) or its name (as alerts do)."""
    if isinstance(tier, int):
        return TIER_NAMES_BY_NUMBER.get(tier)
    return tier if tier in TIER_LABELS else None


def tier_label(tier: Any) -> str:
    name = tier_name(tier)
    return TIER_LABELS[name] if name else "ukendt niveau"


def wake_texts(tier: Any) -> tuple[str, str]:
    """Title and body of the push that wakes an advisor on duty."""
    return (
        f"{SERVICE}: et opkald venter",
        f"Du har vagt som {tier_label(tier)}. Åbn {SERVICE} for at tage opkaldet.",
    )


def trial_texts() -> tuple[str, str]:
    """Title and body of the push an advisor sends themself to try a device."""
    return f"{SERVICE}: test", "Notifikationer virker på denne enhed."


def danish_time(at: dt.datetime) -> str:
    assert at.tzinfo is not None, "times are aware"
    return at.astimezone(DANISH_TIME).strftime("%d.%m.%Y kl. %H:%M")


def alert_subject(kind: str, tier: Any) -> str:
    words = ALERT_TEXTS[kind][0] if kind in ALERT_TEXTS else f"advarsel ({kind})"
    return f"{SERVICE}: {words} – {tier_label(tier)}"


def alert_body(
    kind: str, tier: Any, consultation_id: Any, at: dt.datetime, link: str | None
) -> str:
    """The plain-text body of a coordinators' alert: what, which tier, which call, when."""
    what = ALERT_TEXTS[kind][1] if kind in ALERT_TEXTS else f"Advarsel af typen {kind}."
    lines = [
        f"{SERVICE} beder koordinatorerne om at se på et opkald.",
        "",
        what,
        "",
        f"Niveau: {tier_label(tier)}",
        f"Konsultation: {consultation_id}",
        f"Tidspunkt: {danish_time(at)} (dansk tid)",
        f"Type: {kind}",
        "",
        f"Se detaljerne i koordinatorens oversigt i {SERVICE}" + (f": {link}" if link else "."),
        "Denne e-mail indeholder bevidst ingen patientoplysninger.",
    ]
    return "\n".join(lines) + "\n"
