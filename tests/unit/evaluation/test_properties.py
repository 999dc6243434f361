"""Properties over random episodes: the heatmap counts each selected call once, shares stay
in [0, 1], counts add up, and the reports never divide by zero."""

from __future__ import annotations

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from advice_line.episodes.model import EpisodeFacts, Escalation, QualitySummary, TierReached
from advice_line.evaluation import EpisodeRecord, ReportFilter, build_report

from .builders import course

START = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
WINDOW = ReportFilter(dt.date(2026, 3, 10), dt.date(2026, 11, 1))


@st.composite
def tiers(draw: st.DrawFn, at: dt.datetime) -> tuple[TierReached, ...]:
    out = []
    clock = at
    for n in range(1, draw(st.integers(1, 3)) + 1):
        clock += dt.timedelta(seconds=draw(st.integers(0, 300)))
        skipped = draw(st.sampled_from([None, None, "nobody_on_duty", "all_busy", "not_woken"]))
        offered = () if skipped else (100 + n,)
        answered = None if skipped or draw(st.booleans()) else clock + dt.timedelta(
            seconds=draw(st.integers(0, 900)))  # fmt: skip
        out.append(TierReached(n, clock, offered, skipped, 100 + n if answered else None, answered))
    return tuple(out)


@st.composite
def episodes(draw: st.DrawFn, cid: int) -> EpisodeRecord:
    at = START + dt.timedelta(minutes=draw(st.integers(0, 60 * 24 * 300)))
    ts = draw(tiers(at))
    first = min((t.answered_at for t in ts if t.answered_at), default=None)
    escalations = tuple(
        Escalation(at, 1, 1, "", draw(st.sampled_from(["answered", "failed", "open"])))
        for _ in range(draw(st.integers(0, 2)))
    )
    reports = draw(st.integers(0, 3))
    quality = QualitySummary(reports, 90.0, 0.01, 700.0, draw(st.sampled_from([0.0, 0.5, 1.0])))
    facts = EpisodeFacts(
        cid, at, draw(st.sampled_from(["video", "audio"])), "urgent", 1, ts, (), escalations,
        (), (), draw(st.booleans()), draw(st.booleans()), first, None, None,
        draw(st.sampled_from(["completed", "cancelled", "abandoned", "failed", "open"])),
        quality if reports else QualitySummary(0, None, None, None, None),
    )  # fmt: skip
    return EpisodeRecord(
        facts, draw(st.integers(1, 5)), draw(st.integers(1, 3)),
        draw(st.sampled_from(["cancer", "non_cancer"])), 7,
        draw(st.sampled_from([None, "phone_advice", "died", "admission"])),
        draw(st.sampled_from([None, True, False])),
    )  # fmt: skip


@st.composite
def worlds(draw: st.DrawFn) -> tuple[list[EpisodeRecord], ReportFilter]:
    n = draw(st.integers(0, 25))
    records = [draw(episodes(i)) for i in range(n)]
    f = ReportFilter(WINDOW.start, WINDOW.end, draw(st.sampled_from([None, 1, 2])),
                     draw(st.sampled_from([None, 1, 2, 3])))  # fmt: skip
    return records, f


def _shares(report_tables: object) -> list[float]:
    out = []
    for table in report_tables:  # type: ignore[attr-defined]
        for i, name in enumerate(table.columns):
            if name.startswith("share"):
                out += [r[i] for r in table.rows if r[i] is not None]
        if table.name == "summary":
            out += [r[1] for r in table.rows if str(r[0]).startswith("share") and r[1] is not None]
    return out


@settings(max_examples=80, deadline=None)
@given(worlds())
def test_heatmap_total_is_the_number_of_episodes_counted(world: tuple[list[EpisodeRecord], ReportFilter]) -> None:  # fmt: skip
    records, f = world
    report = build_report(records, [], f)
    heat = report.table("heatmap")
    assert len(heat.rows) == 7 and all(len(r) == 25 for r in heat.rows)
    assert sum(sum(r[1:]) for r in heat.rows) == report.episodes  # type: ignore[misc]
    assert report.table("answer_times").row("all")["requests"] == report.episodes


@settings(max_examples=80, deadline=None)
@given(worlds())
def test_every_share_is_between_zero_and_one(world: tuple[list[EpisodeRecord], ReportFilter]) -> None:  # fmt: skip
    records, f = world
    courses = [course(i, died=i % 2 == 0, wished=["home", "unknown"][i % 3 == 0]) for i in range(1, 6)]  # fmt: skip
    report = build_report(records, courses, f)
    assert all(0.0 <= x <= 1.0 for x in _shares(report.tables))


@settings(max_examples=80, deadline=None)
@given(worlds())
def test_counts_add_up(world: tuple[list[EpisodeRecord], ReportFilter]) -> None:
    records, f = world
    report = build_report(records, [], f)
    ends = report.table("outcomes")
    assert sum(ends.row(o)["episodes"] for o in ("completed", "cancelled", "abandoned", "failed", "open")) == report.episodes  # type: ignore[misc]  # fmt: skip
    hist = report.table("answer_histogram")
    times = report.table("answer_times")
    for scope in ("all", "tier1", "tier2", "tier3"):
        assert sum(r[3] for r in hist.rows if r[0] == scope) == times.row(scope)["answered"]  # type: ignore[misc]
        row = times.row(scope)
        assert row["within_60s"] <= row["within_180s"] <= row["answered"] <= row["requests"]  # type: ignore[operator]
    for r in report.table("escalation").rows:
        assert r[1] == sum(r[3:7])  # reached = the sum of its reasons  # type: ignore[misc]
        assert r[7] == sum(r[8:11])  # type: ignore[misc]
        if f.tier is not None and r[0] == f.tier:
            assert r[1] == report.episodes
