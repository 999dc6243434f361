"""Playwright drives Debian's ``firefox-esr`` over WebDriver BiDi through a small relay.

Every new browser context makes Playwright send ``emulation.setMediaFeaturesOverride`` (its
colour-scheme emulation); Firefox ESR does not know that command yet and refuses it, which
would fail every ``new_context``. The relay passes every message on unchanged and turns only
Firefox's "unknown command" answer to such an optional command into an empty success; a
wrapper script starts Firefox and rewrites the endpoint it announces so that Playwright
connects to the relay. When a Firefox knows the command, its own answer passes through.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import threading
from pathlib import Path

from aiohttp import ClientSession, ClientWebSocketResponse, WSMsgType, web

#: The commands Debian's firefox-esr package (or another Firefox) installs Firefox as.
FIREFOX_COMMANDS = ("firefox-esr", "firefox")
#: Commands Playwright sends that change nothing these tests look at (colour-scheme
#: emulation): Firefox's "unknown command" answer to them becomes an empty success.
OPTIONAL_COMMANDS = frozenset({"emulation.setMediaFeaturesOverride"})


def find_firefox() -> Path | None:
    """The installed Firefox, or None."""
    for name in FIREFOX_COMMANDS:
        found = shutil.which(name)
        if found:
            return Path(found)
    return None


# The relay between Playwright and Firefox --------------------------------------------------


class BidiRelay:
    """A WebSocket relay on 127.0.0.1, in a thread with its own event loop.

    ``ws://127.0.0.1:<port>/firefox/<firefox port>/session`` relays to Firefox's WebDriver BiDi
    session endpoint on ``<firefox port>``.
    """

    def __init__(self) -> None:
        self.port = 0
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._failure: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="bidi-relay", daemon=True)

    def __enter__(self) -> BidiRelay:
        self._thread.start()
        self._ready.wait(timeout=10)
        if self._failure or not self.port:
            raise RuntimeError("the BiDi relay did not start") from self._failure
        return self

    def __exit__(self, *_: object) -> None:
        assert self._loop is not None and self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=10)
        assert not self._thread.is_alive(), "the BiDi relay did not stop"

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as error:  # reported to the test thread by __enter__
            self._failure = error
            self._ready.set()

    async def _serve(self) -> None:
        app = web.Application()
        app.router.add_get(r"/firefox/{port:\d+}/session", relay_session)
        runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=2)
        await runner.setup()
        try:
            await web.TCPSite(runner, "127.0.0.1", 0).start()
            self.port = int(runner.addresses[0][1])
            self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
            self._ready.set()
            await self._stop.wait()
        finally:
            await runner.cleanup()


async def relay_session(request: web.Request) -> web.WebSocketResponse:
    """One Playwright connection, relayed to the Firefox whose BiDi port the path names."""
    playwright = web.WebSocketResponse(max_msg_size=0)
    await playwright.prepare(request)
    optional: set[int] = set()  # ids of OPTIONAL_COMMANDS not answered yet
    url = f"ws://127.0.0.1:{int(request.match_info['port'])}/session"
    async with (
        ClientSession() as session,
        session.ws_connect(url, max_msg_size=0) as firefox,
        asyncio.TaskGroup() as both_ways,
    ):
        both_ways.create_task(_to_firefox(playwright, firefox, optional))
        both_ways.create_task(_to_playwright(firefox, playwright, optional))
    return playwright


async def _to_firefox(
    playwright: web.WebSocketResponse, firefox: ClientWebSocketResponse, optional: set[int]
) -> None:
    async for message in playwright:
        if message.type is not WSMsgType.TEXT:
            break
        command = json.loads(message.data)
        if command.get("method") in OPTIONAL_COMMANDS:
            optional.add(command["id"])
        await firefox.send_str(message.data)
    await firefox.close()


async def _to_playwright(
    firefox: ClientWebSocketResponse, playwright: web.WebSocketResponse, optional: set[int]
) -> None:
    async for message in firefox:
        if message.type is not WSMsgType.TEXT:
            break
        text = message.data
        if optional:
            text = excuse_unknown(text, optional)
        await playwright.send_str(text)
    await playwright.close()


def excuse_unknown(text: str, optional: set[int]) -> str:
    """Firefox's answer, or an empty success where it does not know an optional command."""
    answer = json.loads(text)
    if answer.get("id") not in optional:
        return text
    optional.discard(answer["id"])
    if answer.get("type") == "error" and answer.get("error") == "unknown command":
        return json.dumps({"type": "success", "id": answer["id"], "result": {}})
    return text


def firefox_wrapper(firefox: Path, relay_port: int, folder: Path) -> Path:
    """A script that starts Firefox and announces the relay's endpoint instead of Firefox's.

    ``exec`` keeps Firefox on the process id Playwright started (which it stops), and the
    ``sed`` that rewrites Firefox's error output lives only as long as Firefox does.
    """
    announced = r"(WebDriver BiDi listening on ws://127\.0\.0\.1):([0-9]+)"
    script = folder / "firefox"
    script.write_text(
        "#!/bin/bash\n"
        f"exec {firefox} \"$@\" 2> >(exec sed -u -E 's#{announced}#\\1:{relay_port}/firefox/\\2#' >&2)\n"
    )
    script.chmod(0o755)
    return script
