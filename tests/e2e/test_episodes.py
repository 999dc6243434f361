"""Advice episodes in the browser: after a call the advisor documents it on the episode page
(the form first), and the coordinator finds it in the episode list.

The call itself is driven quickly through the REST API with each person's own logged-in
context (as in test_calls.py); only the documenting and the reading happen in the pages.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, expect

from tests.e2e.browsing import screenshot
from tests.e2e.test_calls import COORDINATOR, DNR_PATIENT, NURSE, Line, patient_id

pytestmark = pytest.mark.browser


@pytest.fixture
def episode_line(browser: Browser, live_server: str) -> Iterator[Line]:
    """The people of the test; afterwards its consultations are finished and the line quiet."""
    made = Line(browser, live_server)
    try:
        yield made
        made.finish()
    finally:
        problems = made.close()
    assert not problems, "\n".join(problems)


def test_the_advisor_documents_the_call_and_the_coordinator_sees_it(episode_line: Line) -> None:
    line = episode_line
    nurse = line.person(NURSE, browse=False)
    senior = line.advisor("senior_nurse")
    asked = nurse.api("POST", "/api/v1/consultations", {
        "patient_id": patient_id(nurse, DNR_PATIENT), "channel": "audio", "urgency": "urgent",
        "isbar": {"situation": "Smerter trods fast morfin"}})  # fmt: skip
    cid = line.track(asked["consultation"]["id"])
    assert senior.id in asked["consultation"]["offered"], asked["consultation"]
    senior.api("POST", f"/api/v1/consultations/{cid}/accept")
    ended = nurse.api("POST", f"/api/v1/consultations/{cid}/end")
    assert ended["consultation"]["state"] == "wrap_up"

    # The advisor: the documentation form first, then the episode.
    page = senior.page
    page.goto(f"/episodes/{cid}")
    form = page.get_by_test_id("doc-form")
    expect(form).to_be_visible()
    expect(form).to_contain_text("Opkaldet er slut")
    expect(page.get_by_test_id("episode-facts")).to_contain_text(senior.name)
    expect(page.get_by_test_id("dnr-status")).to_have_attribute("data-dnr", "true")
    form_box, facts_box = form.bounding_box(), page.get_by_test_id("episode-facts").bounding_box()
    assert form_box and facts_box and form_box["y"] < facts_box["y"], "the form comes first"
    page.get_by_test_id("doc-save").click()
    expect(page.locator("#advice-error")).to_have_text("Skal udfyldes.")  # nothing chosen yet
    form.get_by_label("Klaret med råd i telefonen").check()
    form.get_by_label(re.compile("^Rådgivning")).fill("Giv ekstra dosis morfin 5 mg s.c.")
    form.get_by_label("Ja, der skal følges op").check()
    form.get_by_label("Hvad skal følges op, og af hvem?").fill("Hjemmeplejen ringer i morgen")
    screenshot(page, "episode-document")
    page.get_by_test_id("doc-save").click()
    expect(page.locator("#flash")).to_have_text("Dokumentationen er gemt.")
    expect(form).to_be_hidden()
    expect(page.get_by_test_id("doc-current").get_by_test_id("doc-advice")).to_have_text(
        "Giv ekstra dosis morfin 5 mg s.c."
    )
    expect(page.get_by_test_id("episode-outcome")).to_have_text("Gennemført")
    expect(page.get_by_test_id("episode-timeline")).to_contain_text("Dokumentation færdig")
    # Saving ended the wrap-up as wrap-up-done does: the consultation is over.
    assert nurse.api("GET", f"/api/v1/consultations/{cid}")["consultation"]["state"] == "ended"

    # An amendment keeps the earlier version readable.
    page.get_by_test_id("amend-button").click()
    form.get_by_label("Nej", exact=True).check()
    form.get_by_label(re.compile("^Begrundelse for rettelsen")).fill("Opfølgning ikke nødvendig")
    page.get_by_test_id("doc-save").click()
    expect(page.locator("#flash")).to_contain_text("Rettelsen er gemt")
    versions = page.get_by_test_id("doc-versions")
    versions.locator("summary").click()
    expect(versions).to_contain_text("Hjemmeplejen ringer i morgen")
    screenshot(page, "episode-documented")

    # The advisor's console lists it as documented.
    page.goto("/")
    item = page.locator(f"#my-episodes [data-episode-id='{cid}']")
    expect(item).to_contain_text("Klaret med råd i telefonen")

    # The coordinator: the episode list, filtered, and from there the episode.
    coordinator = line.person(COORDINATOR)
    cpage = coordinator.page
    cpage.get_by_test_id("episodes-link").click()
    expect(cpage).to_have_url(re.compile(r"/episodes$"))
    row = cpage.locator(f"[data-episode-id='{cid}']")
    expect(row).to_contain_text("Agnes Fiktivsen")
    expect(row).to_contain_text("Klaret med råd i telefonen")
    cpage.get_by_label("Forløb", exact=True).select_option("cancelled")
    cpage.get_by_role("button", name="Vis", exact=True).click()
    expect(row).to_have_count(0)
    cpage.get_by_label("Forløb", exact=True).select_option("completed")
    cpage.get_by_role("button", name="Vis", exact=True).click()
    expect(row).to_be_visible()
    screenshot(cpage, "episodes-list")
    row.get_by_role("link").click()
    expect(cpage).to_have_url(re.compile(rf"/episodes/{cid}$"))
    expect(cpage.get_by_test_id("doc-current").get_by_test_id("doc-advice")).to_have_text(
        "Giv ekstra dosis morfin 5 mg s.c."
    )
    expect(cpage.get_by_test_id("doc-form")).to_be_hidden()
    expect(cpage.get_by_test_id("amend-button")).to_be_hidden()


def test_a_coordinator_records_and_amends_the_end_of_a_course(episode_line: Line) -> None:
    coordinator = episode_line.person(COORDINATOR)
    reference = f"E2E-{uuid.uuid4().hex[:8]}"
    created = coordinator.api("POST", "/api/v1/patients", {
        "reference": reference, "name": "Ellen Forløbsen", "diagnosis_group": "non_cancer",
        "preferred_place_of_death": "home"})  # fmt: skip
    page = coordinator.page
    page.goto(f"/patients/{created['patient']['id']}")
    section = page.get_by_test_id("course-outcome")
    expect(section).to_contain_text("Forløbet er ikke registreret som afsluttet.")
    page.get_by_test_id("course-record").click()
    form = page.get_by_test_id("course-form")
    expect(form.get_by_label("Hvor ønskede patienten at dø?")).to_have_value("home")
    form.get_by_label(re.compile("^Forløbet sluttede den")).fill("2026-01-10")
    form.get_by_label("Ja", exact=True).check()
    page.get_by_test_id("course-save").click()
    expect(page.locator("#place_of_death-error")).to_have_text("Vælg hvor patienten døde.")
    form.get_by_label(re.compile("^Hvor døde patienten")).select_option("home")
    page.get_by_test_id("course-save").click()
    expect(page.locator("#flash")).to_have_text("Forløbets afslutning er gemt.")
    expect(page.get_by_test_id("course-current").get_by_test_id("course-wish")).to_contain_text(
        "Ja – patienten døde"
    )
    page.get_by_test_id("course-record").click()
    form.get_by_label(re.compile("^Hvor døde patienten")).select_option("hospital")
    form.get_by_label(re.compile("^Begrundelse for rettelsen")).fill("Indlagt sidste døgn")
    page.get_by_test_id("course-save").click()
    expect(page.get_by_test_id("course-current").get_by_test_id("course-wish")).to_contain_text(
        "Nej"
    )
    history = page.get_by_test_id("course-history")
    history.locator("summary").click()
    expect(history).to_contain_text("Version 1")
    screenshot(page, "patient-course-outcome")
