"""Calls for advice in the browser: the nurse's ISBAR and call screen, the advisors' console
and call screen, the coordinator's live alerts (no video yet: that part comes with WebRTC).

Several browser contexts (one per person) drive the shared live server. Who is rung depends
on the demo rotas and the hour, so each test asks ``/api/v1/rota/on-duty`` who is on duty
now and logs in that person; nobody else is connected, so nobody else is rung. Each test
ends, cancels or wraps up every consultation it opened (and sets every advisor it made away
available again) before its contexts close, so the next test starts from a quiet line.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, Route, expect

from tests.e2e.browsing import SCREENSHOTS, log_in, screenshot

pytestmark = pytest.mark.browser

TABLET = {"width": 1024, "height": 768}
PHONE = {"width": 390, "height": 844}
TIERS = ("senior_nurse", "gp", "specialist")
NURSE = "sygeplejerske"
COORDINATOR = "koordinator"
# From the demo data (advice_line/demo.py).
DNR_PATIENT = "DEMO-001"  # Agnes Fiktivsen: DNR decided, full treatment
LIMITED_PATIENT = "DEMO-002"  # Børge Demosen: no DNR decision, limited treatment
WAITING = ("requested", "ringing", "waking", "queued", "callback")
IN_CALL = ("connected", "escalating")
FINAL = ("ended", "cancelled", "abandoned", "failed")
LOST = "Forbindelsen er afbrudt – prøver igen …"


@dataclass
class Person:
    """One signed-in person in a browser context of their own."""

    username: str
    context: BrowserContext
    page: Page
    id: int = 0
    name: str = ""
    csrf: str = ""
    problems: list[str] = field(default_factory=list)

    def api(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """Call the REST API as this person (their session cookie, their CSRF token)."""
        response = self.context.request.fetch(
            path, method=method, data=json.dumps(body) if body is not None else None,
            headers={"X-CSRF-Token": self.csrf, "Content-Type": "application/json"},
        )  # fmt: skip
        assert response.ok, f"{method} {path}: {response.status} {response.text()}"
        return response.json() if response.status != 204 else None


class Line:
    """The people of one test, and the consultations it must leave finished."""

    def __init__(self, browser: Browser, base_url: str) -> None:
        self.browser = browser
        self.base_url = base_url
        self.people: list[Person] = []
        self.consultations: list[int] = []
        self.made_away: set[str] = set()

    def person(
        self, username: str, viewport: dict[str, int] = TABLET, *, browse: bool = True,
        permissions: tuple[str, ...] = (), init_script: str | None = None,
    ) -> Person:  # fmt: skip
        """A new context for ``username``, logged in through the form (or the API only)."""
        context = self.browser.new_context(
            base_url=self.base_url, viewport=viewport, locale="da-DK",
            timezone_id="Europe/Copenhagen",
        )  # fmt: skip
        if permissions:
            context.grant_permissions(list(permissions))
        context.set_default_timeout(15_000)
        if init_script:
            context.add_init_script(init_script)
        page = context.new_page()
        person = Person(username, context, page)
        page.on("pageerror", lambda error: person.problems.append(f"script error: {error}"))
        page.on("console", lambda message: _note_refusal(message, person.problems))
        self.people.append(person)
        if browse:
            log_in(page, username)
        else:
            response = context.request.post("/api/v1/auth/login",
                                            data={"username": username, "password": "demo-kodeord-1"})  # fmt: skip
            assert response.ok, response.text()
        me = context.request.get("/api/v1/auth/me").json()
        person.id, person.name, person.csrf = (
            me["user"]["id"],
            me["user"]["display_name"],
            me["csrf_token"],
        )
        return person

    def on_duty(self, tier: str) -> list[dict[str, Any]]:
        """Who the rotas have on duty for ``tier`` now, with their usernames."""
        asker = self.people[0]
        duty = asker.api("GET", f"/api/v1/rota/on-duty?tier={tier}")["clinicians"]
        usernames = {
            c["id"]: c["username"]
            for c in asker.api("GET", f"/api/v1/rota/clinicians?tier={tier}")["clinicians"]
        }
        return [{**c, "username": usernames[c["id"]]} for c in duty]

    def advisor(
        self, tier: str, viewport: dict[str, int] = TABLET, *, available: bool = True,
        permissions: tuple[str, ...] = (),
    ) -> Person:  # fmt: skip
        """The (first) advisor on duty for ``tier``, at their console, available or away."""
        duty = self.on_duty(tier)
        assert duty, f"nobody on duty for {tier} now"
        person = self.person(duty[0]["username"], viewport, permissions=permissions)
        # Away first, then the switch in the page: the click is what unlocks the ring tone.
        person.api("PUT", "/api/v1/presence", {"status": "away"})
        self.made_away.add(person.username)
        person.page.reload()
        console_ready(person.page)
        if available:
            set_available(person.page, True)
        expect(person.page.get_by_test_id("presence-status")).to_have_attribute(
            "data-status", "available" if available else "away"
        )
        return person

    def track(self, consultation_id: int) -> int:
        self.consultations.append(consultation_id)
        return consultation_id

    def finish(self) -> None:
        """End, cancel or wrap up what the test opened; make everyone available again."""
        nurse = next((p for p in self.people if p.username == NURSE), None)
        for consultation_id in self.consultations:
            assert nurse is not None
            self._finish_one(nurse, consultation_id)
        for person in self.people:
            if person.username in self.made_away:
                person.api("PUT", "/api/v1/presence", {"status": "available"})

    def _finish_one(self, nurse: Person, consultation_id: int) -> None:
        for _ in range(6):
            found = nurse.api("GET", f"/api/v1/consultations/{consultation_id}")["consultation"]
            state = found["state"]
            path = f"/api/v1/consultations/{consultation_id}"
            if state in FINAL:
                return
            if state in WAITING:
                nurse.api("POST", f"{path}/cancel")
            elif state in IN_CALL:
                nurse.api("POST", f"{path}/end")
            else:  # wrap-up: every participant says they are done
                for advisor in found["participants"]:
                    if nurse.api("GET", path)["consultation"]["state"] != "wrap_up":
                        break  # the others' documentation (or this loop) has ended it
                    self._as_user(advisor).api("POST", f"{path}/wrap-up-done")
        pytest.fail(f"consultation {consultation_id} could not be finished")

    def _as_user(self, user_id: int) -> Person:
        known = next((p for p in self.people if p.id == user_id), None)
        if known:
            return known
        for tier in TIERS:
            clinicians = self.people[0].api("GET", f"/api/v1/rota/clinicians?tier={tier}")
            for clinician in clinicians["clinicians"]:
                if clinician["id"] == user_id:
                    return self.person(clinician["username"], browse=False)
        raise AssertionError(f"no advisor {user_id}")

    def close(self) -> list[str]:
        for person in self.people:
            person.context.close()
        return [problem for person in self.people for problem in person.problems]


@pytest.fixture
def line(browser: Browser, live_server: str) -> Iterator[Line]:
    """The people of a test; afterwards its consultations are finished and the line quiet.

    The test fails if a page threw or the Content-Security-Policy refused something.
    """
    made = Line(browser, live_server)
    try:
        yield made
        made.finish()
    finally:
        problems = made.close()
    assert not problems, "\n".join(problems)


def _note_refusal(message: ConsoleMessage, problems: list[str]) -> None:
    if message.type == "error" and "Content Security Policy" in message.text:
        problems.append(f"CSP: {message.text}")


# Steps ------------------------------------------------------------------------------------


def console_ready(page: Page) -> None:
    """The console is connected and has read the advisor's presence."""
    expect(page.locator("body")).to_have_attribute("data-live", "open")
    expect(page.get_by_test_id("availability")).to_be_enabled()
    expect(page.get_by_test_id("presence-status")).not_to_have_attribute("data-status", "offline")


def set_available(page: Page, available: bool) -> None:
    switch = page.get_by_test_id("availability")
    if (switch.get_attribute("aria-checked") == "true") != available:
        switch.click()
    expect(switch).to_have_attribute("aria-checked", "true" if available else "false")


def patient_id(person: Person, reference: str) -> int:
    found = person.api("GET", f"/api/v1/patients?q={reference}")["patients"]
    return int(next(p["id"] for p in found if p["reference"] == reference))


def open_isbar(nurse: Person, reference: str) -> Page:
    """From the patient's page, "Ring for råd": the ISBAR form, prefilled."""
    page = nurse.page
    page.goto(f"/patients/{patient_id(nurse, reference)}")
    page.get_by_test_id("call-for-advice").click()
    expect(page).to_have_url(re.compile(r"/call/new\?patient=\d+$"))
    expect(page.get_by_test_id("isbar-form")).to_be_visible()
    return page


def ask(line: Line, nurse: Person, reference: str, *, picks: tuple[str, ...] = ("Smerter",),
        urgency: str = "Haster", shot: str | None = None) -> int:  # fmt: skip
    """Fill the ISBAR with quick picks and send it; the call screen opens. Returns its id."""
    page = open_isbar(nurse, reference)
    form = page.get_by_test_id("isbar-form")
    for pick in picks:
        form.get_by_role("button", name=pick, exact=True).click()
    form.get_by_label(urgency, exact=True).check()
    if shot:
        screenshot(page, shot)
    page.get_by_test_id("ask-button").click()
    expect(page).to_have_url(re.compile(r"/call/\d+$"))
    consultation_id = line.track(int(page.url.rsplit("/", 1)[1]))
    expect(page.get_by_test_id("call-headline")).not_to_be_empty()
    return consultation_id


def screen(page: Page, name: str) -> None:
    """Keep what is on the screen now (not the whole page): what a woken advisor sees first."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


def ring_panel(page: Page, consultation_id: int) -> Any:
    return page.locator(f"[data-testid='ring-panel'][data-consultation-id='{consultation_id}']")


# The whole call ---------------------------------------------------------------------------


def test_nurse_asks_senior_nurse_accepts_escalates_to_the_gp_and_the_call_ends(line: Line) -> None:
    nurse = line.person(NURSE, PHONE)
    senior = line.advisor("senior_nurse")
    gp = line.advisor("gp")
    expect(senior.page.locator("#console")).to_have_attribute("data-ringtone", "off")
    expect(senior.page.get_by_test_id("sound-state")).to_have_text("Ringelyden er slået til.")
    expect(senior.page.get_by_test_id("duty")).to_contain_text(
        "Du er på vagt som Erfaren sygeplejerske til"
    )
    screenshot(senior.page, "call-console-available")

    # The nurse: ISBAR prefilled from the record, Identify not editable, quick picks.
    page = open_isbar(nurse, DNR_PATIENT)
    form = page.get_by_test_id("isbar-form")
    identify = form.get_by_test_id("isbar-identify")
    expect(identify).to_contain_text("Agnes Fiktivsen (DEMO-001)")
    expect(identify).to_contain_text("Dorthe Demosen")
    expect(identify.get_by_test_id("dnr-status")).to_have_attribute("data-dnr", "true")
    expect(identify.locator("input, textarea")).to_have_count(0)
    expect(form.get_by_label("Baggrund")).to_have_value(re.compile("Diagnosegruppe: Kræft"))
    expect(form.get_by_label("Haster", exact=True)).to_be_checked()
    expect(form.get_by_label("Video", exact=True)).to_be_checked()
    form.get_by_role("button", name="Ring for råd").click()
    expect(form.get_by_label(re.compile("^Situation"))).to_be_focused()
    expect(page.locator("[id='isbar.situation-error']")).to_have_text("Skal udfyldes.")
    screenshot(page, "call-isbar-phone-missing-situation")
    form.get_by_role("button", name="Smerter", exact=True).click()
    form.get_by_role("button", name="Uro eller delir", exact=True).click()
    form.get_by_label("Vurdering").fill("TOBS 4")
    form.get_by_role("button", name="Råd om medicin", exact=True).click()
    expect(form.get_by_label(re.compile("^Situation"))).to_have_value("Smerter. Uro eller delir")
    screenshot(page, "call-isbar-phone")
    page.get_by_test_id("ask-button").click()
    expect(page).to_have_url(re.compile(r"/call/\d+$"))
    consultation_id = line.track(int(page.url.rsplit("/", 1)[1]))
    headline = page.get_by_test_id("call-headline")
    expect(headline).to_have_text("Ringer til erfaren sygeplejerske …")
    expect(page.get_by_test_id("call-elapsed")).to_have_text(re.compile(r"^0:0\d$"))
    expect(page.get_by_test_id("cancel-button")).to_be_visible()
    expect(page.get_by_test_id("callback-button")).to_be_visible()
    screenshot(page, "call-nurse-ringing-phone")

    # The senior nurse's console rings: the DNR banner first, the ISBAR, the care plan.
    panel = ring_panel(senior.page, consultation_id)
    expect(panel).to_be_visible()
    dnr = panel.get_by_test_id("dnr-status")
    expect(dnr).to_have_attribute("data-dnr", "true")
    expect(dnr).to_contain_text("Ja – ingen genoplivning")
    expect(dnr).to_have_class(re.compile("dnr-yes"))
    expect(panel.get_by_test_id("treatment-status")).to_contain_text("Fuld behandling")
    expect(panel.get_by_test_id("isbar")).to_contain_text("Smerter. Uro eller delir")
    expect(panel.get_by_test_id("isbar")).to_contain_text("TOBS 4")
    expect(panel.get_by_test_id("ring-tier")).to_have_text("Til dig som Erfaren sygeplejerske")
    facts = panel.get_by_test_id("care-plan-facts")
    expect(facts).to_contain_text("Eget hjem")
    expect(facts).to_contain_text("Søn")
    expect(senior.page.locator("#console")).to_have_attribute("data-ringtone", "on")
    expect(senior.page.get_by_test_id("presence-status")).to_have_attribute(
        "data-status", "ringing"
    )
    screenshot(senior.page, "call-console-ringing")
    screen(senior.page, "call-console-ringing-screen")

    panel.get_by_role("button", name="Tag opkaldet").click()
    expect(senior.page).to_have_url(re.compile(rf"/call/{consultation_id}$"))
    expect(senior.page.get_by_test_id("call-headline")).to_have_text("Samtalen er i gang")
    expect(senior.page.get_by_test_id("participants")).to_contain_text(f"{senior.name} (Erfaren")
    expect(
        senior.page.get_by_test_id("call-details").get_by_test_id("dnr-status")
    ).to_have_attribute("data-dnr", "true")
    expect(senior.page.get_by_test_id("media")).to_be_attached()

    # The nurse sees who answered.
    expect(headline).to_have_text(f"Forbundet med {senior.name}")
    expect(page.get_by_test_id("end-button")).to_be_visible()
    expect(page.get_by_test_id("cancel-button")).to_be_hidden()
    screenshot(page, "call-nurse-connected-phone")

    # Escalation needs a note.
    senior.page.get_by_role("button", name="Eskalér til næste niveau").click()
    escalate = senior.page.get_by_test_id("escalate-form")
    expect(escalate).to_contain_text("Næste niveau: Læge")
    escalate.get_by_role("button", name="Ring til næste niveau").click()
    expect(escalate.get_by_label(re.compile("^Note til næste niveau"))).to_have_attribute(
        "aria-invalid", "true"
    )
    note = "Smerterne er ikke lindret af pn-morfin; ønsker lægens vurdering af dosis."
    escalate.get_by_label(re.compile("^Note til næste niveau")).fill(note)
    screenshot(senior.page, "call-advisor-escalate")
    escalate.get_by_role("button", name="Ring til næste niveau").click()
    expect(senior.page.get_by_test_id("call-headline")).to_have_text("Ringer til læge …")
    expect(headline).to_have_text("Henter en læge ind i samtalen …")
    expect(page.get_by_test_id("call-detail")).to_have_text(
        f"Du er stadig forbundet med {senior.name}."
    )

    # The GP on duty sees the ring with the note, and accepts.
    gp_panel = ring_panel(gp.page, consultation_id)
    expect(gp_panel).to_contain_text("Eskalering – du hentes ind i en samtale")
    expect(gp_panel.get_by_test_id("escalation-note")).to_contain_text(note)
    expect(gp_panel.get_by_test_id("escalation-note")).to_contain_text(f"Note fra {senior.name}")
    expect(gp_panel.get_by_test_id("dnr-status")).to_have_attribute("data-dnr", "true")
    expect(gp_panel.get_by_test_id("ring-tier")).to_have_text("Til dig som Læge")
    screenshot(gp.page, "call-console-ringing-escalation")
    gp_panel.get_by_role("button", name="Tag opkaldet").click()
    expect(gp.page).to_have_url(re.compile(rf"/call/{consultation_id}$"))
    expect(gp.page.get_by_test_id("escalation-note")).to_contain_text(note)
    expect(headline).to_have_text(f"Forbundet med {senior.name} og {gp.name}")
    expect(page.get_by_test_id("participants").locator("li")).to_have_count(2)
    screenshot(page, "call-nurse-two-advisors-phone")

    # The senior nurse hands over and leaves; the GP ends the call and wraps up.
    expect(senior.page.get_by_test_id("call-headline")).to_have_text("Samtalen er i gang")
    senior.page.get_by_role("button", name="Forlad samtalen").click()
    expect(senior.page.get_by_test_id("call-headline")).to_have_text("Du har forladt samtalen")
    expect(headline).to_have_text(f"Forbundet med {gp.name}")
    expect(gp.page.get_by_test_id("leave-button")).to_be_hidden()
    screenshot(gp.page, "call-advisor-in-call")
    gp.page.get_by_role("button", name="Afslut", exact=True).click()
    expect(gp.page.get_by_test_id("call-headline")).to_have_text("Samtalen er slut")
    expect(gp.page.locator("#wrapup-hint")).to_contain_text("Skriv rådet og udfaldet nu")
    expect(gp.page.get_by_role("link", name="Dokumentér rådgivningen")).to_have_attribute(
        "href", re.compile(r"/episodes/\d+$")
    )
    expect(headline).to_have_text("Samtalen er slut")
    expect(page.get_by_role("link", name="Ring igen")).to_have_attribute(
        "href", re.compile(r"/call/new\?patient=\d+$")
    )
    screenshot(gp.page, "call-advisor-wrap-up")
    gp.page.get_by_role("button", name="Færdig").click()
    expect(gp.page.get_by_test_id("call-headline")).to_have_text("Samtalen er afsluttet")
    screenshot(page, "call-nurse-ended-phone")
    gp.page.get_by_role("link", name="Til vagtoversigten").click()
    expect(gp.page.get_by_test_id("presence-status")).to_have_attribute("data-status", "available")


# Other ways a call goes -------------------------------------------------------------------


def test_a_declined_call_moves_on_to_the_gp_and_the_nurse_is_told(line: Line) -> None:
    nurse = line.person(NURSE, TABLET)
    senior = line.advisor("senior_nurse")
    gp = line.advisor("gp")
    consultation_id = ask(line, nurse, LIMITED_PATIENT, picks=("Åndenød",), urgency="Akut")
    headline = nurse.page.get_by_test_id("call-headline")
    expect(headline).to_have_text("Ringer til erfaren sygeplejerske …")

    panel = ring_panel(senior.page, consultation_id)
    expect(panel.get_by_test_id("dnr-status")).to_have_attribute("data-dnr", "false")
    expect(panel.get_by_test_id("treatment-status")).to_contain_text("Begrænset behandling")
    expect(panel.locator(".badge.urgency-acute")).to_have_text("Akut")
    panel.get_by_role("button", name="Afvis").click()
    expect(panel).to_have_count(0)
    expect(senior.page.locator("#flash")).to_have_text("Du afviste opkaldet.")
    expect(senior.page.locator("#console")).to_have_attribute("data-ringtone", "off")

    expect(headline).to_have_text("Ringer til læge …")
    expect(ring_panel(gp.page, consultation_id)).to_be_visible()
    screenshot(nurse.page, "call-nurse-ringing-gp-tablet")


def test_the_nurse_cancels_while_it_rings_and_the_ring_stops(line: Line) -> None:
    nurse = line.person(NURSE, PHONE)
    senior = line.advisor("senior_nurse", viewport=PHONE)
    consultation_id = ask(line, nurse, DNR_PATIENT)
    panel = ring_panel(senior.page, consultation_id)
    expect(panel).to_have_attribute("data-status", "ringing")
    expect(panel.get_by_test_id("dnr-status")).to_be_in_viewport()
    expect(panel.get_by_role("button", name="Tag opkaldet")).to_be_in_viewport()
    expect(senior.page.locator("#console")).to_have_attribute("data-ringtone", "on")
    screen(senior.page, "call-console-ringing-phone")

    page = nurse.page
    page.get_by_test_id("cancel-button").click()
    dialog = page.get_by_test_id("cancel-dialog")
    expect(dialog).to_be_visible()
    screenshot(page, "call-nurse-cancel-confirm-phone")
    dialog.get_by_role("button", name="Nej, bliv ved med at vente").click()
    expect(dialog).to_be_hidden()
    expect(panel).to_have_attribute("data-status", "ringing")

    page.get_by_test_id("cancel-button").click()
    dialog.get_by_role("button", name="Ja, annullér").click()
    expect(page.get_by_test_id("call-headline")).to_have_text("Opkaldet er annulleret")
    expect(page.get_by_role("link", name="Ring igen")).to_be_visible()

    expect(panel).to_have_attribute("data-status", "withdrawn")
    expect(panel.get_by_test_id("ring-status")).to_have_text("Sygeplejersken annullerede opkaldet.")
    expect(panel.get_by_role("button", name="Tag opkaldet")).to_be_hidden()
    expect(senior.page.locator("#console")).to_have_attribute("data-ringtone", "off")
    expect(senior.page.get_by_test_id("presence-status")).to_have_attribute(
        "data-status", "available"
    )
    screenshot(senior.page, "call-console-withdrawn-phone")
    panel.get_by_role("button", name="Luk").click()
    expect(panel).to_have_count(0)


def test_the_nurse_asks_to_be_called_back_instead_and_an_advisor_takes_it(line: Line) -> None:
    nurse = line.person(NURSE, TABLET)
    senior = line.advisor("senior_nurse")
    consultation_id = ask(
        line, nurse, DNR_PATIENT, picks=("Patienten er døende",), urgency="Rutine"
    )
    panel = ring_panel(senior.page, consultation_id)
    expect(panel).to_have_attribute("data-state", "ringing")

    nurse.page.get_by_test_id("callback-button").click()
    headline = nurse.page.get_by_test_id("call-headline")
    expect(headline).to_have_text("Du bliver ringet op")
    expect(nurse.page.get_by_test_id("queue-position")).to_have_text("Nr. 1 i køen")
    expect(nurse.page.get_by_test_id("callback-button")).to_be_hidden()
    expect(nurse.page.get_by_test_id("cancel-button")).to_be_visible()
    screenshot(nurse.page, "call-nurse-callback-tablet")

    # The callback waits in the queue of everyone available: the senior nurse is offered it.
    expect(panel).to_have_attribute("data-state", "callback")
    expect(panel).to_contain_text("Sygeplejersken beder om at blive ringet op")
    screenshot(senior.page, "call-console-callback")
    panel.get_by_role("button", name="Tag opkaldet").click()
    expect(senior.page).to_have_url(re.compile(rf"/call/{consultation_id}$"))
    expect(headline).to_have_text(f"Forbundet med {senior.name}")
    nurse.page.get_by_test_id("end-button").click()
    expect(headline).to_have_text("Samtalen er slut")
    expect(senior.page.get_by_test_id("call-headline")).to_have_text("Samtalen er slut")
    senior.page.get_by_role("button", name="Færdig").click()
    expect(senior.page.get_by_test_id("call-headline")).to_have_text("Samtalen er afsluttet")

    # A new call while the advisor is still on the old call's page: it says so, and the
    # console (opened afresh) shows the ring from the API.
    second = ask(line, nurse, LIMITED_PATIENT)
    other = senior.page.get_by_test_id("other-ring")
    expect(other).to_contain_text("Et andet opkald ringer hos dig.")
    screenshot(senior.page, "call-advisor-other-ring")
    other.get_by_role("link", name="Åbn vagtoversigten").click()
    panel = ring_panel(senior.page, second)
    expect(panel.get_by_test_id("ring-patient")).to_have_text("Børge Demosen (DEMO-002)")
    expect(panel.get_by_test_id("dnr-status")).to_have_attribute("data-dnr", "false")


def test_with_every_advisor_away_the_call_queues_with_what_to_do_now(line: Line) -> None:
    coordinator = line.person(COORDINATOR)
    expect(coordinator.page.locator("body")).to_have_attribute("data-live", "open")
    expect(coordinator.page.get_by_test_id("alerts-empty")).to_be_visible()
    nurse = line.person(NURSE, PHONE)
    # Everyone on duty online but away: every tier is busy, so the call queues at once.
    away = [line.advisor(tier, available=False) for tier in TIERS if line.on_duty(tier)]
    senior = away[0]

    consultation_id = ask(line, nurse, DNR_PATIENT, picks=("Blødning",), urgency="Akut")
    page = nurse.page
    expect(page.get_by_test_id("call-headline")).to_have_text(
        "Alle rådgivere er optaget – du står i kø"
    )
    expect(page.get_by_test_id("queue-position")).to_have_text("Nr. 1 i køen")
    fallback = page.get_by_test_id("fallback")
    expect(fallback).to_contain_text("Gør dette nu")
    expect(fallback).to_contain_text(
        "Ingen rådgiver kan tage opkaldet lige nu. Kontakt lægevagten."
    )
    phone = fallback.get_by_test_id("fallback-phone")
    expect(phone).to_have_text("Ring 1813")
    expect(phone).to_have_attribute("href", "tel:1813")
    screenshot(page, "call-nurse-queued-fallback-phone")

    # The coordinator's page shows the alert at once: time and kind, no patient data.
    alerts = coordinator.page.get_by_test_id("alert")
    newest = coordinator.page.locator("[data-testid='alert'][data-kind='all_tiers_exhausted']")
    expect(newest).to_contain_text("Alle niveauer er prøvet – et opkald står i kø")
    expect(newest.locator("time")).to_have_text(re.compile(r"^\d{2}\.\d{2}\.\d{2}$"))
    expect(coordinator.page.get_by_test_id("alerts")).not_to_contain_text("Agnes")
    expect(coordinator.page.get_by_test_id("alerts-empty")).to_be_hidden()
    assert alerts.count() >= 1
    screenshot(coordinator.page, "call-coordinator-alerts")

    # The senior nurse becomes available: the queued call rings for them, the nurse sees it.
    set_available(senior.page, True)
    expect(ring_panel(senior.page, consultation_id)).to_be_visible()
    expect(page.get_by_test_id("call-headline")).to_have_text("Ringer til erfaren sygeplejerske …")
    expect(fallback).to_be_hidden()


def test_the_call_screen_shows_a_lost_connection_and_recovers(line: Line) -> None:
    nurse = line.person(NURSE, PHONE)
    senior = line.advisor("senior_nurse")
    consultation_id = ask(line, nurse, DNR_PATIENT)
    page = nurse.page
    expect(page.locator("body")).to_have_attribute("data-live", "open")
    banner = page.get_by_test_id("live-status")
    expect(banner).to_be_hidden()

    nurse.context.set_offline(True)
    expect(banner).to_be_visible()
    expect(banner).to_contain_text(LOST)
    # An action while offline says so in Danish, and the call is still there.
    page.get_by_test_id("callback-button").click()
    expect(page.get_by_test_id("call-note")).to_have_text(
        "Ingen forbindelse til serveren. Tjek netværket og prøv igen."
    )
    screenshot(page, "call-nurse-offline-phone")

    # Meanwhile the senior nurse accepts; back online, the nurse's page catches up.
    ring_panel(senior.page, consultation_id).get_by_role("button", name="Tag opkaldet").click()
    expect(senior.page).to_have_url(re.compile(rf"/call/{consultation_id}$"))
    nurse.context.set_offline(False)
    expect(banner).to_be_hidden()
    expect(page.locator("body")).to_have_attribute("data-live", "open")
    expect(page.get_by_test_id("call-headline")).to_have_text(f"Forbundet med {senior.name}")

    # The advisor's page too.
    senior.context.set_offline(True)
    expect(senior.page.get_by_test_id("live-status")).to_contain_text(LOST)
    screenshot(senior.page, "call-advisor-offline")
    senior.context.set_offline(False)
    expect(senior.page.get_by_test_id("live-status")).to_be_hidden()


DENY_NOTIFICATIONS = """
Object.defineProperty(Notification, "permission", { get: () => "denied" });
Notification.requestPermission = async () => "denied";
"""


def test_a_late_accept_says_someone_else_took_the_call(line: Line) -> None:
    nurse = line.person(NURSE, TABLET)
    senior = line.advisor("senior_nurse", permissions=("notifications",))
    # This advisor's browser blocks notifications: the console says so, and rings anyway.
    blocked = line.person(senior.username, init_script=DENY_NOTIFICATIONS)
    console_ready(blocked.page)
    expect(blocked.page.get_by_test_id("notify-state")).to_contain_text(
        "Notifikationer er blokeret i browseren"
    )
    expect(blocked.page.get_by_test_id("notify-button")).to_be_hidden()
    screenshot(blocked.page, "call-console-notifications-denied")
    expect(senior.page.get_by_test_id("notify-state")).to_have_text("Notifikationer er slået til.")

    consultation_id = ask(line, nurse, DNR_PATIENT)
    panel = ring_panel(blocked.page, consultation_id)
    expect(panel).to_be_visible()

    def taken(route: Route) -> None:
        route.fulfill(status=409, content_type="application/problem+json", body=json.dumps({
            "type": "https://advice-line.dk/problems/not-offered", "title": "Not offered",
            "status": 409, "detail": "This call is not (or no longer) offered to you",
        }))  # fmt: skip

    blocked.page.route("**/api/v1/consultations/*/accept", taken)
    panel.get_by_role("button", name="Tag opkaldet").click()
    expect(panel.get_by_test_id("ring-status")).to_have_text(
        "Opkaldet er allerede taget af en anden."
    )
    expect(panel).to_have_attribute("data-status", "withdrawn")
    screenshot(blocked.page, "call-console-taken")


def test_nurse_finds_the_patient_from_the_call_page_and_unknown_calls_say_so(line: Line) -> None:
    nurse = line.person(NURSE, PHONE)
    page = nurse.page
    page.get_by_test_id("call-for-advice").click()
    expect(page).to_have_url(re.compile(r"/call/new$"))
    picker = page.get_by_test_id("patient-picker")
    picker.get_by_label("Søg på navn eller reference").fill(LIMITED_PATIENT)
    picker.get_by_role("button", name="Søg", exact=True).click()
    items = page.get_by_test_id("pick-list").locator("li")
    expect(items).to_have_count(1)
    screenshot(page, "call-new-picker-phone")
    items.first.get_by_role("link", name="Ring for råd om Børge Demosen").click()
    expect(page).to_have_url(re.compile(r"/call/new\?patient=\d+$"))
    form = page.get_by_test_id("isbar-form")
    expect(form.get_by_test_id("isbar-identify")).to_contain_text("Børge Demosen (DEMO-002)")
    expect(form.get_by_label("Baggrund")).to_have_value(re.compile(r"Begrænset behandling \("))

    page.goto("/call/999999999")
    state = page.locator("#call-state")
    expect(state).to_have_text("Opkaldet findes ikke, eller du har ikke adgang til det.")
    expect(page.get_by_role("link", name="← Til forsiden")).to_be_visible()
    screenshot(page, "call-not-found-phone")


def test_a_nurse_goes_from_the_patient_search_straight_to_asking(line: Line) -> None:
    nurse = line.person(NURSE, TABLET)
    page = nurse.page
    page.goto("/patients")
    page.get_by_label("Søg på navn eller reference").fill("DEMO-002")
    link = page.get_by_test_id("row-call").first
    expect(link).to_have_text("Ring for råd")
    link.click()
    expect(page).to_have_url(re.compile(r"/call/new\?patient=\d+$"))
