"""REST for patients of the caller's own organisation; every read is audited."""

from __future__ import annotations

from aiohttp import web

from advice_line import patients
from advice_line.appkeys import DB
from advice_line.http import actor, current_session, int_param, json_response, read_json
from advice_line.openapi import api
from advice_line.problems import bad_request

routes = web.RouteTableDef()


@routes.get("/api/v1/patients")
@api(
    "Search the patients of one's own organisation (nurses, coordinators)",
    tag="patients",
    query={"q": "part of a name or reference", "limit": "at most this many (1-200, default 50)"},
)
async def list_patients(request: web.Request) -> web.StreamResponse:
    user = current_session(request).user
    q = request.query.get("q", "").strip()
    if len(q) > 100:
        raise bad_request("q is limited to 100 characters")
    raw_limit = request.query.get("limit", "50")
    if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= 200:
        raise bad_request("limit must be a whole number from 1 to 200")
    async with request.app[DB].acquire() as conn:
        found = await patients.search(conn, user, actor(request), q, int(raw_limit))
    return json_response({"patients": found})


@routes.post("/api/v1/patients")
@api(
    "Create a patient in one's own organisation",
    tag="patients",
    request=patients.SCHEMA,
    responses={201: "Created", 422: "Invalid fields"},
)
async def create_patient(request: web.Request) -> web.StreamResponse:
    user = current_session(request).user
    body = await read_json(request, patients.SCHEMA)
    async with request.app[DB].acquire() as conn:
        created = await patients.create(conn, user, actor(request), body)
    return json_response({"patient": created}, status=201)


@routes.get("/api/v1/patients/{patient_id}")
@api(
    "Read a patient with the care-plan summary (audited)",
    tag="patients",
    responses={200: "The patient", 404: "No such patient, or not yours to see"},
)
async def read_patient(request: web.Request) -> web.StreamResponse:
    user = current_session(request).user
    patient_id = int_param(request, "patient_id")
    async with request.app[DB].acquire() as conn:
        patient = await patients.read(conn, user, actor(request), patient_id)
    return json_response({"patient": patient})


@routes.patch("/api/v1/patients/{patient_id}")
@api(
    "Change some fields of a patient (audited)",
    tag="patients",
    request=patients.SCHEMA,
    responses={200: "Updated", 404: "No such patient", 422: "Invalid fields"},
)
async def update_patient(request: web.Request) -> web.StreamResponse:
    user = current_session(request).user
    patient_id = int_param(request, "patient_id")
    body = await read_json(request, patients.SCHEMA, partial=True)
    if not body:
        raise bad_request("send at least one field to change")
    async with request.app[DB].acquire() as conn:
        updated = await patients.update(conn, user, actor(request), patient_id, body)
    return json_response({"patient": updated})
