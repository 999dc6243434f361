"""Duty shifts as iCalendar (RFC 5545) feeds that Outlook, Google and Apple can subscribe to.

Built with the maintained ``icalendar`` library. Each event carries the clinicians' ids in
``X-ADVICE-LINE-CLINICIANS`` so a feed can be read back (``read_calendar``) exactly.
Times are written in UTC; calendar programs show them in the reader's own zone.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from icalendar import Calendar, Event

PRODID = "-//Advice line//Duty rotas//DA"
CLINICIANS_PROPERTY = "X-ADVICE-LINE-CLINICIANS"
GAP_PROPERTY = "X-ADVICE-LINE-GAP"


@dataclass(frozen=True)
class CalendarEvent:
    start: dt.datetime
    end: dt.datetime
    summary: str
    clinicians: frozenset[int]
    gap: bool = False


def _uid(feed: str, event: CalendarEvent) -> str:
    key = f"{feed}|{event.start.isoformat()}|{event.end.isoformat()}|{sorted(event.clinicians)}|{event.gap}"
    return hashlib.sha256(key.encode()).hexdigest()[:32] + "@advice-line"


def build_calendar(
    name: str, feed: str, events: Iterable[CalendarEvent], stamp: dt.datetime
) -> bytes:
    """An iCalendar document of ``events``; ``stamp`` is when it was made (DTSTAMP)."""
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", name)
    calendar.add("refresh-interval", dt.timedelta(hours=1), parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", "PT1H")
    for event in events:
        item = Event()
        item.add("uid", _uid(feed, event))
        item.add("dtstamp", stamp.astimezone(dt.UTC))
        item.add("dtstart", event.start.astimezone(dt.UTC))
        item.add("dtend", event.end.astimezone(dt.UTC))
        item.add("summary", event.summary)
        item.add("transp", "TRANSPARENT" if event.gap else "OPAQUE")
        item.add(CLINICIANS_PROPERTY, ",".join(str(c) for c in sorted(event.clinicians)))
        if event.gap:
            item.add(GAP_PROPERTY, "TRUE")
        calendar.add_component(item)
    return bytes(calendar.to_ical())


def read_calendar(data: bytes) -> list[CalendarEvent]:
    """The events of a feed made by :func:`build_calendar`, in order of start."""
    calendar = Calendar.from_ical(data)
    found = []
    for item in calendar.walk("VEVENT"):
        raw = str(item.get(CLINICIANS_PROPERTY, ""))
        found.append(
            CalendarEvent(
                start=item.decoded("dtstart").astimezone(dt.UTC),
                end=item.decoded("dtend").astimezone(dt.UTC),
                summary=str(item.get("summary", "")),
                clinicians=frozenset(int(c) for c in raw.split(",") if c),
                gap=str(item.get(GAP_PROPERTY, "")) == "TRUE",
            )
        )
    return sorted(found, key=lambda e: (e.start, e.end))
