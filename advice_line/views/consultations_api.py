"""REST for consultations (a nurse asks, advisors accept, decline, escalate, end) and presence."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from advice_line import audit, consultations, rota_store
from advice_line.appkeys import DB, METRICS, OUTAGE, OUTAGE_WATCH, PRESENCE, ROUTING
from advice_line.board import advisor_status
from advice_line.db import DATABASE_AWAY
from advice_line.http import (
    actor,
    current_session,
    int_param,
    json_response,
    read_json,
    require_role,
)
from advice_line.openapi import api
from advice_line.outage import reading as outage_reading
from advice_line.outage.router import Moved
from advice_line.outage.router import unavailable as outage_unavailable
from advice_line.problems import Problem, forbidden, not_found
from advice_line.roles import Role
from advice_line.rota_exchange import clinician_stretches
from advice_line.sessions import SessionUser
from advice_line.situation import OPEN_STATES
from advice_line.validation import Field
from escalation import model as m
from rota.schedule import final_schedule

routes = web.RouteTableDef()

ISBAR_SCHEMA = {
    "situation": Field("str", required=True, min_length=1, max_length=2000),
    "background": Field("str", max_length=2000),
    "assessment": Field("str", max_length=2000),
    "request": Field("str", max_length=2000),
}
REQUEST_SCHEMA = {
    "patient_id": Field("int", required=True, minimum=1),
    "channel": Field("enum", required=True, choices=("video", "audio")),
    "urgency": Field("enum", required=True, choices=("acute", "urgent", "routine")),
    "isbar": Field("object", required=True, schema=ISBAR_SCHEMA),
}
ESCALATE_SCHEMA = {"note": Field("str", required=True, min_length=1, max_length=2000)}
PRESENCE_SCHEMA = {"status": Field("enum", required=True, choices=("available", "away"))}

_ERRORS: dict[type[Exception], tuple[int, str, str]] = {
    m.NotOffered: (409, "not-offered", "This call is not (or no longer) offered to you"),
    m.NotParticipant: (403, "not-participant", "You are not taking part in this call"),
    m.NoHigherTier: (409, "no-higher-tier", "There is no higher tier to escalate to"),
    m.IllegalTransition: (409, "illegal-transition", "Not possible in the call's present state"),
}


def _problem(exc: m.EscalationError) -> Problem:
    for kind, (status, name, title) in _ERRORS.items():
        if isinstance(exc, kind):
            return Problem(status, name, title, str(exc))
    return Problem(409, "conflict", "Conflict", str(exc))


@dataclass(frozen=True)
class Found:
    """A consultation as the database has it (``row``), or as Redis holds it since it was
    asked for during a database outage (``record``, with ``row`` its columns)."""

    row: dict[str, Any]
    record: dict[str, Any] | None = None


def _database_down(request: web.Request) -> bool:
    watch = request.app.get(OUTAGE_WATCH)
    return watch is not None and watch.down


async def _find(request: web.Request, consultation_id: int) -> Found:
    """The database's row; a consultation it does not have (yet) may be held from an outage."""
    if not _database_down(request):
        try:
            async with request.app[DB].acquire() as conn:
                return Found(await consultations.row(conn, consultation_id))
        except Problem:
            pass  # not in the database: perhaps asked for during an outage
        except DATABASE_AWAY:
            request.app[OUTAGE_WATCH].note_failure()
    record = await request.app[OUTAGE].store.get(consultation_id)
    if record is not None:
        return Found(outage_reading.row_of(record), record)
    if _database_down(request):
        raise outage_unavailable()
    raise not_found(f"consultation {consultation_id}")


async def _visible(request: web.Request, consultation_id: int) -> tuple[SessionUser, Found]:
    """The caller and the consultation, if they may see it (404 otherwise: ids cannot be probed)."""
    user = current_session(request).user
    found = await _find(request, consultation_id)
    # The timeline is asked only when the live state does not already answer.
    visible = consultations.may_see(user, found.row, ever_offered=False)
    if not visible and user.role == Role.ADVISOR:
        if found.record is not None:
            visible = outage_reading.ever_offered(found.record, user.id)
        else:
            async with request.app[DB].acquire() as conn:
                visible = await consultations.ever_offered(conn, consultation_id, user.id)
    if not visible:
        raise not_found(f"consultation {consultation_id}")
    return user, found


async def _held_view(
    request: web.Request, record: dict[str, Any], *, with_timeline: bool
) -> dict[str, Any]:
    router = request.app[OUTAGE]
    position = None
    if record["machine"]["state"] in outage_reading.WAITING:
        position = outage_reading.queue_position(record, await router.store.open())
    return outage_reading.view_of(
        record, router.directory, with_timeline=with_timeline,
        fallback=request.app[ROUTING].fallback, position=position,
    )  # fmt: skip


async def _view(
    request: web.Request, row: dict[str, Any], *, with_timeline: bool
) -> dict[str, Any]:
    async with request.app[DB].acquire() as conn:  # the care-plan read audits itself
        view: dict[str, Any] = {
            "id": row["id"], "state": row["state"],
            "tier": consultations.TIER_NAMES_BY_NUMBER.get(row["tier"]),
            "channel": row["channel"], "urgency": row["urgency"], "patient_id": row["patient_id"],
            "nurse_id": row["nurse_id"], "offered": list(row["offered"]),
            "participants": list(row["participants"]),
            "created_at": row["created_at"], "version": row["version"],
            "queue_position": await consultations.queue_position(conn, row),
        }  # fmt: skip
        if row["state"] == "queued":
            view["fallback"] = request.app[ROUTING].fallback
        view.update(await request.app[ROUTING].names.people(
            conn, row["nurse_id"], list(row["participants"])
        ))  # fmt: skip
        if with_timeline:
            # The clinical part (ISBAR, care plan) only in the single view, which is audited.
            view["isbar"] = row["isbar"]
            view["timeline"] = await consultations.timeline(conn, row["id"])
            view["care_plan"] = await consultations.care_plan(
                conn, row["patient_id"], actor(request), f"consultation {row['id']}"
            )
    return view


@routes.post("/api/v1/consultations")
@api("Ask for advice: opens a consultation and routes it to the first tier", tag="consultations",
     request=REQUEST_SCHEMA, responses={201: "Created and routed", 404: "No such patient of yours"})  # fmt: skip
async def request_advice(request: web.Request) -> web.StreamResponse:
    nurse = require_role(request, Role.NURSE)
    body = await read_json(request, REQUEST_SCHEMA)
    if not _database_down(request):
        try:
            row = await request.app[ROUTING].open(nurse, actor(request), body)
        except DATABASE_AWAY:
            request.app[OUTAGE_WATCH].note_failure()
        else:
            try:
                view = await _view(request, row, with_timeline=True)
            except DATABASE_AWAY:  # stored and routed; only the reading back failed
                view = {"id": row["id"]}
            return json_response({"consultation": view}, status=201)
    # The database is away: route the call without it (docs/operations.md, "PostgreSQL outage").
    record = await request.app[OUTAGE].open(nurse, actor(request), body)
    request.app[METRICS].outage_requests.inc()
    return json_response(
        {"consultation": await _held_view(request, record, with_timeline=True)}, status=201
    )


@routes.get("/api/v1/consultations")
@api("Open consultations that concern me: my requests, calls offered to me or that I am in",
     tag="consultations")  # fmt: skip
async def list_mine(request: web.Request) -> web.StreamResponse:
    user = current_session(request).user
    held = [r for r in await request.app[OUTAGE].store.open()
            if r["machine"]["state"] in OPEN_STATES
            and consultations.may_see(user, outage_reading.row_of(r), ever_offered=False)]  # fmt: skip
    held_views = [await _held_view(request, r, with_timeline=False) for r in held]
    if _database_down(request):
        return json_response({"consultations": held_views, "degraded": True})
    async with request.app[DB].acquire() as conn:
        rows = await conn.fetch(
            """SELECT * FROM consultations
                WHERE state = ANY($2::text[])
                  AND (nurse_id = $1 OR $1 = ANY(offered) OR $1 = ANY(participants)
                       OR ($3 AND organisation_id = $4))
                ORDER BY created_at""",
            user.id, ["requested", "ringing", "waking", "queued", "connected", "escalating",
                      "wrap_up", "callback"],
            user.role == Role.COORDINATOR, user.organisation_id,
        )  # fmt: skip
    views = [await _view(request, dict(r), with_timeline=False) for r in rows]
    known = {v["id"] for v in views}
    views += [v for v in held_views if v["id"] not in known]  # not handed back yet
    return json_response({"consultations": views})


@routes.get("/api/v1/consultations/{consultation_id}")
@api("A consultation: state, tier, offers, participants, timeline and care plan (audited)",
     tag="consultations")  # fmt: skip
async def read_consultation(request: web.Request) -> web.StreamResponse:
    _, found = await _visible(request, int_param(request, "consultation_id"))
    if found.record is not None:
        view = await _held_view(request, found.record, with_timeline=True)
    else:
        view = await _view(request, found.row, with_timeline=True)
    return json_response({"consultation": view})


async def _act(request: web.Request, event: m.Event) -> web.StreamResponse:
    consultation_id = int_param(request, "consultation_id")
    _, found = await _visible(request, consultation_id)
    try:
        if found.record is not None:
            try:
                after = await request.app[OUTAGE].act(consultation_id, event, actor(request))
            except Moved:  # handed back to the database meanwhile: act on it there
                found = await _find(request, consultation_id)
                if found.record is not None:
                    raise outage_unavailable() from None
            else:
                view = await _held_view(request, after, with_timeline=False)
                return json_response({"consultation": view})
        stepped = await request.app[ROUTING].act(
            consultation_id, event, actor(request), consultations.machine_of(found.row)
        )
    except m.EscalationError as exc:
        raise _problem(exc) from None
    row = consultations.row_after(found.row, stepped)  # no need to read back what was stored
    return json_response({"consultation": await _view(request, row, with_timeline=False)})


def _nurse_side(user: SessionUser, row: dict[str, Any]) -> None:
    if user.id != row["nurse_id"] and not (
        user.role == Role.COORDINATOR and user.organisation_id == row["organisation_id"]
    ):
        raise forbidden("only the nurse who asked (or her coordinator) may do this")


@routes.post("/api/v1/consultations/{consultation_id}/accept")
@api("Accept an offered call (the first accept wins)", tag="consultations",
     responses={200: "Connected", 409: "Not offered (any more)"})  # fmt: skip
async def accept(request: web.Request) -> web.StreamResponse:
    user = require_role(request, Role.ADVISOR)
    return await _act(request, m.Accept(user.id))


@routes.post("/api/v1/consultations/{consultation_id}/decline")
@api("Decline an offered call", tag="consultations")
async def decline(request: web.Request) -> web.StreamResponse:
    user = require_role(request, Role.ADVISOR)
    return await _act(request, m.Decline(user.id))


@routes.post("/api/v1/consultations/{consultation_id}/escalate")
@api("Ring the next tier, with a note; the new advisor joins the same call", tag="consultations",
     request=ESCALATE_SCHEMA)  # fmt: skip
async def escalate(request: web.Request) -> web.StreamResponse:
    user = require_role(request, Role.ADVISOR)
    body = await read_json(request, ESCALATE_SCHEMA)
    return await _act(request, m.Escalate(user.id, body["note"]))


@routes.post("/api/v1/consultations/{consultation_id}/leave")
@api("Leave a call (an advisor who handed over after an escalation)", tag="consultations")
async def leave(request: web.Request) -> web.StreamResponse:
    user = require_role(request, Role.ADVISOR)
    return await _act(request, m.Leave(user.id))


@routes.post("/api/v1/consultations/{consultation_id}/cancel")
@api("Cancel while waiting (the nurse who asked, or her coordinator)", tag="consultations")
async def cancel(request: web.Request) -> web.StreamResponse:
    user, found = await _visible(request, int_param(request, "consultation_id"))
    _nurse_side(user, found.row)
    return await _act(request, m.Cancel(user.id))


@routes.post("/api/v1/consultations/{consultation_id}/callback")
@api("Stop waiting and be called back instead (never lost)", tag="consultations")
async def callback(request: web.Request) -> web.StreamResponse:
    user, found = await _visible(request, int_param(request, "consultation_id"))
    _nurse_side(user, found.row)
    return await _act(request, m.RequestCallback())


@routes.post("/api/v1/consultations/{consultation_id}/end")
@api(
    "End the call (the nurse or an advisor in it); the advisor then documents it",
    tag="consultations",
)
async def end(request: web.Request) -> web.StreamResponse:
    user = current_session(request).user
    return await _act(request, m.End(user.id))


@routes.post("/api/v1/consultations/{consultation_id}/wrap-up-done")
@api("The advisor has documented the call: it ends, and they are free again", tag="consultations")
async def wrap_up_done(request: web.Request) -> web.StreamResponse:
    user = require_role(request, Role.ADVISOR)
    return await _act(request, m.WrapUpDone(user.id))


@routes.put("/api/v1/presence")
@api("Set one's availability (advisors): available or away", tag="consultations",
     request=PRESENCE_SCHEMA)  # fmt: skip
async def set_presence(request: web.Request) -> web.StreamResponse:
    user = require_role(request, Role.ADVISOR)
    body = await read_json(request, PRESENCE_SCHEMA)
    async with request.app[DB].acquire() as conn, conn.transaction():
        await conn.execute(
            """INSERT INTO advisor_presence (user_id, status, idle_since, updated_at)
               VALUES ($1, $2, now(), now())
               ON CONFLICT (user_id) DO UPDATE SET status = $2, updated_at = now(),
                   idle_since = CASE WHEN advisor_presence.status = $2 THEN advisor_presence.idle_since
                                     ELSE now() END""",
            user.id, body["status"],
        )  # fmt: skip
        await audit.record(conn, actor(request), "presence.set", "user", user.id, "availability",
                           details={"status": body["status"]})  # fmt: skip
    if body["status"] == "available":
        await request.app[ROUTING].advisor_available(user.id)
    return json_response({"status": body["status"]})


def _own_shifts(rotas: list[Any], advisor: int, start: Any, end: Any) -> list[tuple[Any, Any]]:
    stretches: list[tuple[Any, Any]] = []
    for rota in rotas:
        stretches += clinician_stretches(final_schedule(rota, start, end)).get(advisor, [])
    return sorted(stretches)


@routes.get("/api/v1/presence")
@api("My presence (advisors): status, whether I am on duty now, and my next shift",
     tag="consultations")  # fmt: skip
async def my_presence(request: web.Request) -> web.StreamResponse:
    user = require_role(request, Role.ADVISOR)
    engine = request.app[ROUTING]
    now = engine.clock()
    online = user.id in await request.app[PRESENCE].online([user.id], int(now.timestamp() * 1000))
    async with request.app[DB].acquire() as conn:
        chosen = await conn.fetchval(
            "SELECT status FROM advisor_presence WHERE user_id = $1", user.id
        )
        rows = await conn.fetch(
            """SELECT state, $1 = ANY(participants) AS participant FROM consultations
                WHERE ($1 = ANY(offered) OR $1 = ANY(participants))
                  AND state NOT IN ('ended', 'cancelled', 'abandoned', 'failed')""",
            user.id,
        )
        rotas = await rota_store.load_rotas(conn, tier=user.tier)
    shifts = _own_shifts(rotas, user.id, now, now + dt.timedelta(days=28))
    current = next(((s, e) for s, e in shifts if s <= now < e), None)
    upcoming = next(((s, e) for s, e in shifts if s > now), None)
    chosen = chosen or "available"
    return json_response({
        "status": advisor_status(chosen, online, [(r["state"], r["participant"]) for r in rows]),
        "chosen": chosen, "online": online, "tier": user.tier, "on_duty": current is not None,
        "shift_ends": current[1] if current else None,
        "next_shift": {"start": upcoming[0], "end": upcoming[1]} if upcoming else None,
    })  # fmt: skip
