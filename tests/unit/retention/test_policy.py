"""The retention policy: periods, floors, cutoffs and what may go (pure; tables and
Hypothesis walks, with the DST nights and 29 February)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from advice_line.retention.policy import (
    DEFAULTS,
    FLOORS,
    Candidate,
    Kind,
    Period,
    PeriodTooShort,
    Policy,
    Unit,
    check_period,
    cutoff,
    may_go,
    select,
)
from tests.unit.test_pure_cores import impurities

CPH = ZoneInfo("Europe/Copenhagen")
UTC = dt.UTC
Y, D = Unit.YEARS, Unit.DAYS


def local(text: str, fold: int = 0) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=CPH, fold=fold).astimezone(UTC)


def test_the_policy_module_is_pure() -> None:
    path = Path(__file__).resolve().parents[3] / "advice_line" / "retention" / "policy.py"
    assert impurities(path.read_text()) == []


@pytest.mark.parametrize(
    ("text", "period"),
    [("10y", Period(10, Y)), ("10 years", Period(10, Y)), ("1 year", Period(1, Y)),
     ("90d", Period(90, D)), (" 90 days ", Period(90, D)), ("1D", Period(1, D))],
)  # fmt: skip
def test_periods_parse(text: str, period: Period) -> None:
    assert Period.parse(text) == period
    assert Period.parse(str(period)) == period


@pytest.mark.parametrize("text", ["", "0y", "10", "ten years", "10 months", "-1d", "1.5y", "10yy"])
def test_bad_periods_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="whole number of years or days"):
        Period.parse(text)


@pytest.mark.parametrize(
    ("setting", "text", "ok"),
    [
        ("patient_records", "10y", True),
        ("patient_records", "12y", True),
        ("patient_records", "9y", False),
        ("patient_records", "3650d", False),  # 3650 days is shorter than ten calendar years
        ("patient_records", "3660d", True),
        ("audit", "2y", True),
        ("audit", "1y", False),
        ("sessions", "30d", True),
        ("sessions", "29d", False),
        ("sessions", "1y", True),
        ("push_subscriptions", "7d", False),
        ("rota_changes", "5y", False),
    ],
)
def test_a_period_below_the_floor_is_refused(setting: str, text: str, ok: bool) -> None:
    period = Period.parse(text)
    if ok:
        assert check_period(setting, period) == period
    else:
        with pytest.raises(PeriodTooShort, match="legal floor"):
            check_period(setting, period)


def test_the_defaults_respect_the_floors_and_patient_records_keep_ten_years() -> None:
    assert DEFAULTS["patient_records"] == Period(10, Y)
    for setting, period in DEFAULTS.items():
        assert period.at_least(FLOORS[setting]), setting
    with pytest.raises(PeriodTooShort):
        Policy({**DEFAULTS, "audit": Period(1, Y)})


@pytest.mark.parametrize(
    ("period", "now", "expected"),
    [
        # Ten years back, same wall time (summer to summer, winter to winter).
        (Period(10, Y), local("2036-07-01 12:00"), local("2026-07-01 12:00")),
        (Period(10, Y), local("2036-01-15 00:00"), local("2026-01-15 00:00")),
        # 29 February to a year without one: 28 February (the earlier date).
        (Period(10, Y), local("2036-02-29 10:00"), local("2026-02-28 10:00")),
        (Period(1, Y), local("2029-03-01 00:30"), local("2028-03-01 00:30")),
        # Days: the same wall time n local days back, across the spring night (a 23-hour
        # day): the exact 24 hours is the earlier of the two, so it wins.
        (Period(1, D), local("2026-03-29 12:00"), local("2026-03-28 11:00")),
        # ... and across the autumn night (a 25-hour day): the wall time is the earlier.
        (Period(1, D), local("2026-10-25 12:00"), local("2026-10-24 12:00")),
        # A wall time that happens twice: the earlier reading (02:30 CEST).
        (Period(1, D), local("2026-10-26 02:30"), local("2026-10-25 02:30", fold=0)),
        # A wall time that never happened (02:30 on the spring night): the earliest
        # reading, 01:30 CET.
        (Period(1, D), local("2026-03-30 02:30"), local("2026-03-29 01:30")),
        # A year of 365 days across a leap day: the calendar gives 366 days, so the exact
        # 365 days would be later; the calendar (earlier) wins.
        (Period(1, Y), local("2029-01-10 09:00"), local("2028-01-10 09:00")),
    ],
)
def test_cutoffs(period: Period, now: dt.datetime, expected: dt.datetime) -> None:
    assert cutoff(period, now) == expected


def test_a_record_goes_only_strictly_before_the_cutoff() -> None:
    policy = Policy.default()
    now = local("2036-07-01 12:00")
    edge = policy.cutoff(Kind.EPISODES, now)
    just_before = edge - dt.timedelta(microseconds=1)
    cases = [Candidate(1, just_before), Candidate(2, edge), Candidate(3, now), Candidate(4, edge - dt.timedelta(days=400))]  # fmt: skip
    assert select(policy, Kind.EPISODES, now, cases) == (1, 4)
    assert not may_go(policy, Kind.EPISODES, now, Candidate(2, edge))
    # Each kind by its own setting: an audit entry of 6 years may go, an episode not.
    six_years = Candidate(5, local("2030-06-01 12:00"))
    assert may_go(policy, Kind.AUDIT, now, six_years)
    assert not may_go(policy, Kind.EPISODES, now, six_years)
    assert select(policy, Kind.SESSIONS, now, [Candidate("abc", now - dt.timedelta(days=91))]) == ("abc",)  # fmt: skip


_instants = st.datetimes(
    min_value=dt.datetime(2001, 1, 1), max_value=dt.datetime(2098, 12, 31), timezones=st.just(UTC)
)
_periods = st.one_of(
    st.builds(Period, st.integers(1, 40), st.just(Y)),
    st.builds(Period, st.integers(1, 4000), st.just(D)),
)


def _calendar_later(period: Period, start: dt.date) -> dt.date:
    """The local date on which ``period`` from ``start`` has run (29 Feb -> 1 Mar)."""
    if period.unit is D:
        return start + dt.timedelta(days=period.count)
    year = start.year + period.count
    try:
        return start.replace(year=year)
    except ValueError:
        return dt.date(year, 3, 1)


@given(period=_periods, now=_instants, dated=_instants)
def test_nothing_younger_than_its_period_is_ever_selected(
    period: Period, now: dt.datetime, dated: dt.datetime
) -> None:
    limit = cutoff(period, now)
    if dated < limit:
        # By the stopwatch: at least n x 365 days (or n x 24 hours) have passed ...
        assert now - dated >= period.exact
        # ... and by the calendar in Copenhagen: the period's end date has come.
        assert _calendar_later(period, dated.astimezone(CPH).date()) <= now.astimezone(CPH).date()


@given(period=_periods, now=_instants, step=st.timedeltas(dt.timedelta(0), dt.timedelta(days=800)))
def test_the_cutoff_never_moves_back_as_time_goes_on(
    period: Period, now: dt.datetime, step: dt.timedelta
) -> None:
    assert cutoff(period, now) <= cutoff(period, now + step)


@given(period=_periods, now=_instants)
def test_a_record_a_day_older_than_the_period_and_a_day_goes(
    period: Period, now: dt.datetime
) -> None:
    # Nothing is kept for long past its time either: the calendar never adds more than
    # a leap day and a DST hour to the exact duration.
    old = now - period.exact - dt.timedelta(days=period.count // 4 + 2)
    assert old < cutoff(period, now)


@given(now=_instants)
def test_walk_across_dst_nights_and_leap_days_by_the_hour(now: dt.datetime) -> None:
    # An hour-by-hour walk over two days from a random start: the cutoff of 1 day is
    # never later than 24 hours back, never earlier than 25 hours back.
    period = Period(1, D)
    for hour in range(48):
        instant = now + dt.timedelta(hours=hour)
        back = instant - cutoff(period, instant)
        assert dt.timedelta(hours=24) <= back <= dt.timedelta(hours=25)


@pytest.mark.parametrize("start", ["2026-03-27 00:00", "2026-10-23 00:00", "2028-02-27 00:00"])
@pytest.mark.parametrize("period", [Period(1, D), Period(30, D), Period(1, Y), Period(10, Y)])
def test_brute_force_walk_over_the_dst_nights_and_29_february(start: str, period: Period) -> None:
    # Every 10 minutes over four days around the spring and autumn nights (and the leap day
    # of 2028): for a record a microsecond before the cutoff, the period has run by the
    # stopwatch and by the calendar.
    now = local(start)
    for _ in range(4 * 24 * 6):
        edge = cutoff(period, now)
        gone = edge - dt.timedelta(microseconds=1)
        assert now - gone >= period.exact
        assert _calendar_later(period, gone.astimezone(CPH).date()) <= now.astimezone(CPH).date()
        now += dt.timedelta(minutes=10)
