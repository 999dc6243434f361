"""Subscribable calendar feeds of duty shifts, behind a per-user secret that can be rotated.

``/calendar/{token}/mine.ics`` is the user's own shifts; ``/calendar/{token}/{tier}.ics`` a
tier's final schedule with its coverage gaps. The token is the only credential (calendar
programs cannot log in), grants reading duty shifts only, and is replaced by rotating it.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from advice_line import audit, rota_store
from advice_line.appkeys import CATALOGUE, DB, SETTINGS
from advice_line.http import actor, current_session, json_response
from advice_line.openapi import api
from advice_line.problems import not_found
from advice_line.roles import TIER_NAMES
from advice_line.rota_exchange import clinician_stretches
from advice_line.rota_ical import CalendarEvent, build_calendar
from rota.model import DEFAULT_TIMEZONE
from rota.resolve import coverage_gaps
from rota.schedule import final_schedule

routes = web.RouteTableDef()

#: How far back and ahead a feed reaches (the issue asks for at least 90 days ahead).
PAST = dt.timedelta(days=7)
AHEAD = dt.timedelta(days=120)
#: Shifts are computed this far beyond the feed's edges, so one that crosses an edge (a night
#: shift, a 24-hour one) is shown whole rather than cut off.
MARGIN = dt.timedelta(days=2)


@dataclass(frozen=True)
class FeedWindow:
    """Which shifts a feed shows: those overlapping ``[start, end)``, whole (computed over
    ``[start - MARGIN, end + MARGIN)``). The edges are local midnights, so the feed reads the
    same all day: a calendar program refreshing it does not see its first and last shifts
    shrink and grow with the time of the request."""

    start: dt.datetime
    end: dt.datetime

    @classmethod
    def around(cls, now: dt.datetime) -> FeedWindow:
        zone = ZoneInfo(DEFAULT_TIMEZONE)
        today = now.astimezone(zone).date()
        midnight = dt.time(0)
        return cls(
            dt.datetime.combine(today - PAST, midnight, zone).astimezone(dt.UTC),
            dt.datetime.combine(today + AHEAD + dt.timedelta(days=1), midnight, zone).astimezone(
                dt.UTC
            ),
        )

    @property
    def span(self) -> tuple[dt.datetime, dt.datetime]:
        return self.start - MARGIN, self.end + MARGIN

    def shows(self, start: dt.datetime, end: dt.datetime) -> bool:
        return start < self.end and end > self.start


def _base(request: web.Request) -> str:
    public = request.app[SETTINGS].public_origin
    return public or f"{request.scheme}://{request.host}"


def _feeds(request: web.Request, token: str) -> dict[str, str]:
    base = f"{_base(request)}/calendar/{token}"
    return {"mine": f"{base}/mine.ics", **{tier: f"{base}/{tier}.ics" for tier in TIER_NAMES}}


@routes.get("/api/v1/calendar")
@api("The signed-in user's calendar feed links (empty until a token is made)", tag="rota")
async def calendar_links(request: web.Request) -> web.StreamResponse:
    user = current_session(request).user
    async with request.app[DB].acquire() as conn:
        token = await conn.fetchval("SELECT token FROM calendar_tokens WHERE user_id = $1", user.id)
    return json_response({"feeds": _feeds(request, token) if token else {}})


@routes.post("/api/v1/calendar/rotate")
@api("Make a new secret for one's calendar feeds; the old links stop working", tag="rota")
async def rotate_calendar_token(request: web.Request) -> web.StreamResponse:
    user = current_session(request).user
    token = secrets.token_urlsafe(32)
    async with request.app[DB].acquire() as conn, conn.transaction():
        await conn.execute(
            """INSERT INTO calendar_tokens (user_id, token) VALUES ($1, $2)
               ON CONFLICT (user_id) DO UPDATE SET token = $2, created_at = now()""",
            user.id, token,
        )  # fmt: skip
        await audit.record(conn, actor(request), "calendar.rotate", "user", user.id, "security")
    return json_response({"feeds": _feeds(request, token)})


async def _owner(request: web.Request) -> dict[str, Any]:
    token = request.match_info["token"]
    if len(token) > 100:
        raise not_found("calendar")
    async with request.app[DB].acquire() as conn:
        row = await conn.fetchrow(
            """SELECT u.id, u.language FROM calendar_tokens c JOIN users u ON u.id = c.user_id
                WHERE c.token = $1 AND u.disabled_at IS NULL""",
            token,
        )
    if row is None:
        raise not_found("calendar")
    return dict(row)


def _ics(body: bytes) -> web.Response:
    return web.Response(
        body=body, content_type="text/calendar", charset="utf-8",
        headers={"Cache-Control": "private, max-age=300"},
    )  # fmt: skip


@routes.get("/calendar/{token}/mine.ics")
async def own_feed(request: web.Request) -> web.StreamResponse:
    """The owner's own shifts, all rotas, a week back and 120 days ahead."""
    owner = await _owner(request)
    now = dt.datetime.now(dt.UTC)
    window = FeedWindow.around(now)
    t = request.app[CATALOGUE].translate
    async with request.app[DB].acquire() as conn:
        rotas = await rota_store.load_rotas(conn)
    events = []
    for rota in rotas:
        schedule = final_schedule(rota, *window.span)
        stretches = clinician_stretches(schedule).get(owner["id"], [])
        summary = t(owner["language"], "calendar.own_shift", rota=rota.name)
        events += [CalendarEvent(s, e, summary, frozenset({owner["id"]}))
                   for s, e in stretches if window.shows(s, e)]  # fmt: skip
    name = t(owner["language"], "calendar.own_name")
    return _ics(build_calendar(name, f"user-{owner['id']}", events, now))


@routes.get("/calendar/{token}/{tier}.ics")
async def tier_feed(request: web.Request) -> web.StreamResponse:
    """A tier's final schedule (who, per rota) and its coverage gaps."""
    owner = await _owner(request)
    tier = request.match_info["tier"]
    if tier not in TIER_NAMES:
        raise not_found("calendar")
    now = dt.datetime.now(dt.UTC)
    window = FeedWindow.around(now)
    language = owner["language"]
    t = request.app[CATALOGUE].translate
    async with request.app[DB].acquire() as conn:
        rotas = await rota_store.load_rotas(conn, tier=tier)
        schedules = [(r, final_schedule(r, *window.span)) for r in rotas]
        ids = {c for _, shifts in schedules for s in shifts for c in s.clinicians}
        names = await rota_store.clinician_names(conn, ids)
    events = [
        CalendarEvent(
            shift.start,
            shift.end,
            f"{', '.join(sorted(names.get(c, '?') for c in shift.clinicians))} ({rota.name})",
            shift.clinicians,
        )
        for rota, shifts in schedules
        for shift in shifts
        if window.shows(shift.start, shift.end)
    ]
    events += [
        CalendarEvent(gap.start, gap.end, t(language, "calendar.gap"), frozenset(), gap=True)
        for gap in coverage_gaps(rotas, tier, window.start, window.end)
    ]
    name = t(language, "calendar.tier_name", tier=t(language, f"tier.{tier}"))
    return _ics(build_calendar(name, f"tier-{tier}", sorted(events, key=lambda e: e.start), now))
