"""Report filters: defaults, every bad parameter named with a code, local periods in UTC."""

from __future__ import annotations

import datetime as dt

import pytest

from advice_line.evaluation import FilterError, ReportFilter, parse_filter

TODAY = dt.date(2026, 3, 17)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({}, ReportFilter(dt.date(2026, 3, 1), dt.date(2026, 4, 1))),
        ({"from": "2026-01-01", "to": "2026-02-01"}, ReportFilter(dt.date(2026, 1, 1), dt.date(2026, 2, 1))),
        ({"from": "2025-12-05"}, ReportFilter(dt.date(2025, 12, 5), dt.date(2026, 1, 1))),
        ({"to": "2026-03-20"}, ReportFilter(dt.date(2026, 3, 1), dt.date(2026, 3, 20))),
        ({"organisation": "7", "tier": "2"}, ReportFilter(dt.date(2026, 3, 1), dt.date(2026, 4, 1), 7, 2)),
        ({"organisation": "", "tier": ""}, ReportFilter(dt.date(2026, 3, 1), dt.date(2026, 4, 1))),
    ],
)  # fmt: skip
def test_good_filters(query: dict[str, str], expected: ReportFilter) -> None:
    assert parse_filter(query, TODAY) == expected


@pytest.mark.parametrize(
    ("query", "errors"),
    [
        ({"from": "2026-13-01"}, [("from", "not_date")]),
        ({"from": "1.3.2026", "to": "x"}, [("from", "not_date"), ("to", "not_date")]),
        ({"from": "2026-03-01T00:00"}, [("from", "not_date")]),
        ({"from": "2026-03-05", "to": "2026-03-05"}, [("to", "end_before_start")]),
        ({"from": "2026-03-05", "to": "2026-03-01"}, [("to", "end_before_start")]),
        ({"from": "2020-01-01", "to": "2026-01-01"}, [("to", "period_too_long")]),
        ({"organisation": "abc"}, [("organisation", "not_integer")]),
        ({"organisation": "-3"}, [("organisation", "not_integer")]),
        ({"organisation": "１"}, [("organisation", "not_integer")]),
        ({"tier": "4"}, [("tier", "choice")]),
        ({"tier": "0"}, [("tier", "choice")]),
        ({"tier": "gp"}, [("tier", "not_integer")]),
        ({"form": "2026-03-01"}, [("form", "unknown_parameter")]),
    ],
)
def test_bad_filters_name_every_field_with_a_code(
    query: dict[str, str], errors: list[tuple[str, str]]
) -> None:
    with pytest.raises(FilterError) as raised:
        parse_filter(query, TODAY)
    assert [(e["field"], e["code"]) for e in raised.value.errors] == errors
    assert all(e["message"] for e in raised.value.errors)


def test_extra_parameters_can_be_allowed() -> None:
    f = parse_filter({"lang": "en", "tier": "1"}, TODAY, extra=frozenset({"lang"}))
    assert f.tier == 1


@pytest.mark.parametrize(
    ("start", "end", "utc_start", "utc_end"),
    [
        # winter: UTC+1
        (dt.date(2026, 1, 1), dt.date(2026, 2, 1), "2025-12-31T23:00", "2026-01-31T23:00"),
        # the month clocks go forward (29 March): starts at +1, ends at +2
        (dt.date(2026, 3, 1), dt.date(2026, 4, 1), "2026-02-28T23:00", "2026-03-31T22:00"),
        # the week clocks go back (25 October): the Sunday is 25 hours long
        (dt.date(2026, 10, 25), dt.date(2026, 10, 26), "2026-10-24T22:00", "2026-10-25T23:00"),
    ],
)
def test_a_period_of_local_dates_becomes_utc_instants(
    start: dt.date, end: dt.date, utc_start: str, utc_end: str
) -> None:
    a, b = ReportFilter(start, end).instants()
    assert (a, b) == (
        dt.datetime.fromisoformat(utc_start).replace(tzinfo=dt.UTC),
        dt.datetime.fromisoformat(utc_end).replace(tzinfo=dt.UTC),
    )


def test_query_round_trips() -> None:
    f = ReportFilter(dt.date(2026, 2, 1), dt.date(2026, 3, 1), 4, 3)
    assert parse_filter(f.query(), TODAY) == f
