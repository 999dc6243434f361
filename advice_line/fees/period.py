"""A calendar month in Danish local time, the period of a statement."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from .bands import ZONE

_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
UTC = dt.UTC


@dataclass(frozen=True, order=True)
class Month:
    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> Month:
        """``YYYY-MM``; ``ValueError`` otherwise."""
        match = _MONTH.match(text.strip()) if isinstance(text, str) else None
        if not match or not 2000 <= int(match[1]) <= 2999:
            raise ValueError("must be a month YYYY-MM")
        return cls(int(match[1]), int(match[2]))

    @classmethod
    def of(cls, day: dt.date) -> Month:
        return cls(day.year, day.month)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def first_day(self) -> dt.date:
        return dt.date(self.year, self.month, 1)

    @property
    def next(self) -> Month:
        return Month(self.year + self.month // 12, self.month % 12 + 1)

    @property
    def last_day(self) -> dt.date:
        return self.next.first_day - dt.timedelta(days=1)

    @property
    def start(self) -> dt.datetime:
        """Local midnight at the start of the month, as a UTC instant."""
        return midnight(self.first_day)

    @property
    def end(self) -> dt.datetime:
        """Local midnight at the start of the next month, as a UTC instant."""
        return midnight(self.next.first_day)

    def contains(self, instant: dt.datetime) -> bool:
        return self.start <= instant < self.end


def midnight(day: dt.date) -> dt.datetime:
    """Local midnight starting ``day`` as a UTC instant (midnight exists in Copenhagen every
    day: the clocks change at 02:00 and 03:00)."""
    return dt.datetime.combine(day, dt.time(), tzinfo=ZONE).astimezone(UTC)
