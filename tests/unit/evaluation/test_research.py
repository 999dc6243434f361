"""The research extract: stable pseudonyms, no names or free text, minutes, documented columns."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from advice_line.episodes.model import Escalation, QualitySummary
from advice_line.evaluation import course_extract, episode_extract, pseudonym
from advice_line.evaluation.research import COURSE_COLUMNS, EPISODE_COLUMNS

from .builders import course, facts, record, s, tier

KEY = b"k" * 32
DOCS = Path(__file__).resolve().parents[3] / "docs" / "evaluation.md"


def test_pseudonyms_are_stable_keyed_and_kept_apart_by_kind() -> None:
    assert pseudonym("P", 5, KEY) == pseudonym("P", 5, KEY)
    assert re.fullmatch(r"P-[0-9a-f]{8}", pseudonym("P", 5, KEY))
    assert pseudonym("P", 5, KEY) != pseudonym("P", 6, KEY)
    assert pseudonym("P", 5, KEY) != pseudonym("P", 5, b"another key")
    assert pseudonym("P", 5, KEY)[2:] != pseudonym("C", 5, KEY)[2:]


def test_an_episode_row() -> None:
    at = dt.datetime(2026, 3, 2, 9, 0, 37, 500, tzinfo=dt.UTC)
    f = facts(
        42,
        at=at,
        tiers=(
            tier(1, 0, offered=(7, 8), answered=12.4, by=8, base=at),
            tier(2, 50, offered=(9,), answered=111.6, by=9, base=at),
            tier(3, 200, skipped="not_woken", base=at),
        ),
        escalations=(Escalation(s(48, at), 8, 1, "Secret clinical note", "answered"),),
        quality=QualitySummary(2, 90.0, 0.02, 700.0, 0.5),
        callback_requested=True,
    )
    table = episode_extract(
        [record(f, patient=3, nurse=4, disposition="hospice", follow_up=True)], KEY
    )
    row = dict(zip(table.columns, table.rows[0], strict=True))
    assert row["episode"] == pseudonym("E", 42, KEY)
    assert row["patient"] == pseudonym("P", 3, KEY)
    assert row["nurse"] == pseudonym("C", 4, KEY)
    assert row["requested_at"] == "2026-03-02T09:00:00+00:00"
    assert (row["local_weekday"], row["local_hour"]) == (1, 10)
    assert (row["tier1_status"], row["tier1_seconds_to_answer"], row["tier1_advisor"]) == (
        "answered",
        12,
        pseudonym("C", 8, KEY),
    )
    assert (row["tier2_status"], row["tier2_seconds_to_answer"]) == ("answered", 62)
    assert (row["tier3_status"], row["tier3_advisor"]) == ("skipped_not_woken", None)
    assert row["seconds_to_first_answer"] == 12
    assert (row["manual_escalations"], row["escalation_failed"]) == (1, False)
    assert (row["disposition"], row["follow_up"], row["callback_requested"]) == (
        "hospice",
        True,
        True,
    )
    assert (row["median_rtt_ms"], row["relay_share"]) == (90.0, 0.5)
    text = " ".join(str(c) for c in table.rows[0])
    assert "Secret" not in text and " 42" not in text


def test_no_column_can_hold_free_text_or_a_name() -> None:
    for name in (*EPISODE_COLUMNS, *COURSE_COLUMNS):
        assert not any(word in name for word in ("name", "note", "isbar", "advice", "text", "cpr"))


def test_a_course_row() -> None:
    rows = course_extract([course(9, place="hospital", wished="home"),
                           course(10, died=False, wished="home"),
                           course(11, place="home", wished="unknown")], KEY).rows  # fmt: skip
    assert rows[0] == (pseudonym("P", 9, KEY), 10, "non_cancer", "2026-03-10", True, "hospital", "home", False)  # fmt: skip
    assert rows[1][-3:] == (None, "home", None)
    assert rows[2][-1] is None


def test_every_column_is_documented() -> None:
    text = DOCS.read_text("utf-8")
    missing = [c for c in (*EPISODE_COLUMNS, *COURSE_COLUMNS) if f"`{c}`" not in text]
    assert missing == []
