"""REST for evaluation reports: the JSON report, each table as CSV, charts as SVG/PNG, and
the pseudonymised research extract (audited). Coordinators and admins only; a coordinator
sees their own organisation's figures, an admin any organisation's or all of them."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
from typing import Any

import asyncpg
from aiohttp import web

from advice_line import evaluation_store
from advice_line.appkeys import CATALOGUE, DB, SETTINGS
from advice_line.evaluation import (
    EXTRACT_PARTS,
    TABLE_NAMES,
    FilterError,
    Report,
    ReportFilter,
    Table,
    parse_filter,
)
from advice_line.evaluation.records import ZONE
from advice_line.http import actor, json_response, require_role
from advice_line.i18n import LANGUAGES, request_language
from advice_line.openapi import api
from advice_line.problems import Problem, forbidden, not_found
from advice_line.roles import Role
from advice_line.sessions import SessionUser

routes = web.RouteTableDef()

REPORT_READERS = (Role.COORDINATOR, Role.ADMIN)
CHART_NAMES = ("heatmap", "answer_times", "escalation", "died_where_wished")
FILTER_QUERY = {
    "from": "first local date (YYYY-MM-DD, Danish time; default: the 1st of this month)",
    "to": "local date after the last (default: the 1st of the next month)",
    "organisation": "one organisation's id (coordinators: only their own)",
    "tier": "only calls that reached this tier (1-3)",
}


def bad_filter(errors: list[dict[str, Any]]) -> Problem:
    """400 naming every bad filter parameter with a stable code."""
    return Problem(400, "bad-filter", "The report filter is invalid", errors=errors)


def today() -> dt.date:
    """Today in Danish time: the default period is this (local) month."""
    return dt.datetime.now(ZONE).date()


async def scoped_filter(
    request: web.Request, conn: asyncpg.Connection, *extra: str
) -> ReportFilter:
    """The request's filter, limited to what the caller may see (403 for another
    organisation than a coordinator's own, 400 for bad or unknown parameters)."""
    user: SessionUser = require_role(request, *REPORT_READERS)
    try:
        f = parse_filter(request.query, today(), extra=frozenset(extra))
    except FilterError as exc:
        raise bad_filter(exc.errors) from None
    if user.role != Role.ADMIN:
        own = user.organisation_id
        if f.organisation_id not in (None, own):
            raise forbidden("coordinators see the reports of their own organisation only")
        return ReportFilter(f.start, f.end, own, f.tier)
    if f.organisation_id is not None and not await conn.fetchval(
        "SELECT 1 FROM organisations WHERE id = $1", f.organisation_id
    ):
        raise bad_filter([{"field": "organisation", "code": "unknown_organisation",
                           "message": "no such organisation"}])  # fmt: skip
    return f


async def _report(request: web.Request, *extra: str) -> Report:
    async with request.app[DB].acquire() as conn:
        f = await scoped_filter(request, conn, *extra)
        return await evaluation_store.load_report(conn, f)


def csv_response(table: Table, f: ReportFilter, stem: str) -> web.Response:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(table.csv_rows())
    name = f"{stem}-{f.start.isoformat()}-{f.end.isoformat()}.csv"
    return web.Response(text=out.getvalue(), content_type="text/csv", charset="utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})  # fmt: skip


@routes.get("/api/v1/reports")
@api(
    "The evaluation report for a period, organisation and tier: every table (coordinators, admins)",
    tag="reports",
    query=FILTER_QUERY,
    responses={
        200: "The report",
        400: "Bad filter, each parameter named with a code",
        403: "Not a coordinator or admin, or another organisation",
    },
)
async def read_report(request: web.Request) -> web.StreamResponse:
    report = await _report(request)
    return json_response({**report.to_json(), "table_names": list(TABLE_NAMES),
                          "charts": list(CHART_NAMES)})  # fmt: skip


@routes.get("/api/v1/reports/{table:[a-z_0-9]+}.csv")
@api(
    "One table of the evaluation report as CSV (header row; empty field = no figure)",
    tag="reports",
    query=FILTER_QUERY,
    responses={200: "text/csv", 400: "Bad filter", 404: "No such table"},
)
async def report_table_csv(request: web.Request) -> web.StreamResponse:
    name = request.match_info["table"]
    if name not in TABLE_NAMES:
        raise not_found(f"report table {name[:40]!r}")
    report = await _report(request)
    return csv_response(report.table(name), report.filter, name)


@routes.get("/api/v1/reports/charts/{chart:[a-z_0-9]+}.{format:[a-z]+}")
@api(
    "A chart of the evaluation report as SVG or PNG, labelled in ?lang=da|en",
    tag="reports",
    query={**FILTER_QUERY, "lang": "da or en (default: the page's language)"},
    responses={200: "image/svg+xml or image/png", 400: "Bad filter", 404: "No such chart"},
)
async def report_chart(request: web.Request) -> web.StreamResponse:
    from advice_line import report_charts  # matplotlib is heavy: loaded on first use

    name, fmt = request.match_info["chart"], request.match_info["format"]
    if name not in CHART_NAMES or fmt not in report_charts.FORMATS:
        raise not_found(f"chart {name[:40]!r}.{fmt[:5]}")
    language = request.query.get("lang") or request_language(
        request, request.app[SETTINGS].default_language
    )
    if language not in LANGUAGES:
        raise bad_filter([{"field": "lang", "code": "choice", "message": "must be da or en"}])
    report = await _report(request, "lang")
    catalogue = request.app[CATALOGUE]

    def t(key: str, **values: object) -> str:
        return catalogue.translate(language, key, **values)

    # Drawing takes a CPU-bound moment: off the event loop.
    body = await asyncio.get_running_loop().run_in_executor(
        None, report_charts.render, report, name, fmt, t
    )
    return web.Response(body=body, content_type=report_charts.FORMATS[fmt])


@routes.get("/api/v1/reports/research-extract.csv")
@api(
    "The pseudonymised research extract as CSV: episodes or course outcomes (audited)",
    tag="reports",
    query={**FILTER_QUERY, "part": "episodes (default) or courses"},
    responses={
        200: "text/csv",
        400: "Bad filter",
        409: "No pseudonym key configured (ADVICE_LINE_RESEARCH_PSEUDONYM_KEY)",
    },
)
async def research_extract(request: web.Request) -> web.StreamResponse:
    part = request.query.get("part", "episodes")
    key = request.app[SETTINGS].research_pseudonym_key
    async with request.app[DB].acquire() as conn:
        f = await scoped_filter(request, conn, "part")
        if part not in EXTRACT_PARTS:
            raise bad_filter([{"field": "part", "code": "choice",
                               "message": "must be episodes or courses"}])  # fmt: skip
        if key is None:
            raise Problem(409, "research-key-missing", "No pseudonym key",
                          "set ADVICE_LINE_RESEARCH_PSEUDONYM_KEY to make research extracts")  # fmt: skip
        table = await evaluation_store.research_extract(conn, f, part, key.encode(), actor(request))
    return csv_response(table, f, f"research-{part}")
