"""REST for duty rotas: editing (coordinators, admins) and questions about duty (everyone)."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from aiohttp import web

from advice_line import rota_exchange, rota_store
from advice_line.appkeys import DB
from advice_line.http import (
    actor,
    current_session,
    int_param,
    json_response,
    query_instant,
    read_json,
    require_role,
)
from advice_line.openapi import api
from advice_line.problems import Problem, bad_request, invalid
from advice_line.roles import TIER_NAMES, Role
from advice_line.validation import Field
from rota.model import Rota
from rota.resolve import coverage_gaps, next_handoffs, on_duty
from rota.schedule import final_schedule

routes = web.RouteTableDef()

EDITORS = (Role.COORDINATOR, Role.ADMIN)
#: The longest period one question may cover (a year and a bit, for annual reports).
MAX_SPAN = dt.timedelta(days=400)

ROTA_SCHEMA = {
    "name": Field("str", required=True, min_length=1, max_length=200),
    "tier": Field("enum", required=True, choices=TIER_NAMES),
    "timezone": Field("str", min_length=1, max_length=64),
}
WINDOW_SCHEMA = {
    "days": Field("list", required=True, item=Field("int", minimum=0, maximum=6),
                  min_items=1, max_items=7),
    "start": Field("time", required=True),
    "end": Field("time", required=True),
}  # fmt: skip
LAYER_SCHEMA = {
    "name": Field("str", required=True, min_length=1, max_length=200),
    "participants": Field("list", required=True, item=Field("int", minimum=1),
                          min_items=1, max_items=200),
    "shift_length": Field("int", required=True, minimum=1, maximum=10000),
    "unit": Field("enum", required=True, choices=("hours", "days", "weeks")),
    "handoff": Field("time", required=True),
    "start_date": Field("date", required=True),
    "windows": Field("list", item=Field("object", schema=WINDOW_SCHEMA), max_items=28),
}  # fmt: skip
POSITION_SCHEMA = {"position": Field("int", required=True, minimum=0, maximum=1000)}
OVERRIDE_SCHEMA = {
    "kind": Field("enum", required=True, choices=("replace", "add")),
    "clinician_id": Field("int", required=True, minimum=1),
    "replaces_id": Field("int", nullable=True, minimum=1),
    "start": Field("datetime", required=True),
    "end": Field("datetime", required=True),
    "note": Field("str", max_length=500),
}
SWAP_SCHEMA = {
    "first_id": Field("int", required=True, minimum=1),
    "second_id": Field("int", required=True, minimum=1),
    "first_start": Field("datetime", required=True),
    "first_end": Field("datetime", required=True),
    "second_start": Field("datetime", required=True),
    "second_end": Field("datetime", required=True),
    "note": Field("str", max_length=500),
}


def _check_timezone(data: dict[str, Any]) -> None:
    if "timezone" in data:
        try:
            ZoneInfo(data["timezone"])
        except (ZoneInfoNotFoundError, ValueError):
            raise invalid(
                [{"field": "timezone", "code": "unknown_time_zone", "message": "unknown time zone"}]
            ) from None


def _check_interval(data: dict[str, Any], start: str, end: str) -> None:
    if data[end] <= data[start]:
        raise invalid(
            [{"field": end, "code": "end_before_start", "message": f"must be after {start}"}]
        )


async def _rota_response(request: web.Request, rota: Rota, status: int = 200) -> web.Response:
    body = rota_store.rota_json(rota)
    ids = {p for layer in rota.layers for p in layer.participants}
    ids |= {o.clinician for o in rota.overrides} | {
        o.replaces for o in rota.overrides if o.replaces
    }
    ids |= {s.first for s in rota.swaps} | {s.second for s in rota.swaps}
    async with request.app[DB].acquire() as conn:
        names = await rota_store.clinician_names(conn, ids)
    body["clinicians"] = {str(k): v for k, v in sorted(names.items())}
    return json_response({"rota": body}, status=status)


# Rotas and their parts -----------------------------------------------------------------


@routes.get("/api/v1/rotas")
@api(
    "List rotas (every signed-in user may read them)", tag="rota", query={"tier": "only this tier"}
)
async def list_rotas(request: web.Request) -> web.StreamResponse:
    current_session(request)
    tier = request.query.get("tier")
    if tier is not None and tier not in TIER_NAMES:
        raise bad_request("tier must be one of " + ", ".join(TIER_NAMES))
    async with request.app[DB].acquire() as conn:
        rotas = await rota_store.load_rotas(conn, tier=tier)
    return json_response({"rotas": [rota_store.rota_json(r) for r in rotas]})


@routes.post("/api/v1/rotas")
@api("Create a rota (coordinators, admins)", tag="rota", request=ROTA_SCHEMA,
     responses={201: "Created", 422: "Invalid fields"})  # fmt: skip
async def create_rota(request: web.Request) -> web.StreamResponse:
    require_role(request, *EDITORS)
    body = await read_json(request, ROTA_SCHEMA)
    _check_timezone(body)
    async with request.app[DB].acquire() as conn:
        rota = await rota_store.create_rota(conn, actor(request), body)
    return await _rota_response(request, rota, 201)


@routes.get("/api/v1/rotas/{rota_id}")
@api("A rota with its layers, overrides, swaps and the names of its clinicians", tag="rota")
async def read_rota(request: web.Request) -> web.StreamResponse:
    current_session(request)
    async with request.app[DB].acquire() as conn:
        rota = await rota_store.get_rota(conn, int_param(request, "rota_id"))
    return await _rota_response(request, rota)


@routes.patch("/api/v1/rotas/{rota_id}")
@api("Rename a rota, or change its tier or time zone", tag="rota", request=ROTA_SCHEMA)
async def update_rota(request: web.Request) -> web.StreamResponse:
    require_role(request, *EDITORS)
    rota_id = int_param(request, "rota_id")
    body = await read_json(request, ROTA_SCHEMA, partial=True)
    if not body:
        raise bad_request("send at least one field to change")
    _check_timezone(body)
    async with request.app[DB].acquire() as conn:
        rota = await rota_store.update_rota(conn, actor(request), rota_id, body)
    return await _rota_response(request, rota)


@routes.delete("/api/v1/rotas/{rota_id}")
@api("Delete a rota with its layers, overrides and swaps", tag="rota", responses={204: "Deleted"})
async def delete_rota(request: web.Request) -> web.StreamResponse:
    require_role(request, *EDITORS)
    async with request.app[DB].acquire() as conn:
        await rota_store.delete_rota(conn, actor(request), int_param(request, "rota_id"))
    return web.Response(status=204)


@routes.post("/api/v1/rotas/{rota_id}/layers")
@api("Add a layer (a rotation) on top of the rota's layers", tag="rota", request=LAYER_SCHEMA,
     responses={201: "Added", 422: "Invalid fields or clinicians"})  # fmt: skip
async def add_layer(request: web.Request) -> web.StreamResponse:
    require_role(request, *EDITORS)
    body = await read_json(request, LAYER_SCHEMA)
    async with request.app[DB].acquire() as conn:
        rota = await rota_store.save_layer(
            conn, actor(request), int_param(request, "rota_id"), None, body
        )
    return await _rota_response(request, rota, 201)


@routes.put("/api/v1/rotas/{rota_id}/layers/{layer_id}")
@api("Replace a layer", tag="rota", request=LAYER_SCHEMA)
async def replace_layer(request: web.Request) -> web.StreamResponse:
    require_role(request, *EDITORS)
    body = await read_json(request, LAYER_SCHEMA)
    async with request.app[DB].acquire() as conn:
        rota = await rota_store.save_layer(
            conn, actor(request), int_param(request, "rota_id"),
            int_param(request, "layer_id"), body,
        )  # fmt: skip
    return await _rota_response(request, rota)


@routes.post("/api/v1/rotas/{rota_id}/layers/{layer_id}/position")
@api("Move a layer up or down (0 = lowest; higher layers win)", tag="rota",
     request=POSITION_SCHEMA)  # fmt: skip
async def move_layer(request: web.Request) -> web.StreamResponse:
    require_role(request, *EDITORS)
    body = await read_json(request, POSITION_SCHEMA)
    async with request.app[DB].acquire() as conn:
        rota = await rota_store.move_layer(
            conn, actor(request), int_param(request, "rota_id"),
            int_param(request, "layer_id"), body["position"],
        )  # fmt: skip
    return await _rota_response(request, rota)


@routes.delete("/api/v1/rotas/{rota_id}/layers/{layer_id}")
@api("Delete a layer", tag="rota")
async def delete_layer(request: web.Request) -> web.StreamResponse:
    require_role(request, *EDITORS)
    async with request.app[DB].acquire() as conn:
        rota = await rota_store.delete_layer(
            conn, actor(request), int_param(request, "rota_id"), int_param(request, "layer_id")
        )
    return await _rota_response(request, rota)


@routes.post("/api/v1/rotas/{rota_id}/overrides")
@api("Override: a clinician replaces whoever (or one person) is on duty, or adds cover",
     tag="rota", request=OVERRIDE_SCHEMA,
     responses={201: "Added", 422: "Invalid, or overlapping another change for the clinician"})  # fmt: skip
async def add_override(request: web.Request) -> web.StreamResponse:
    require_role(request, *EDITORS)
    body = await read_json(request, OVERRIDE_SCHEMA)
    _check_interval(body, "start", "end")
    if body["kind"] == "add" and body.get("replaces_id") is not None:
        raise invalid(
            [
                {
                    "field": "replaces_id",
                    "code": "add_replaces_nobody",
                    "message": "extra cover replaces nobody",
                }
            ]
        )
    if body.get("replaces_id") == body["clinician_id"]:
        raise invalid(
            [
                {
                    "field": "replaces_id",
                    "code": "replaces_oneself",
                    "message": "cannot replace oneself",
                }
            ]
        )
    async with request.app[DB].acquire() as conn:
        rota, _ = await rota_store.add_override(
            conn, actor(request), int_param(request, "rota_id"), body
        )
    return await _rota_response(request, rota, 201)


@routes.delete("/api/v1/rotas/{rota_id}/overrides/{override_id}")
@api("Remove an override", tag="rota")
async def delete_override(request: web.Request) -> web.StreamResponse:
    require_role(request, *EDITORS)
    async with request.app[DB].acquire() as conn:
        rota = await rota_store.delete_override(
            conn, actor(request), int_param(request, "rota_id"), int_param(request, "override_id")
        )
    return await _rota_response(request, rota)


@routes.post("/api/v1/rotas/{rota_id}/swaps")
@api("Swap shifts between two clinicians", tag="rota", request=SWAP_SCHEMA,
     responses={201: "Added", 422: "Invalid or overlapping"})  # fmt: skip
async def add_swap(request: web.Request) -> web.StreamResponse:
    require_role(request, *EDITORS)
    body = await read_json(request, SWAP_SCHEMA)
    _check_interval(body, "first_start", "first_end")
    _check_interval(body, "second_start", "second_end")
    if body["first_id"] == body["second_id"]:
        raise invalid(
            [{"field": "second_id", "code": "same_person", "message": "must differ from first_id"}]
        )
    async with request.app[DB].acquire() as conn:
        rota, _ = await rota_store.add_swap(
            conn, actor(request), int_param(request, "rota_id"), body
        )
    return await _rota_response(request, rota, 201)


@routes.delete("/api/v1/rotas/{rota_id}/swaps/{swap_id}")
@api("Remove a swap", tag="rota")
async def delete_swap(request: web.Request) -> web.StreamResponse:
    require_role(request, *EDITORS)
    async with request.app[DB].acquire() as conn:
        rota = await rota_store.delete_swap(
            conn, actor(request), int_param(request, "rota_id"), int_param(request, "swap_id")
        )
    return await _rota_response(request, rota)


# Questions about duty ------------------------------------------------------------------


def _tier(request: web.Request) -> str:
    tier = request.query.get("tier", "")
    if tier not in TIER_NAMES:
        raise bad_request("tier must be one of " + ", ".join(TIER_NAMES))
    return tier


def _period(request: web.Request) -> tuple[dt.datetime, dt.datetime]:
    start, end = query_instant(request, "from"), query_instant(request, "to")
    if start is None or end is None:
        raise bad_request("give both from and to (RFC 3339 instants)")
    if end <= start:
        raise bad_request("to must be after from")
    if end - start > MAX_SPAN:
        raise bad_request(f"a period is at most {MAX_SPAN.days} days")
    return start, end


def _iso(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


async def _tier_rotas(request: web.Request, tier: str) -> tuple[list[Rota], dict[int, str]]:
    async with request.app[DB].acquire() as conn:
        rotas = await rota_store.load_rotas(conn, tier=tier)
        ids = {p for r in rotas for layer in r.layers for p in layer.participants}
        ids |= {o.clinician for r in rotas for o in r.overrides}
        ids |= {c for r in rotas for s in r.swaps for c in (s.first, s.second)}
        names = await rota_store.clinician_names(conn, ids)
    return rotas, names


@routes.get("/api/v1/rota/clinicians")
@api("The active advisors of a tier: who can be put on its rotas", tag="rota",
     query={"tier": "senior_nurse, gp or specialist"})  # fmt: skip
async def tier_clinicians(request: web.Request) -> web.StreamResponse:
    current_session(request)
    tier = _tier(request)
    async with request.app[DB].acquire() as conn:
        rows = await conn.fetch(
            """SELECT u.id, u.username, u.display_name AS name, o.name AS organisation
                 FROM users u LEFT JOIN organisations o ON o.id = u.organisation_id
                WHERE u.role = 'advisor' AND u.tier = $1 AND u.disabled_at IS NULL
                ORDER BY u.display_name""",
            tier,
        )
    return json_response({"tier": tier, "clinicians": [dict(r) for r in rows]})


@routes.get("/api/v1/rota/on-duty")
@api("Who is on duty for a tier at an instant (default now)", tag="rota",
     query={"tier": "senior_nurse, gp or specialist", "at": "RFC 3339 instant (default now)"})  # fmt: skip
async def who_is_on_duty(request: web.Request) -> web.StreamResponse:
    current_session(request)
    tier = _tier(request)
    at = query_instant(request, "at") or dt.datetime.now(dt.UTC)
    rotas, names = await _tier_rotas(request, tier)
    rota_names = {r.id: r.name for r in rotas}
    clinicians = [
        {"id": c, "name": names.get(c, "?"), "rota": rota_names[rota_id], "rota_id": rota_id}
        for rota_id, people in sorted(on_duty(rotas, tier, at).items())
        for c in sorted(people)
    ]
    return json_response({"tier": tier, "at": _iso(at), "clinicians": clinicians})


@routes.get("/api/v1/rota/gaps")
@api("Coverage gaps of a tier: when nobody is on duty (UTC instants)", tag="rota",
     query={"tier": "the tier", "from": "RFC 3339", "to": "RFC 3339"})  # fmt: skip
async def gaps(request: web.Request) -> web.StreamResponse:
    current_session(request)
    tier = _tier(request)
    start, end = _period(request)
    rotas, _ = await _tier_rotas(request, tier)
    found = coverage_gaps(rotas, tier, start, end)
    return json_response(
        {"tier": tier, "gaps": [{"start": _iso(g.start), "end": _iso(g.end)} for g in found]}
    )


@routes.get("/api/v1/rota/shifts")
@api("The final schedule of a tier: who is on duty when, per rota", tag="rota",
     query={"tier": "the tier", "from": "RFC 3339", "to": "RFC 3339"})  # fmt: skip
async def shifts(request: web.Request) -> web.StreamResponse:
    current_session(request)
    tier = _tier(request)
    start, end = _period(request)
    rotas, names = await _tier_rotas(request, tier)
    result = []
    for rota in rotas:
        for shift in final_schedule(rota, start, end):
            result.append({
                "rota_id": rota.id, "rota": rota.name, "start": _iso(shift.start),
                "end": _iso(shift.end),
                "clinicians": [{"id": c, "name": names.get(c, "?")} for c in sorted(shift.clinicians)],
            })  # fmt: skip
    result.sort(key=lambda s: (s["start"], s["rota_id"]))
    return json_response({"tier": tier, "from": _iso(start), "to": _iso(end), "shifts": result})


@routes.get("/api/v1/rota/handoffs")
@api("The next changes of who is on duty for a tier", tag="rota",
     query={"tier": "the tier", "at": "from this instant (default now)", "count": "1-50 (default 5)"})  # fmt: skip
async def handoffs(request: web.Request) -> web.StreamResponse:
    current_session(request)
    tier = _tier(request)
    at = query_instant(request, "at") or dt.datetime.now(dt.UTC)
    raw = request.query.get("count", "5")
    if not raw.isdigit() or not 1 <= int(raw) <= 50:
        raise bad_request("count must be from 1 to 50")
    rotas, names = await _tier_rotas(request, tier)

    def people(ids: frozenset[int]) -> list[dict[str, Any]]:
        return [{"id": c, "name": names.get(c, "?")} for c in sorted(ids)]

    found = next_handoffs(rotas, tier, at, int(raw))
    return json_response({
        "tier": tier, "at": _iso(at),
        "handoffs": [{"at": _iso(when), "before": people(before), "after": people(after)}
                     for when, before, after in found],
    })  # fmt: skip


# Exchange: CSV ----------------------------------------------------------------------------

#: CSV imports may be larger than ordinary JSON bodies: a year of a region's shifts.
IMPORT_MAX_BYTES = 8 * 1024 * 1024


async def _read_limited(request: web.Request, limit: int) -> bytes:
    chunks, size = [], 0
    async for chunk in request.content.iter_chunked(65536):
        size += len(chunk)
        if size > limit:
            raise Problem(413, "payload-too-large", "Payload too large",
                          f"a CSV file is at most {limit // (1024 * 1024)} MiB")  # fmt: skip
        chunks.append(chunk)
    return b"".join(chunks)


@routes.post("/api/v1/rota/import")
@api(
    "Import shifts from CSV (columns tier,clinician,start,end; local times). All rows valid: "
    "applied at once; any row invalid: 422 listing every bad row by line, nothing applied",
    tag="rota",
    request_content_type="text/csv",
    query={"dry_run": "true: check and show what would change, apply nothing",
           "rota_id": "put the shifts in this rota (default: the tier's import rota)"},
    responses={200: "Imported (or checked)", 413: "File too large", 415: "Not text/csv",
               422: "Invalid rows"},
)  # fmt: skip
async def import_shifts(request: web.Request) -> web.StreamResponse:
    require_role(request, *EDITORS)
    if request.content_type not in ("text/csv", "application/csv"):
        raise Problem(415, "unsupported-media-type", "Unsupported media type",
                      "send the file as text/csv")  # fmt: skip
    dry_run = request.query.get("dry_run", "false")
    if dry_run not in ("true", "false"):
        raise bad_request("dry_run must be true or false")
    raw_rota = request.query.get("rota_id")
    if raw_rota is not None and not raw_rota.isdigit():
        raise bad_request("rota_id must be a whole number")
    data = await _read_limited(request, IMPORT_MAX_BYTES)
    async with request.app[DB].acquire() as conn:
        result = await rota_exchange.import_csv(
            conn, actor(request), data, dry_run=dry_run == "true",
            rota_id=int(raw_rota) if raw_rota else None,
        )  # fmt: skip
    return json_response(result.as_dict())


@routes.get("/api/v1/rota/export")
@api("The final schedule as CSV (tier,clinician,start,end in local time); reads back the same",
     tag="rota", query={"tier": "one tier (default all)", "from": "RFC 3339", "to": "RFC 3339"})  # fmt: skip
async def export_shifts(request: web.Request) -> web.StreamResponse:
    current_session(request)
    tiers = [_tier(request)] if "tier" in request.query else list(TIER_NAMES)
    start, end = _period(request)
    async with request.app[DB].acquire() as conn:
        text = await rota_exchange.export_csv(conn, tiers, start, end)
    return web.Response(
        text=text, content_type="text/csv", charset="utf-8",
        headers={"Content-Disposition": 'attachment; filename="vagtplan.csv"'},
    )  # fmt: skip
