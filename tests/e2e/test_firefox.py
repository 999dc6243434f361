"""The browser apps in Firefox: Debian's ``firefox-esr``, driven by Playwright over WebDriver BiDi.

Playwright's own Firefox build cannot be installed here, so Playwright drives the system
Firefox through its ``moz-firefox`` channel (the standard WebDriver BiDi protocol). Every new
browser context makes Playwright send ``emulation.setMediaFeaturesOverride`` (its colour-scheme
emulation, which none of these tests uses); Firefox ESR does not know that command yet and
refuses it, which would fail every ``new_context``. So Playwright talks to Firefox through a
small WebSocket relay that passes every message on unchanged and turns only Firefox's
"unknown command" answer to such an optional command into an empty success. A wrapper script
starts Firefox and rewrites the endpoint Firefox announces so that Playwright connects to the
relay. When a Firefox knows the command, its own answer passes through and the relay does
nothing.

The profile's preferences give Firefox a fake camera (a coloured picture) and microphone (a
tone) that pages may use without a prompt, and a stand-in sound output for the ring tone.

What is checked, in Firefox: each role logs in and lands on its page at tablet size; the
language switch; the nurse picks a patient, fills the ISBAR and calls; the senior nurse on duty
(a second Firefox context) is rung, hears the ring tone, sees the DNR status and accepts; both
see the other's video playing and get the other's sound; the nurse ends the call. The helpers
are those of the Chromium tests (``test_calls``, ``test_video_call``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, Playwright, expect

from tests.e2e.browsing import DEMO_LOGINS, screenshot
from tests.e2e.conftest import TABLET
from tests.e2e.firefox_bidi import BidiRelay, find_firefox, firefox_wrapper
from tests.e2e.test_calls import DNR_PATIENT, NURSE, Line, Person, ring_panel
from tests.e2e.test_video_call import (
    MEDIA_SECONDS,
    accept,
    expect_audio_flowing,
    expect_connected,
    inbound,
    snapshot,
)

pytestmark = pytest.mark.browser

#: A fake camera and microphone that every page may use without a prompt, and a stand-in
#: loudspeaker: without a sound device (as here) an AudioContext never starts, and the console
#: would rightly say that its ring tone cannot sound.
FIREFOX_PREFS: dict[str, str | float | bool] = {
    "media.navigator.streams.fake": True,
    "media.navigator.permission.disabled": True,
    "media.cubeb.force_mock_context": True,
}
#: Frames a remote video must advance by.
FRAMES = 10
#: To line up animations before a screenshot, Playwright adds ``<style>body {}</style>`` to a
#: Firefox page; the app's CSP rightly refuses it, naming the style's hash.
SCREENSHOT_STYLE_HASH = "sha256-YjaKGiklmzC6wjXA513HAMmzus8VE61XCOT+SmwNZWA="
REMOTE_VIDEOS = "[...document.querySelectorAll('[data-testid=remote-tile] video')]"


# Fixtures ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def firefox(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Browser]:
    """Headless system Firefox with a fake camera and microphone, driven through the relay."""
    executable = find_firefox()
    if executable is None:
        if os.environ.get("CI"):
            pytest.fail("CI must have Firefox: .ci/run installs firefox-esr")
        pytest.skip("Firefox not installed (apt-get install firefox-esr) — Firefox tests skipped")
    playwright: Playwright = request.getfixturevalue("playwright_driver")
    with BidiRelay() as relay:
        wrapper = firefox_wrapper(executable, relay.port, tmp_path_factory.mktemp("firefox"))
        browser = playwright.firefox.launch(
            channel="moz-firefox", executable_path=str(wrapper), headless=True,
            firefox_user_prefs=FIREFOX_PREFS,
        )  # fmt: skip
        yield browser
        browser.close()


@pytest.fixture
def line(firefox: Browser, live_server: str) -> Iterator[Line]:
    """The people of a test, each in a tablet-sized Firefox context of their own.

    Their calls are finished after the test, and it fails if a page threw or the
    Content-Security-Policy refused something (Firefox reports a refusal as a page error),
    except the style Playwright's own screenshots add.
    """
    made = Line(firefox, live_server)
    try:
        yield made
        made.finish()
    finally:
        problems = [p for p in made.close() if SCREENSHOT_STYLE_HASH not in p]
    assert not problems, "\n".join(problems)


# Steps -------------------------------------------------------------------------------------


def expect_tablet_layout(page: Page) -> None:
    """The page fills a tablet's window and nothing sticks out sideways."""
    size = page.evaluate("[innerWidth, innerHeight, document.documentElement.scrollWidth]")
    assert size[:2] == [TABLET["width"], TABLET["height"]]
    assert size[2] <= TABLET["width"], f"the page is {size[2]} px wide"


def expect_videos_playing(page: Page, count: int) -> None:
    """``count`` remote videos show a picture and play on (their time advances).

    Firefox counts no ``getVideoPlaybackQuality()`` frames for a WebRTC stream (they stay 0),
    so the frames are checked apart, from ``getStats()``: ``expect_frames_arriving``.
    """
    timeout = MEDIA_SECONDS * 1000
    expect(page.get_by_test_id("remote-tile")).to_have_count(count)
    playing = page.locator("[data-testid='remote-tile'][data-video='on']")
    expect(playing).to_have_count(count, timeout=timeout)
    page.wait_for_function(
        f"n => {REMOTE_VIDEOS}.filter(v => v.videoWidth > 0 && !v.paused).length === n",
        arg=count, timeout=timeout,
    )  # fmt: skip
    before = page.evaluate(f"() => {REMOTE_VIDEOS}.map(v => v.currentTime)")
    page.wait_for_function(
        f"before => {REMOTE_VIDEOS}.every((v, i) => v.currentTime >= before[i] + 0.5)",
        arg=before, timeout=timeout,
    )  # fmt: skip


def expect_frames_arriving(page: Page, user_id: int) -> None:
    """Frames from ``user_id`` keep being decoded (the connection's own figures)."""
    start = inbound(page, user_id, "video").get("framesDecoded", 0)
    page.wait_for_function(
        """([userId, target]) => window.__adviceCall.snapshot().then((state) => state.peers.some(
               (p) => p.userId === userId && (p.inbound.video?.framesDecoded || 0) >= target))""",
        arg=[user_id, start + FRAMES], timeout=MEDIA_SECONDS * 1000,
    )  # fmt: skip


def pick_patient_and_ask(line: Line, nurse: Person, reference: str) -> int:
    """From the nurse's landing page: find the patient, fill the ISBAR, call with video."""
    page = nurse.page
    page.get_by_test_id("call-for-advice").click()
    picker = page.get_by_test_id("patient-picker")
    picker.get_by_label("Søg på navn eller reference").fill(reference)
    picker.get_by_role("button", name="Søg", exact=True).click()
    items = page.get_by_test_id("pick-list").locator("li")
    expect(items).to_have_count(1)
    items.first.get_by_role("link", name=re.compile("^Ring for råd om")).click()
    form = page.get_by_test_id("isbar-form")
    expect(form.get_by_test_id("isbar-identify")).to_contain_text(f"({reference})")
    form.get_by_role("button", name="Smerter", exact=True).click()
    form.get_by_label("Vurdering").fill("TOBS 4")
    form.get_by_label("Haster", exact=True).check()
    expect(form.get_by_label("Video", exact=True)).to_be_checked()
    expect(form.get_by_label(re.compile("^Situation"))).to_have_value("Smerter")
    screenshot(page, "firefox-isbar")
    page.get_by_test_id("ask-button").click()
    expect(page).to_have_url(re.compile(r"/call/\d+$"))
    expect(page.get_by_test_id("call-headline")).to_have_text("Ringer til erfaren sygeplejerske …")
    return line.track(int(page.url.rsplit("/", 1)[1]))


# Tests -------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["nurse", "advisor", "coordinator", "admin"])
def test_each_role_logs_in_and_lands_on_its_page_in_firefox(line: Line, role: str) -> None:
    username, name, role_text, _organisation = DEMO_LOGINS[role]
    page = line.person(username).page  # through the login form, to the role's landing page
    expect(page.get_by_test_id(f"landing-{role}")).to_be_visible()
    expect(page.get_by_test_id("who").locator(".who-name")).to_have_text(name)
    expect(page.get_by_test_id("who").locator(".who-role")).to_have_text(role_text)
    expect_tablet_layout(page)
    screenshot(page, f"firefox-landing-{role}")


def test_the_language_switch_goes_to_english_and_back_in_firefox(line: Line) -> None:
    page = line.person(NURSE).page
    heading = page.get_by_test_id("landing-nurse").get_by_role("heading", level=1)
    expect(heading).to_have_text("Hjemmesygeplejerske")  # Danish unless chosen otherwise
    expect(page.locator("html")).to_have_attribute("lang", "da")

    page.get_by_role("link", name="English").click()
    expect(heading).to_have_text("Home nurse")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_test_id("who").locator(".who-role")).to_have_text("Nurse")
    screenshot(page, "firefox-landing-nurse-english")

    page.get_by_role("link", name="Dansk").click()
    expect(heading).to_have_text("Hjemmesygeplejerske")
    expect(page.locator("html")).to_have_attribute("lang", "da")
    page.get_by_role("button", name="Log ud").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.get_by_role("button", name="Log ind")).to_be_visible()


def test_a_video_call_from_isbar_to_the_end_in_firefox(line: Line) -> None:
    nurse = line.person(NURSE)
    senior = line.advisor("senior_nurse")  # her click on "available" unlocks the ring tone
    expect(senior.page.get_by_test_id("sound-state")).to_have_text("Ringelyden er slået til.")
    consultation_id = pick_patient_and_ask(line, nurse, DNR_PATIENT)
    screenshot(nurse.page, "firefox-nurse-ringing")

    # The senior nurse's console rings, audibly, with the DNR status first; she accepts.
    panel = ring_panel(senior.page, consultation_id)
    expect(senior.page.locator("#console")).to_have_attribute("data-ringtone", "on")
    dnr = panel.get_by_test_id("dnr-status")
    expect(dnr).to_have_attribute("data-dnr", "true")
    expect(dnr).to_contain_text("Ja – ingen genoplivning")
    expect(panel.get_by_test_id("isbar")).to_contain_text("TOBS 4")
    screenshot(senior.page, "firefox-console-ringing")
    accept(senior, consultation_id)

    # Both see and hear each other: a picture that plays, frames that keep coming.
    expect(nurse.page.get_by_test_id("call-headline")).to_have_text(f"Forbundet med {senior.name}")
    for person, other in ((nurse, senior), (senior, nurse)):
        expect_connected(person.page)
        expect_videos_playing(person.page, 1)
        expect_frames_arriving(person.page, other.id)
        expect_audio_flowing(person.page, other.id)
        expect(person.page.get_by_test_id("self-tile")).to_have_attribute("data-video", "on")
        expect(person.page.get_by_test_id("media-sound")).to_be_hidden()  # sound autoplays
        expect(person.page.get_by_test_id("tile-name")).to_have_text(other.name)
        expect_tablet_layout(person.page)
    screenshot(nurse.page, "firefox-nurse-connected")
    screenshot(senior.page, "firefox-senior-connected")

    # The nurse ends the call: both cameras and microphones stop, no connection is left.
    nurse.page.get_by_test_id("end-button").click()
    expect(nurse.page.get_by_test_id("call-headline")).to_have_text("Samtalen er slut")
    for person in (nurse, senior):
        expect(person.page.get_by_test_id("media")).to_be_hidden()
        person.page.wait_for_function(
            "() => window.__adviceCall.localStream.getTracks().every(t => t.readyState === 'ended')"
        )
        state: dict[str, Any] = snapshot(person.page)
        assert (state["peers"], state["state"]) == ([], "ended")
    screenshot(nurse.page, "firefox-nurse-ended")
    screenshot(senior.page, "firefox-senior-ended")
