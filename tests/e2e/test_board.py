"""The coordinators' live board in the browser: a call appears under its tier as it rings,
with who is being rung and a ticking time; a failed read shows the board as stale.

Uses the people of ``test_calls`` (each in a browser context of their own, the on-duty
advisor found from the demo rotas); the consultation is cancelled at the end.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Route, expect

from tests.e2e.browsing import screenshot
from tests.e2e.test_calls import COORDINATOR, DNR_PATIENT, NURSE, Line, patient_id

pytestmark = pytest.mark.browser

WALL = {"width": 1920, "height": 1080}
#: The board reads every 5 s; a card must be there within one read and a little.
WITHIN_ONE_POLL_MS = 8_000


@pytest.fixture
def line(browser: Browser, live_server: str) -> Iterator[Line]:
    """As in test_calls: afterwards the consultations are finished and the line quiet."""
    made = Line(browser, live_server)
    try:
        yield made
        made.finish()
    finally:
        problems = made.close()
    assert not problems, "\n".join(problems)


def test_a_ringing_call_appears_under_tier_1_and_a_failed_read_shows_stale(line: Line) -> None:
    coordinator = line.person(COORDINATOR, WALL)
    page = coordinator.page
    page.get_by_test_id("board-link").click()
    expect(page).to_have_url(re.compile(r"/board$"))
    board = page.get_by_test_id("board")
    expect(board).to_have_attribute("data-state", "fresh")
    expect(page.get_by_test_id("board-updated")).to_have_text(
        re.compile(r"^Sidst opdateret \d\d[.:]\d\d[.:]\d\d$")
    )

    senior = line.advisor("senior_nurse")
    tier1 = page.get_by_test_id("board-tier-1")
    expect(tier1.get_by_test_id("board-person").filter(has_text=senior.name)).to_contain_text(
        "Ledig", timeout=WITHIN_ONE_POLL_MS
    )

    nurse = line.person(NURSE, browse=False)
    asked = nurse.api("POST", "/api/v1/consultations", {
        "patient_id": patient_id(nurse, DNR_PATIENT), "channel": "video", "urgency": "acute",
        "isbar": {"situation": "Smerter"}})  # fmt: skip
    consultation_id = line.track(int(asked["consultation"]["id"]))

    card = tier1.locator(f"[data-testid='board-card'][data-consultation-id='{consultation_id}']")
    expect(card).to_be_visible(timeout=WITHIN_ONE_POLL_MS)
    expect(card).to_have_attribute("data-state", "ringing")
    expect(card.get_by_test_id("board-card-state")).to_have_text("Ringer")
    expect(card.locator(".badge.urgency-acute")).to_have_text("Akut")
    expect(card.get_by_test_id("board-ringing")).to_have_text(f"Ringer til: {senior.name}")
    expect(card).to_contain_text(f"Patient {DNR_PATIENT}")
    expect(card.get_by_test_id("board-elapsed")).to_have_text(re.compile(r"^venter \d+:\d\d$"))
    first = card.get_by_test_id("board-elapsed").text_content()
    expect(card.get_by_test_id("board-elapsed")).not_to_have_text(first or "")  # it ticks
    expect(tier1.get_by_test_id("board-person").filter(has_text=senior.name)).to_contain_text(
        "Ringer"
    )
    expect(tier1.locator("[data-count='waiting']")).not_to_have_text("0")
    expect(page.get_by_test_id("board")).not_to_contain_text("Agnes Fiktivsen")
    screenshot(page, "board-ringing-wall")

    # The server stops answering: the board says since when it is old, then recovers.
    def refuse(route: Route) -> None:
        route.abort()

    page.route("**/api/v1/board", refuse)
    stale = page.get_by_test_id("board-stale")
    expect(stale).to_be_visible(timeout=WITHIN_ONE_POLL_MS)
    expect(stale).to_contain_text("Tavlen er ikke opdateret siden")
    expect(board).to_have_attribute("data-state", "stale")
    screenshot(page, "board-stale-wall")
    page.unroute("**/api/v1/board", refuse)
    page.locator("#board-retry").click()
    expect(board).to_have_attribute("data-state", "fresh")
    expect(stale).to_be_hidden()
