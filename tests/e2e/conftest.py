"""Browser tests: the real service in its own process, seeded with the demo data, and Chromium.

The server runs from the ``advice-line`` console script against a fresh database on the
test servers, exactly as an operator would start it. Each test gets a new browser context
(a tablet-sized window with a Danish locale), so cookies and storage never leak between
tests; tests make their own data (unique references and usernames) where they change any.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Playwright, sync_playwright

from tests.conftest import Servers, recreate_database

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
]  # fmt: skip
#: Chromium's stand-ins for a camera (a moving test pattern) and a microphone (a beep).
FAKE_DEVICES = "--use-fake-device-for-media-stream"
#: Answers every camera/microphone prompt with "allow", whatever the context's permissions.
FAKE_PROMPT = "--use-fake-ui-for-media-stream"
TABLET = {"width": 1024, "height": 768}
STARTUP_SECONDS = 60.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - our own http URL
            return bool(response.status == 200)
    except (OSError, urllib.error.URLError):
        return False


def _wait_until_ready(process: subprocess.Popen[bytes], url: str, log_file: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while not _ready(url):
        if process.poll() is not None:
            pytest.fail(
                f"advice-line serve exited with {process.returncode}:\n{log_file.read_text()}"
            )
        if time.monotonic() > deadline:
            pytest.fail(
                f"advice-line serve not ready after {STARTUP_SECONDS}s:\n{log_file.read_text()}"
            )
        time.sleep(0.1)  # polling interval of the deadline loop, not a wait for an outcome


@pytest.fixture(scope="session")
def live_server(servers: Servers, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The base URL of a running ``advice-line serve`` with the demo data."""
    # In a thread of its own: Playwright's sync API keeps an event loop running on this one.
    with ThreadPoolExecutor(max_workers=1) as worker:
        database_url = worker.submit(
            asyncio.run, recreate_database(servers, "advice_line_e2e")
        ).result()
    root = tmp_path_factory.mktemp("e2e-server")
    env = {
        **os.environ,
        "ADVICE_LINE_DATABASE_URL": database_url,
        "ADVICE_LINE_REDIS_URL": servers.redis_url,
        # A prefix of its own per run: login-failure counters from an earlier run on a shared
        # Redis (CI) must not throttle this one.
        "ADVICE_LINE_REDIS_KEY_PREFIX": f"e2e:{uuid.uuid4().hex[:8]}:",
        "ADVICE_LINE_DATA_DIR": str(root / "data"),
        "ADVICE_LINE_ENVIRONMENT": "test",
    }
    command = str(Path(sys.executable).parent / "advice-line")
    seeded = subprocess.run([command, "demo"], env=env, capture_output=True, text=True, check=False)
    assert seeded.returncode == 0, f"advice-line demo failed:\n{seeded.stdout}\n{seeded.stderr}"
    port = _free_port()
    log_file = root / "server.log"
    with log_file.open("wb") as log:
        process = subprocess.Popen(
            [command, "serve", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_ready(process, base_url + "/readyz", log_file)
        yield base_url
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="package")
def playwright_driver() -> Iterator[Playwright]:
    """Playwright, started once: its sync API cannot be started twice on one thread.

    Skipped locally (never in CI) when Chromium is missing. Package scope, not session:
    Playwright's sync API keeps an event loop running on the main thread while it is
    started, which would break the asyncio tests collected after this package (integration,
    unit) if it stayed up until the end of the session.
    """
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail("CI must have Chromium: .ci/run installs it")
        pytest.skip("Chromium not installed (apt-get install chromium) — browser tests skipped")
    with sync_playwright() as playwright:
        yield playwright


def launch_chromium(playwright: Playwright, *extra_args: str) -> Browser:
    """Headless Chromium from the system, with ``extra_args`` after the usual ones."""
    return playwright.chromium.launch(
        executable_path=str(CHROMIUM), headless=True, args=[*CHROMIUM_ARGS, *extra_args]
    )


@pytest.fixture(scope="package")
def browser(playwright_driver: Playwright) -> Iterator[Browser]:
    """Headless Chromium from the system."""
    chromium = launch_chromium(playwright_driver)
    yield chromium
    chromium.close()


@pytest.fixture(scope="module")
def media_browser(playwright_driver: Playwright) -> Iterator[Browser]:
    """Chromium with a fake camera and microphone that every page may use (the video calls)."""
    chromium = launch_chromium(playwright_driver, FAKE_DEVICES, FAKE_PROMPT)
    yield chromium
    chromium.close()


@pytest.fixture
def page(browser: Browser, live_server: str) -> Iterator[Page]:
    """A fresh tablet-sized context per test (no cookies from other tests), Danish locale.

    The test fails if a script throws or the Content-Security-Policy refuses something
    (an inline script or style slipped into a page).
    """
    context = browser.new_context(base_url=live_server, viewport=TABLET, locale="da-DK",
                                  timezone_id="Europe/Copenhagen")  # fmt: skip
    context.set_default_timeout(10_000)
    tab = context.new_page()
    problems: list[str] = []
    tab.on("pageerror", lambda error: problems.append(f"script error: {error}"))
    tab.on("console", lambda message: _note_refusal(message, problems))
    yield tab
    context.close()
    assert not problems, "\n".join(problems)


def _note_refusal(message: ConsoleMessage, problems: list[str]) -> None:
    if message.type == "error" and "Content Security Policy" in message.text:
        problems.append(f"CSP: {message.text}")
