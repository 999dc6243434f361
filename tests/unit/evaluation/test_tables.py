"""Every table of a report, on hand-built episodes with the figures worked out by hand."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest

from advice_line.episodes.model import Escalation, QualitySummary
from advice_line.evaluation import TABLE_NAMES, ReportFilter, build_report
from advice_line.evaluation.table import aligned

from .builders import course, facts, record, s, tier

MARCH = ReportFilter(dt.date(2026, 3, 1), dt.date(2026, 4, 1))


def answered_in(cid: int, seconds: float, **kw: object) -> object:
    return record(facts(cid, answer=seconds, at=s(3600 * cid)), **kw)  # type: ignore[arg-type]


# Ten calls, Monday 2 March from 11:00 local, one an hour; waits 5..50 s and three that
# nobody answered (cancelled).
WAITS = [5, 10, 15, 20, 40, 61, 180, None, None, None]
EPISODES = [
    record(facts(i, answer=w, at=s(3600 * i))) for i, w in enumerate(WAITS, start=1)
]  # fmt: skip


def test_answer_times_total_row() -> None:
    row = build_report(EPISODES, [], MARCH).table("answer_times").row("all")
    assert row == {
        "scope": "all", "requests": 10, "answered": 7, "share_answered": 0.7,
        "median_s": 20, "p90_s": 180,  # nearest rank: ceil(0.9 * 7) = 7th of 7
        "within_60s": 5, "share_within_60s": 0.5,  # of all ten requests
        "within_180s": 7, "share_within_180s": 0.7,
    }  # fmt: skip


def test_answer_times_per_tier_use_the_tiers_own_wait() -> None:
    escalated = facts(
        1,
        tiers=(tier(1, 0, answered=30), tier(2, 100, offered=(200,), answered=145)),
        escalations=(Escalation(s(90), 100, 1, "needs a doctor", "answered"),),
    )
    table = build_report([record(escalated)], [], MARCH).table("answer_times")
    assert table.row("all")["median_s"] == 30
    assert table.row("tier1")["median_s"] == 30
    assert (table.row("tier2")["requests"], table.row("tier2")["median_s"]) == (1, 45)
    assert table.row("tier3")["requests"] == 0
    assert table.row("tier3")["share_within_60s"] is None


def test_histogram_buckets_include_their_upper_bound() -> None:
    table = build_report(EPISODES, [], MARCH).table("answer_histogram")
    total = [(r[1], r[2], r[3]) for r in table.rows if r[0] == "all"]
    assert total == [(0, 15, 3), (15, 30, 1), (30, 60, 1), (60, 120, 1), (120, 180, 1),
                     (180, 300, 0), (300, 600, 0), (600, None, 0)]  # fmt: skip


def test_heatmap_counts_local_weekday_and_hour() -> None:
    heat = build_report(EPISODES, [], MARCH).table("heatmap")
    monday = heat.row("mon")
    # T0 is 10:00 local; calls at 11:00 .. 20:00
    assert [monday[f"h{h:02d}"] for h in range(24)] == [0] * 11 + [1] * 10 + [0] * 3
    assert sum(sum(r[1:]) for r in heat.rows) == 10  # type: ignore[misc]


@pytest.mark.parametrize(
    ("utc", "weekday", "hour"),
    [
        # spring forward, Sunday 29 March 2026: 00:59 UTC is 01:59 local, 01:00 UTC is 03:00
        ("2026-03-29T00:59", "sun", 1),
        ("2026-03-29T01:00", "sun", 3),
        # fall back, Sunday 25 October 2026: 00:30 and 01:30 UTC are both 02:30 local
        ("2026-10-25T00:30", "sun", 2),
        ("2026-10-25T01:30", "sun", 2),
        ("2026-10-25T02:30", "sun", 3),
        # local midnight on a Monday in summer is Sunday 22:00 UTC
        ("2026-06-28T22:00", "mon", 0),
    ],
)
def test_heatmap_is_dst_correct(utc: str, weekday: str, hour: int) -> None:
    at = dt.datetime.fromisoformat(utc).replace(tzinfo=dt.UTC)
    year = ReportFilter(dt.date(2026, 1, 1), dt.date(2027, 1, 1))
    heat = build_report([record(facts(at=at))], [], year).table("heatmap")
    assert heat.row(weekday)[f"h{hour:02d}"] == 1


def test_the_fall_back_hour_holds_two_real_hours_and_spring_forward_none() -> None:
    start = dt.datetime(2026, 10, 24, 22, 0, tzinfo=dt.UTC)  # Sunday 00:00 local
    every_ten_minutes = [record(facts(i, at=start + dt.timedelta(minutes=10 * i)))
                         for i in range(25 * 6)]  # fmt: skip
    week = ReportFilter(dt.date(2026, 10, 19), dt.date(2026, 10, 26))
    sunday = build_report(every_ten_minutes, [], week).table("heatmap").row("sun")
    assert sunday["h02"] == 12 and sunday["h01"] == 6 and sunday["h23"] == 6
    assert sum(v for k, v in sunday.items() if k != "weekday") == 150  # type: ignore[misc]
    spring = dt.datetime(2026, 3, 28, 23, 0, tzinfo=dt.UTC)
    hourly = [record(facts(i, at=spring + dt.timedelta(hours=i))) for i in range(23)]
    spring_sunday = build_report(hourly, [], MARCH).table("heatmap").row("sun")
    assert spring_sunday["h02"] == 0 and spring_sunday["h03"] == 1


def test_the_period_is_half_open_in_local_dates() -> None:
    first = dt.datetime(2026, 2, 28, 23, 0, tzinfo=dt.UTC)  # 1 March 00:00 local
    last = dt.datetime(2026, 3, 31, 21, 59, tzinfo=dt.UTC)  # 31 March 23:59 local (CEST)
    after = dt.datetime(2026, 3, 31, 22, 0, tzinfo=dt.UTC)  # 1 April 00:00 local
    before = dt.datetime(2026, 2, 28, 22, 59, tzinfo=dt.UTC)
    chosen = [record(facts(i, at=at)) for i, at in enumerate([before, first, last, after])]
    assert build_report(chosen, [], MARCH).episodes == 2


def test_organisation_and_tier_filters() -> None:
    gp = facts(3, tiers=(tier(1, 0), tier(2, 45, offered=(200,), answered=50)))
    skipped_gp = facts(4, tiers=(tier(1, 0), tier(2, 45, skipped="nobody_on_duty")), answer=None)
    episodes = [record(facts(1), org=10), record(facts(2), org=11), record(gp, org=10),
                record(skipped_gp, org=10)]  # fmt: skip
    assert build_report(episodes, [], ReportFilter(MARCH.start, MARCH.end, 10)).episodes == 3
    # "reached" means rung: a skipped tier does not count
    tier2 = build_report(episodes, [], ReportFilter(MARCH.start, MARCH.end, None, 2))
    assert tier2.episodes == 1


def test_escalation_reasons() -> None:
    manual = facts(1, tiers=(tier(1, 0, answered=10), tier(2, 60, offered=(200,), answered=80)),
                   escalations=(Escalation(s(55), 100, 1, "needs a doctor", "answered"),))  # fmt: skip
    timeout = facts(2, tiers=(tier(1, 0), tier(2, 45, offered=(200,), answered=70)))
    skip = facts(3, tiers=(tier(1, 0, skipped="all_busy"), tier(2, 0, offered=(200,))), answer=None)
    to_three = facts(4, tiers=(tier(1, 0, skipped="nobody_on_duty"),
                               tier(2, 0, skipped="not_woken"), tier(3, 1, offered=(300,), answered=9)))  # fmt: skip
    table = build_report([record(f) for f in (manual, timeout, skip, to_three)], [], MARCH).table(
        "escalation"
    )
    assert table.rows[0][:8] == (1, 2, 0.5, 2, 0, 0, 0, 2)
    assert table.row(1)["skipped_all_busy"] == 1 and table.row(1)["skipped_nobody_on_duty"] == 1
    assert table.row(2) == {
        "tier": 2, "reached": 3, "share_reached": 0.75, "via_start": 0, "via_manual": 1,
        "via_no_answer": 1, "via_tier_skipped": 1, "skipped": 1, "skipped_nobody_on_duty": 0,
        "skipped_all_busy": 0, "skipped_not_woken": 1, "answered": 2,
    }  # fmt: skip
    assert (table.row(3)["reached"], table.row(3)["via_tier_skipped"]) == (1, 1)


def test_a_call_starting_higher_up_reaches_its_start_tier_from_the_start() -> None:
    f = facts(1, tiers=(tier(2, 0, offered=(200,), answered=5),), start_tier=2)
    table = build_report([record(f)], [], MARCH).table("escalation")
    assert (table.row(2)["via_start"], table.row(1)["reached"]) == (1, 0)


def test_outcomes_and_callbacks() -> None:
    episodes = [
        record(facts(1)),
        record(facts(2, answer=None, outcome="cancelled", callback_requested=True)),
        record(facts(3, answer=None, outcome="abandoned", queued=True)),
        record(facts(4, outcome="completed", callback_requested=True, escalations=(
            Escalation(s(60), 100, 1, "", "failed"),)), disposition="gp_visit", follow_up=True),
        record(facts(5), disposition="phone_advice", follow_up=False),
    ]  # fmt: skip
    report = build_report(episodes, [], MARCH)
    ends = report.table("outcomes")
    assert [(r[0], r[1]) for r in ends.rows] == [
        ("completed", 3), ("cancelled", 1), ("abandoned", 1), ("failed", 0), ("open", 0),
        ("escalation_failed", 1), ("queued", 1),
    ]  # fmt: skip
    assert ends.row("completed")["share"] == 0.6
    calls = report.table("callbacks")
    assert calls.rows == (
        ("callback_requested", 2, 5, 0.4),
        ("callback_answered", 1, 2, 0.5),
        ("follow_up_planned", 1, 2, 0.5),
    )


def test_dispositions_by_diagnosis_group_and_undocumented_completed_calls() -> None:
    episodes = [
        record(facts(1), disposition="phone_advice", group="cancer"),
        record(facts(2), disposition="phone_advice"),
        record(facts(3), disposition="admission"),
        record(facts(4)),  # completed, not documented yet
        record(facts(5, answer=None, outcome="cancelled")),  # never documented: not counted
    ]
    table = build_report(episodes, [], MARCH).table("dispositions")
    assert table.row("phone_advice") == {"disposition": "phone_advice", "episodes": 2,
                                         "share": 0.5, "cancer": 1, "non_cancer": 1}  # fmt: skip
    assert table.row("undocumented")["episodes"] == 1
    assert table.row("hospice")["share"] == 0.0


def test_died_where_wished_shows_n_and_unknown_wishes() -> None:
    courses = [
        course(1, place="home", wished="home", group="non_cancer"),
        course(2, place="hospital", wished="home", group="non_cancer"),
        course(3, place="hospice", wished="unknown", group="non_cancer"),
        course(4, place="hospice", wished="hospice", group="cancer"),
        course(5, died=False, wished="home", group="cancer"),
        course(6, ended=dt.date(2026, 4, 1)),  # outside the period
    ]
    table = build_report([], courses, MARCH).table("died_where_wished")
    assert table.row("non_cancer") == {
        "diagnosis_group": "non_cancer", "courses_ended": 3, "died": 3, "died_wish_known": 2,
        "died_where_wished": 1, "share_died_where_wished": 0.5, "died_wish_unknown": 1,
        "died_at_home": 1, "share_died_at_home": 0.3333,
    }  # fmt: skip
    assert table.row("cancer")["share_died_where_wished"] == 1.0
    assert table.row("cancer")["courses_ended"] == 2
    assert table.row("all")["died_where_wished"] == 2


def test_with_a_tier_only_courses_of_patients_whose_calls_reached_it() -> None:
    gp = facts(1, tiers=(tier(1, 0), tier(2, 45, offered=(200,), answered=50)))
    episodes = [record(gp, patient=1), record(facts(2), patient=2)]
    courses = [course(1), course(2), course(3)]
    f = ReportFilter(MARCH.start, MARCH.end, None, 2)
    assert build_report(episodes, courses, f).courses == 1
    assert build_report(episodes, courses, MARCH).courses == 3


def test_call_quality_per_channel() -> None:
    def q(rtt: float, loss: float, relay: float) -> QualitySummary:
        return QualitySummary(3, rtt, loss, 800.0, relay)

    episodes = [
        record(facts(1, quality=q(80, 0.01, 0.0))),
        record(facts(2, quality=q(120, 0.05, 1.0))),
        record(facts(3, quality=q(300, 0.2, 0.5), channel="audio")),
        record(facts(4, channel="audio")),  # no reports
    ]
    table = build_report(episodes, [], MARCH).table("call_quality")
    assert table.row("all") == {
        "channel": "all", "episodes": 4, "with_reports": 3, "reports": 9,
        "median_rtt_ms": 120, "p90_rtt_ms": 300, "relayed": 2, "share_relayed": 0.6667,
        "median_max_loss": 0.05, "p90_max_loss": 0.2,
    }  # fmt: skip
    assert table.row("audio")["with_reports"] == 1
    assert table.row("video")["share_relayed"] == 0.5


def test_an_empty_period_has_every_table_and_no_shares() -> None:
    report = build_report([], [], MARCH)
    assert tuple(t.name for t in report.tables) == TABLE_NAMES
    summary = dict(report.table("summary").rows)
    assert summary["episodes"] == 0
    assert summary["share_answered"] is None and summary["median_s_to_answer"] is None
    for t in report.tables:
        for row in t.text_rows()[1:]:
            assert all(cell != "None" for cell in row)
    assert report.table("answer_times").text_rows()[1][3] == "–"


def test_summary_takes_its_figures_from_the_tables() -> None:
    summary = dict(build_report(EPISODES, [course(1)], MARCH).table("summary").rows)
    assert summary["median_s_to_answer"] == 20
    assert summary["share_within_60s"] == 0.5
    assert summary["share_reached_tier1"] == 1.0
    assert summary["share_died_where_wished_non_cancer"] == 1.0
    assert summary["courses_ended"] == 1


def test_tables_become_csv_with_empty_fields_for_missing_figures() -> None:
    table = build_report([], [], MARCH).table("answer_times")
    out = io.StringIO()
    csv.writer(out).writerows(table.csv_rows())
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("scope,requests,answered,share_answered,median_s")
    assert lines[1] == "all,0,0,,,,0,,0,"
    assert aligned(table).splitlines()[0] == "answer_times"


def test_report_json_has_every_table() -> None:
    data = build_report(EPISODES, [], MARCH).to_json()
    assert set(data["tables"]) == set(TABLE_NAMES)
    assert data["filter"]["from"] == dt.date(2026, 3, 1)
    assert data["episodes"] == 10
