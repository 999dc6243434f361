"""Golden fee tests: whole cases priced by hand in the comments, then by the code.

The schedule is written here (not read from deploy/) so the figures below cannot drift when
the example document's invented amounts change. Every expected amount is worked out by hand
from the rules in docs/fees.md; a disagreement means the code or the rules are wrong.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from advice_line.fees.bands import band_at
from advice_line.fees.lines import (
    Commitment,
    FeeLine,
    OnDuty,
    episode_lines,
    month_lines,
    standby_lines,
)
from advice_line.fees.period import Month
from advice_line.fees.schedule import Schedules, parse_schedule

from .helpers import at, facts, joined

D = Decimal

GOLDEN = """
version = "golden-1"
effective_from = 2026-01-01
currency = "DKK"

[contact.1]
video = "425.00"
audio = "375.00"
[contact.2]
video = "650.00"
audio = "600.00"
[contact.3]
video = "900.00"
audio = "850.00"

[supplement]
threshold_minutes = 20
interval_minutes = 10
[supplement.amount]
1 = "90.00"
2 = "140.00"
3 = "190.00"

[[bands]]
name = "day"
start = "08:00"
end = "16:00"
surcharge_percent = "0"
[[bands]]
name = "evening"
start = "16:00"
end = "22:00"
surcharge_percent = "12.5"
[[bands]]
name = "night"
start = "22:00"
end = "08:00"
surcharge_percent = "40"
[[bands]]
name = "weekend"
surcharge_percent = "50"
[[bands]]
name = "holiday"
surcharge_amount = "400.00"

[calendar]
weekend_band = "weekend"
holiday_band = "holiday"
extra_days = ["12-24"]

[standby]
band_surcharges = true
[standby.per_hour]
1 = "95.00"
2 = "120.00"
3 = "150.00"

[commitment]
per_patient_month = "250.00"
"""

#: The same schedule from 15 March 2026 with a higher retainer (for the retainer month).
GOLDEN_2 = (
    GOLDEN.replace('"golden-1"', '"golden-2"')
    .replace("effective_from = 2026-01-01", "effective_from = 2026-03-15")
    .replace('per_patient_month = "250.00"', 'per_patient_month = "300.00"')
)


def book(*texts: str) -> Schedules:
    return Schedules(tuple(parse_schedule(t) for t in texts or (GOLDEN,)))


def summary(lines: tuple[FeeLine, ...]) -> list[tuple[int, str, Decimal, Decimal, Decimal]]:
    """(clinician, rule, quantity, unit amount, amount) of each line, in line order."""
    return [(x.clinician_id, x.rule, x.quantity, x.unit_amount, x.amount) for x in lines]


def test_gp_video_on_a_sunday_holiday_crossing_midnight_into_a_weekday_night() -> None:
    # Sunday 1 January 2034 is New Year's Day (a public holiday on a Sunday: the holiday
    # band wins over the weekend band). The GP joins at 23:50 local and stays 23 minutes,
    # to 00:13 on Monday 2 January, an ordinary weekday whose 00:13 is in the night band.
    # The surcharge is the band at the moment the advisor joined, so the night band is
    # never used:
    #   contact.tier2.video                             650.00
    #   band.holiday.amount (fixed per contact)         400.00
    #   supplement: 23:00 - 20:00 = 3:00 beyond the threshold = 1 started 10-minute
    #   interval x 140.00                               140.00
    #   total                                          1190.00
    start = at("2034-01-01 23:50")
    episode = facts(11, "video", (joined(21, 2, start, 23 * 60),))
    assert band_at(book().versions[0].calendar, start + dt.timedelta(minutes=23)).name == "night"
    priced = month_lines(Month(2034, 1), [episode], [], [], book())
    assert summary(priced.lines) == [
        (21, "contact.tier2.video", D(1), D("650.00"), D("650.00")),
        (21, "band.holiday.amount", D(1), D("400.00"), D("400.00")),
        (21, "supplement.tier2", D(1), D("140.00"), D("140.00")),
    ]
    assert sum(x.amount for x in priced.lines) == D("1190.00")
    assert priced.unpriced == ()
    # The contact belongs to the month of the local date it was joined (January), even
    # though 23:50 local on 1 January is 22:50 UTC on the same day: nothing in December.
    assert month_lines(Month(2033, 12), [episode], [], [], book()).lines == ()


def test_the_same_call_joined_ten_minutes_later_is_a_weekday_night_contact() -> None:
    # Joined at 00:00 on Monday 2 January 2034 (no longer the holiday): the night band,
    # 40 % of the contact fee: 650.00 x 40 / 100 = 260.00. 23 minutes earns 1 interval.
    #   650.00 + 260.00 + 140.00 = 1050.00
    episode = facts(12, "video", (joined(21, 2, at("2034-01-02 00:00"), 23 * 60),))
    lines = episode_lines(episode, book()).lines
    assert summary(lines) == [
        (21, "contact.tier2.video", D(1), D("650.00"), D("650.00")),
        (21, "band.night.percent", D(1), D("260.00"), D("260.00")),
        (21, "supplement.tier2", D(1), D("140.00"), D("140.00")),
    ]
    assert sum(x.amount for x in lines) == D("1050.00")


def test_specialist_standby_across_the_autumn_clock_change() -> None:
    # Sunday 25 October 2026: the clocks go back at 03:00 CEST to 02:00 CET, so that local
    # day lasts 25 hours. The specialist (tier 3) is on duty from 00:00 Sunday (CEST) to
    # 10:00 Monday 26 October (CET).
    #   Sunday 00:00 -> Monday 00:00 = 25 h = 1500 min (weekend band, 50 %)
    #   Monday 00:00 -> 08:00        =  8 h =  480 min (night band, 40 %)
    #   Monday 08:00 -> 10:00        =  2 h =  120 min (day band, 0 %: no line)
    #   real minutes on duty: 1500 + 480 + 120 = 2100 (a wall-clock sum would say 2040)
    # standby.tier3: 2100 min x 150.00 / 60                          = 5250.00
    # standby.band.weekend.percent: 50 % of 150.00 = 75.00 per hour;
    #   1500 min x 75.00 / 60                                         = 1875.00
    # standby.band.night.percent: 40 % of 150.00 = 60.00 per hour;
    #   480 min x 60.00 / 60                                          =  480.00
    # total                                                            7605.00
    duty = OnDuty(31, 3, at("2026-10-25 00:00"), at("2026-10-26 10:00"))
    assert duty.end - duty.start == dt.timedelta(hours=35)
    month = Month(2026, 10)
    lines = standby_lines([duty], book(), month.start, month.end).lines
    assert summary(lines) == [
        (31, "standby.tier3", D(2100), D("150.00"), D("5250.00")),
        (31, "standby.band.weekend.percent", D(1500), D("75.00"), D("1875.00")),
        (31, "standby.band.night.percent", D(480), D("60.00"), D("480.00")),
    ]
    assert sum(x.amount for x in lines) == D("7605.00")


def test_supplement_exactly_at_the_threshold_and_an_escalation_in_the_evening() -> None:
    # Tuesday 3 March 2026, an audio call. The senior nurse (tier 1) joins at 16:00:00,
    # the first minute of the evening band (start inclusive), and leaves after exactly
    # 20:00 (the threshold: no supplement).
    #   contact.tier1.audio                                  375.00
    #   band.evening.percent: 375.00 x 12.5 / 100 = 46.875, rounded half up ->  46.88
    # She escalated; the GP (tier 2) joins at 16:10:00 and stays 30:01, i.e. 10:01 beyond
    # the threshold: 2 started 10-minute intervals.
    #   contact.tier2.audio                                  600.00
    #   band.evening.percent: 600.00 x 12.5 / 100             75.00
    #   supplement.tier2: 2 x 140.00                         280.00
    # nurse 421.88 + GP 955.00 = 1376.88
    nurse = joined(1, 1, at("2026-03-03 16:00"), 20 * 60)
    gp = joined(2, 2, at("2026-03-03 16:10"), 30 * 60 + 1)
    lines = episode_lines(facts(13, "audio", (nurse, gp)), book()).lines
    assert summary(lines) == [
        (1, "contact.tier1.audio", D(1), D("375.00"), D("375.00")),
        (1, "band.evening.percent", D(1), D("46.88"), D("46.88")),
        (2, "contact.tier2.audio", D(1), D("600.00"), D("600.00")),
        (2, "band.evening.percent", D(1), D("75.00"), D("75.00")),
        (2, "supplement.tier2", D(2), D("140.00"), D("280.00")),
    ]
    assert sum(x.amount for x in lines if x.clinician_id == 1) == D("421.88")
    assert sum(x.amount for x in lines) == D("1376.88")


def test_gp_retainer_month_with_a_schedule_change_mid_month() -> None:
    # March 2026; golden-1 (250.00 per patient month) until 14 March, golden-2 (300.00)
    # from 15 March. Each (GP, patient) is priced by the schedule in force on the first day
    # of March on which any of that GP's commitments for that patient is valid.
    #   GP 40, patient 7: valid 2-5 March and from 20 March -> first day 2 March
    #     -> golden-1: one retainer                                        250.00
    #   GP 40, patient 8: valid 1 February to 1 March -> first day 1 March
    #     -> golden-1                                                      250.00
    #   GP 41, patient 7: valid from 31 March -> golden-2                  300.00
    #   GP 41, patient 9: valid from 1 April -> not in March: no line
    # total 800.00
    commitments = [
        Commitment(40, 7, dt.date(2026, 3, 20), None),
        Commitment(40, 7, dt.date(2026, 3, 2), dt.date(2026, 3, 5)),
        Commitment(40, 8, dt.date(2026, 2, 1), dt.date(2026, 3, 1)),
        Commitment(41, 7, dt.date(2026, 3, 31), None),
        Commitment(41, 9, dt.date(2026, 4, 1), None),
    ]
    priced = month_lines(Month(2026, 3), [], [], commitments, book(GOLDEN, GOLDEN_2))
    assert [(x.clinician_id, x.schedule_version, x.amount, x.detail) for x in priced.lines] == [
        (40, "golden-1", D("250.00"), "patient 7, valid from 2026-03-02"),
        (40, "golden-1", D("250.00"), "patient 8, valid from 2026-03-01"),
        (41, "golden-2", D("300.00"), "patient 7, valid from 2026-03-31"),
    ]
    assert sum(x.amount for x in priced.lines) == D("800.00")
