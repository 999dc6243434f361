"""Statements: totals equal the sum of the lines, recomputation is deterministic, splitting
an interval moves the total by at most half an øre per line (Hypothesis properties)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
import random
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from advice_line.fees.lines import Commitment, OnDuty, Priced, month_lines, standby_lines
from advice_line.fees.period import Month
from advice_line.fees.render import CSV_COLUMNS, Who, statement_csv, statement_json, statement_text
from advice_line.fees.statement import build_statement

from .helpers import at, facts, joined, schedule, schedules, versioned

MONTH = Month(2026, 3)
BOOK = schedules(
    versioned("v1", "2026-01-01", ("band_surcharges = false", "band_surcharges = true")),
    versioned("v2", "2026-03-16", ('video = "425.00"', 'video = "433.33"'),
              ('surcharge_percent = "25"     # example', 'surcharge_percent = "33.33"')),
)  # fmt: skip
HALF_ORE = Decimal("0.005")

instants = st.integers(0, 31 * 24 * 60 * 60 - 1).map(
    lambda s: MONTH.start + dt.timedelta(seconds=s)
)
participations = st.builds(
    joined, st.integers(1, 6), st.integers(1, 3), instants, st.floats(0, 7200, allow_nan=False)
)
episodes = st.lists(
    st.tuples(
        st.sampled_from(["video", "audio"]), st.lists(participations, min_size=1, max_size=3)
    ),
    max_size=8,
).map(lambda items: [facts(i + 1, ch, tuple(ps)) for i, (ch, ps) in enumerate(items)])
duties = st.lists(
    st.builds(lambda c, t, s, minutes: OnDuty(c, t, s, s + dt.timedelta(minutes=minutes)),
              st.integers(1, 6), st.integers(1, 3), instants, st.integers(1, 3 * 24 * 60)),
    max_size=6,
)  # fmt: skip
commitments = st.lists(
    st.builds(Commitment, st.integers(1, 6), st.integers(1, 4),
              st.dates(dt.date(2026, 1, 1), dt.date(2026, 4, 30)),
              st.none() | st.dates(dt.date(2026, 3, 1), dt.date(2026, 5, 1))),
    max_size=5,
).map(lambda cs: [c for c in cs if c.valid_to is None or c.valid_to >= c.valid_from])  # fmt: skip


@settings(max_examples=60, deadline=None)
@given(episodes, duties, commitments)
def test_statement_total_equals_the_sum_of_its_lines(eps, ons, cms) -> None:  # type: ignore[no-untyped-def]
    priced = month_lines(MONTH, eps, ons, cms, BOOK)
    everyone = build_statement(MONTH, priced)
    assert everyone.total == sum((x.amount for x in priced.lines), Decimal(0))
    assert everyone.total == sum((p.total for p in everyone.parts), Decimal(0))
    assert everyone.total == sum((k.amount for k in everyone.by_kind), Decimal(0))
    for line in priced.lines:
        assert line.amount == line.amount.quantize(Decimal("0.01"))
    per_clinician = [
        build_statement(MONTH, priced, scope="clinician", scope_id=c, clinicians={c})
        for c in range(1, 7)
    ]
    assert sum((s.total for s in per_clinician), Decimal(0)) == everyone.total
    rows = list(csv.DictReader(io.StringIO(statement_csv(everyone, {}))))
    assert sum((Decimal(r["amount"]) for r in rows), Decimal(0)) == everyone.total


@settings(max_examples=40, deadline=None)
@given(episodes, duties, commitments, st.randoms(use_true_random=False))
def test_recomputation_is_deterministic(eps, ons, cms, rnd: random.Random) -> None:  # type: ignore[no-untyped-def]
    first = month_lines(MONTH, eps, ons, cms, BOOK)
    shuffled = [list(x) for x in (eps, ons, cms)]
    for items in shuffled:
        rnd.shuffle(items)
    again = month_lines(MONTH, shuffled[0], shuffled[1], shuffled[2], BOOK)
    assert again == first
    assert build_statement(MONTH, again) == build_statement(MONTH, first)


@settings(max_examples=80, deadline=None)
@given(
    st.integers(1, 3),
    instants,
    st.integers(2, 5 * 24 * 60),
    st.lists(st.integers(1, 5 * 24 * 60 - 1), min_size=1, max_size=4),
)
def test_splitting_a_stretch_moves_the_total_by_at_most_half_an_ore_per_line(
    tier: int, start: dt.datetime, minutes: int, cuts: list[int]
) -> None:
    start = start.replace(second=0)
    end = start + dt.timedelta(minutes=minutes)
    whole = standby_lines([OnDuty(1, tier, start, end)], BOOK, MONTH.start, MONTH.end)
    points = sorted({start + dt.timedelta(minutes=c) for c in cuts if c < minutes})
    bounds = [start, *points, end]
    split = Priced()
    lines = []
    for a, b in itertools.pairwise(bounds):
        lines.extend(standby_lines([OnDuty(1, tier, a, b)], BOOK, MONTH.start, MONTH.end).lines)
    split = Priced(tuple(lines))
    minutes_whole = sum(x.quantity for x in whole.lines if x.kind == "standby")
    minutes_split = sum(x.quantity for x in split.lines if x.kind == "standby")
    assert minutes_whole == minutes_split  # no minute is lost or gained
    total_whole = sum((x.amount for x in whole.lines), Decimal(0))
    total_split = sum((x.amount for x in split.lines), Decimal(0))
    assert abs(total_whole - total_split) <= HALF_ORE * (len(whole.lines) + len(split.lines))


def test_statement_scopes_and_renderings() -> None:
    s = schedule()
    eps = [facts(11, "audio", (joined(1, 1, at("2026-03-02 17:00"), 21 * 60),)),
           facts(12, "video", (joined(2, 2, at("2026-03-07 03:00"), 60),))]  # fmt: skip
    ons = [OnDuty(1, 1, at("2026-03-02 08:00"), at("2026-03-02 16:00"))]
    cms = [Commitment(2, 9, dt.date(2026, 2, 1), None)]
    priced = month_lines(MONTH, eps, ons, cms, schedules(s))
    names = {
        1: Who("Anne A", "anne", 100, "Hjemmeplejen"),
        2: Who("Gustav G", "gustav", 200, "Lægehuset"),
    }
    one = build_statement(MONTH, priced, scope="clinician", scope_id=1, clinicians={1})
    assert [p.clinician_id for p in one.parts] == [1]
    assert one.total == Decimal("375.00") + Decimal("93.75") + Decimal("90.00") + Decimal("760.00")
    everyone = build_statement(MONTH, priced)
    assert everyone.total == one.total + Decimal("650.00") + Decimal("325.00") + Decimal("250.00")
    data = statement_json(everyone, names)
    assert data["total"] == str(everyone.total)
    assert data["clinicians"][1]["organisation"] == "Lægehuset"
    assert data["clinicians"][0]["lines"][0]["period_start"] == "2026-03-02T08:00:00+01:00"
    assert data["schedule_versions"] == ["eksempel-2026-01"]
    rows = list(csv.reader(io.StringIO(statement_csv(everyone, names))))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert len(rows) == 1 + len(everyone.lines)
    text = statement_text(everyone, names)
    assert "Anne A (anne) - Hjemmeplejen" in text
    assert "TOTAL" in text and str(everyone.total) in text


def test_months_parse_and_bound_in_local_time() -> None:
    m = Month.parse("2026-10")
    assert m.start == dt.datetime(2026, 9, 30, 22, tzinfo=dt.UTC)
    assert m.end == dt.datetime(2026, 10, 31, 23, tzinfo=dt.UTC)
    assert Month.parse("2026-12").next == Month(2027, 1)
    for bad in ("2026-13", "2026-1", "26-01", "2026-00", "x"):
        try:
            Month.parse(bad)
        except ValueError:
            continue
        raise AssertionError(bad)
