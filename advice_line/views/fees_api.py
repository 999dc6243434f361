"""REST for fee schedules (administrators upload, coordinators and administrators read) and
monthly fee statements (coordinators and administrators any; an advisor only their own)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import asyncpg
from aiohttp import BodyPartReader, web

from advice_line import fee_store
from advice_line.appkeys import DB
from advice_line.fees.period import Month
from advice_line.fees.render import statement_csv, statement_json
from advice_line.http import actor, current_session, json_response, require_role
from advice_line.openapi import api
from advice_line.problems import Problem, bad_request, forbidden, not_found
from advice_line.roles import Role
from advice_line.sessions import SessionUser

routes = web.RouteTableDef()

#: Who reads every statement and the list of schedules.
FEE_READERS = (Role.COORDINATOR, Role.ADMIN)
#: A schedule is a few kilobytes; anything near this is not one.
SCHEDULE_MAX_BYTES = 256 * 1024
_TOML_TYPES = ("application/toml", "text/plain", "text/x-toml")


def _shown(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "effective_from": row["effective_from"].isoformat()}


@routes.get("/api/v1/fee-schedules")
@api("The stored fee schedule versions, the earliest effective first (coordinators, admins)",
     tag="fees")  # fmt: skip
async def list_schedules(request: web.Request) -> web.StreamResponse:
    require_role(request, *FEE_READERS)
    async with request.app[DB].acquire() as conn:
        rows = await fee_store.list_schedules(conn)
    return json_response({"schedules": [_shown(r) for r in rows]})


async def _limited(chunks: AsyncIterator[bytes]) -> bytes:
    found, size = [], 0
    async for chunk in chunks:
        size += len(chunk)
        if size > SCHEDULE_MAX_BYTES:
            raise Problem(413, "payload-too-large", "Payload too large",
                          f"a fee schedule is at most {SCHEDULE_MAX_BYTES // 1024} KiB")  # fmt: skip
        found.append(chunk)
    return b"".join(found)


async def _part_chunks(part: BodyPartReader) -> AsyncIterator[bytes]:
    while chunk := await part.read_chunk(65536):
        yield chunk


async def _read_upload(request: web.Request) -> tuple[bytes, bool]:
    """The document and the allow_past flag, from a TOML body or a multipart form upload."""
    allow_past = request.query.get("allow_past", "false")
    if request.content_type in _TOML_TYPES:
        return await _limited(request.content.iter_chunked(65536)), allow_past == "true"
    if request.content_type != "multipart/form-data":
        raise Problem(415, "unsupported-media-type", "Unsupported media type",
                      "send the schedule as application/toml or as the file of a form")  # fmt: skip
    data = None
    reader = await request.multipart()
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader):
            raise bad_request("nested multipart bodies are not accepted")
        if part.name == "file":
            data = await _limited(_part_chunks(part))
        elif part.name == "allow_past":
            allow_past = (await part.text()).strip().lower()
            allow_past = "true" if allow_past in ("true", "on", "1") else "false"
    if data is None:
        raise Problem(422, "validation", "The request has invalid fields",
                      errors=[{"field": "file", "code": "required", "message": "choose a file"}])  # fmt: skip
    return data, allow_past == "true"


@routes.post("/api/v1/fee-schedules")
@api(
    "Upload a fee schedule (TOML; admins). Valid: stored as a new version; invalid: 422 listing "
    "every problem by field (and line), nothing stored",
    tag="fees", request_content_type="application/toml",
    query={"allow_past": "true: accept an effective date before today"},
    responses={201: "Stored", 409: "The version label or effective date is taken",
               413: "Too large", 415: "Not TOML or a form", 422: "Invalid document"},
)  # fmt: skip
async def upload_schedule(request: web.Request) -> web.StreamResponse:
    require_role(request, Role.ADMIN)
    if request.query.get("allow_past", "false") not in ("true", "false"):
        raise bad_request("allow_past must be true or false")
    raw, allow_past = await _read_upload(request)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise Problem(422, "fee-schedule-invalid", "The fee schedule is not valid",
                      errors=[{"field": "document", "code": "not_utf8",
                               "message": "the file is not UTF-8 text"}]) from None  # fmt: skip
    async with request.app[DB].acquire() as conn:
        row = await fee_store.store_schedule(conn, actor(request), text, allow_past=allow_past)
    return json_response({"schedule": _shown(row)}, status=201)


# Statements -------------------------------------------------------------------------------


def _id_param(request: web.Request, name: str) -> int | None:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return None
    if not raw.isdigit() or len(raw) > 18:
        raise bad_request(f"{name} must be a whole number")
    return int(raw)


def month_param(request: web.Request) -> Month:
    try:
        return Month.parse(request.query.get("month", ""))
    except ValueError:
        raise bad_request("month must be a month YYYY-MM") from None


async def resolve_scope(
    conn: asyncpg.Connection, user: SessionUser, request: web.Request
) -> fee_store.Scope:
    """Whose statement the caller may see: coordinators and admins anyone's (default all);
    an advisor only their own; nobody else."""
    clinician = _id_param(request, "clinician_id")
    organisation = _id_param(request, "organisation_id")
    if clinician is not None and organisation is not None:
        raise bad_request("give clinician_id or organisation_id, not both")
    if user.role == Role.ADVISOR:
        if organisation is not None or clinician not in (None, user.id):
            raise forbidden("an advisor sees only their own statement")
        return fee_store.Scope("clinician", user.id)
    if user.role not in FEE_READERS:
        raise forbidden("your role may not see fee statements")
    if clinician is not None:
        if not await conn.fetchval("SELECT 1 FROM users WHERE id = $1", clinician):
            raise not_found(f"user {clinician}")
        return fee_store.Scope("clinician", clinician)
    if organisation is not None:
        if not await conn.fetchval("SELECT 1 FROM organisations WHERE id = $1", organisation):
            raise not_found(f"organisation {organisation}")
        return fee_store.Scope("organisation", organisation)
    return fee_store.Scope()


_STATEMENT_QUERY = {
    "month": "YYYY-MM (required; Danish local time)",
    "clinician_id": "one clinician (an advisor: only themselves)",
    "organisation_id": "the clinicians of one organisation (coordinators, admins)",
}


@routes.get("/api/v1/fees/statement")
@api("A month's fee statement: per clinician, lines with their rule and schedule version, "
     "totals equal to the sum of the lines", tag="fees", query=_STATEMENT_QUERY,
     responses={200: "The statement", 400: "Bad month or ids", 403: "Not yours to see",
                404: "No such clinician or organisation"})  # fmt: skip
async def statement(request: web.Request) -> web.StreamResponse:
    user = current_session(request).user
    month = month_param(request)
    async with request.app[DB].acquire() as conn:
        scope = await resolve_scope(conn, user, request)
        found, names = await fee_store.statement(conn, month, scope)
    return json_response(statement_json(found, names))


@routes.get("/api/v1/fees/statement.csv")
@api("The same statement as CSV: one row per fee line; the amounts add up to the total",
     tag="fees", query=_STATEMENT_QUERY)  # fmt: skip
async def statement_as_csv(request: web.Request) -> web.StreamResponse:
    user = current_session(request).user
    month = month_param(request)
    async with request.app[DB].acquire() as conn:
        scope = await resolve_scope(conn, user, request)
        found, names = await fee_store.statement(conn, month, scope)
    suffix = f"-{scope.kind}-{scope.id}" if scope.id is not None else ""
    return web.Response(
        text=statement_csv(found, names), content_type="text/csv", charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="honorar-{month}{suffix}.csv"'},
    )  # fmt: skip
