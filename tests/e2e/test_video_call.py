"""Real video and sound between browsers: the call page's WebRTC side (web/static/media_call.js).

Chromium runs with a fake camera (a moving test pattern) and a fake microphone (a beep), and
each person has a browser context of their own against the live server, negotiating through
its ``/ws`` exactly as on a tablet. What is checked is what people get: remote videos that
play (frames advancing), sound that arrives (RTP packets and audio energy growing), the
avatar when a camera is off, the Danish messages when a device is refused. The figures come
from ``window.__adviceCall.snapshot()`` (``pc.getStats()`` per person of the call).

Who is rung depends on the demo rotas and the hour: the helpers of ``test_calls`` ask who is
on duty now and log that person in, and finish every consultation a test opened.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, Playwright, expect

from tests.e2e.browsing import screenshot
from tests.e2e.conftest import FAKE_DEVICES, launch_chromium
from tests.e2e.test_calls import (
    COORDINATOR,
    DNR_PATIENT,
    LIMITED_PATIENT,
    NURSE,
    PHONE,
    Line,
    Person,
    ask,
    open_isbar,
    ring_panel,
)

pytestmark = pytest.mark.browser

#: Frames a remote video must advance by, and how long media may take to flow.
FRAMES, MEDIA_SECONDS = 10, 20.0
SNAPSHOT = "() => window.__adviceCall.snapshot()"
REMOTE_VIDEOS = "[...document.querySelectorAll('[data-testid=remote-tile] video')]"


@pytest.fixture
def line(media_browser: Browser, live_server: str) -> Iterator[Line]:
    """The people of a test in the fake-camera browser; their calls are finished after it."""
    made = Line(media_browser, live_server)
    try:
        yield made
        made.finish()
    finally:
        problems = made.close()
    assert not problems, "\n".join(problems)


@pytest.fixture
def asking_browser(playwright_driver: Playwright) -> Iterator[Browser]:
    """Fake devices but no fake prompt: a context may use only what it was granted."""
    chromium = launch_chromium(playwright_driver, FAKE_DEVICES)
    yield chromium
    chromium.close()


@pytest.fixture
def asking_line(asking_browser: Browser, live_server: str) -> Iterator[Line]:
    made = Line(asking_browser, live_server)
    try:
        yield made
        made.finish()
    finally:
        problems = made.close()
    assert not problems, "\n".join(problems)


# Steps ------------------------------------------------------------------------------------


def accept(advisor: Person, consultation_id: int) -> None:
    panel = ring_panel(advisor.page, consultation_id)
    panel.get_by_role("button", name="Tag opkaldet").click()
    expect(advisor.page).to_have_url(re.compile(rf"/call/{consultation_id}$"))


def media_state(page: Page) -> Any:
    return page.get_by_test_id("media-state")


def expect_connected(page: Page, *, audio: bool = False) -> None:
    text = "I kan høre hinanden" if audio else "I kan se og høre hinanden"
    expect(media_state(page)).to_contain_text(f"Forbundet – {text}", timeout=MEDIA_SECONDS * 1000)
    expect(page.get_by_test_id("media")).to_have_attribute("data-media-state", "connected")


def expect_videos_playing(page: Page, count: int) -> None:
    """``count`` remote videos show, each with a picture and frames that keep coming."""
    timeout = MEDIA_SECONDS * 1000
    expect(page.get_by_test_id("remote-tile")).to_have_count(count)
    playing = page.locator("[data-testid='remote-tile'][data-video='on']")
    expect(playing).to_have_count(count, timeout=timeout)
    page.wait_for_function(
        f"n => {REMOTE_VIDEOS}.filter(v => v.videoWidth > 0).length === n", arg=count,
        timeout=timeout,
    )  # fmt: skip
    before = page.evaluate(
        f"() => {REMOTE_VIDEOS}.map(v => v.getVideoPlaybackQuality().totalVideoFrames)"
    )
    page.wait_for_function(
        f"""([before, frames]) => {REMOTE_VIDEOS}.every(
              (v, i) => v.getVideoPlaybackQuality().totalVideoFrames >= before[i] + frames)""",
        arg=[before, FRAMES], timeout=timeout,
    )  # fmt: skip


def snapshot(page: Page) -> dict[str, Any]:
    found: dict[str, Any] = page.evaluate(SNAPSHOT)
    return found


def inbound(page: Page, user_id: int, kind: str) -> dict[str, float]:
    """What has come in from ``user_id`` so far (``kind`` "audio" or "video")."""
    for peer in snapshot(page)["peers"]:
        if peer["userId"] == user_id:
            figures: dict[str, float] = peer["inbound"].get(kind, {})
            return figures
    raise AssertionError(f"no connection with {user_id}")


def eventually(check: Callable[[], bool], what: str, seconds: float = MEDIA_SECONDS) -> None:
    """Wait for ``check()`` with a deadline (media figures change over time, not on events)."""
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"not within {seconds:g}s: {what}")
        time.sleep(0.25)  # polling interval of the deadline loop


def grows(page: Page, user_id: int, kind: str, name: str, by: float) -> Callable[[], bool]:
    start = inbound(page, user_id, kind).get(name, 0)
    return lambda: inbound(page, user_id, kind).get(name, 0) >= start + by


def expect_audio_flowing(page: Page, user_id: int) -> None:
    eventually(
        grows(page, user_id, "audio", "packetsReceived", 50), f"audio packets from {user_id}"
    )


def ask_by_phone(line: Line, nurse: Person, reference: str) -> int:
    """Like ``ask``, but choosing "Kun lyd": a consultation without video."""
    page = open_isbar(nurse, reference)
    form = page.get_by_test_id("isbar-form")
    form.get_by_role("button", name="Smerter", exact=True).click()
    form.get_by_label("Kun lyd", exact=True).check()
    page.get_by_test_id("ask-button").click()
    expect(page).to_have_url(re.compile(r"/call/\d+$"))
    return line.track(int(page.url.rsplit("/", 1)[1]))


# The whole call ---------------------------------------------------------------------------


def test_nurse_and_senior_nurse_see_each_other_then_the_gp_joins_all_three(line: Line) -> None:
    nurse = line.person(NURSE)
    senior = line.advisor("senior_nurse")
    gp = line.advisor("gp")
    consultation_id = ask(line, nurse, DNR_PATIENT, shot="video-isbar")
    page = nurse.page
    expect(page.get_by_test_id("media")).to_be_hidden()  # nothing to show while it rings

    panel = ring_panel(senior.page, consultation_id)
    expect(panel.get_by_test_id("dnr-status")).to_have_attribute("data-dnr", "true")
    expect(panel.get_by_test_id("dnr-status")).to_contain_text("Ja – ingen genoplivning")
    accept(senior, consultation_id)

    # Both see and hear each other: a picture, and frames that keep coming, on both sides.
    for person in (nurse, senior):
        expect_connected(person.page)
        expect_videos_playing(person.page, 1)
        expect(person.page.get_by_test_id("self-tile")).to_have_attribute("data-video", "on")
    expect(page.get_by_test_id("tile-name")).to_have_text(senior.name)
    expect(senior.page.get_by_test_id("tile-name")).to_have_text(nurse.name)
    for testid in ("media-mute", "media-camera", "media-audio-only-toggle"):
        expect(page.get_by_test_id(testid)).to_have_attribute("aria-pressed", "false")
    screenshot(page, "video-nurse-connected")
    screenshot(senior.page, "video-senior-connected")

    # The senior nurse escalates with a note; the GP on duty accepts and joins the call.
    senior.page.get_by_role("button", name="Eskalér til næste niveau").click()
    note = "Ønsker lægens vurdering af smertebehandlingen."
    escalate = senior.page.get_by_test_id("escalate-form")
    escalate.get_by_label(re.compile("^Note til næste niveau")).fill(note)
    escalate.get_by_role("button", name="Ring til næste niveau").click()
    gp_panel = ring_panel(gp.page, consultation_id)
    expect(gp_panel.get_by_test_id("escalation-note")).to_contain_text(note)
    expect_videos_playing(page, 1)  # the call goes on while the GP is rung
    accept(gp, consultation_id)

    # Everyone sees the two others: the nurse has two remote tiles, named.
    for person in (nurse, senior, gp):
        expect_connected(person.page)
        expect_videos_playing(person.page, 2)
    # One tile per person, named, in the order they joined.
    expect(page.get_by_test_id("tile-name")).to_have_text([senior.name, gp.name])
    for person in (nurse, senior, gp):
        peers = snapshot(person.page)["peers"]
        assert sorted(p["userId"] for p in peers) == sorted(
            other.id for other in (nurse, senior, gp) if other is not person
        )
        assert all(p["ice"] in ("connected", "completed") for p in peers), peers
    screenshot(page, "video-nurse-three-way")
    screenshot(gp.page, "video-gp-three-way")

    # The nurse ends the call: everyone's camera and microphone stop, no connection is left.
    page.get_by_test_id("end-button").click()
    expect(page.get_by_test_id("call-headline")).to_have_text("Samtalen er slut")
    for person in (nurse, senior, gp):
        expect(person.page.get_by_test_id("media")).to_be_hidden()
        person.page.wait_for_function(
            "() => window.__adviceCall.localStream.getTracks().every(t => t.readyState === 'ended')"
        )
        assert snapshot(person.page)["peers"] == []
        assert snapshot(person.page)["state"] == "ended"
    screenshot(gp.page, "video-gp-ended")

    # The GP documents the advice and the outcome from the call page; saving ends the wrap-up.
    gp.page.get_by_role("link", name="Dokumentér rådgivningen").click()
    form = gp.page.get_by_test_id("doc-form")
    form.get_by_label("Klaret med råd i telefonen").check()
    form.get_by_label(re.compile("^Rådgivning")).fill(
        "Øg den faste morfin; ekstra dosis ved behov."
    )
    form.get_by_label("Nej", exact=True).check()
    gp.page.get_by_test_id("doc-save").click()
    expect(gp.page.get_by_test_id("doc-current").get_by_test_id("doc-advice")).to_have_text(
        "Øg den faste morfin; ekstra dosis ved behov."
    )
    screenshot(gp.page, "video-gp-documented")

    # The episode appears for the coordinator, with the answer and the escalation.
    coordinator = line.person(COORDINATOR)
    coordinator.page.goto("/episodes")
    row = coordinator.page.locator(f"[data-episode-id='{consultation_id}']")
    expect(row).to_contain_text("Klaret med råd i telefonen")
    row.get_by_role("link").click()
    facts = coordinator.page.get_by_test_id("episode-facts")
    expect(facts).to_contain_text(senior.name)
    expect(facts).to_contain_text(gp.name)
    screenshot(coordinator.page, "video-coordinator-episode")


def test_a_phone_consultation_carries_sound_both_ways_and_no_video(line: Line) -> None:
    nurse = line.person(NURSE, PHONE)
    senior = line.advisor("senior_nurse")
    consultation_id = ask_by_phone(line, nurse, LIMITED_PATIENT)
    accept(senior, consultation_id)

    for person, other in ((nurse, senior), (senior, nurse)):
        page = person.page
        expect_connected(page, audio=True)
        expect(page.get_by_test_id("self-tile")).to_be_hidden()
        expect(page.get_by_test_id("media-camera")).to_be_hidden()
        tile = page.get_by_test_id("remote-tile")
        expect(tile).to_have_attribute("data-video", "off")
        expect(tile.get_by_test_id("tile-note")).to_have_text("Kun lyd")
        expect_audio_flowing(page, other.id)
        state = snapshot(page)
        assert state["local"] == ["audio"]
        assert [kind for kind, _ in state["peers"][0]["sending"]] == ["audio"]
        assert "video" not in state["peers"][0]["inbound"]
    screenshot(nurse.page, "video-phone-consultation-phone")


def test_mute_camera_off_and_audio_only_reach_the_other_side(line: Line) -> None:
    nurse = line.person(NURSE)
    senior = line.advisor("senior_nurse")
    consultation_id = ask(line, nurse, DNR_PATIENT)
    accept(senior, consultation_id)
    for person in (nurse, senior):
        expect_videos_playing(person.page, 1)
    page = nurse.page
    heard = senior.page  # where the nurse's sound and picture arrive

    # Muted: packets still come (the connection holds) but carry no sound.
    eventually(grows(heard, nurse.id, "audio", "totalAudioEnergy", 0.01), "the beep is heard")
    page.get_by_test_id("media-mute").click()
    expect(page.get_by_test_id("media-mute")).to_have_attribute("aria-pressed", "true")
    expect(page.get_by_test_id("self-tile")).to_contain_text("din mikrofon er slået fra")
    time.sleep(0.5)  # packets sent before the click are still arriving (jitter buffer)
    energy = inbound(heard, nurse.id, "audio")["totalAudioEnergy"]
    expect_audio_flowing(heard, nurse.id)
    assert inbound(heard, nurse.id, "audio")["totalAudioEnergy"] - energy < 0.001
    page.get_by_test_id("media-mute").click()
    expect(page.get_by_test_id("media-mute")).to_have_attribute("aria-pressed", "false")
    eventually(grows(heard, nurse.id, "audio", "totalAudioEnergy", 0.01), "the beep again")

    # Camera off: the senior nurse sees the nurse's initials and "camera off"; on again.
    page.get_by_test_id("media-camera").click()
    expect(page.get_by_test_id("media-camera")).to_have_attribute("aria-pressed", "true")
    expect(page.get_by_test_id("self-tile")).to_have_attribute("data-video", "off")
    tile = heard.get_by_test_id("remote-tile")
    expect(tile).to_have_attribute("data-video", "off")
    expect(tile.get_by_test_id("tile-note")).to_have_text("Kameraet er slukket")
    screenshot(heard, "video-senior-sees-camera-off")
    page.get_by_test_id("media-camera").click()
    expect(tile).to_have_attribute("data-video", "on")
    expect_videos_playing(heard, 1)

    # The senior nurse switches to audio only: renegotiated, no video either way, sound goes on.
    senior.page.get_by_test_id("media-audio-only-toggle").click()
    expect(senior.page.get_by_test_id("media-audio-only-toggle")).to_have_attribute(
        "aria-pressed", "true"
    )
    expect(senior.page.get_by_test_id("media-camera")).to_be_disabled()
    expect(page.get_by_test_id("remote-tile")).to_have_attribute("data-video", "off")
    expect(tile).to_have_attribute("data-video", "off")
    expect(tile.get_by_test_id("tile-note")).to_have_text("Kun lyd")
    expect(media_state(senior.page)).to_contain_text("Forbundet – I kan høre hinanden.")
    senior.page.wait_for_function(
        "() => window.__adviceCall.localStream.getVideoTracks().length === 0"
    )
    for person, other in ((nurse, senior), (senior, nurse)):
        person.page.wait_for_function(
            """() => window.__adviceCall.snapshot().then(s => s.peers.every(p =>
                   p.signaling === 'stable'
                   && p.sending.every(([kind, dir]) => kind === 'audio' || dir === 'inactive')))"""
        )
        expect_audio_flowing(person.page, other.id)
    screenshot(page, "video-nurse-sees-audio-only")

    # And back to video.
    senior.page.get_by_test_id("media-audio-only-toggle").click()
    expect(senior.page.get_by_test_id("media-audio-only-toggle")).to_have_attribute(
        "aria-pressed", "false"
    )
    expect_videos_playing(page, 1)
    expect_videos_playing(heard, 1)


def test_a_call_reports_its_quality_and_it_is_stored_in_the_timeline(line: Line) -> None:
    nurse = line.person(NURSE)
    senior = line.advisor("senior_nurse")
    consultation_id = ask(line, nurse, DNR_PATIENT)
    # The shortest interval the server takes (one report per 5 s per connection).
    nurse.page.evaluate("document.getElementById('media').dataset.qualitySeconds = '5'")
    accept(senior, consultation_id)
    expect_videos_playing(nurse.page, 1)

    def reports() -> list[dict[str, Any]]:
        found = nurse.api("GET", f"/api/v1/consultations/{consultation_id}")["consultation"]
        return [e for e in found["timeline"] if e["type"] == "call_quality"]

    eventually(
        lambda: any(e["actor_id"] == nurse.id for e in reports()), "a call_quality event", 30
    )
    report = next(e for e in reports() if e["actor_id"] == nurse.id)["data"]
    assert set(report) == {"rtt_ms", "packet_loss", "bitrate_kbps", "relay"}
    assert 0 <= report["rtt_ms"] < 400
    assert 0 <= report["packet_loss"] < 0.05
    assert report["bitrate_kbps"] > 10  # video and sound came in
    assert report["relay"] is False  # on one machine the host candidates connect directly
    page = nurse.page
    expect(page.get_by_test_id("media-poor")).to_be_hidden()

    # Figures of a bad network (as a congested 4G cell gives): the nurse is told, and offered
    # audio only, which takes the video off the connection.
    page.evaluate("""() => {
        const call = window.__adviceCall;
        call.quality = async () => ({ rtt_ms: 650, packet_loss: 0.12, bitrate_kbps: 90, relay: false });
        return call.reportQuality();
    }""")
    poor = page.get_by_test_id("media-poor")
    expect(poor).to_contain_text("Dårlig forbindelse")
    screenshot(page, "video-poor-network")
    poor.get_by_role("button", name="Skift til kun lyd").click()
    expect(page.get_by_test_id("media-audio-only-toggle")).to_have_attribute("aria-pressed", "true")
    expect(poor).to_be_hidden()
    expect(senior.page.get_by_test_id("remote-tile")).to_have_attribute("data-video", "off")
    expect_audio_flowing(senior.page, nurse.id)


ICE_UFRAG = """(side) => {
  const pc = [...window.__adviceCall.peers.values()][0].pc;
  const sdp = (side === "local" ? pc.localDescription : pc.remoteDescription).sdp;
  return sdp.match(/a=ice-ufrag:(\\S+)/)[1];
}"""
#: ``[side, ufrag, same]``: whether that side's ICE username fragment is (or is no longer) it.
UFRAG_IS = """([side, ufrag, same]) => {
  const pc = [...window.__adviceCall.peers.values()][0].pc;
  const description = side === "local" ? pc.localDescription : pc.remoteDescription;
  const now = description && description.sdp.match(/a=ice-ufrag:(\\S+)/)[1];
  return same ? now === ufrag : Boolean(now) && now !== ufrag;
}"""


def test_an_ice_restart_renegotiates_through_the_server_and_the_picture_comes_back(
    line: Line,
) -> None:
    """What the page does when ICE fails (a network change): ``restartIce()``, new ICE
    credentials offered and answered through the server, and media over the new path."""
    nurse = line.person(NURSE)
    senior = line.advisor("senior_nurse")
    consultation_id = ask(line, nurse, DNR_PATIENT)
    accept(senior, consultation_id)
    for person in (nurse, senior):
        expect_videos_playing(person.page, 1)
    before = nurse.page.evaluate(ICE_UFRAG, "local")
    assert senior.page.evaluate(ICE_UFRAG, "remote") == before

    # The nurse's side restarts ICE, exactly as its handler does on "failed".
    nurse.page.evaluate("[...window.__adviceCall.peers.values()][0].pc.restartIce()")
    nurse.page.wait_for_function(
        UFRAG_IS, arg=["local", before, False], timeout=MEDIA_SECONDS * 1000
    )
    after = nurse.page.evaluate(ICE_UFRAG, "local")
    senior.page.wait_for_function(
        UFRAG_IS, arg=["remote", after, True], timeout=MEDIA_SECONDS * 1000
    )

    # Same connection object, connected again, and the picture keeps coming on both sides.
    for person in (nurse, senior):
        eventually(
            lambda person=person: all(
                p["ice"] in ("connected", "completed") for p in snapshot(person.page)["peers"]
            ),
            "ICE connected again",
        )
        expect_videos_playing(person.page, 1)
    assert len(snapshot(nurse.page)["peers"]) == 1


def test_a_dropped_connection_shows_reconnecting_and_the_call_picks_up_again(line: Line) -> None:
    nurse = line.person(NURSE)
    senior = line.advisor("senior_nurse")
    consultation_id = ask(line, nurse, DNR_PATIENT)
    accept(senior, consultation_id)
    page = nurse.page
    expect_videos_playing(page, 1)
    page.evaluate(f"window.__adviceCall.peers.get({senior.id}).pc.kept = true")

    # The tablet loses the server (the WebSocket); the media goes peer to peer meanwhile.
    nurse.context.set_offline(True)
    expect(page.get_by_test_id("live-status")).to_be_visible()
    expect(media_state(page)).to_have_text("Forbindelsen er ustabil – genopretter billede og lyd …")
    expect(page.get_by_test_id("media")).to_have_attribute("data-media-state", "reconnecting")
    screenshot(page, "video-nurse-reconnecting")
    expect_videos_playing(page, 1)

    # Back: the session resumes, the call is joined again with its place kept, so the same
    # peer connections carry on (no renegotiation, nobody was told she left).
    nurse.context.set_offline(False)
    expect_connected(page)
    expect_videos_playing(page, 1)
    expect_videos_playing(senior.page, 1)
    assert page.evaluate(f"window.__adviceCall.peers.get({senior.id}).pc.kept === true")


# When the camera or the microphone is refused ----------------------------------------------


def test_a_refused_camera_says_so_in_danish_and_the_call_goes_on_with_sound(
    asking_line: Line,
) -> None:
    # The nurse's browser allows the microphone but blocks the camera (as if she had answered
    # "block" for the camera); the senior nurse's allows both.
    line = asking_line
    nurse = line.person(NURSE, permissions=("microphone",))
    senior = line.advisor("senior_nurse", permissions=("camera", "microphone"))
    consultation_id = ask(line, nurse, DNR_PATIENT)
    accept(senior, consultation_id)
    page = nurse.page

    problem = page.get_by_test_id("media-problem")
    expect(problem).to_contain_text("Browseren har ikke lov til at bruge kameraet.")
    expect(problem.get_by_role("button", name="Fortsæt kun med lyd")).to_be_visible()
    expect(problem.get_by_role("button", name="Prøv igen")).to_be_visible()
    # Meanwhile the call is up: she sees the senior nurse, and can end it.
    expect_videos_playing(page, 1)
    expect(page.get_by_test_id("end-button")).to_be_visible()
    expect(senior.page.get_by_test_id("remote-tile")).to_have_attribute("data-video", "off")
    screenshot(page, "video-camera-refused")

    # "Try again" with the camera still blocked: the same message.
    problem.get_by_role("button", name="Prøv igen").click()
    expect(problem).to_contain_text("Browseren har ikke lov til at bruge kameraet.")

    # The microphone is blocked too now: "audio only" says how to allow it; the call stays.
    nurse.context.clear_permissions()
    problem.get_by_role("button", name="Fortsæt kun med lyd").click()
    expect(problem).to_contain_text("Mikrofonen er blokeret")
    expect(problem).to_contain_text("Webstedsindstillinger")
    expect(problem.get_by_role("button", name="Fortsæt kun med lyd")).to_be_hidden()
    expect(page.get_by_test_id("end-button")).to_be_visible()
    expect(page.get_by_test_id("call-headline")).to_have_text(f"Forbundet med {senior.name}")
    screenshot(page, "video-microphone-refused")

    # She allows the microphone in the browser and tries again: the call has sound both ways.
    nurse.context.grant_permissions(["microphone"])
    problem.get_by_role("button", name="Prøv igen").click()
    expect(problem).to_be_hidden()
    expect(page.get_by_test_id("media-audio-only-toggle")).to_have_attribute("aria-pressed", "true")
    expect_audio_flowing(senior.page, nurse.id)
    expect_audio_flowing(page, senior.id)
    expect(senior.page.get_by_test_id("remote-tile").get_by_test_id("tile-note")).to_have_text(
        "Kameraet er slukket"
    )
    screenshot(page, "video-refused-camera-audio-only")
