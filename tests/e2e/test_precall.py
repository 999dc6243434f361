"""The pre-call test in a real Chromium with its fake camera and microphone: the nurse opens
it from her start page, her own video comes back from the server's echo peer, and the result
names the round trip and the bitrate."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.browsing import log_in, screenshot
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, TABLET, _note_refusal

pytestmark = pytest.mark.browser

#: A synthetic camera and microphone, granted without asking (Chromium's own test devices).
FAKE_MEDIA = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]


@pytest.fixture(scope="module")
def media_browser(browser: Browser) -> Iterator[Browser]:
    """A second Chromium from the same Playwright, started with the fake devices."""
    chromium = browser.browser_type.launch(
        executable_path=str(CHROMIUM), headless=True, args=[*CHROMIUM_ARGS, *FAKE_MEDIA]
    )
    yield chromium
    chromium.close()


@pytest.fixture
def media_page(media_browser: Browser, live_server: str) -> Iterator[Page]:
    """Like the shared ``page``: a fresh tablet context, failing on script errors and CSP
    refusals."""
    context = media_browser.new_context(base_url=live_server, viewport=TABLET, locale="da-DK",
                                        timezone_id="Europe/Copenhagen")  # fmt: skip
    context.grant_permissions(["camera", "microphone"])
    context.set_default_timeout(10_000)
    tab = context.new_page()
    problems: list[str] = []
    tab.on("pageerror", lambda error: problems.append(f"script error: {error}"))
    tab.on("console", lambda message: _note_refusal(message, problems))
    yield tab
    context.close()
    assert not problems, "\n".join(problems)


def frames_shown(page: Page, testid: str) -> int:
    return int(page.eval_on_selector(
        f"[data-testid='{testid}']",
        "v => v.getVideoPlaybackQuality().totalVideoFrames",
    ))  # fmt: skip


def test_the_nurse_tests_camera_microphone_and_network(media_page: Page) -> None:
    page = media_page
    log_in(page, "sygeplejerske")
    page.get_by_test_id("precall-link").click()
    expect(page).to_have_url(re.compile(r"/precall$"))
    expect(page.get_by_role("heading", name="Test før opkald")).to_be_visible()

    page.get_by_test_id("precall-start").click()

    echo = page.get_by_test_id("precall-echo")
    page.wait_for_function(
        "() => document.querySelector(\"[data-testid='precall-echo']\").videoWidth > 0",
        timeout=30_000,
    )
    expect(page.get_by_test_id("precall-progress")).to_be_visible()
    before = frames_shown(page, "precall-echo")
    page.wait_for_function(
        f"() => document.querySelector(\"[data-testid='precall-echo']\")"
        f".getVideoPlaybackQuality().totalVideoFrames > {before + 5}",
        timeout=10_000,
    )
    assert echo.evaluate("v => v.videoHeight") > 0
    screenshot(page, "precall-running")

    result = page.get_by_test_id("precall-result")
    expect(result).to_be_visible(timeout=30_000)
    rtt = page.get_by_test_id("precall-rtt")
    bitrate = page.get_by_test_id("precall-bitrate")
    expect(rtt).to_have_text(re.compile(r"^\d+ ms$"))
    assert 0 <= float(rtt.get_attribute("data-value") or "nan") < 1000
    assert float(bitrate.get_attribute("data-value") or "0") > 0
    expect(bitrate).to_contain_text("kbit/s")
    expect(page.get_by_test_id("precall-upload")).to_contain_text("kbit/s")  # the server's count
    expect(page.get_by_test_id("check-camera")).to_have_class("check is-ok")
    expect(page.get_by_test_id("check-microphone")).to_have_class(
        "check is-ok"
    )  # the fake beep came back
    expect(page.get_by_test_id("check-network")).to_contain_text("Netværket")
    assert result.get_attribute("data-verdict") in ("good", "usable", "poor")
    screenshot(page, "precall-result")


def test_an_audio_only_test_shows_no_video(media_page: Page) -> None:
    page = media_page
    log_in(page, "sygeplejerske2")
    page.goto("/precall")

    page.get_by_test_id("precall-audio").click()

    expect(page.get_by_test_id("precall-result")).to_be_visible(timeout=40_000)
    expect(page.get_by_test_id("check-camera")).to_be_hidden()
    expect(page.get_by_test_id("precall-bitrate")).to_contain_text("kbit/s")
    assert float(page.get_by_test_id("precall-bitrate").get_attribute("data-value") or "0") > 0
