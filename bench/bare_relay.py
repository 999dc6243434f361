"""The yardstick for ``bench/signalling_bench.py relay``: a bare aiohttp WebSocket relay.

A client connects to ``/ws?user=<id>``; every text frame it sends is a JSON object naming a
recipient in ``to``, and is forwarded unchanged to every connection of that recipient. No
authentication, no checks, no Redis, no database: what a relay costs in aiohttp and
Python alone, the floor our ``/ws`` (sessions, codec, rate limit, access check, the Redis
user bus) is measured against. ``GET /readyz`` answers 200 once it listens (as the service's does).

Run: ``python bench/bare_relay.py --port 8765`` (stops on SIGTERM or SIGINT).
"""

from __future__ import annotations

import argparse
import json

from aiohttp import WSMsgType, web

PEERS: web.AppKey[dict[int, set[web.WebSocketResponse]]] = web.AppKey("peers", dict)


async def relay(request: web.Request) -> web.WebSocketResponse:
    try:
        user = int(request.query["user"])
    except (KeyError, ValueError):
        raise web.HTTPBadRequest(text="give ?user=<integer>") from None
    ws = web.WebSocketResponse(max_msg_size=1 << 20)
    await ws.prepare(request)
    peers = request.app[PEERS]
    peers.setdefault(user, set()).add(ws)
    try:
        async for message in ws:
            if message.type != WSMsgType.TEXT:
                continue
            try:
                to = int(json.loads(message.data)["to"])
            except (ValueError, KeyError, TypeError):
                await ws.send_str('{"type":"error","code":"malformed"}')
                continue
            for peer in list(peers.get(to, ())):
                if not peer.closed:
                    await peer.send_str(message.data)
    finally:
        mine = peers.get(user)
        if mine is not None:
            mine.discard(ws)
            if not mine:
                del peers[user]
    return ws


async def readyz(_request: web.Request) -> web.Response:
    return web.Response(text="ok")


def create_app() -> web.Application:
    app = web.Application()
    app[PEERS] = {}
    app.router.add_get("/ws", relay)
    app.router.add_get("/readyz", readyz)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    web.run_app(create_app(), host=args.host, port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
