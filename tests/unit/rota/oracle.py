"""A slow, independent statement of the rota rules, to check the real code against.

It never calls ``to_instant``: it reads the rules off the local wall clock. A boundary at
wall-clock time b has happened at instant t when the clock has shown b or later at some
instant up to t, i.e. when the RUNNING MAXIMUM of the wall clock up to t is >= b. That is
the DST rule: a skipped time happens when the clocks jump past it, and a repeated time
happens at its first occurrence (in the second pass the running maximum is still 02:59).
It assumes every wall-clock time in a rule is a whole minute and that the clocks never go
back more than an hour (true of Europe/Copenhagen).
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from rota.model import Layer, Override, OverrideKind, Rota, Unit, Window

from .builders import MINUTE

_STEP = {
    Unit.HOURS: dt.timedelta(hours=1),
    Unit.DAYS: dt.timedelta(days=1),
    Unit.WEEKS: dt.timedelta(weeks=1),
}


def wall(at: dt.datetime, tz: ZoneInfo) -> dt.datetime:
    return at.astimezone(tz).replace(tzinfo=None, fold=0)


def running_max_wall(at: dt.datetime, tz: ZoneInfo) -> dt.datetime:
    """The latest wall-clock time shown up to ``at`` (to the minute, which is enough here)."""
    return max(wall(at - j * MINUTE, tz) for j in range(62))


def in_window(clock: dt.datetime, window: Window) -> bool:
    for day in (clock.date(), clock.date() - dt.timedelta(days=1)):
        if day.weekday() not in window.days:
            continue
        opens = dt.datetime.combine(day, window.start)
        closes_on = day + dt.timedelta(days=1) if window.end <= window.start else day
        if opens <= clock < dt.datetime.combine(closes_on, window.end):
            return True
    return False


def layer_owner(
    layer: Layer, tz: ZoneInfo, at: dt.datetime, clock: dt.datetime | None = None
) -> int | None:
    """Who the layer has on duty at ``at`` by the rules (``clock``: running max wall)."""
    clock = running_max_wall(at, tz) if clock is None else clock
    first = dt.datetime.combine(layer.start_date, layer.handoff)
    if clock < first:
        return None
    if layer.windows and not any(in_window(clock, w) for w in layer.windows):
        return None
    k = (clock - first) // (layer.shift_length * _STEP[layer.unit])
    return layer.participants[k % len(layer.participants)]


def overridden(who: frozenset[int], override: Override) -> frozenset[int]:
    if override.kind == OverrideKind.ADD:
        return who | {override.clinician}
    if override.replaces is None:
        return frozenset({override.clinician})
    if override.replaces not in who:
        return who
    return (who - {override.replaces}) | {override.clinician}


def rota_on_duty(rota: Rota, at: dt.datetime, clock: dt.datetime | None = None) -> frozenset[int]:
    """Who the rota has on duty at ``at``: top covering layer, then swaps, then overrides."""
    tz = ZoneInfo(rota.timezone)
    clock = running_max_wall(at, tz) if clock is None else clock
    who: frozenset[int] = frozenset()
    for layer in reversed(rota.layers):
        owner = layer_owner(layer, tz, at, clock)
        if owner is not None:
            who = frozenset({owner})
            break
    changes = [o for s in sorted(rota.swaps, key=lambda s: s.id) for o in s.as_overrides()]
    changes += sorted(rota.overrides, key=lambda o: o.id)
    for override in changes:
        if override.start <= at < override.end:
            who = overridden(who, override)
    return who
