"""A call for advice in the browsers while PostgreSQL cannot be reached.

A server of this module's own reaches the real PostgreSQL through a gate
(``tests/pg_gate.py``, run on an event loop in a thread of its own) that the test shuts: the
nurse's ISBAR still goes out, the senior nurse's console rings with the ISBAR and says in large
type that the care plan cannot be shown, the call connects; once the gate opens, the
consultation is handed back to the database and finished there as any other.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, expect

from advice_line.outage.watch import REFRESH_SECONDS
from tests.conftest import Servers, recreate_database
from tests.e2e.browsing import screenshot
from tests.e2e.conftest import _free_port, _wait_until_ready
from tests.e2e.test_calls import NURSE, Line, open_isbar, patient_id, ring_panel, screen
from tests.pg_gate import PostgresGate

pytestmark = pytest.mark.browser

PATIENT = "DEMO-002"


class ThreadedGate:
    """The gate on an event loop of its own (Playwright's sync API holds this thread's)."""

    def __init__(self, database_url: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.gate = PostgresGate.for_url(database_url)
        self._run(self.gate.open())

    def _run(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=10)

    def shut(self) -> None:
        self._run(self.gate.shut())

    def open(self) -> None:
        if self.gate._server is None:
            self._run(self.gate.open())

    def close(self) -> None:
        self._run(self.gate.shut())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)
        self.loop.close()  # its self-pipe is a socket pair: closed here, not by the collector


@pytest.fixture(scope="module")
def gated_server(
    servers: Servers, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, ThreadedGate]]:
    """``advice-line serve`` with the demo data, reaching PostgreSQL through a gate."""
    with ThreadPoolExecutor(max_workers=1) as worker:
        database_url = worker.submit(
            asyncio.run, recreate_database(servers, "advice_line_e2e_outage")
        ).result()
    gate = ThreadedGate(database_url)
    root = tmp_path_factory.mktemp("e2e-outage")
    env = {
        **os.environ,
        "ADVICE_LINE_DATABASE_URL": gate.gate.url(database_url),
        "ADVICE_LINE_REDIS_URL": servers.redis_url,
        "ADVICE_LINE_REDIS_KEY_PREFIX": f"e2e-outage:{uuid.uuid4().hex[:8]}:",
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
        yield base_url, gate
    finally:
        gate.open()
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        gate.close()


def _until_ready(line: Line, within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while line.people[0].context.request.get("/readyz").json()["status"] != "ready":
        assert time.monotonic() < deadline, "the server did not see the database back"
        time.sleep(0.2)  # the polling interval of the deadline loop


def test_a_call_asked_for_while_the_database_is_away_rings_and_connects(
    browser: Browser, gated_server: tuple[str, ThreadedGate]
) -> None:
    base_url, gate = gated_server
    line = Line(browser, base_url)
    try:
        _outage_call(line, gate)
    finally:
        gate.open()
        problems = line.close()
    assert not problems, "\n".join(problems)


def _outage_call(line: Line, gate: ThreadedGate) -> None:
    try:
        nurse = line.person(NURSE)
        senior = line.advisor("senior_nurse")
        page = open_isbar(nurse, PATIENT)
        form = page.get_by_test_id("isbar-form")
        form.get_by_role("button", name="Smerter", exact=True).click()
        form.get_by_label("Haster", exact=True).check()
        patient = patient_id(nurse, PATIENT)
        # The server copies what routing needs every few seconds: let it see the advisor.
        time.sleep(REFRESH_SECONDS + 1)

        gate.shut()
        # A nurse opening the form now cannot see the record, and can still ask.
        other = nurse.context.new_page()
        other.goto(f"/call/new?patient={patient}")
        expect(other.get_by_test_id("patient-unavailable")).to_be_visible()
        expect(other.get_by_test_id("isbar-identify")).to_contain_text(f"Patient nr. {patient}")
        screenshot(other, "outage-isbar-without-record")
        other.close()

        page.get_by_test_id("ask-button").click()
        expect(page).to_have_url(re.compile(r"/call/\d+$"))
        consultation_id = line.track(int(page.url.rsplit("/", 1)[1]))
        expect(page.get_by_test_id("call-headline")).to_have_text(
            "Ringer til erfaren sygeplejerske …"
        )

        panel = ring_panel(senior.page, consultation_id)
        expect(panel).to_be_visible()
        unavailable = panel.get_by_test_id("care-plan-unavailable")
        expect(unavailable).to_contain_text("Kan ikke vises lige nu")
        expect(unavailable).to_contain_text("Spørg sygeplejersken")
        expect(panel.get_by_test_id("isbar")).to_contain_text("Smerter")
        screen(senior.page, "outage-console-ringing-screen")

        panel.get_by_role("button", name="Tag opkaldet").click()
        expect(senior.page).to_have_url(re.compile(rf"/call/{consultation_id}$"))
        expect(senior.page.get_by_test_id("care-plan-unavailable")).to_be_visible()
        expect(page.get_by_test_id("call-headline")).not_to_have_text(
            re.compile("Ringer til"), timeout=15_000
        )
        screenshot(senior.page, "outage-advisor-call")
    finally:
        gate.open()
    _until_ready(line)
    # Handed back within a probe or two: the database has it, and it is finished there.
    deadline = time.monotonic() + 10
    path = f"/api/v1/consultations/{consultation_id}"
    while "degraded" in (found := line.people[0].api("GET", path)["consultation"]):
        assert time.monotonic() < deadline, "not handed back"
        time.sleep(0.2)  # the polling interval of the deadline loop
    assert found["state"] == "connected"
    line.finish()
