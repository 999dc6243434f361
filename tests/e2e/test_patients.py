"""Nurses and coordinators find, open, create and change patients."""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import Page, Route, expect

from tests.e2e.browsing import log_in_as, screenshot

pytestmark = pytest.mark.browser

# From the demo data (advice_line/demo.py): patient 1 has a DNR decision, patient 2 has not.
DNR_PATIENT = ("DEMO-001", "Agnes Fiktivsen")
NO_DNR_PATIENT = ("DEMO-002", "Børge Demosen")


def search(page: Page, text: str) -> None:
    page.get_by_label("Søg på navn eller reference").fill(text)
    page.get_by_role("button", name="Søg", exact=True).click()


def test_nurse_searches_opens_a_patient_and_sees_the_dnr_decision(page: Page) -> None:
    log_in_as(page, "nurse")
    page.get_by_role("link", name="Find patient").click()
    expect(page).to_have_url(re.compile(r"/patients$"))
    expect(page.get_by_test_id("patients-table").locator("tbody tr").first).to_be_visible()
    screenshot(page, "patients-list")

    reference, name = DNR_PATIENT
    search(page, reference)
    rows = page.get_by_test_id("patients-table").locator("tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(name)
    expect(rows.first.locator(".badge.dnr")).to_have_text("HLR fravalgt")

    rows.first.click()
    expect(page).to_have_url(re.compile(r"/patients/\d+$"))
    dnr = page.get_by_test_id("dnr-status")
    expect(dnr).to_contain_text("Ja – ingen genoplivning")
    expect(dnr).to_have_attribute("data-dnr", "true")
    expect(dnr).to_contain_text("Besluttet af Dr. Demosen, egen læge den 1. januar 2026")
    expect(page.get_by_role("heading", level=1)).to_have_text(name)
    expect(page.get_by_test_id("treatment-status")).to_contain_text("Fuld behandling")
    screenshot(page, "patient-dnr")


def test_a_patient_without_dnr_decision_says_so(page: Page) -> None:
    log_in_as(page, "coordinator")
    page.goto("/patients")
    reference, name = NO_DNR_PATIENT
    search(page, name)
    row = page.get_by_test_id("patients-table").locator("tbody tr", has_text=reference)
    expect(row.get_by_text("Ikke fravalgt")).to_be_visible()
    row.get_by_role("link", name=name).click()
    dnr = page.get_by_test_id("dnr-status")
    expect(dnr).to_contain_text("Nej – ikke fravalgt")
    expect(dnr).to_have_attribute("data-dnr", "false")
    expect(page.get_by_test_id("treatment-status")).to_contain_text("Begrænset behandling")


def test_nurse_creates_a_patient_after_correcting_an_invalid_field(page: Page) -> None:
    reference = f"E2E-{uuid.uuid4().hex[:8].upper()}"
    log_in_as(page, "nurse")
    page.goto("/patients")
    page.get_by_role("link", name="Ny patient").click()
    expect(page).to_have_url(re.compile(r"/patients/new$"))

    form = page.get_by_test_id("patient-form")
    form.get_by_label("Reference").fill(reference)
    form.get_by_label("Navn").fill("Testine Browsersen")
    form.get_by_label("Kræft", exact=True).check()
    form.get_by_label("Egen læge").select_option(label="Eksempel Lægepraksis")
    form.get_by_label("Ja – ingen genoplivning").check()
    form.get_by_label("Besluttet den").fill("2026-03-02")
    # "Decided by" left empty: the service refuses a DNR decision without who made it.
    form.get_by_role("button", name="Opret patient").click()

    decided_by = form.get_by_label("Besluttet af")
    expect(decided_by).to_have_attribute("aria-invalid", "true")
    error = page.locator("#dnr_decided_by-error")
    expect(error).to_have_text("Skriv hvem der har besluttet at fravælge genoplivning.")
    expect(decided_by).to_have_attribute("aria-describedby", "dnr_decided_by-error")
    expect(decided_by).to_be_focused()
    expect(page.locator("#flash")).to_have_text("Ret de markerede felter.")
    expect(page).to_have_url(re.compile(r"/patients/new$"))
    screenshot(page, "patient-new-invalid")

    decided_by.fill("Dr. Prøvesen, egen læge")
    form.get_by_role("button", name="Opret patient").click()

    expect(page).to_have_url(re.compile(r"/patients/\d+$"))
    expect(page.locator("#flash")).to_have_text("Patienten er oprettet.")
    expect(page.get_by_role("heading", level=1)).to_have_text("Testine Browsersen")
    expect(page.get_by_test_id("dnr-status")).to_contain_text(
        "Besluttet af Dr. Prøvesen, egen læge den 2. marts 2026"
    )
    expect(page.get_by_text(f"Reference: {reference}")).to_be_visible()
    screenshot(page, "patient-created")


def test_nurse_changes_a_patient_and_the_care_plan_follows(page: Page) -> None:
    reference = f"E2E-{uuid.uuid4().hex[:8].upper()}"
    log_in_as(page, "nurse")
    page.goto("/patients/new")
    form = page.get_by_test_id("patient-form")
    form.get_by_label("Reference").fill(reference)
    form.get_by_label("Navn").fill("Ændre Redigeresen")
    form.get_by_label("Ikke-kræft").check()
    form.get_by_role("button", name="Opret patient").click()
    expect(page.get_by_test_id("treatment-status")).to_contain_text("Fuld behandling")

    page.get_by_role("button", name="Redigér").click()
    expect(form.get_by_label("Reference")).to_have_value(reference)
    form.get_by_label("Begrænset behandling").check()
    form.get_by_label("Begrænsninger").fill("Ingen indlæggelse")
    screenshot(page, "patient-edit")
    form.get_by_role("button", name="Gem").click()

    expect(page.locator("#flash")).to_have_text("Gemt.")
    expect(form).to_be_hidden()
    treatment = page.get_by_test_id("treatment-status")
    expect(treatment).to_contain_text("Begrænset behandling")
    expect(treatment).to_contain_text("Ingen indlæggelse")


def test_network_failure_shows_a_danish_message_and_a_way_to_try_again(page: Page) -> None:
    log_in_as(page, "nurse")

    def offline(route: Route) -> None:
        route.abort("internetdisconnected")

    page.route("**/api/v1/patients?*", offline)
    page.goto("/patients")
    state = page.locator("#patients-state")
    expect(state).to_contain_text("Ingen forbindelse til serveren. Tjek netværket og prøv igen.")
    screenshot(page, "patients-offline")

    page.unroute("**/api/v1/patients?*", offline)
    state.get_by_role("button", name="Prøv igen").click()
    expect(page.get_by_test_id("patients-table").locator("tbody tr").first).to_be_visible()
    expect(state).not_to_contain_text("Ingen forbindelse")
