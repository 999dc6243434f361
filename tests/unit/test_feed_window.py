"""Calendar feeds show whole shifts between local midnights, the same all day."""

from __future__ import annotations

import datetime as dt

from advice_line.views.calendar_api import AHEAD, PAST, FeedWindow
from rota.schedule import final_schedule
from tests.unit.rota.builders import TZ, cph, layer, rota, utc, window


def test_the_edges_are_local_midnights_and_the_same_all_day():
    morning = FeedWindow.around(utc(2026, 11, 23, 7, 9, 40))
    evening = FeedWindow.around(cph(2026, 11, 23, 23, 59))
    assert morning == evening
    assert morning.start == cph(2026, 11, 16, 0, 0)
    assert morning.end == cph(2027, 3, 24, 0, 0)  # the day after the 120th
    for edge in (morning.start, morning.end):
        assert edge.astimezone(TZ).time() == dt.time(0)
    assert morning.end - utc(2026, 11, 23, 7, 9, 40) > AHEAD
    assert utc(2026, 11, 23, 7, 9, 40) - morning.start >= PAST


def test_a_window_across_a_dst_change_still_ends_at_midnight():
    spring = FeedWindow.around(cph(2026, 12, 1, 12, 0))  # 120 days on is after 29 March 2027
    assert spring.end.astimezone(TZ).time() == dt.time(0)
    assert spring.end.astimezone(TZ).date() == dt.date(2027, 4, 1)  # 1 December + 121 days


def test_shifts_crossing_an_edge_are_shown_whole():
    now = utc(2026, 11, 23, 7, 9, 40)  # the hour at which day shifts were cut off
    feed = FeedWindow.around(now)
    days = rota(layer((1, 2), windows=[window("08:00", "16:00")]), id=1)
    nights = rota(layer((3,), handoff="22:00", windows=[window("22:00", "06:00")]), id=2)
    shown = [s for r in (days, nights) for s in final_schedule(r, *feed.span)
             if feed.shows(s.start, s.end)]  # fmt: skip
    assert {s.end - s.start for s in shown} == {dt.timedelta(hours=8)}
    last_night = max((s for s in shown if 3 in s.clinicians), key=lambda s: s.start)
    assert last_night.start < feed.end < last_night.end  # across the edge, and whole
    first_night = min((s for s in shown if 3 in s.clinicians), key=lambda s: s.start)
    assert first_night.start < feed.start < first_night.end
    assert all(feed.shows(s.start, s.end) for s in shown)
    assert not feed.shows(feed.end, feed.end + dt.timedelta(hours=8))
    assert not feed.shows(feed.start - dt.timedelta(hours=8), feed.start)
