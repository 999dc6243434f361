"""A fee schedule: a versioned TOML document, parsed and checked into a frozen ``FeeSchedule``.

Every problem in a document is collected, each named by its path in the document (``contact.2.
video``) and a stable code, so an administrator fixes them all at once. Amounts are strings
with at most two decimals (``"425.00"``): a TOML float is refused, since binary floats cannot
hold øre exactly. The format is documented in docs/fees.md and deploy/fee-schedule.example.toml.
"""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

TIERS = (1, 2, 3)
CHANNELS = ("video", "audio")
CURRENCY = "DKK"
MINUTES_PER_DAY = 24 * 60

_AMOUNT = re.compile(r"^[+-]?\d+(\.\d+)?$")
_VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
_CLOCK = re.compile(r"^([01]\d|2[0-4]):([0-5]\d)$")
_MONTH_DAY = re.compile(r"^(\d{2})-(\d{2})$")

FieldError = dict[str, Any]


class ScheduleInvalid(ValueError):
    """The document is not a valid fee schedule; ``errors`` names every problem."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(f"{e['field']}: {e['message']}" for e in errors))
        self.errors = errors


@dataclass(frozen=True)
class Band:
    """A named time band. A clock band covers ``[start, end)`` in local minutes of the day
    (wrapping past midnight when ``end <= start``); an all-day band (no clock) applies only
    where the calendar names it (weekends, holidays). Exactly one surcharge is set."""

    name: str
    start: int | None  # minutes after local midnight
    end: int | None  # minutes after local midnight, 1440 for midnight at the day's end
    surcharge_percent: Decimal | None = None
    surcharge_amount: Decimal | None = None

    def covers(self, minute: int) -> bool:
        """Whether the clock band covers ``minute`` (0..1439) of a local day."""
        if self.start is None or self.end is None:
            return False
        if self.start < self.end:
            return self.start <= minute < self.end
        return minute >= self.start or minute < self.end

    def surcharge_on(self, base: Decimal) -> Decimal:
        """The surcharge on ``base`` (exact: percent of it, or the fixed amount)."""
        if self.surcharge_amount is not None:
            return self.surcharge_amount
        assert self.surcharge_percent is not None
        return base * self.surcharge_percent / 100

    @property
    def rule(self) -> str:
        kind = "amount" if self.surcharge_amount is not None else "percent"
        return f"band.{self.name}.{kind}"

    @property
    def charges(self) -> bool:
        """Whether the band adds anything (a zero surcharge makes no fee line)."""
        return (self.surcharge_amount or self.surcharge_percent or Decimal(0)) != 0


@dataclass(frozen=True)
class Calendar:
    """Which band applies when: clock bands on ordinary days, the weekend band all day on
    Saturdays and Sundays, the holiday band all day on Danish public holidays and the extra
    days (``(month, day)`` every year, or a full date once)."""

    bands: tuple[Band, ...]
    weekend_band: str
    holiday_band: str
    extra_days: frozenset[tuple[int, int]] = frozenset()
    extra_dates: frozenset[dt.date] = frozenset()

    def band(self, name: str) -> Band:
        return next(b for b in self.bands if b.name == name)

    @property
    def clock_bands(self) -> tuple[Band, ...]:
        return tuple(b for b in self.bands if b.start is not None)


@dataclass(frozen=True)
class Supplement:
    """Per started interval of ``interval_minutes`` beyond ``threshold_minutes`` in a call."""

    threshold_minutes: int
    interval_minutes: int
    amount: Mapping[int, Decimal]


@dataclass(frozen=True)
class FeeSchedule:
    """One version of the fee schedule, in force from local midnight of ``effective_from``."""

    version: str
    effective_from: dt.date
    currency: str
    contact: Mapping[tuple[int, str], Decimal]
    supplement: Supplement
    calendar: Calendar
    standby_per_hour: Mapping[int, Decimal]
    standby_band_surcharges: bool
    commitment_per_patient_month: Decimal
    description: str = ""


@dataclass(frozen=True)
class Schedules:
    """Every stored version; the one in force at a local date is the latest ``effective_from``
    on or before it."""

    versions: tuple[FeeSchedule, ...] = field(default=())

    def __post_init__(self) -> None:
        ordered = tuple(sorted(self.versions, key=lambda s: s.effective_from))
        dates = [s.effective_from for s in ordered]
        assert len(set(dates)) == len(dates), "two schedules take effect on the same date"
        object.__setattr__(self, "versions", ordered)

    def in_force(self, day: dt.date) -> FeeSchedule | None:
        found = None
        for schedule in self.versions:
            if schedule.effective_from <= day:
                found = schedule
        return found

    @property
    def effective_dates(self) -> tuple[dt.date, ...]:
        return tuple(s.effective_from for s in self.versions)


# Parsing ----------------------------------------------------------------------------------


class _Checker:
    """Collects errors while reading a parsed document."""

    def __init__(self) -> None:
        self.errors: list[FieldError] = []

    def error(self, path: str, code: str, message: str) -> None:
        self.errors.append({"field": path, "code": code, "message": message})

    def table(self, data: Mapping[str, Any], key: str, path: str) -> Mapping[str, Any] | None:
        value = data.get(key)
        if value is None:
            self.error(path, "required", "is required")
            return None
        if not isinstance(value, dict):
            self.error(path, "not_table", "must be a table")
            return None
        return value

    def unknown(self, data: Mapping[str, Any], allowed: Iterable[str], prefix: str) -> None:
        for key in sorted(set(data) - set(allowed)):
            self.error(_join(prefix, key), "unknown_field", "is not a field of a fee schedule")

    def amount(self, value: Any, path: str) -> Decimal | None:
        """A non-negative amount with at most two decimals, written as a string."""
        if value is None:
            self.error(path, "required", "is required")
            return None
        if isinstance(value, float):
            self.error(path, "amount_is_float", 'write amounts as strings, e.g. "425.00"')
            return None
        if not isinstance(value, str) or not _AMOUNT.match(value.strip()):
            self.error(path, "amount_not_decimal", 'must be a decimal amount as a string, e.g. "425.00"')  # fmt: skip
            return None
        amount = Decimal(value.strip())
        exponent = amount.as_tuple().exponent
        assert isinstance(exponent, int)
        if exponent < -2:
            self.error(path, "too_many_decimals", "must have at most two decimals (øre)")
            return None
        if amount < 0:
            self.error(path, "negative_amount", "must not be negative")
            return None
        return amount

    def integer(self, value: Any, path: str, minimum: int, maximum: int) -> int | None:
        if value is None:
            self.error(path, "required", "is required")
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            self.error(path, "not_integer", "must be a whole number")
            return None
        if not minimum <= value <= maximum:
            self.error(path, "out_of_range", f"must be between {minimum} and {maximum}")
            return None
        return int(value)

    def per_tier(self, value: Any, path: str) -> dict[int, Decimal] | None:
        """``{"1": amount, "2": amount, "3": amount}``: every tier, no other key."""
        if not isinstance(value, dict):
            self.error(path, "required" if value is None else "not_table", "must be a table of amounts by tier 1, 2, 3")  # fmt: skip
            return None
        found: dict[int, Decimal] = {}
        for key, raw in value.items():
            tier = _tier(key)
            if tier is None:
                self.error(_join(path, key), "unknown_tier", "tiers are 1, 2 and 3")
                continue
            amount = self.amount(raw, _join(path, key))
            if amount is not None:
                found[tier] = amount
        for tier in TIERS:
            if str(tier) not in value:
                self.error(_join(path, str(tier)), "missing_tier", "every tier must be priced")
        return found if len(found) == len(TIERS) else None


def _join(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key


def _tier(key: str) -> int | None:
    return int(key) if key in {str(t) for t in TIERS} else None


def _clock(ch: _Checker, value: Any, path: str, *, end: bool) -> int | None:
    if not isinstance(value, str) or not _CLOCK.match(value):
        ch.error(path, "not_time", 'must be a local time "HH:MM"')
        return None
    hours, minutes = int(value[:2]), int(value[3:])
    if hours == 24 and (minutes or not end):
        ch.error(path, "not_time", '"24:00" is allowed only as an end')
        return None
    return hours * 60 + minutes


def _band(ch: _Checker, raw: Any, path: str) -> Band | None:
    if not isinstance(raw, dict):
        ch.error(path, "not_table", "must be a table")
        return None
    ch.unknown(raw, ("name", "start", "end", "surcharge_percent", "surcharge_amount"), path)
    name = raw.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        ch.error(_join(path, "name"), "format", "must be a short lower-case name, e.g. night")
        name = None
    start = end = None
    if "start" in raw or "end" in raw:
        start = _clock(ch, raw.get("start"), _join(path, "start"), end=False)
        end = _clock(ch, raw.get("end"), _join(path, "end"), end=True)
        if start is not None and end is not None and start % MINUTES_PER_DAY == end % MINUTES_PER_DAY:  # fmt: skip
            ch.error(_join(path, "end"), "empty_band", "must differ from start")
            start = None
    has_percent, has_amount = "surcharge_percent" in raw, "surcharge_amount" in raw
    if has_percent == has_amount:
        ch.error(path, "one_surcharge", "give exactly one of surcharge_percent and surcharge_amount")  # fmt: skip
        return None
    key = "surcharge_percent" if has_percent else "surcharge_amount"
    value = ch.amount(raw[key], _join(path, key))
    if name is None or value is None or (("start" in raw or "end" in raw) and start is None):
        return None
    if has_percent:
        return Band(name, start, end, surcharge_percent=value)
    return Band(name, start, end, surcharge_amount=value)


def _coverage(ch: _Checker, bands: Sequence[tuple[int, Band]]) -> None:
    """Clock bands must cover every minute of the day exactly once."""
    clock = [(i, b) for i, b in bands if b.start is not None]
    if not clock:
        ch.error("bands", "bands_not_covering_day", "clock bands must cover the whole day")
        return
    owners: list[list[int]] = [[] for _ in range(MINUTES_PER_DAY)]
    for i, band in clock:
        for minute in range(MINUTES_PER_DAY):
            if band.covers(minute):
                owners[minute].append(i)
    reported: set[tuple[int, ...]] = set()
    for minute, who in enumerate(owners):
        if len(who) > 1 and tuple(who) not in reported:
            reported.add(tuple(who))
            names = " and ".join(bands[w][1].name for w in who)
            ch.error(f"bands[{who[-1]}]", "overlapping_bands",
                     f"{names} overlap at {minute // 60:02d}:{minute % 60:02d}")  # fmt: skip
    gaps = [m for m, who in enumerate(owners) if not who]
    if gaps:
        m = gaps[0]
        ch.error("bands", "bands_not_covering_day",
                 f"no clock band covers {m // 60:02d}:{m % 60:02d} ({len(gaps)} minutes uncovered)")  # fmt: skip


def _calendar(ch: _Checker, doc: Mapping[str, Any]) -> Calendar | None:
    raw_bands = doc.get("bands")
    if not isinstance(raw_bands, list) or not raw_bands:
        ch.error("bands", "required", "must be a non-empty array of tables ([[bands]])")
        return None
    bands = [(i, _band(ch, raw, f"bands[{i}]")) for i, raw in enumerate(raw_bands)]
    good = [(i, b) for i, b in bands if b is not None]
    names: list[str] = []
    for i, band in good:
        if band.name in names:
            ch.error(f"bands[{i}].name", "duplicate_band", f"{band.name} is named twice")
        names.append(band.name)
    if len(good) == len(bands):
        _coverage(ch, good)
    cal = ch.table(doc, "calendar", "calendar")
    if cal is None:
        return None
    ch.unknown(cal, ("weekend_band", "holiday_band", "extra_days"), "calendar")
    for key in ("weekend_band", "holiday_band"):
        if cal.get(key) not in names:
            ch.error(f"calendar.{key}", "unknown_band", "must name one of the bands")
    days, dates = _extra_days(ch, cal.get("extra_days", []))
    if len(good) != len(bands) or ch.errors:
        return None
    return Calendar(tuple(b for _, b in good), cal["weekend_band"], cal["holiday_band"],
                    days, dates)  # fmt: skip


def _extra_days(ch: _Checker, raw: Any) -> tuple[frozenset[tuple[int, int]], frozenset[dt.date]]:
    days: set[tuple[int, int]] = set()
    dates: set[dt.date] = set()
    if not isinstance(raw, list):
        ch.error("calendar.extra_days", "not_list", 'must be a list like ["12-24", "2026-06-05"]')
        return frozenset(), frozenset()
    for i, item in enumerate(raw):
        path = f"calendar.extra_days[{i}]"
        if isinstance(item, dt.date) and not isinstance(item, dt.datetime):
            dates.add(item)
            continue
        match = _MONTH_DAY.match(item) if isinstance(item, str) else None
        try:
            if match:
                dt.date(2024, int(match[1]), int(match[2]))  # a leap year: 02-29 is allowed
                days.add((int(match[1]), int(match[2])))
            elif isinstance(item, str):
                dates.add(dt.date.fromisoformat(item))
            else:
                raise ValueError
        except ValueError:
            ch.error(path, "bad_extra_day", 'must be "MM-DD" (every year) or a date YYYY-MM-DD')
    return frozenset(days), frozenset(dates)


def _contact(ch: _Checker, doc: Mapping[str, Any]) -> dict[tuple[int, str], Decimal]:
    found: dict[tuple[int, str], Decimal] = {}
    table = ch.table(doc, "contact", "contact")
    if table is None:
        return found
    for key, prices in table.items():
        tier = _tier(key)
        if tier is None:
            ch.error(f"contact.{key}", "unknown_tier", "tiers are 1, 2 and 3")
            continue
        if not isinstance(prices, dict):
            ch.error(f"contact.{key}", "not_table", "must be a table of amounts by channel")
            continue
        for channel, raw in prices.items():
            if channel not in CHANNELS:
                ch.error(f"contact.{key}.{channel}", "unknown_channel", "channels are video and audio")  # fmt: skip
                continue
            amount = ch.amount(raw, f"contact.{key}.{channel}")
            if amount is not None:
                found[(tier, channel)] = amount
        for channel in CHANNELS:
            if channel not in prices:
                ch.error(f"contact.{key}.{channel}", "required", "every channel must be priced")
    for tier in TIERS:
        if str(tier) not in table:
            ch.error(f"contact.{tier}", "missing_tier", "every tier must be priced")
    return found


def _supplement(ch: _Checker, doc: Mapping[str, Any]) -> Supplement | None:
    table = ch.table(doc, "supplement", "supplement")
    if table is None:
        return None
    ch.unknown(table, ("threshold_minutes", "interval_minutes", "amount"), "supplement")
    threshold = ch.integer(table.get("threshold_minutes"), "supplement.threshold_minutes", 0, 24 * 60)  # fmt: skip
    interval = ch.integer(table.get("interval_minutes"), "supplement.interval_minutes", 1, 24 * 60)  # fmt: skip
    amounts = ch.per_tier(table.get("amount"), "supplement.amount")
    if threshold is None or interval is None or amounts is None:
        return None
    return Supplement(threshold, interval, amounts)


_TOP = ("version", "effective_from", "currency", "description", "contact", "supplement", "bands",
        "calendar", "standby", "commitment")  # fmt: skip


def _header(ch: _Checker, doc: Mapping[str, Any]) -> None:
    version = doc.get("version")
    if not isinstance(version, str) or not _VERSION.match(version):
        ch.error("version", "format" if version is not None else "required",
                 "must be a label of letters, digits, '.', '_' or '-' (at most 64)")  # fmt: skip
    effective = doc.get("effective_from")
    if not isinstance(effective, dt.date) or isinstance(effective, dt.datetime):
        ch.error("effective_from", "not_date", "must be a TOML date, e.g. 2026-01-01 (no quotes)")  # fmt: skip
    if doc.get("currency") != CURRENCY:
        ch.error("currency", "currency_not_dkk", 'must be "DKK"')
    if not isinstance(doc.get("description", ""), str):
        ch.error("description", "not_string", "must be a string")


def parse_schedule(text: str) -> FeeSchedule:
    """The schedule in ``text`` (TOML), or ``ScheduleInvalid`` naming every problem."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScheduleInvalid([_syntax_error(exc, text)]) from None
    ch = _Checker()
    ch.unknown(doc, _TOP, "")
    _header(ch, doc)
    contact = _contact(ch, doc)
    supplement = _supplement(ch, doc)
    calendar = _calendar(ch, doc)
    standby = ch.table(doc, "standby", "standby")
    per_hour = band_surcharges = None
    if standby is not None:
        ch.unknown(standby, ("per_hour", "band_surcharges"), "standby")
        per_hour = ch.per_tier(standby.get("per_hour"), "standby.per_hour")
        band_surcharges = standby.get("band_surcharges", False)
        if not isinstance(band_surcharges, bool):
            ch.error("standby.band_surcharges", "not_boolean", "must be true or false")
    commitment = ch.table(doc, "commitment", "commitment")
    retainer = None
    if commitment is not None:
        ch.unknown(commitment, ("per_patient_month",), "commitment")
        retainer = ch.amount(commitment.get("per_patient_month"), "commitment.per_patient_month")
    if ch.errors:
        raise ScheduleInvalid(ch.errors)
    assert supplement is not None
    assert calendar is not None
    assert per_hour is not None
    assert retainer is not None
    assert isinstance(band_surcharges, bool)
    return FeeSchedule(
        version=doc["version"], effective_from=doc["effective_from"], currency=CURRENCY,
        contact=contact, supplement=supplement, calendar=calendar, standby_per_hour=per_hour,
        standby_band_surcharges=band_surcharges, commitment_per_patient_month=retainer,
        description=doc.get("description", ""),
    )  # fmt: skip


def _syntax_error(exc: tomllib.TOMLDecodeError, text: str) -> FieldError:
    """tomllib's message ends with "(at line L, column C)" or "(at end of document)"; keep
    the line as a field of its own."""
    message = str(exc)
    match = re.search(r"\(at (?:line (\d+), column \d+|end of document)\)", message)
    error: FieldError = {"field": "document", "code": "toml_syntax", "message": message}
    if match:
        error["line"] = int(match[1]) if match[1] else text.count("\n") + 1
        error["message"] = message[: match.start()].strip() or message
    return error
