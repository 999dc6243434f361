"""Wall-clock times and instants: THE DST RULE of the rota core.

Coordinators think in local wall-clock times ("handoff at 08:00", "nights 22:00-07:00"); the
core works in UTC instants. ``to_instant`` is the only way a wall-clock time becomes an
instant, so every layer boundary and every window edge obeys one rule:

* A wall-clock time that does not exist (spring forward: in Europe/Copenhagen on the last
  Sunday of March the clocks jump from 02:00 CET to 03:00 CEST) resolves to the instant the
  clocks jump. 02:30 on 29 March 2026 is 03:00 CEST = 01:00 UTC, and so is 02:00.
* A wall-clock time that occurs twice (fall back: on the last Sunday of October 02:00-03:00
  happens first in CEST, then again in CET) resolves to its FIRST occurrence, in summer
  time. 02:30 on 25 October 2026 is 02:30 CEST = 00:30 UTC.

The map is monotonic non-decreasing in the wall-clock time. Shifts are built from
consecutive boundaries ``[to_instant(b_k), to_instant(b_k+1))``, so they can never overlap
and never leave a gap the rota does not contain; a shift whose two boundaries resolve to the
same instant (a one-hour shift at 02:00 on the spring day) is empty and is dropped. A night
shift 22:00-07:00 therefore lasts 8 hours on the spring night and 10 hours on the autumn one.
See docs/rota-rules.md for the worked examples.
"""

from __future__ import annotations

import datetime as dt
import functools
from zoneinfo import ZoneInfo

from .errors import NaiveDatetime

UTC = dt.UTC
_TICK = dt.timedelta(microseconds=1)


def to_instant(local: dt.datetime, tz: ZoneInfo) -> dt.datetime:
    """The UTC instant of the naive wall-clock time ``local`` in ``tz``, by the DST rule."""
    if local.tzinfo is not None:
        raise ValueError(f"to_instant takes a naive wall-clock time, not {local.isoformat()}")
    return _to_instant(local.replace(fold=0) if local.fold else local, tz)


# A rota's boundaries repeat (the same handoff for several layers and windows, the same
# year asked again), and the map is a pure function of its arguments: memoise it.
@functools.lru_cache(maxsize=1 << 15)
def _to_instant(local: dt.datetime, tz: ZoneInfo) -> dt.datetime:
    first = tz.utcoffset(local)
    second = tz.utcoffset(local.replace(fold=1))
    assert first is not None
    assert second is not None
    if second > first:
        # Only a gap has a later offset for fold=1 (PEP 495): the time does not exist.
        return _jump_instant(local, first, second, tz)
    # Unique times have one offset; repeated ones take fold=0, the first occurrence.
    return (local - first).replace(tzinfo=UTC)


def _jump_instant(
    local: dt.datetime, before: dt.timedelta, after: dt.timedelta, tz: ZoneInfo
) -> dt.datetime:
    """The instant of the transition that skipped ``local``, found by bisection."""
    # Read as UTC: ``low`` is before the transition (offset ``before``), ``high`` after it.
    low, high = local - after, local - before
    while high - low > _TICK:
        middle = low + (high - low) // 2
        if _offset_at(middle, tz) == after:
            high = middle
        else:
            low = middle
    return high.replace(tzinfo=UTC)


def _offset_at(naive_utc: dt.datetime, tz: ZoneInfo) -> dt.timedelta | None:
    return tz.fromutc(naive_utc.replace(tzinfo=tz)).utcoffset()


def to_local(instant: dt.datetime, tz: ZoneInfo) -> dt.datetime:
    """The naive wall-clock time shown in ``tz`` at ``instant`` (an aware datetime)."""
    return as_utc(instant).astimezone(tz).replace(tzinfo=None, fold=0)


def as_utc(instant: dt.datetime, what: str = "instant") -> dt.datetime:
    """``instant`` normalised to UTC; a naive datetime is refused with ``NaiveDatetime``."""
    if instant.tzinfo is UTC:
        return instant
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise NaiveDatetime(f"{what} {instant.isoformat()} has no time zone")
    return instant.astimezone(UTC)
