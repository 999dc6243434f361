"""Fee lines per episode, per stretch on duty and per GP commitment."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from advice_line.fees.lines import (
    Commitment,
    OnDuty,
    commitment_lines,
    episode_lines,
    merged,
    month_lines,
    standby_lines,
    started_intervals,
    to_ore,
)
from advice_line.fees.period import Month

from .helpers import at, facts, joined, schedule, schedules, versioned

D = Decimal


@pytest.mark.parametrize(
    ("seconds", "intervals"),
    [
        (0, 0),
        (20 * 60 - 1, 0),
        (20 * 60, 0),  # exactly at the threshold: nothing
        (20 * 60 + 1, 1),  # one second over: one started interval
        (20 * 60 + 0.001, 1),
        (30 * 60, 1),
        (30 * 60 + 1, 2),
        (40 * 60, 2),
        (40 * 60 + 1, 3),
    ],
)
def test_supplement_per_started_interval(seconds: float, intervals: int) -> None:
    assert started_intervals(dt.timedelta(seconds=seconds), 20, 10) == intervals


def test_rounding_is_half_up_to_the_ore() -> None:
    assert to_ore(D("0.005")) == D("0.01")
    assert to_ore(D("0.0049")) == D("0.00")
    assert to_ore(D("2.675")) == D("2.68")  # a float would make this 2.67


def test_a_daytime_call_is_one_contact_line() -> None:
    p = joined(7, 2, at("2026-03-02 10:00"), 12 * 60)
    priced = episode_lines(facts(5, "audio", (p,)), schedules())
    [line] = priced.lines
    assert (line.clinician_id, line.kind, line.rule, line.schedule_version) == (
        7, "contact", "contact.tier2.audio", "eksempel-2026-01"
    )  # fmt: skip
    assert (line.quantity, line.unit_amount, line.amount) == (D(1), D("600.00"), D("600.00"))
    assert line.consultation_id == 5
    assert priced.unpriced == ()


def test_an_evening_call_over_the_threshold_with_an_escalation() -> None:
    nurse_advisor = joined(3, 1, at("2026-03-02 21:59"), 30 * 60 + 1)  # 2 intervals
    specialist = joined(9, 3, at("2026-03-02 22:05"), 20 * 60)  # night, none
    priced = episode_lines(facts(8, "video", (nurse_advisor, specialist)), schedules())
    got = [
        (x.clinician_id, x.kind, x.rule, x.quantity, x.unit_amount, x.amount) for x in priced.lines
    ]
    assert got == [
        (3, "contact", "contact.tier1.video", D(1), D("425.00"), D("425.00")),
        (3, "contact_surcharge", "band.evening.percent", D(1), D("106.25"), D("106.25")),
        (3, "supplement", "supplement.tier1", D(2), D("90.00"), D("180.00")),
        (9, "contact", "contact.tier3.video", D(1), D("900.00"), D("900.00")),
        (9, "contact_surcharge", "band.night.percent", D(1), D("450.00"), D("450.00")),
    ]


def test_a_holiday_surcharge_is_a_fixed_amount() -> None:
    p = joined(4, 2, at("2026-12-24 19:00"), 60)
    lines = episode_lines(facts(1, "video", (p,)), schedules()).lines
    assert [(x.rule, x.amount) for x in lines] == [
        ("contact.tier2.video", D("650.00")), ("band.holiday.amount", D("400.00"))
    ]  # fmt: skip


def test_a_percent_surcharge_is_rounded_once_per_line() -> None:
    s = schedule(('surcharge_percent = "25"     # example', 'surcharge_percent = "12.5"'),
                 ('video = "425.00"', 'video = "425.05"'))  # fmt: skip
    p = joined(4, 1, at("2026-03-02 17:00"), 60)
    lines = episode_lines(facts(1, "video", (p,)), schedules(s)).lines
    assert lines[1].unit_amount == D("53.13")  # 53.13125 rounded half up


def test_what_cannot_be_priced_is_reported() -> None:
    early = joined(1, 1, at("2025-12-31 23:59:59"), 60)
    ongoing = joined(2, 1, at("2026-01-05 10:00"), None)
    priced = episode_lines(facts(1, "video", (early, ongoing)), schedules())
    assert priced.lines == ()
    assert [(u.clinician_id, u.reason) for u in priced.unpriced] == [
        (1, "no_schedule"), (2, "call_not_ended")
    ]  # fmt: skip


def test_a_schedule_change_at_midnight_mid_month() -> None:
    old = versioned("v1", "2026-03-01")
    new = versioned("v2", "2026-03-16", ('video = "425.00"', 'video = "500.00"'))
    book = schedules(old, new)
    before = joined(1, 1, at("2026-03-15 23:59:59"), 60)
    after = joined(1, 1, at("2026-03-16 00:00"), 60)
    lines = episode_lines(facts(1, "video", (before, after)), book).lines
    contacts = [(x.schedule_version, x.unit_amount) for x in lines if x.kind == "contact"]
    assert contacts == [("v1", D("425.00")), ("v2", D("500.00"))]
    # A night on standby across the change is paid in two lines, one per version.
    duty = OnDuty(1, 1, at("2026-03-15 20:00"), at("2026-03-16 08:00"))
    month = Month(2026, 3)
    standby = standby_lines([duty], book, month.start, month.end).lines
    assert [(x.schedule_version, x.quantity, x.amount) for x in standby] == [
        ("v1", D(240), D("380.00")), ("v2", D(480), D("760.00"))
    ]  # fmt: skip


def test_standby_is_pro_rata_to_the_minute() -> None:
    duty = OnDuty(5, 2, at("2026-03-02 08:00:59"), at("2026-03-02 09:07:30"))
    [line] = standby_lines(
        [duty], schedules(), at("2026-03-01 00:00"), at("2026-04-01 00:00")
    ).lines
    assert (line.quantity, line.unit, line.unit_amount, line.per) == (
        D(67),
        "minute",
        D("120.00"),
        60,
    )
    assert line.amount == D("134.00")
    assert line.detail == "67 min at 120.00 per hour"


def test_standby_band_surcharges_split_at_band_edges() -> None:
    s = schedule(("band_surcharges = false", "band_surcharges = true"))
    duty = OnDuty(5, 1, at("2026-03-02 15:00"), at("2026-03-02 23:00"))
    lines = standby_lines(
        [duty], schedules(s), at("2026-03-01 00:00"), at("2026-04-01 00:00")
    ).lines
    got = [(x.kind, x.rule, x.quantity, x.unit_amount, x.amount) for x in lines]
    assert got == [
        ("standby", "standby.tier1", D(480), D("95.00"), D("760.00")),
        ("standby_surcharge", "standby.band.evening.percent", D(360), D("23.75"), D("142.50")),
        ("standby_surcharge", "standby.band.night.percent", D(60), D("47.50"), D("47.50")),
    ]


def test_standby_over_the_autumn_night_counts_real_minutes() -> None:
    duty = OnDuty(5, 1, at("2026-10-24 22:00"), at("2026-10-25 08:00"))
    [line] = standby_lines(
        [duty], schedules(), at("2026-10-01 00:00"), at("2026-11-01 00:00")
    ).lines
    assert line.quantity == D(11 * 60)  # 22:00 to 08:00 lasts eleven hours that night
    duty = OnDuty(5, 1, at("2026-03-28 22:00"), at("2026-03-29 08:00"))
    [line] = standby_lines(
        [duty], schedules(), at("2026-03-01 00:00"), at("2026-04-01 00:00")
    ).lines
    assert line.quantity == D(9 * 60)


def test_overlapping_stretches_of_one_clinician_and_tier_are_paid_once() -> None:
    a = OnDuty(1, 1, at("2026-03-02 08:00"), at("2026-03-02 16:00"))
    b = OnDuty(1, 1, at("2026-03-02 12:00"), at("2026-03-02 20:00"))
    c = OnDuty(1, 2, at("2026-03-02 12:00"), at("2026-03-02 13:00"))
    assert [(m.tier, m.start, m.end) for m in merged([a, b, c])] == [
        (1, a.start, b.end), (2, c.start, c.end)
    ]  # fmt: skip


def test_standby_is_clipped_to_the_period() -> None:
    duty = OnDuty(1, 1, at("2026-02-28 20:00"), at("2026-03-01 08:00"))
    month = Month(2026, 3)
    [line] = standby_lines([duty], schedules(), month.start, month.end).lines
    assert (line.period_start, line.quantity) == (month.start, D(480))


@pytest.mark.parametrize(
    ("valid_from", "valid_to", "expected"),
    [
        ("2026-03-31", None, "2026-03-31"),  # valid on the last day only: a line
        ("2026-01-01", "2026-03-01", "2026-03-01"),  # on the first day only
        ("2026-01-01", "2026-02-28", None),  # ended before the month
        ("2026-04-01", None, None),  # starts after
        ("2025-06-01", None, "2026-03-01"),
    ],
)
def test_commitment_retainer_when_valid_on_any_day(
    valid_from: str, valid_to: str | None, expected: str | None
) -> None:
    c = Commitment(40, 7, dt.date.fromisoformat(valid_from),
                   dt.date.fromisoformat(valid_to) if valid_to else None)  # fmt: skip
    lines = commitment_lines([c], schedules(), Month(2026, 3)).lines
    if expected is None:
        assert lines == ()
    else:
        [line] = lines
        assert (line.clinician_id, line.rule, line.amount) == (40, "commitment.per_patient_month",
                                                               D("250.00"))  # fmt: skip
        assert line.detail == f"patient 7, valid from {expected}"


def test_one_retainer_per_gp_patient_and_month_priced_on_the_first_valid_day() -> None:
    old = versioned("v1", "2026-01-01")
    new = versioned("v2", "2026-03-16", ('per_patient_month = "250.00"', 'per_patient_month = "300.00"'))  # fmt: skip
    book = schedules(old, new)
    both = [Commitment(40, 7, dt.date(2026, 3, 20), None), Commitment(40, 7, dt.date(2026, 3, 2), dt.date(2026, 3, 5)),
            Commitment(41, 7, dt.date(2026, 3, 20), None)]  # fmt: skip
    lines = commitment_lines(both, book, Month(2026, 3)).lines
    assert [(x.clinician_id, x.schedule_version, x.amount) for x in lines] == [
        (40, "v1", D("250.00")), (41, "v2", D("300.00"))
    ]  # fmt: skip


def test_a_month_takes_the_contacts_joined_in_it() -> None:
    march_end = joined(1, 1, at("2026-03-31 23:59"), 60)
    april = joined(1, 1, at("2026-04-01 00:00"), 60)
    priced = month_lines(
        Month(2026, 3), [facts(1, "video", (march_end, april))], [], [], schedules()
    )
    assert [x.period_start for x in priced.lines if x.kind == "contact"] == [march_end.joined_at]
