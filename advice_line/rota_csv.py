"""Reading and writing duty shifts as CSV: ``tier,clinician,start,end`` in local time.

Reading is pure: bytes and what is known about the clinicians in, shifts or every problem
(by line number) out. Times are local date-times in the rota's time zone
(``2026-11-02 08:00`` or ``2026-11-02T08:00``). A local time that does not exist (the
spring DST night) is refused; one that occurs twice (the autumn night) must carry its
offset (``2026-10-25 02:30+02:00`` for the first, ``+01:00`` for the second). Writing
adds the offset only where it is needed, so an export always reads back the same.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from rota.tiers import TIERS

COLUMNS = ("tier", "clinician", "start", "end")
MAX_SHIFT = dt.timedelta(days=31)
MAX_ROWS = 200_000


@dataclass(frozen=True)
class Clinician:
    id: int
    username: str
    role: str
    tier: str | None
    active: bool


@dataclass(frozen=True)
class CsvShift:
    line: int
    tier: str
    clinician: int
    username: str
    start: dt.datetime  # UTC
    end: dt.datetime  # UTC


@dataclass(frozen=True)
class LineError:
    line: int
    field: str
    message: str

    def as_dict(self) -> dict[str, object]:
        return {"line": self.line, "field": self.field, "message": self.message}


class CsvRejected(ValueError):
    """The file has problems; ``errors`` lists every one of them by line."""

    def __init__(self, errors: list[LineError]) -> None:
        super().__init__(f"{len(errors)} problem(s) in the file")
        self.errors = errors


def local_to_utc(text: str, zone: ZoneInfo) -> dt.datetime:
    """A local date-time (optionally with an offset) as a UTC instant; ValueError says why not."""
    try:
        value = dt.datetime.fromisoformat(text.strip().replace(" ", "T", 1))
    except ValueError:
        raise ValueError("is not a date-time like 2026-11-02 08:00") from None
    if value.tzinfo is not None:
        candidates = {
            value.replace(tzinfo=None, fold=f).replace(tzinfo=zone).utcoffset() for f in (0, 1)
        }
        if value.utcoffset() not in candidates:
            raise ValueError(f"has an offset that {zone.key} never uses at that time")
        return value.astimezone(dt.UTC)
    first = value.replace(fold=0, tzinfo=zone)
    second = value.replace(fold=1, tzinfo=zone)
    if first.utcoffset() != second.utcoffset():
        if first.astimezone(dt.UTC).astimezone(zone).replace(tzinfo=None) != value:
            raise ValueError("does not exist on the clock (the clocks jump forward that night)")
        raise ValueError(
            "occurs twice (the clocks go back that night): add the offset, "
            f"{first.strftime('%z')[:3]}:00 for the first or {second.strftime('%z')[:3]}:00 "
            "for the second"
        )
    return first.astimezone(dt.UTC)


def utc_to_local_text(instant: dt.datetime, zone: ZoneInfo) -> str:
    """How the file writes an instant: local time, plus the offset only when ambiguous."""
    local = instant.astimezone(zone)
    text = local.strftime("%Y-%m-%d %H:%M")
    if local.second or local.microsecond:
        text = local.strftime("%Y-%m-%d %H:%M:%S")
    naive = local.replace(tzinfo=None)
    if (
        naive.replace(fold=0, tzinfo=zone).utcoffset()
        != naive.replace(fold=1, tzinfo=zone).utcoffset()
    ):
        offset = local.strftime("%z")
        text += f"{offset[:3]}:{offset[3:]}"
    return text


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise CsvRejected([LineError(line, "(file)", "is not UTF-8 text")]) from None


def _rows(text: str) -> Iterator[tuple[int, list[str]]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    for row in reader:
        yield reader.line_num, row


def read_shifts(data: bytes, clinicians: Mapping[str, Clinician], zone: ZoneInfo) -> list[CsvShift]:
    """Every shift in the file, or :class:`CsvRejected` with every problem found."""
    text = _decode(data)
    if not text.strip():
        raise CsvRejected([LineError(1, "(file)", "the file is empty")])
    rows = _rows(text)
    try:
        _, header = next(rows)
    except csv.Error as exc:
        raise CsvRejected([LineError(1, "(file)", f"is not CSV ({exc})")]) from None
    if [h.strip().lower() for h in header] != list(COLUMNS):
        raise CsvRejected([LineError(1, "(header)", "the columns must be " + ",".join(COLUMNS))])
    shifts: list[CsvShift] = []
    errors: list[LineError] = []
    try:
        for line, row in rows:
            if not any(cell.strip() for cell in row):
                continue
            if len(shifts) + len(errors) >= MAX_ROWS:
                errors.append(LineError(line, "(file)", f"more than {MAX_ROWS} rows"))
                break
            shift, problems = _read_row(line, row, clinicians, zone)
            errors.extend(problems)
            if shift is not None:
                shifts.append(shift)
    except csv.Error as exc:
        errors.append(LineError(len(shifts) + len(errors) + 2, "(file)", f"is not CSV ({exc})"))
    errors.extend(overlaps(shifts))
    if errors:
        raise CsvRejected(sorted(errors, key=lambda e: e.line))
    return shifts


def _read_row(
    line: int, row: list[str], clinicians: Mapping[str, Clinician], zone: ZoneInfo
) -> tuple[CsvShift | None, list[LineError]]:
    if len(row) != len(COLUMNS):
        return None, [LineError(line, "(row)", f"has {len(row)} columns, not {len(COLUMNS)}")]
    tier, username, start_text, end_text = (cell.strip() for cell in row)
    errors = []
    if tier not in TIERS:
        errors.append(LineError(line, "tier", f"unknown tier {tier!r}"))
    who = clinicians.get(username.lower())
    if who is None:
        errors.append(LineError(line, "clinician", f"no user named {username!r}"))
    elif not who.active or who.role != "advisor" or (tier in TIERS and who.tier != tier):
        errors.append(
            LineError(line, "clinician", f"{username} is not an active advisor of the tier {tier}")
        )
    times: dict[str, dt.datetime] = {}
    for field, value in (("start", start_text), ("end", end_text)):
        try:
            times[field] = local_to_utc(value, zone)
        except ValueError as exc:
            errors.append(LineError(line, field, f"{value!r} {exc}"))
    if len(times) == 2:
        if times["end"] <= times["start"]:
            errors.append(LineError(line, "end", "is not after the start"))
        elif times["end"] - times["start"] > MAX_SHIFT:
            errors.append(LineError(line, "end", "a shift is at most 31 days"))
    if errors or who is None:
        return None, errors
    return CsvShift(line, tier, who.id, who.username, times["start"], times["end"]), []


def overlaps(shifts: list[CsvShift]) -> list[LineError]:
    """Shifts of one clinician in one tier that overlap each other, named by line."""
    problems = []
    by_person: dict[tuple[str, int], list[CsvShift]] = {}
    for shift in shifts:
        by_person.setdefault((shift.tier, shift.clinician), []).append(shift)
    for items in by_person.values():
        items.sort(key=lambda s: (s.start, s.end))
        reach = items[0]
        for item in items[1:]:
            if item.start < reach.end:
                message = f"overlaps line {reach.line} for {item.username}"
                problems.append(LineError(item.line, "start", message))
            if item.end > reach.end:
                reach = item
    return problems


def write_shifts(rows: list[tuple[str, str, dt.datetime, dt.datetime]], zone: ZoneInfo) -> str:
    """CSV text for (tier, username, start, end) rows, in local time."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for tier, username, start, end in rows:
        writer.writerow(
            [tier, username, utc_to_local_text(start, zone), utc_to_local_text(end, zone)]
        )
    return out.getvalue()
