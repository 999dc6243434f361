"""The CSV shift format: every rule by table, DST times, and export reading back the same."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from advice_line.rota_csv import (
    Clinician,
    CsvRejected,
    local_to_utc,
    read_shifts,
    utc_to_local_text,
    write_shifts,
)

CPH = ZoneInfo("Europe/Copenhagen")
PEOPLE = {
    "anne": Clinician(1, "anne", "advisor", "senior_nurse", True),
    "bent": Clinician(2, "bent", "advisor", "senior_nurse", True),
    "gustav": Clinician(3, "gustav", "advisor", "gp", True),
    "gone": Clinician(4, "gone", "advisor", "gp", False),
    "olga": Clinician(5, "olga", "coordinator", None, True),
}
HEADER = "tier,clinician,start,end\n"


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


def read(text: str, header: str = HEADER):
    return read_shifts((header + text).encode(), PEOPLE, CPH)


def errors_of(text: str, header: str = HEADER) -> list[tuple[int, str]]:
    with pytest.raises(CsvRejected) as raised:
        read(text, header)
    return [(e.line, e.field) for e in raised.value.errors]


def test_a_valid_file():
    shifts = read("senior_nurse,anne,2026-11-02 08:00,2026-11-02 16:00\n"
                  "gp,Gustav,2026-11-02T16:00,2026-11-03T08:00\n")  # fmt: skip
    assert [(s.line, s.tier, s.clinician, s.start, s.end) for s in shifts] == [
        (2, "senior_nurse", 1, utc(2026, 11, 2, 7), utc(2026, 11, 2, 15)),
        (3, "gp", 3, utc(2026, 11, 2, 15), utc(2026, 11, 3, 7)),
    ]


def test_blank_lines_and_a_byte_order_mark_are_fine():
    data = (
        "\ufeff" + HEADER + "\nsenior_nurse,anne,2026-11-02 08:00,2026-11-02 16:00\n\n"
    ).encode()
    assert len(read_shifts(data, PEOPLE, CPH)) == 1


@pytest.mark.parametrize(
    ("row", "field"),
    [
        ("pilot,anne,2026-11-02 08:00,2026-11-02 16:00", "tier"),
        ("senior_nurse,nobody,2026-11-02 08:00,2026-11-02 16:00", "clinician"),
        ("gp,anne,2026-11-02 08:00,2026-11-02 16:00", "clinician"),  # a nurse, not a GP
        ("gp,gone,2026-11-02 08:00,2026-11-02 16:00", "clinician"),  # disabled
        ("senior_nurse,olga,2026-11-02 08:00,2026-11-02 16:00", "clinician"),  # not an advisor
        ("senior_nurse,anne,yesterday,2026-11-02 16:00", "start"),
        ("senior_nurse,anne,2026-11-02 08:00,2026-11-02 07:00", "end"),
        ("senior_nurse,anne,2026-11-02 08:00,2026-12-05 08:00", "end"),  # over 31 days
        ("senior_nurse,anne,2026-03-29 02:30,2026-03-29 08:00", "start"),  # does not exist
        ("senior_nurse,anne,2026-10-25 00:00,2026-10-25 02:30", "end"),  # occurs twice
        ("senior_nurse,anne,2026-11-02 08:00+05:00,2026-11-02 16:00", "start"),  # wrong offset
        ("senior_nurse,anne,2026-11-02 08:00", "(row)"),
    ],
)
def test_each_bad_row_is_named_by_line_and_field(row, field):
    assert errors_of("senior_nurse,bent,2026-11-01 08:00,2026-11-01 16:00\n" + row + "\n") == [
        (3, field)
    ]


def test_every_problem_is_reported_at_once():
    found = errors_of(
        "pilot,anne,2026-11-02 08:00,2026-11-02 16:00\n"
        "senior_nurse,anne,2026-11-02 08:00,2026-11-02 16:00\n"
        "senior_nurse,nobody,x,y\n"
    )
    assert found == [(2, "tier"), (4, "clinician"), (4, "start"), (4, "end")]


def test_overlapping_rows_for_one_person_name_both_lines():
    with pytest.raises(CsvRejected) as raised:
        read("senior_nurse,anne,2026-11-02 08:00,2026-11-02 16:00\n"
             "senior_nurse,bent,2026-11-02 08:00,2026-11-02 16:00\n"
             "senior_nurse,anne,2026-11-02 15:00,2026-11-02 20:00\n")  # fmt: skip
    (error,) = raised.value.errors
    assert error.line == 4 and "line 2" in error.message


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (b"", "(file)"),
        (b"   \n", "(file)"),
        (b"name,start\nx,y\n", "(header)"),
        (b"tier,clinician,start,end\nsenior_nurse,anne,\xff\xfe,x\n", "(file)"),
    ],
)
def test_malformed_files(data, field):
    with pytest.raises(CsvRejected) as raised:
        read_shifts(data, PEOPLE, CPH)
    assert raised.value.errors[0].field == field


def test_an_ambiguous_time_with_its_offset_is_accepted():
    first = local_to_utc("2026-10-25 02:30+02:00", CPH)
    second = local_to_utc("2026-10-25 02:30+01:00", CPH)
    assert second - first == dt.timedelta(hours=1)


def test_the_nonexistent_time_message_says_why():
    with pytest.raises(ValueError, match="does not exist"):
        local_to_utc("2026-03-29 02:30", CPH)
    with pytest.raises(ValueError, match=r"occurs twice.*\+02:00.*\+01:00"):
        local_to_utc("2026-10-25 02:30", CPH)


@given(st.datetimes(min_value=dt.datetime(2025, 1, 1), max_value=dt.datetime(2028, 12, 31),
                    timezones=st.just(dt.UTC)))  # fmt: skip
def test_any_instant_written_reads_back_the_same(instant):
    instant = instant.replace(second=0, microsecond=0)
    assert local_to_utc(utc_to_local_text(instant, CPH), CPH) == instant


def test_export_reads_back_the_same_shifts():
    rows = [
        (
            "senior_nurse",
            "anne",
            utc(2026, 10, 24, 22),
            utc(2026, 10, 25, 0, 30),
        ),  # into the double hour
        (
            "senior_nurse",
            "bent",
            utc(2026, 10, 25, 0, 30),
            utc(2026, 10, 25, 1, 30),
        ),  # the second 02:30
        ("gp", "gustav", utc(2026, 3, 29, 0), utc(2026, 3, 29, 6)),
    ]
    text = write_shifts(rows, CPH)
    assert "+02:00" in text and "+01:00" in text
    back = read_shifts(text.encode(), PEOPLE, CPH)
    assert [(s.tier, s.username, s.start, s.end) for s in back] == rows
