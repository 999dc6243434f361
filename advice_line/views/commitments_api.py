"""REST for GP commitments per patient (nurses, coordinators) and a GP's own commitments."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from advice_line import commitments
from advice_line.appkeys import DB, ROUTING
from advice_line.http import actor, current_session, int_param, json_response, read_json
from advice_line.openapi import api
from advice_line.validation import Field
from advice_line.views.rota_api import WINDOW_SCHEMA

routes = web.RouteTableDef()

COMMITMENT_SCHEMA = {
    "gp_id": Field("int", required=True, minimum=1),
    "windows": Field("list", required=True, item=Field("object", schema=WINDOW_SCHEMA),
                     min_items=1, max_items=28),
    "valid_from": Field("date", required=True),
    "valid_to": Field("date", nullable=True),
    "note": Field("str", max_length=500),
}  # fmt: skip


def _shown(request: web.Request, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows as the API shows them: with whether each covers this moment."""
    now = request.app[ROUTING].clock()
    return [{**row, "active_now": commitments.active_at(row, now)} for row in rows]


@routes.get("/api/v1/patients/{patient_id}/gp-commitments")
@api("The patient's GP commitments (nurses, coordinators of the patient's organisation)",
     tag="patients", responses={200: "The commitments", 404: "No such patient of yours"})  # fmt: skip
async def list_commitments(request: web.Request) -> web.StreamResponse:
    user = current_session(request).user
    patient_id = int_param(request, "patient_id")
    async with request.app[DB].acquire() as conn:
        rows = await commitments.list_for_patient(conn, user, actor(request), patient_id)
    return json_response({"commitments": _shown(request, rows)})


@routes.post("/api/v1/patients/{patient_id}/gp-commitments")
@api("Commit a GP to be rung first for the patient in weekly windows (audited)", tag="patients",
     request=COMMITMENT_SCHEMA,
     responses={201: "Created", 404: "No such patient of yours", 422: "Invalid fields"})  # fmt: skip
async def create_commitment(request: web.Request) -> web.StreamResponse:
    user = current_session(request).user
    patient_id = int_param(request, "patient_id")
    body = await read_json(request, COMMITMENT_SCHEMA)
    async with request.app[DB].acquire() as conn:
        created = await commitments.create(conn, user, actor(request), patient_id, body)
    return json_response({"commitment": _shown(request, [created])[0]}, status=201)


@routes.put("/api/v1/patients/{patient_id}/gp-commitments/{commitment_id}")
@api("Replace a GP commitment (audited)", tag="patients", request=COMMITMENT_SCHEMA,
     responses={200: "Replaced", 404: "No such commitment", 422: "Invalid fields"})  # fmt: skip
async def replace_commitment(request: web.Request) -> web.StreamResponse:
    user = current_session(request).user
    patient_id = int_param(request, "patient_id")
    commitment_id = int_param(request, "commitment_id")
    body = await read_json(request, COMMITMENT_SCHEMA)
    async with request.app[DB].acquire() as conn:
        replaced = await commitments.replace(
            conn, user, actor(request), patient_id, commitment_id, body
        )
    return json_response({"commitment": _shown(request, [replaced])[0]})


@routes.delete("/api/v1/patients/{patient_id}/gp-commitments/{commitment_id}")
@api("Remove a GP commitment (audited)", tag="patients",
     responses={204: "Removed", 404: "No such commitment"})  # fmt: skip
async def delete_commitment(request: web.Request) -> web.StreamResponse:
    user = current_session(request).user
    patient_id = int_param(request, "patient_id")
    commitment_id = int_param(request, "commitment_id")
    async with request.app[DB].acquire() as conn:
        await commitments.delete(conn, user, actor(request), patient_id, commitment_id)
    return web.Response(status=204)


@routes.get("/api/v1/gp-commitments/mine")
@api("My own commitments as a GP, with the patients' reference and name (audited)",
     tag="patients")  # fmt: skip
async def my_commitments(request: web.Request) -> web.StreamResponse:
    user = current_session(request).user
    async with request.app[DB].acquire() as conn:
        rows = await commitments.mine(conn, user, actor(request))
    return json_response({"commitments": _shown(request, rows)})
