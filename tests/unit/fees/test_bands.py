"""Which band an instant falls in: band edges, weekends, Danish holidays, DST nights."""

from __future__ import annotations

import datetime as dt

import pytest

from advice_line.fees.bands import (
    _wall_instants,
    band_at,
    boundaries,
    clock_changes,
    day_kind,
    pieces,
)

from .helpers import at, schedule

CAL = schedule().calendar
UTC = dt.UTC


@pytest.mark.parametrize(
    ("local", "band"),
    [
        ("2026-03-02 00:00", "night"),  # a Monday
        ("2026-03-02 07:59:59", "night"),
        ("2026-03-02 08:00", "day"),
        ("2026-03-02 15:59", "day"),
        ("2026-03-02 16:00", "evening"),
        ("2026-03-02 21:59:59", "evening"),
        ("2026-03-02 22:00", "night"),
        ("2026-03-02 23:59", "night"),
        ("2026-03-06 23:59:59", "night"),  # Friday night, still a weekday
        ("2026-03-07 00:00", "weekend"),  # Saturday
        ("2026-03-08 23:59:59", "weekend"),  # Sunday
        ("2026-03-09 00:00", "night"),  # Monday
    ],
)
def test_each_band_edge(local: str, band: str) -> None:
    assert band_at(CAL, at(local)).name == band


@pytest.mark.parametrize(
    ("day", "kind"),
    [
        ("2026-01-01", "holiday"),  # New Year
        ("2026-04-01", "weekday"),
        ("2026-04-02", "holiday"),  # Maundy Thursday
        ("2026-04-03", "holiday"),  # Good Friday
        ("2026-04-04", "weekend"),
        ("2026-04-05", "holiday"),  # Easter Sunday: a holiday on a weekend is a holiday
        ("2026-04-06", "holiday"),  # Easter Monday
        ("2026-04-07", "weekday"),
        ("2026-05-01", "weekday"),  # Store Bededag was abolished from 2024
        ("2026-05-14", "holiday"),  # Ascension
        ("2026-05-24", "holiday"),  # Whit Sunday
        ("2026-05-25", "holiday"),  # Whit Monday
        ("2026-06-05", "holiday"),  # Constitution Day: an extra day in the example
        ("2026-12-23", "weekday"),
        ("2026-12-24", "holiday"),  # Christmas Eve: an extra day in the example
        ("2026-12-25", "holiday"),
        ("2026-12-26", "holiday"),
        ("2026-12-31", "holiday"),  # extra day
        ("2027-01-01", "holiday"),
    ],
)
def test_danish_holidays_and_extra_days(day: str, kind: str) -> None:
    assert day_kind(CAL, dt.date.fromisoformat(day)) == kind
    expected = {"holiday": "holiday", "weekend": "weekend", "weekday": "day"}[kind]
    assert band_at(CAL, at(f"{day} 10:00")).name == expected


def test_an_extra_date_counts_once() -> None:
    cal = schedule(('"06-05"]', '"2026-06-04"]')).calendar
    assert day_kind(cal, dt.date(2026, 6, 4)) == "holiday"
    assert day_kind(cal, dt.date(2027, 6, 4)) == "weekday"


@pytest.mark.parametrize(
    ("utc", "band"),
    [
        # Spring forward (Sunday 29 March 2026, 02:00 CET -> 03:00 CEST at 01:00 UTC).
        ("2026-03-29T00:59:59", "weekend"),
        ("2026-03-29T01:00:00", "weekend"),
        ("2026-03-29T21:59:59", "weekend"),  # 23:59:59 CEST
        ("2026-03-29T22:00:00", "night"),  # Monday 00:00 CEST
        ("2026-03-30T05:59:59", "night"),  # 07:59:59 CEST
        ("2026-03-30T06:00:00", "day"),  # 08:00 CEST
        ("2026-03-27T20:59:00", "evening"),  # Friday 21:59 CET
        ("2026-03-27T21:00:00", "night"),  # Friday 22:00 CET
        # Fall back (Sunday 25 October 2026, 03:00 CEST -> 02:00 CET at 01:00 UTC).
        ("2026-10-25T00:30:00", "weekend"),
        ("2026-10-25T01:30:00", "weekend"),
        ("2026-10-25T22:59:59", "weekend"),  # 23:59:59 CET
        ("2026-10-25T23:00:00", "night"),  # Monday 00:00 CET
        ("2026-10-26T06:59:59", "night"),  # 07:59:59 CET
        ("2026-10-26T07:00:00", "day"),  # 08:00 CET
        ("2026-10-23T19:59:00", "evening"),  # Friday 21:59 CEST
        ("2026-10-23T20:00:00", "night"),  # Friday 22:00 CEST
    ],
)
def test_dst_nights(utc: str, band: str) -> None:
    instant = dt.datetime.fromisoformat(utc).replace(tzinfo=UTC)
    assert band_at(CAL, instant).name == band


def test_clock_changes_are_found_to_the_minute() -> None:
    spring = clock_changes(at("2026-03-28 12:00"), at("2026-03-29 12:00"))
    autumn = clock_changes(at("2026-10-24 12:13:14"), at("2026-10-25 12:00"))
    assert spring == [dt.datetime(2026, 3, 29, 1, tzinfo=UTC)]
    assert autumn == [dt.datetime(2026, 10, 25, 1, tzinfo=UTC)]
    assert clock_changes(at("2026-06-01 00:00"), at("2026-06-30 00:00")) == []


def test_a_skipped_wall_time_has_no_instant_and_a_repeated_one_two() -> None:
    assert _wall_instants(dt.date(2026, 3, 29), 150) == set()  # 02:30 never happens
    assert _wall_instants(dt.date(2026, 10, 25), 150) == {
        dt.datetime(2026, 10, 25, 0, 30, tzinfo=UTC),  # 02:30 CEST
        dt.datetime(2026, 10, 25, 1, 30, tzinfo=UTC),  # 02:30 CET
    }


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        # Friday 16:00 to Monday 08:00 over the autumn change: the weekend has 49 hours.
        ("2026-10-23 16:00", "2026-10-26 08:00",
         [("evening", 6 * 60), ("night", 2 * 60), ("weekend", 49 * 60), ("night", 8 * 60)]),
        # ... and 47 over the spring change.
        ("2026-03-27 16:00", "2026-03-30 08:00",
         [("evening", 6 * 60), ("night", 2 * 60), ("weekend", 47 * 60), ("night", 8 * 60)]),
        # Maundy Thursday to Easter Monday: holidays, a weekend day between, then Tuesday.
        ("2026-04-01 20:00", "2026-04-07 09:00",
         [("evening", 120), ("night", 120), ("holiday", 2 * 1440), ("weekend", 1440),
          ("holiday", 2 * 1440), ("night", 480), ("day", 60)]),
    ],
)  # fmt: skip
def test_pieces_of_one_band_each(start: str, end: str, expected: list[tuple[str, int]]) -> None:
    found = pieces(CAL, at(start), at(end))
    assert [(band.name, (b - a) // dt.timedelta(minutes=1)) for a, b, band in found] == expected


@pytest.mark.parametrize("weekend", ["2026-03-27", "2026-10-23"])
def test_brute_force_walk_across_a_dst_weekend(weekend: str) -> None:
    """Minute by minute, the band agrees with the piece the minute lies in."""
    start = at(f"{weekend} 12:00")
    end = start + dt.timedelta(days=3, hours=12)
    found = pieces(CAL, start, end)
    assert found[0][0] == start
    assert found[-1][1] == end
    cuts = boundaries(CAL, start, end)
    assert cuts == sorted(set(cuts))
    for a, b, band in found:
        probe = a
        while probe < b:
            assert band_at(CAL, probe) == band, probe
            probe += dt.timedelta(minutes=7)
