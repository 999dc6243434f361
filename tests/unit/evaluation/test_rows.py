"""Episode rows and columns: the flat measures the tables count, and the columns they count."""

from __future__ import annotations

import datetime as dt

from advice_line.episodes.model import QualitySummary
from advice_line.evaluation import ReportFilter, build_report
from advice_line.evaluation.report import report_of_columns
from advice_line.evaluation.rows import ROW_FIELDS, Columns, measures, row_of, select

from .builders import T0, facts, record, tier

MARCH = ReportFilter(dt.date(2026, 3, 1), dt.date(2026, 4, 1))


def test_a_tier_skipped_then_rung_later_reads_as_the_tables_read_it() -> None:
    # Tier 2 passed over (all busy), then rung on a later pass and answered after 30 s there.
    m = measures(facts(1, tiers=(
        tier(1, 0, offered=(100,)),
        tier(2, 40, skipped="all_busy"),
        tier(3, 41, offered=(300,)),
        tier(2, 100, offered=(200,), answered=130),
    )))  # fmt: skip
    assert (m.t1, m.t1_reached, m.t1_answered, m.t1_wait) == ("start", True, False, None)
    # The first time decides why (skipped) and "answered there"; the waits use the rung time.
    assert (m.t2, m.t2_reached, m.t2_answered, m.t2_wait) == ("skipped_all_busy", True, False, 30)
    assert (m.t3, m.t3_reached) == ("tier_skipped", True)
    assert m.answered and m.wait == 130 and m.outcome == "completed"


def test_local_weekday_and_hour_and_quality_only_when_reported() -> None:
    m = measures(facts(1, at=T0))  # Monday 2 March 2026, 10:00 in Copenhagen
    assert (m.weekday, m.hour) == (0, 10)
    assert (m.q_reports, m.q_rtt, m.q_relayed, m.q_loss) == (0, None, False, None)
    m = measures(facts(2, quality=QualitySummary(3, 80.0, 0.05, 900, 0.5)))
    assert (m.q_reports, m.q_rtt, m.q_relayed, m.q_loss) == (3, 80.0, True, 0.05)


def test_columns_line_up_with_the_rows_and_can_be_added_to() -> None:
    rows = [row_of(record(facts(i, answer=10 * i), patient=i)) for i in range(1, 5)]
    columns = Columns.of(rows[2:], add_to=Columns.of(rows[:2]))
    assert len(columns) == 4 and len(ROW_FIELDS) == len(rows[0])
    assert list(columns["patient_id"]) == [1, 2, 3, 4]
    assert list(columns["wait"]) == [10, 20, 30, 40]
    assert len(Columns.of([])) == 0 and list(Columns.of([])["wait"]) == []


def test_select_keeps_the_period_organisation_and_tier() -> None:
    inside = record(facts(1, at=T0), org=10)
    other_org = record(facts(2, at=T0), org=11)
    before = record(facts(3, at=T0 - dt.timedelta(days=30)), org=10)
    tier_two = record(facts(4, at=T0, tiers=(tier(2, 0, offered=(200,)),)), org=10)
    columns = Columns.of([row_of(r) for r in (inside, other_org, before, tier_two)])
    assert list(select(columns, MARCH)["consultation_id"]) == [1, 2, 4]
    by_org = ReportFilter(MARCH.start, MARCH.end, organisation_id=10)
    assert list(select(columns, by_org)["consultation_id"]) == [1, 4]
    by_tier = ReportFilter(MARCH.start, MARCH.end, tier=2)
    assert list(select(columns, by_tier)["consultation_id"]) == [4]


def test_a_report_of_columns_is_the_report_of_its_records() -> None:
    records = [record(facts(i, answer=7 * i, at=T0 + dt.timedelta(hours=i))) for i in range(1, 9)]
    columns = Columns.of(
        [row_of(r) for r in records[4:]], add_to=Columns.of([row_of(r) for r in records[:4]])
    )
    assert report_of_columns(columns, [], MARCH) == build_report(records, [], MARCH)
