"""rota.walltime: the DST rule (skipped times -> the jump, repeated times -> first occurrence)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rota.errors import NaiveDatetime
from rota.walltime import as_utc, to_instant, to_local

from .builders import TZ, utc


def local(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


@pytest.mark.parametrize(
    ("wall_clock", "instant"),
    [
        # An ordinary winter and summer time.
        ("2026-01-15 08:00", utc(2026, 1, 15, 7)),
        ("2026-07-15 08:00", utc(2026, 7, 15, 6)),
        # Spring forward, 29 March 2026: 02:00-03:00 does not exist; it all means 01:00 UTC.
        ("2026-03-29 01:59", utc(2026, 3, 29, 0, 59)),
        ("2026-03-29 02:00", utc(2026, 3, 29, 1)),
        ("2026-03-29 02:30", utc(2026, 3, 29, 1)),
        ("2026-03-29 02:59:59.999999", utc(2026, 3, 29, 1)),
        ("2026-03-29 03:00", utc(2026, 3, 29, 1)),
        ("2026-03-29 03:01", utc(2026, 3, 29, 1, 1)),
        # Fall back, 25 October 2026: 02:00-03:00 happens twice; the first (CEST) counts.
        ("2026-10-25 01:59", utc(2026, 10, 24, 23, 59)),
        ("2026-10-25 02:00", utc(2026, 10, 25, 0)),
        ("2026-10-25 02:30", utc(2026, 10, 25, 0, 30)),
        ("2026-10-25 02:59", utc(2026, 10, 25, 0, 59)),
        ("2026-10-25 03:00", utc(2026, 10, 25, 2)),
        # The rule is the same in other years.
        ("2025-03-30 02:30", utc(2025, 3, 30, 1)),
        ("2025-10-26 02:30", utc(2025, 10, 26, 0, 30)),
    ],
)
def test_copenhagen(wall_clock: str, instant: dt.datetime) -> None:
    assert to_instant(local(wall_clock), TZ) == instant
    assert to_instant(local(wall_clock), TZ).tzinfo is dt.UTC


@pytest.mark.parametrize(
    ("zone", "wall_clock", "instant"),
    [
        ("UTC", "2026-03-29 02:30", utc(2026, 3, 29, 2, 30)),
        ("America/New_York", "2026-03-08 02:30", utc(2026, 3, 8, 7)),  # gap: jump at 07:00 UTC
        ("America/New_York", "2026-11-01 01:30", utc(2026, 11, 1, 5, 30)),  # first, EDT
        # Lord Howe Island moves its clocks by half an hour.
        ("Australia/Lord_Howe", "2026-10-04 02:15", utc(2026, 10, 3, 15, 30)),
        ("Australia/Lord_Howe", "2026-04-05 01:45", utc(2026, 4, 4, 14, 45)),
    ],
)
def test_other_zones(zone: str, wall_clock: str, instant: dt.datetime) -> None:
    assert to_instant(local(wall_clock), ZoneInfo(zone)) == instant


def test_fold_attribute_of_the_input_is_ignored() -> None:
    second = local("2026-10-25 02:30").replace(fold=1)
    assert to_instant(second, TZ) == utc(2026, 10, 25, 0, 30)


def test_aware_input_is_refused() -> None:
    with pytest.raises(ValueError, match="naive wall-clock"):
        to_instant(utc(2026, 1, 1), TZ)


@pytest.mark.parametrize(
    ("instant", "wall_clock"),
    [
        (utc(2026, 3, 29, 1), "2026-03-29 03:00"),
        (utc(2026, 10, 25, 0, 30), "2026-10-25 02:30"),
        (utc(2026, 10, 25, 1, 30), "2026-10-25 02:30"),  # the second 02:30 reads the same
        (dt.datetime(2026, 6, 1, 12, tzinfo=ZoneInfo("Asia/Tokyo")), "2026-06-01 05:00"),
    ],
)
def test_to_local(instant: dt.datetime, wall_clock: str) -> None:
    assert to_local(instant, TZ) == local(wall_clock)


def test_as_utc_normalises_and_refuses_naive() -> None:
    tokyo = dt.datetime(2026, 6, 1, 9, tzinfo=ZoneInfo("Asia/Tokyo"))
    assert as_utc(tokyo) == utc(2026, 6, 1, 0)
    assert as_utc(tokyo).tzinfo is dt.UTC
    with pytest.raises(NaiveDatetime, match="start 2026-06-01T09:00:00 has no time zone"):
        as_utc(tokyo.replace(tzinfo=None), "start")


naive_times = st.datetimes(min_value=dt.datetime(2024, 1, 1), max_value=dt.datetime(2028, 12, 31))
zones = st.sampled_from(["Europe/Copenhagen", "America/New_York", "Australia/Lord_Howe", "UTC"])


@given(naive_times, naive_times, zones)
def test_monotonic(a: dt.datetime, b: dt.datetime, zone: str) -> None:
    a, b = min(a, b), max(a, b)
    assert to_instant(a, ZoneInfo(zone)) <= to_instant(b, ZoneInfo(zone))


@given(naive_times, zones)
def test_existing_times_round_trip_and_skipped_ones_go_to_the_jump(
    clock: dt.datetime, zone: str
) -> None:
    tz = ZoneInfo(zone)
    instant = to_instant(clock, tz)
    if to_local(instant, tz) == clock:
        # It exists; of its occurrences (fold 0 and 1) this is the earliest.
        for fold in (0, 1):
            assert clock.replace(tzinfo=tz, fold=fold).astimezone(dt.UTC) >= instant
    else:
        # Skipped: the instant is the jump; just before it the clock showed an earlier time.
        before = instant - dt.timedelta(microseconds=1)
        assert to_local(before, tz) < clock < to_local(instant, tz)
        assert before.astimezone(tz).utcoffset() != instant.astimezone(tz).utcoffset()


@given(naive_times, zones)
def test_an_instant_is_never_later_than_the_wall_clock_it_shows(
    clock: dt.datetime, zone: str
) -> None:
    # The first occurrence of the time a clock shows is at or before the instant it shows it.
    tz = ZoneInfo(zone)
    instant = to_instant(clock, tz)
    shown = to_local(instant, tz)
    assert to_instant(shown, tz) == instant
