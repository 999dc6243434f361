"""REST for admins: organisations, users, second-factor policy per role, the audit log."""

from __future__ import annotations

import csv
import io
import json

from aiohttp import web

from advice_line import audit, organisations, sessions, users
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
from advice_line.problems import bad_request, not_found
from advice_line.revocation import publish_revoked
from advice_line.roles import ORGANISATION_KINDS, ROLES, Role
from advice_line.validation import Field

routes = web.RouteTableDef()

POLICY_SCHEMA = {"totp_required": Field("bool", required=True)}


@routes.get("/api/v1/organisations")
@api(
    "List organisations (any signed-in user: needed to pick a GP practice)",
    tag="admin",
    query={"kind": "home_care, gp_practice or hospital"},
)
async def list_organisations(request: web.Request) -> web.StreamResponse:
    current_session(request)
    kind = request.query.get("kind")
    if kind is not None and kind not in ORGANISATION_KINDS:
        raise bad_request("kind must be one of " + ", ".join(ORGANISATION_KINDS))
    async with request.app[DB].acquire() as conn:
        return json_response({"organisations": await organisations.list_all(conn, kind)})


@routes.post("/api/v1/organisations")
@api(
    "Create an organisation (admin)",
    tag="admin",
    request=organisations.CREATE_SCHEMA,
    responses={201: "Created", 409: "Name taken"},
)
async def create_organisation(request: web.Request) -> web.StreamResponse:
    require_role(request, Role.ADMIN)
    body = await read_json(request, organisations.CREATE_SCHEMA)
    async with request.app[DB].acquire() as conn:
        org = await organisations.create(conn, actor(request), body["name"], body["kind"])
    return json_response({"organisation": org}, status=201)


@routes.get("/api/v1/users")
@api(
    "List users (admin)",
    tag="admin",
    query={"role": "only this role", "organisation_id": "only this organisation"},
)
async def list_users(request: web.Request) -> web.StreamResponse:
    require_role(request, Role.ADMIN)
    role = request.query.get("role")
    if role is not None and role not in ROLES:
        raise bad_request("role must be one of " + ", ".join(ROLES))
    org = request.query.get("organisation_id")
    if org is not None and not org.isdigit():
        raise bad_request("organisation_id must be a whole number")
    async with request.app[DB].acquire() as conn:
        found = await users.list_all(conn, role=role, organisation_id=int(org) if org else None)
    return json_response({"users": found})


@routes.post("/api/v1/users")
@api(
    "Create a user (admin)",
    tag="admin",
    request=users.CREATE_SCHEMA,
    responses={201: "Created", 409: "Username taken", 422: "Invalid fields"},
)
async def create_user(request: web.Request) -> web.StreamResponse:
    require_role(request, Role.ADMIN)
    body = await read_json(request, users.CREATE_SCHEMA)
    body["username"] = body["username"].lower()
    async with request.app[DB].acquire() as conn:
        user = await users.create(conn, actor(request), body)
    return json_response({"user": user}, status=201)


@routes.patch("/api/v1/users/{user_id}")
@api(
    "Change a user's name or language, or disable/enable them (admin)",
    tag="admin",
    request=users.UPDATE_SCHEMA,
    responses={200: "Updated", 404: "No such user"},
)
async def update_user(request: web.Request) -> web.StreamResponse:
    admin = require_role(request, Role.ADMIN)
    user_id = int_param(request, "user_id")
    body = await read_json(request, users.UPDATE_SCHEMA, partial=True)
    if not body:
        raise bad_request("send at least one field to change")
    if body.get("disabled") and user_id == admin.id:
        raise bad_request("you cannot disable yourself")
    async with request.app[DB].acquire() as conn:
        user = await users.update(conn, actor(request), user_id, body)
        revoked = await sessions.revoked_for_user(conn, user_id) if body.get("disabled") else []
    await publish_revoked(request.app, revoked)
    return json_response({"user": user})


@routes.get("/api/v1/role-policies")
@api("Second-factor policy per role (admin)", tag="admin")
async def list_policies(request: web.Request) -> web.StreamResponse:
    require_role(request, Role.ADMIN)
    async with request.app[DB].acquire() as conn:
        rows = await conn.fetch("SELECT role, totp_required FROM role_policies ORDER BY role")
    return json_response({"policies": [dict(r) for r in rows]})


@routes.put("/api/v1/role-policies/{role}")
@api(
    "Require (or stop requiring) a second factor for a role (admin)",
    tag="admin",
    request=POLICY_SCHEMA,
    responses={200: "Updated", 404: "No such role"},
)
async def set_policy(request: web.Request) -> web.StreamResponse:
    require_role(request, Role.ADMIN)
    role = request.match_info["role"]
    if role not in ROLES:
        raise not_found(f"role {role[:20]!r}")
    body = await read_json(request, POLICY_SCHEMA)
    async with request.app[DB].acquire() as conn, conn.transaction():
        before = await conn.fetchval(
            "SELECT totp_required FROM role_policies WHERE role = $1", role
        )
        await conn.execute("UPDATE role_policies SET totp_required = $2, updated_at = now() WHERE role = $1",
                           role, body["totp_required"])  # fmt: skip
        await audit.record(conn, actor(request), "policy.update", "role_policy", role, "administration",
                           details=audit.changes({"totp_required": before}, body))  # fmt: skip
    return json_response({"policy": {"role": role, "totp_required": body["totp_required"]}})


def _audit_filter(request: web.Request) -> audit.AuditFilter:
    q = request.query
    for name in ("patient_id", "actor_id", "before_id", "limit"):
        if name in q and not q[name].isdigit():
            raise bad_request(f"{name} must be a whole number")
    limit = int(q.get("limit", "200"))
    if not 1 <= limit <= 1000:
        raise bad_request("limit must be from 1 to 1000")

    def number(name: str) -> int | None:
        return int(q[name]) if name in q else None

    return audit.AuditFilter(
        patient_id=number("patient_id"), actor_id=number("actor_id"), action=q.get("action"),
        since=query_instant(request, "from"), until=query_instant(request, "to"), limit=limit,
        before_id=number("before_id"),
    )  # fmt: skip


@routes.get("/api/v1/audit")
@api(
    "Search the audit log, newest first (admin)",
    tag="admin",
    query={
        "patient_id": "rows about this patient (reads, lists that showed them, changes)",
        "actor_id": "rows by this user",
        "action": "e.g. patient.read",
        "from": "RFC 3339",
        "to": "RFC 3339",
        "limit": "1-1000",
        "before_id": "page: rows older than this id",
    },
)
async def list_audit(request: web.Request) -> web.StreamResponse:
    require_role(request, Role.ADMIN)
    f = _audit_filter(request)
    async with request.app[DB].acquire() as conn:
        rows = await audit.query(conn, f)
    return json_response({"entries": rows})


@routes.get("/api/v1/audit/patients/{patient_id}/export")
@api(
    "Every access to one patient's data, for the patient's right of access (admin); CSV or JSON",
    tag="admin",
    query={"format": "csv (default) or json"},
)
async def export_patient_access(request: web.Request) -> web.StreamResponse:
    require_role(request, Role.ADMIN)
    patient_id = int_param(request, "patient_id")
    fmt = request.query.get("format", "csv")
    if fmt not in {"csv", "json"}:
        raise bad_request("format must be csv or json")
    async with request.app[DB].acquire() as conn, conn.transaction():
        if not await conn.fetchval("SELECT 1 FROM patients WHERE id = $1", patient_id):
            raise not_found(f"patient {patient_id}")
        rows = await audit.query(conn, audit.AuditFilter(patient_id=patient_id, limit=1_000_000))
        await audit.record(conn, actor(request), "audit.export", "patient", patient_id,
                           "patient's right of access", patient_id=patient_id)  # fmt: skip
    rows.reverse()
    if fmt == "json":
        return json_response({"patient_id": patient_id, "entries": rows})
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["at", "actor_username", "action", "reason", "ip", "details"])
    for r in rows:
        writer.writerow([r["at"].isoformat(), r["actor_username"], r["action"], r["reason"], r["ip"] or "",
                         json.dumps(r["details"], ensure_ascii=False)])  # fmt: skip
    return web.Response(
        text=out.getvalue(), content_type="text/csv", charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="patient-{patient_id}-access.csv"'},
    )  # fmt: skip
