"""The ``/ws`` endpoint: authenticated, Origin-checked, heart-beaten, registered, rate-limited.

The skeleton speaks ``ping``/``pong`` and errors; routing and signalling add their message
types to ``signalling.codec``. Every connection is registered and removed in ``finally``;
on shutdown all are closed with 1001 Going Away so clients reconnect to another node.
"""

from __future__ import annotations

import time

import structlog
from aiohttp import WSMsgType, web

from advice_line.appkeys import (
    BUS,
    CALLS,
    CONNECTIONS,
    METRICS,
    NURSE_WATCH,
    PRESENCE,
    RESUME,
    ROUTING,
    SESSION,
    SETTINGS,
)
from advice_line.call_relay import CallRelay
from advice_line.http import same_origin
from advice_line.problems import forbidden, unauthenticated
from signalling import codec
from signalling.bus import Gap, parse_seq
from signalling.registry import SESSION_ENDED, Connection

log = structlog.get_logger("advice_line.ws")

#: Token bucket per connection: sustained messages per second, and burst.
RATE_PER_SECOND = 20.0
RATE_BURST = 40.0


def _rate_ok(conn: Connection, now: float) -> bool:
    elapsed = now - conn.rate_checked_at if conn.rate_checked_at else 0.0
    conn.rate_checked_at = now
    conn.rate_tokens = min(RATE_BURST, conn.rate_tokens + elapsed * RATE_PER_SECOND)
    if conn.rate_tokens < 1.0:
        return False
    conn.rate_tokens -= 1.0
    return True


async def websocket(request: web.Request) -> web.StreamResponse:
    session = request.get(SESSION)
    if session is None:
        raise unauthenticated("log in before opening the WebSocket")
    origin = request.headers.get("Origin")
    if not origin or not same_origin(request, origin):
        raise forbidden("WebSocket from a foreign or missing Origin refused")
    settings = request.app[SETTINGS]
    # aiohttp drops a connection whose frame exceeds max_msg_size; the codec refuses beyond
    # the protocol limit first, with an error, so moderately oversized messages keep it up.
    ws = web.WebSocketResponse(
        heartbeat=settings.ws_heartbeat_seconds, max_msg_size=settings.ws_max_message_bytes * 4
    )
    await ws.prepare(request)
    registry = request.app[CONNECTIONS]
    # What was sent to the user before this point is not for this connection (unless it
    # resumes): the state it needs comes from the REST API after the welcome.
    head = await request.app[BUS].head(session.user.id)
    conn = registry.add(ws, session.user.id, session.token_hash)
    conn.rate_tokens = RATE_BURST
    conn.held = []  # live messages wait until the welcome (and any replay) has gone out
    metrics = request.app[METRICS]
    metrics.websockets.inc()
    log.info("ws.connected", connection=conn.id)
    presence = request.app[PRESENCE]
    calls = request.app[CALLS]
    try:
        await presence.refresh([(conn.user_id, conn.id)], int(time.time() * 1000))
        if session.user.role == "nurse":
            await request.app[NURSE_WATCH].back(session.user.id)
        if session.user.role == "advisor":
            # Back online: waiting calls may be offered at once (if they chose "available").
            await request.app[ROUTING].advisor_available(session.user.id)
        await _welcome(request, conn, session.user.public(), head)
        async for message in ws:
            if message.type == WSMsgType.TEXT:
                await _handle_text(conn, message.data, settings.ws_max_message_bytes, calls)
            elif message.type == WSMsgType.BINARY:
                await ws.send_str(
                    codec.error(codec.ErrorCode.MALFORMED, "binary frames are not accepted")
                )
            elif message.type == WSMsgType.ERROR:
                log.info("ws.error", connection=conn.id, error=str(ws.exception()))
    finally:
        registry.remove(conn)
        await _goodbye(request, conn, ws, session.user.role)
        metrics.websockets.dec()
        log.info("ws.closed", connection=conn.id, code=ws.close_code)
    return ws


async def _goodbye(
    request: web.Request, conn: Connection, ws: web.WebSocketResponse, role: str
) -> None:
    """The socket closed: its calls, its resume token, the nurse watch and presence."""
    resumable = conn.resume_token is not None and not _closed_for_good(ws)
    try:
        if conn.resume_token is not None and resumable:
            await request.app[RESUME].dropped(conn.resume_token)
        # Its calls' peers get call.peer_left (after the grace, if it may resume).
        await request.app[CALLS].disconnected(conn, resumable=resumable)
        if role == "nurse":  # even on a page change: she is back within the grace
            await request.app[NURSE_WATCH].dropped(conn.user_id)
    except Exception:  # Redis away: memberships and tokens expire by themselves
        log.info("ws.call_leave_failed", connection=conn.id, exc_info=True)
    try:
        await request.app[PRESENCE].remove(conn.user_id, conn.id)
    except Exception:  # Redis away: the entry expires by itself within two heartbeats
        log.info("ws.presence_remove_failed", connection=conn.id)


def _closed_for_good(ws: web.WebSocketResponse) -> bool:
    """Closed by the client on purpose (leaving the page) or because its session ended."""
    return ws.close_code in (1000, SESSION_ENDED)


async def _welcome(
    request: web.Request, conn: Connection, user: dict[str, object], head: str
) -> None:
    """Send ``welcome`` with a new resume token, then every message sent to the user after
    ``head`` (read before the connection was registered) or, when the client may resume
    (``resume`` and ``last`` in the query), after the last one it saw; then the live ones
    that were held meanwhile, without repeats, in order."""
    settings, bus, tokens = request.app[SETTINGS], request.app[BUS], request.app[RESUME]
    live_ms = int(settings.ws_heartbeat_seconds * 2000)
    resumed, start = False, head
    token, last = request.query.get("resume"), request.query.get("last", "")
    if token is not None and parse_seq(last) is not None:
        resumed = await tokens.redeem(token, conn.user_id, conn.session_hash)
        start = last if resumed else head
    try:
        replay = await bus.replay(conn.user_id, start)
    except Gap:
        log.info("ws.resume_gap", connection=conn.id)
        resumed, start, replay = False, head, []
    conn.resume_token = await tokens.issue(conn.user_id, conn.session_hash, live_ms)
    await conn.ws.send_str(codec.encode("welcome", {
        "user": user, "heartbeat_seconds": settings.ws_heartbeat_seconds,
        "resume_token": conn.resume_token, "resume_grace_seconds": settings.ws_resume_grace_seconds,
        "resumed": resumed, "replayed": len(replay) if resumed else 0, "seq": start,
    }))  # fmt: skip
    log.info("ws.welcome", connection=conn.id, resumed=resumed, replayed=len(replay))
    sent = parse_seq(start) or (0, 0)
    for seq, text in replay:
        await conn.ws.send_str(text)
        sent = parse_seq(seq) or sent
    while conn.held:  # appended to while we await: drained in order before going live
        seq, text = conn.held.pop(0)
        parsed = parse_seq(seq)
        if parsed is not None and parsed > sent:
            await conn.ws.send_str(text)
            sent = parsed
    conn.held = None


async def _handle_text(conn: Connection, text: str, max_bytes: int, calls: CallRelay) -> None:
    if not _rate_ok(conn, time.monotonic()):
        await conn.ws.send_str(codec.error(codec.ErrorCode.RATE_LIMITED, "slow down"))
        return
    try:
        message = codec.decode(text, max_bytes=max_bytes)
    except codec.CodecError as exc:
        await conn.ws.send_str(codec.error(exc.code, exc.detail, reply_to=exc.message_id))
        return
    if message.type == "ping":
        await conn.ws.send_str(codec.encode("pong", reply_to=message.id))
    elif message.type in codec.CALL_TYPES:
        await calls.handle(conn, message)
