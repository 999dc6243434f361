"""REST for the pre-call test: start an echo peer for one's own offer, end it.

Any signed-in user may test camera, microphone and network before a real call. The body is
bounded (64 KiB) and checked completely before a peer exists: a bad one gets a 4xx problem
whose ``errors`` carry a stable ``code``, and nothing is kept.
"""

from __future__ import annotations

import math
from typing import Any

from aiohttp import web

from advice_line.appkeys import ECHO_PEERS
from advice_line.http import current_session, json_response, read_json
from advice_line.openapi import api
from advice_line.problems import Problem
from advice_line.validation import Field, ValidationFailed
from signalling.echo_peer import MAX_SDP_CHARS, BadOffer, EchoBusy, EchoReplaced

routes = web.RouteTableDef()


MAX_BODY_BYTES = 64 * 1024
OFFER_SCHEMA = {
    "sdp": Field("str", required=True, min_length=1, max_length=MAX_SDP_CHARS),
    "type": Field("enum", required=True, choices=("offer",)),
}


def _bad_offer(errors: list[dict[str, Any]]) -> Problem:
    return Problem(422, "bad-offer", "The offer cannot be answered",
                   "send {\"sdp\": <your offer's SDP>, \"type\": \"offer\"}", errors=errors)  # fmt: skip


async def _read_offer(request: web.Request) -> str:
    """The offer's SDP: bounded, JSON, then checked field by field like every other body."""
    if (request.content_length or 0) > MAX_BODY_BYTES:
        raise Problem(413, "payload-too-large", "Payload too large",
                      f"an offer is at most {MAX_BODY_BYTES} bytes")  # fmt: skip
    try:
        data = await read_json(request, OFFER_SCHEMA)
    except ValidationFailed as exc:
        raise _bad_offer(exc.errors) from None
    return str(data["sdp"])  # unstripped: the SDP's line endings are part of it


@routes.post("/api/v1/echo-test")
@api("Pre-call test: answer one's own offer with an echo peer that sends the media back",
     tag="calls", request=OFFER_SCHEMA,
     responses={200: "The answer: {sdp, type, id, expires_in}", 400: "Not JSON",
                415: "Not application/json", 422: "Not an offer, or SDP that cannot be answered",
                413: "Body over 64 KiB", 503: "Too many tests on this node (Retry-After)"})  # fmt: skip
async def start_echo_test(request: web.Request) -> web.StreamResponse:
    user = current_session(request).user
    offer = await _read_offer(request)
    try:
        answer = await request.app[ECHO_PEERS].start(user.id, offer)
    except BadOffer as exc:
        raise _bad_offer([{"field": "sdp", "code": exc.code, "message": str(exc)}]) from None
    except EchoBusy as exc:
        raise Problem(503, "echo-busy", "Too many pre-call tests right now",
                      f"try again in {exc.retry_after} seconds",
                      headers={"Retry-After": str(exc.retry_after)},
                      retry_after=exc.retry_after) from None  # fmt: skip
    except EchoReplaced:
        raise Problem(409, "echo-replaced", "Replaced by a newer test",
                      "a newer pre-call test of yours started meanwhile") from None  # fmt: skip
    return json_response({"sdp": answer.sdp, "type": "answer", "id": answer.id,
                          "expires_in": math.ceil(answer.expires_in)})  # fmt: skip


@routes.delete("/api/v1/echo-test")
@api("End one's pre-call test (only test `id`, when given)", tag="calls",
     query={"id": "end only the test with this id"},
     responses={200: "{ended: true/false}"})  # fmt: skip
async def end_echo_test(request: web.Request) -> web.StreamResponse:
    user = current_session(request).user
    ended = await request.app[ECHO_PEERS].end(user.id, request.query.get("id"))
    return json_response({"ended": ended})
