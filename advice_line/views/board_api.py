"""REST for the coordinators' live board: one snapshot of calls, duty and alerts per tier."""

from __future__ import annotations

from aiohttp import web

from advice_line import board
from advice_line.appkeys import DB, PRESENCE, ROUTING
from advice_line.http import json_response, require_role
from advice_line.openapi import api
from advice_line.problems import bad_request
from advice_line.roles import Role

routes = web.RouteTableDef()

#: Who may watch the whole line.
BOARD_READERS = (Role.COORDINATOR, Role.ADMIN)


@routes.get("/api/v1/board")
@api("The live board: per tier the calls waiting and in progress, who is on duty with their "
     "status, the next coverage gap and handoff; the alerts of the last 12 hours. "
     "Coordinators and admins; no patient names, no clinical free text", tag="board",
     responses={200: "The snapshot", 400: "Query parameters given", 403: "Not a coordinator"})  # fmt: skip
async def read_board(request: web.Request) -> web.StreamResponse:
    user = require_role(request, *BOARD_READERS)
    if request.query:
        raise bad_request("the board takes no query parameters")
    now = request.app[ROUTING].clock()
    async with request.app[DB].acquire() as conn:
        snapshot = await board.snapshot(conn, request.app[PRESENCE], user, now)
    return json_response(snapshot)
