"""REST for advice episodes (read, list, document) and the outcome of a patient's course."""

from __future__ import annotations

import json
from zoneinfo import ZoneInfo

import structlog
from aiohttp import web

from advice_line import fhir
from advice_line.appkeys import DB, ROUTING
from advice_line.episodes import course, documentation, filters, reading
from advice_line.http import (
    actor,
    current_session,
    int_param,
    json_response,
    read_json,
    require_role,
)
from advice_line.openapi import api
from advice_line.roles import Role
from escalation import model as m
from rota.model import DEFAULT_TIMEZONE

log = structlog.get_logger("advice_line.episodes")

routes = web.RouteTableDef()


@routes.get("/api/v1/episodes")
@api(
    "Episodes the caller may read, newest first: their own, or their organisation's (audited)",
    tag="episodes",
    query={
        "mine": "true: only those I asked for or took part in",
        "from": "a date (YYYY-MM-DD, Danish time) or an RFC 3339 instant",
        "to": "a date (inclusive) or an RFC 3339 instant (exclusive)",
        "organisation_id": "the nurse's organisation",
        "outcome": "completed, cancelled, abandoned, failed or open",
        "disposition": "the documented disposition",
        "undocumented": "true: answered calls not documented yet",
        "before": "the cursor from next_before (the next page)",
        "limit": "at most this many (1-100, default 25)",
    },
    responses={200: "A page of episodes", 400: "Bad filters, each named with a code"},
)
async def list_episodes(request: web.Request) -> web.StreamResponse:
    user = current_session(request).user
    wanted = filters.parse(request.query)
    async with request.app[DB].acquire() as conn:
        found, next_before = await reading.search(conn, user, actor(request), wanted)
    return json_response({"episodes": found, "next_before": next_before})


@routes.get("/api/v1/episodes/{consultation_id}")
@api(
    "One whole episode: patient, ISBAR, facts, timeline, documentation and its versions (audited)",
    tag="episodes",
    responses={200: "The episode", 404: "No such episode, or not yours to see"},
)
async def read_episode(request: web.Request) -> web.StreamResponse:
    user = current_session(request).user
    consultation_id = int_param(request, "consultation_id")
    async with request.app[DB].acquire() as conn:
        episode = await reading.read(conn, user, actor(request), consultation_id)
    return json_response({"episode": episode})


@routes.get("/api/v1/episodes/{consultation_id}/fhir")
@api(
    "The episode as a FHIR R4 Bundle (collection: Encounter, Communication per documentation "
    "version, Task per escalation, Patient by reference, Practitioners, Organization); same "
    "access and audit as reading it",
    tag="episodes",
    responses={200: "application/fhir+json Bundle", 404: "No such episode, or not yours to see"},
)
async def episode_fhir(request: web.Request) -> web.StreamResponse:
    user = current_session(request).user
    consultation_id = int_param(request, "consultation_id")
    async with request.app[DB].acquire() as conn:
        episode = await reading.read(conn, user, actor(request), consultation_id)
    bundle = fhir.episode_bundle(episode, request.app[ROUTING].clock())
    return web.Response(text=json.dumps(bundle, ensure_ascii=False),
                        content_type="application/fhir+json", charset="utf-8")  # fmt: skip


@routes.post("/api/v1/episodes/{consultation_id}/documentation")
@api(
    "Document the advice and outcome (an advisor who took part; in wrap-up this also ends "
    "their wrap-up); later versions are amendments with a reason",
    tag="episodes",
    request=documentation.SCHEMA,
    responses={201: "Saved as the next version", 403: "Did not take part",
               404: "No such episode", 409: "The call is not over", 422: "Invalid fields"},
)  # fmt: skip
async def document(request: web.Request) -> web.StreamResponse:
    user = require_role(request, Role.ADVISOR)
    body = await read_json(request, documentation.SCHEMA)
    consultation_id = int_param(request, "consultation_id")
    who = actor(request)
    async with request.app[DB].acquire() as conn:
        saved, state = await documentation.save(
            conn, user, who, consultation_id, documentation.from_body(body)
        )
    if state == "wrap_up":
        # Exactly what POST .../wrap-up-done does: the machine records wrap_up_done (once)
        # and, when everyone has, the consultation ends and the advisor is free again.
        try:
            await request.app[ROUTING].act(consultation_id, m.WrapUpDone(user.id), who)
        except m.EscalationError as exc:
            # Left the call before it ended, or the wrap-up time ran out meanwhile.
            log.info("episode.wrap_up_not_applicable", consultation=consultation_id,
                     reason=type(exc).__name__)  # fmt: skip
    async with request.app[DB].acquire() as conn:
        state_now = await conn.fetchval(
            "SELECT state FROM consultations WHERE id = $1", consultation_id
        )
    log.info("episode.documented", consultation=consultation_id, version=saved["version"])
    return json_response({"documentation": saved, "state": state_now}, status=201)


@routes.get("/api/v1/patients/{patient_id}/course-outcome")
@api(
    "How the patient's palliative course ended: the current outcome and every version (audited)",
    tag="patients",
    responses={200: "The outcome (current may be null)", 404: "No such patient of yours"},
)
async def read_course_outcome(request: web.Request) -> web.StreamResponse:
    user = current_session(request).user
    patient_id = int_param(request, "patient_id")
    async with request.app[DB].acquire() as conn:
        found = await course.read(conn, user, actor(request), patient_id)
    return json_response(found)


@routes.post("/api/v1/patients/{patient_id}/course-outcome")
@api(
    "Record how the course ended (nurses, coordinators of the patient's organisation); "
    "a later record is an amendment with a reason",
    tag="patients",
    request=course.SCHEMA,
    responses={201: "Saved as the next version", 404: "No such patient of yours",
               422: "Invalid fields"},
)  # fmt: skip
async def record_course_outcome(request: web.Request) -> web.StreamResponse:
    user = current_session(request).user
    body = await read_json(request, course.SCHEMA)
    patient_id = int_param(request, "patient_id")
    today = request.app[ROUTING].clock().astimezone(ZoneInfo(DEFAULT_TIMEZONE)).date()
    async with request.app[DB].acquire() as conn:
        saved = await course.record(conn, user, actor(request), patient_id, body, today)
    log.info("course_outcome.recorded", patient=patient_id, version=saved["version"])
    return json_response({"outcome": saved}, status=201)
