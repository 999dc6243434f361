"""REST for consultations (a nurse asks, advisors accept, decline, escalate, end) and presence."""

from __future__ import annotations

import contextlib
import datetime as dt
from typing import Any

from aiohttp import web

from advice_line import audit, consultations, rota_store
from advice_line.appkeys import DB, PRESENCE, ROUTING
from advice_line.board import advisor_status
from advice_line.http import (
    actor,
    current_session,
    int_param,
    json_response,
    read_json,
    require_role,
)
from advice_line.openapi import api
from advice_line.problems import Problem, forbidden, not_found
from advice_line.roles import Role
from advice_line.rota_exchange import clinician_stretches
from advice_line.sessions import SessionUser
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


async def _visible(
    request: web.Request, consultation_id: int
) -> tuple[SessionUser, dict[str, Any]]:
    """The caller and the consultation, if they may see it (404 otherwise: ids cannot be probed)."""
    user = current_session(request).user
    async with request.app[DB].acquire() as conn:
        try:
            row = await consultations.row(conn, consultation_id)
        except Problem:
            raise not_found(f"consultation {consultation_id}") from None
        # The timeline is asked only when the live state does not already answer.
        visible = consultations.may_see(user, row, ever_offered=False) or (
            user.role == Role.ADVISOR
            and await consultations.ever_offered(conn, consultation_id, user.id)
        )
    if not visible:
        raise not_found(f"consultation {consultation_id}")
    return user, row


def _audited(conn: Any, with_timeline: bool) -> Any:
    """A transaction for the single view (its care-plan read and audit row go together);
    the list views read no care plan and need none."""
    return conn.transaction() if with_timeline else contextlib.nullcontext()


async def _view(
    request: web.Request, row: dict[str, Any], *, with_timeline: bool
) -> dict[str, Any]:
    async with request.app[DB].acquire() as conn, _audited(conn, with_timeline):
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
        view.update(await consultations.people(conn, row["nurse_id"], list(row["participants"])))
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
    consultation_id = await request.app[ROUTING].open(nurse, actor(request), body)
    async with request.app[DB].acquire() as conn:
        row = await consultations.row(conn, consultation_id)
    return json_response(
        {"consultation": await _view(request, row, with_timeline=True)}, status=201
    )


@routes.get("/api/v1/consultations")
@api("Open consultations that concern me: my requests, calls offered to me or that I am in",
     tag="consultations")  # fmt: skip
async def list_mine(request: web.Request) -> web.StreamResponse:
    user = current_session(request).user
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
    return json_response({"consultations": views})


@routes.get("/api/v1/consultations/{consultation_id}")
@api("A consultation: state, tier, offers, participants, timeline and care plan (audited)",
     tag="consultations")  # fmt: skip
async def read_consultation(request: web.Request) -> web.StreamResponse:
    _, row = await _visible(request, int_param(request, "consultation_id"))
    return json_response({"consultation": await _view(request, row, with_timeline=True)})


async def _act(request: web.Request, event: m.Event) -> web.StreamResponse:
    consultation_id = int_param(request, "consultation_id")
    _, seen = await _visible(request, consultation_id)
    try:
        await request.app[ROUTING].act(
            consultation_id, event, actor(request), consultations.machine_of(seen)
        )
    except m.EscalationError as exc:
        raise _problem(exc) from None
    async with request.app[DB].acquire() as conn:
        row = await consultations.row(conn, consultation_id)
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
    user, row = await _visible(request, int_param(request, "consultation_id"))
    _nurse_side(user, row)
    return await _act(request, m.Cancel(user.id))


@routes.post("/api/v1/consultations/{consultation_id}/callback")
@api("Stop waiting and be called back instead (never lost)", tag="consultations")
async def callback(request: web.Request) -> web.StreamResponse:
    user, row = await _visible(request, int_param(request, "consultation_id"))
    _nurse_side(user, row)
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
