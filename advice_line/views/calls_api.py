"""REST for calls: the ICE servers (STUN, TURN with short-lived credentials) for the caller."""

from __future__ import annotations

from aiohttp import web

from advice_line.appkeys import CALLS
from advice_line.http import current_session, json_response
from advice_line.openapi import api

routes = web.RouteTableDef()


@routes.get("/api/v1/ice-servers")
@api("ICE servers for WebRTC: STUN, and TURN with credentials valid for a while",
     tag="calls")  # fmt: skip
async def get_ice_servers(request: web.Request) -> web.StreamResponse:
    user = current_session(request).user
    relay = request.app[CALLS]
    return json_response(
        {"ice_servers": relay.ice_servers_for(user.id), "ttl_seconds": relay.ice.ttl_seconds}
    )
