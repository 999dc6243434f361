"""Retention policy: how long each kind of record is kept, and which records may go now.

Pure: no I/O and no clock of its own (``now`` is a parameter). A period is a whole number of
years or days. A record "may go" when its date (its last entry) is strictly before the
kind's **cutoff**, and the cutoff is always on the safe side:

* by the calendar in Europe/Copenhagen: the same wall time ``n`` years (or days) before
  ``now``; a 29 February that does not exist that year becomes 28 February, and a wall time
  that happens twice (the autumn night) or not at all (the spring night) is read as the
  **earliest** instant it could mean;
* and never later than the exact duration (``n`` x 365 days, or ``n`` x 24 hours) before
  ``now``.

So nothing is selected before its period has run by the calendar *and* by the stopwatch.
Each kind also has a legal floor: a period below it is refused (``PeriodTooShort``).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum
from zoneinfo import ZoneInfo

ZONE = ZoneInfo("Europe/Copenhagen")
UTC = dt.UTC


class Unit(Enum):
    YEARS = "years"
    DAYS = "days"


_PERIOD = re.compile(r"^\s*(\d{1,4})\s*(y|years?|d|days?)\s*$", re.IGNORECASE)


@dataclass(frozen=True, order=True)
class Period:
    """A retention period: ``count`` whole years or days."""

    count: int
    unit: Unit

    def __post_init__(self) -> None:
        assert self.count >= 1, "a retention period is at least one day or year"

    @classmethod
    def parse(cls, text: str) -> Period:
        """``"10y"``, ``"10 years"``, ``"90d"``, ``"90 days"``; ``ValueError`` otherwise."""
        match = _PERIOD.match(text) if isinstance(text, str) else None
        if not match or int(match[1]) < 1:
            raise ValueError("must be a whole number of years or days, e.g. 10y or 90d")
        unit = Unit.YEARS if match[2].lower().startswith("y") else Unit.DAYS
        return cls(int(match[1]), unit)

    def __str__(self) -> str:
        return f"{self.count}{'y' if self.unit is Unit.YEARS else 'd'}"

    @property
    def exact(self) -> dt.timedelta:
        """The shortest the period can last: 365 days a year, 24 hours a day."""
        return dt.timedelta(days=self.count * (365 if self.unit is Unit.YEARS else 1))

    def at_least(self, other: Period) -> bool:
        """Whether this period is never shorter than ``other``: in days against years, a
        year counts 366 days (so "3650d" is not ten years), in years against days 365."""
        if self.unit is other.unit:
            return self.count >= other.count
        if self.unit is Unit.DAYS:
            return self.count >= other.count * 366
        return self.count * 365 >= other.count

    def back_from(self, day: dt.date) -> dt.date:
        """The calendar date this period before ``day`` (29 February -> 28 February)."""
        if self.unit is Unit.DAYS:
            return day - dt.timedelta(days=self.count)
        year = day.year - self.count
        if day.month == 2 and day.day == 29 and not _leap(year):
            return dt.date(year, 2, 28)
        return day.replace(year=year)


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


class Kind(Enum):
    """The kinds of record retention deletes, in the order a run deletes them (a patient
    goes last, once nothing refers to it any more)."""

    EPISODES = "episodes"
    COURSE_OUTCOMES = "course_outcomes"
    GP_COMMITMENTS = "gp_commitments"
    AUDIT = "audit"
    SESSIONS = "sessions"
    PUSH_SUBSCRIPTIONS = "push_subscriptions"
    ROTA_OVERRIDES = "rota_overrides"
    ROTA_SWAPS = "rota_swaps"
    PATIENTS = "patients"


#: Which setting governs each kind (several kinds of patient record share one period).
SETTING_OF: Mapping[Kind, str] = {
    Kind.EPISODES: "patient_records",
    Kind.COURSE_OUTCOMES: "patient_records",
    Kind.GP_COMMITMENTS: "patient_records",
    Kind.PATIENTS: "patient_records",
    Kind.AUDIT: "audit",
    Kind.SESSIONS: "sessions",
    Kind.PUSH_SUBSCRIPTIONS: "push_subscriptions",
    Kind.ROTA_OVERRIDES: "rota_changes",
    Kind.ROTA_SWAPS: "rota_changes",
}

#: The defaults (docs/retention.md says where each comes from; confirm them with the data
#: controller) and the floors below which a setting is refused.
DEFAULTS: Mapping[str, Period] = {
    "patient_records": Period(10, Unit.YEARS),
    "audit": Period(5, Unit.YEARS),
    "sessions": Period(90, Unit.DAYS),
    "push_subscriptions": Period(180, Unit.DAYS),
    "rota_changes": Period(6, Unit.YEARS),
}
FLOORS: Mapping[str, Period] = {
    "patient_records": Period(10, Unit.YEARS),
    "audit": Period(2, Unit.YEARS),
    "sessions": Period(30, Unit.DAYS),
    "push_subscriptions": Period(30, Unit.DAYS),
    "rota_changes": Period(6, Unit.YEARS),
}


class PeriodTooShort(ValueError):
    """A retention period below the kind's floor."""


def check_period(setting: str, period: Period) -> Period:
    """``period`` if it is at or above the floor of ``setting``; ``PeriodTooShort`` if not."""
    floor = FLOORS[setting]
    if not period.at_least(floor):
        raise PeriodTooShort(f"must be at least {floor}, the legal floor")
    return period


@dataclass(frozen=True)
class Policy:
    """The retention period of every setting (each checked against its floor)."""

    periods: Mapping[str, Period]

    def __post_init__(self) -> None:
        assert set(self.periods) == set(DEFAULTS), sorted(self.periods)
        for setting, period in self.periods.items():
            check_period(setting, period)

    @classmethod
    def default(cls) -> Policy:
        return cls(dict(DEFAULTS))

    def period(self, kind: Kind) -> Period:
        return self.periods[SETTING_OF[kind]]

    def cutoff(self, kind: Kind, now: dt.datetime) -> dt.datetime:
        """Records of ``kind`` dated strictly before this instant may go at ``now``."""
        return cutoff(self.period(kind), now)


def cutoff(period: Period, now: dt.datetime) -> dt.datetime:
    """The instant ``period`` before ``now``: the earliest reading of the calendar answer in
    Europe/Copenhagen, and never later than the exact duration before ``now``."""
    assert now.tzinfo is not None, "now must be aware"
    wall = now.astimezone(ZONE)
    day = period.back_from(wall.date())
    naive = dt.datetime.combine(day, wall.time().replace(tzinfo=None, fold=0))
    readings = [naive.replace(tzinfo=ZONE, fold=fold).astimezone(UTC) for fold in (0, 1)]
    return min(*readings, (now - period.exact).astimezone(UTC))


@dataclass(frozen=True)
class Candidate:
    """A record that might go: its id (a session's is its token hash) and its date (its
    last entry, or when it ended)."""

    id: int | str
    dated: dt.datetime


def may_go(policy: Policy, kind: Kind, now: dt.datetime, candidate: Candidate) -> bool:
    """Whether ``candidate`` of ``kind`` is past its retention period at ``now``."""
    return candidate.dated < policy.cutoff(kind, now)


def select(
    policy: Policy, kind: Kind, now: dt.datetime, candidates: Iterable[Candidate]
) -> tuple[int | str, ...]:
    """The ids of the candidates that may go, in the order given."""
    limit = policy.cutoff(kind, now)
    return tuple(c.id for c in candidates if c.dated < limit)
