"""Which time band an instant falls in, by the local clock in Europe/Copenhagen.

The band of an instant is read off the wall clock there and then: on a Danish public
holiday (the maintained ``holidays`` library, country DK) or one of the schedule's extra
days, the holiday band all day; on a Saturday or Sunday, the weekend band all day;
otherwise the clock band covering the local time. So a call answered at 02:30 CEST and one
answered at 02:30 CET on the autumn night both fall in the band covering 02:30.

``boundaries`` finds every instant in an interval where the band may change, so an interval
can be split into pieces of one band each (standby pay): local midnights, band edges (both
occurrences of a repeated wall time) and the clock changes themselves.
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
from zoneinfo import ZoneInfo

import holidays

from .schedule import Band, Calendar

ZONE = ZoneInfo("Europe/Copenhagen")
UTC = dt.UTC
_MINUTE = dt.timedelta(minutes=1)


@functools.lru_cache(maxsize=64)
def public_holidays(year: int) -> frozenset[dt.date]:
    """Danish public holidays (helligdage) of ``year``."""
    return frozenset(holidays.country_holidays("DK", years=year))


def day_kind(calendar: Calendar, day: dt.date) -> str:
    """ "holiday", "weekend" or "weekday" for a local date."""
    if (
        day in public_holidays(day.year)
        or (day.month, day.day) in calendar.extra_days
        or day in calendar.extra_dates
    ):
        return "holiday"
    return "weekend" if day.weekday() >= 5 else "weekday"


def local(instant: dt.datetime) -> dt.datetime:
    """The wall-clock time of an aware instant in Europe/Copenhagen."""
    assert instant.tzinfo is not None, "instants must be aware"
    return instant.astimezone(ZONE)


def band_at(calendar: Calendar, instant: dt.datetime) -> Band:
    """The band in force at ``instant``."""
    wall = local(instant)
    kind = day_kind(calendar, wall.date())
    if kind == "holiday":
        return calendar.band(calendar.holiday_band)
    if kind == "weekend":
        return calendar.band(calendar.weekend_band)
    minute = wall.hour * 60 + wall.minute
    for band in calendar.clock_bands:
        if band.covers(minute):
            return band
    raise AssertionError(f"no clock band covers {minute}: the schedule was not validated")


def _offset(instant: dt.datetime) -> dt.timedelta:
    offset = instant.astimezone(ZONE).utcoffset()
    assert offset is not None
    return offset


def clock_changes(start: dt.datetime, end: dt.datetime) -> list[dt.datetime]:
    """The instants in ``(start, end)`` where the UTC offset of Europe/Copenhagen changes,
    to the minute (checked hourly, then bisected)."""
    found = []
    probe = start
    while probe < end:
        nxt = min(probe + dt.timedelta(hours=1), end)
        if _offset(probe) != _offset(nxt):
            low, high = probe, nxt  # offset(low) differs from offset(high)
            while high - low > _MINUTE:
                mid = low + (high - low) / 2
                mid = mid - dt.timedelta(seconds=mid.second, microseconds=mid.microsecond)
                if mid <= low:
                    break
                if _offset(mid) == _offset(low):
                    low = mid
                else:
                    high = mid
            if start < high < end:
                found.append(high)
        probe = nxt
    return found


def _wall_instants(day: dt.date, minute: int) -> set[dt.datetime]:
    """Every instant that shows ``minute`` past midnight of ``day`` (two on a repeated hour,
    none that is real in a skipped one: those are caught by ``clock_changes``)."""
    naive = dt.datetime.combine(day, dt.time()) + dt.timedelta(minutes=minute)
    found = set()
    for fold in (0, 1):
        candidate = naive.replace(tzinfo=ZONE, fold=fold).astimezone(UTC)
        if candidate.astimezone(ZONE).replace(tzinfo=None) == naive:
            found.add(candidate)
    return found


def boundaries(calendar: Calendar, start: dt.datetime, end: dt.datetime) -> list[dt.datetime]:
    """Sorted instants in ``(start, end)`` where the band may change; the band is constant
    between consecutive ones (and ``start``, ``end``)."""
    if start >= end:
        return []
    edges = {0} | {b.start for b in calendar.clock_bands if b.start is not None}
    found: set[dt.datetime] = set(clock_changes(start, end))
    day = local(start).date() - dt.timedelta(days=1)
    last = local(end).date() + dt.timedelta(days=1)
    while day <= last:
        for minute in edges:
            found.update(_wall_instants(day, minute))
        day += dt.timedelta(days=1)
    return sorted(i for i in found if start < i < end)


def pieces(
    calendar: Calendar, start: dt.datetime, end: dt.datetime
) -> list[tuple[dt.datetime, dt.datetime, Band]]:
    """``[start, end)`` cut where the band changes, each piece with its band (merged where
    consecutive pieces have the same band)."""
    cuts = [start, *boundaries(calendar, start, end), end]
    found: list[tuple[dt.datetime, dt.datetime, Band]] = []
    for a, b in itertools.pairwise(cuts):
        band = band_at(calendar, a)
        if found and found[-1][2] == band and found[-1][1] == a:
            found[-1] = (found[-1][0], b, band)
        else:
            found.append((a, b, band))
    return found
