"""Parsing and checking fee schedule documents: every bad field named, with a stable code."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from advice_line.fees.schedule import ScheduleInvalid, Schedules, parse_schedule

from .helpers import EXAMPLE, text, versioned


def errors_of(document: str) -> list[tuple[str, str]]:
    with pytest.raises(ScheduleInvalid) as caught:
        parse_schedule(document)
    return [(e["field"], e["code"]) for e in caught.value.errors]


def test_the_shipped_example_is_a_valid_schedule() -> None:
    s = parse_schedule(EXAMPLE)
    assert s.version == "eksempel-2026-01"
    assert s.effective_from == dt.date(2026, 1, 1)
    assert s.currency == "DKK"
    assert s.contact[(2, "audio")] == Decimal("600.00")
    assert s.supplement.threshold_minutes == 20
    assert s.supplement.amount == {1: Decimal("90.00"), 2: Decimal("140.00"), 3: Decimal("190.00")}
    assert [b.name for b in s.calendar.clock_bands] == ["day", "evening", "night"]
    assert s.calendar.band("holiday").surcharge_amount == Decimal("400.00")
    assert (12, 24) in s.calendar.extra_days
    assert s.standby_per_hour[3] == Decimal("150.00")
    assert s.commitment_per_patient_month == Decimal("250.00")


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ('video = "425.00"', "video = 425.0", ("contact.1.video", "amount_is_float")),
        ('video = "425.00"', "video = 425", ("contact.1.video", "amount_not_decimal")),
        ('video = "425.00"', 'video = "425,00"', ("contact.1.video", "amount_not_decimal")),
        ('video = "425.00"', 'video = "425.001"', ("contact.1.video", "too_many_decimals")),
        ('video = "425.00"', 'video = "-1.00"', ("contact.1.video", "negative_amount")),
        ('video = "425.00"', 'vidoe = "425.00"', ("contact.1.vidoe", "unknown_channel")),
        ("[contact.3]", "[contact.4]", ("contact.4", "unknown_tier")),
        ('3 = "190.00"', '4 = "190.00"', ("supplement.amount.4", "unknown_tier")),
        ('3 = "190.00"', '4 = "190.00"', ("supplement.amount.3", "missing_tier")),
        ('3 = "150.00"', '3 = "150"', None),
        ("threshold_minutes = 20", "threshold_minutes = -1", ("supplement.threshold_minutes", "out_of_range")),
        ("interval_minutes = 10", "interval_minutes = 0", ("supplement.interval_minutes", "out_of_range")),
        ("interval_minutes = 10", 'interval_minutes = "10"', ("supplement.interval_minutes", "not_integer")),
        ('end = "22:00"', 'end = "23:00"', ("bands[2]", "overlapping_bands")),
        ('end = "22:00"', 'end = "21:00"', ("bands", "bands_not_covering_day")),
        ('start = "22:00"', 'start = "22:60"', ("bands[2].start", "not_time")),
        ('name = "evening"', 'name = "day"', ("bands[1].name", "duplicate_band")),
        ('surcharge_percent = "25"', 'surcharge_percent = "25"\nsurcharge_amount = "1.00"', ("bands[1]", "one_surcharge")),
        ('weekend_band = "weekend"', 'weekend_band = "helg"', ("calendar.weekend_band", "unknown_band")),
        ('"12-31"', '"12-32"', ("calendar.extra_days[1]", "bad_extra_day")),
        ('currency = "DKK"', 'currency = "EUR"', ("currency", "currency_not_dkk")),
        ("effective_from = 2026-01-01", 'effective_from = "2026-01-01"', ("effective_from", "not_date")),
        ('version = "eksempel-2026-01"', 'version = "has space"', ("version", "format")),
        ("band_surcharges = false", 'band_surcharges = "no"', ("standby.band_surcharges", "not_boolean")),
        ('per_patient_month = "250.00"', 'per_patient_month = "250.00"\nper_gp = "1.00"', ("commitment.per_gp", "unknown_field")),
        ("[commitment]", "[commitments]", ("commitment", "required")),
    ],
)  # fmt: skip
def test_a_bad_field_is_named_with_its_code(
    old: str, new: str, expected: tuple[str, str] | None
) -> None:
    document = text((old, new))
    if expected is None:
        parse_schedule(document)  # a whole number written as a string is a fine amount
    else:
        assert expected in errors_of(document)


def test_every_problem_is_reported_at_once() -> None:
    document = text(
        ('video = "425.00"', "video = 425.0"),
        ('audio = "600.00"', 'audio = "-5"'),
        ('end = "22:00"', 'end = "23:00"'),
        ('currency = "DKK"', 'currency = "SEK"'),
    )
    assert set(errors_of(document)) >= {
        ("contact.1.video", "amount_is_float"), ("contact.2.audio", "negative_amount"),
        ("bands[2]", "overlapping_bands"), ("currency", "currency_not_dkk"),
    }  # fmt: skip


def test_a_syntax_error_names_its_line() -> None:
    document = 'version = "x"\neffective_from = 2026-01-01\ncontact = [\n'
    with pytest.raises(ScheduleInvalid) as caught:
        parse_schedule(document)
    [error] = caught.value.errors
    assert error["code"] == "toml_syntax"
    assert error["line"] == 4
    document = 'version = "x"\n[contact\nx = 1\n'
    with pytest.raises(ScheduleInvalid) as caught:
        parse_schedule(document)
    assert caught.value.errors[0]["line"] == 2


def test_bands_may_wrap_past_midnight_and_end_at_24() -> None:
    document = text(('start = "22:00"\nend = "08:00"', 'start = "22:00"\nend = "24:00"'),
                    ('name = "day"\nstart = "08:00"', 'name = "day"\nstart = "00:00"'))  # fmt: skip
    day, _evening, night = parse_schedule(document).calendar.clock_bands
    assert (day.start, day.end, night.start, night.end) == (0, 16 * 60, 22 * 60, 24 * 60)


def test_the_schedule_in_force_is_the_latest_effective_on_or_before_the_date() -> None:
    jan = versioned("a", "2026-01-01")
    mar = versioned("b", "2026-03-16")
    book = Schedules((mar, jan))
    assert book.in_force(dt.date(2025, 12, 31)) is None
    assert book.in_force(dt.date(2026, 1, 1)) is jan
    assert book.in_force(dt.date(2026, 3, 15)) is jan
    assert book.in_force(dt.date(2026, 3, 16)) is mar
    assert book.effective_dates == (dt.date(2026, 1, 1), dt.date(2026, 3, 16))
