"""Administration: users, organisations, the access log; and who may not see it."""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import Dialog, Page, expect

from tests.e2e.browsing import fill_login, log_in_as, screenshot

pytestmark = pytest.mark.browser


def test_nurse_opening_admin_users_gets_the_403_page(page: Page) -> None:
    log_in_as(page, "nurse")
    response = page.goto("/admin/users")
    assert response is not None
    assert response.status == 403
    expect(page.get_by_test_id("error")).to_contain_text("Du har ikke adgang til denne side.")
    expect(page.get_by_test_id("admin-users")).to_have_count(0)
    screenshot(page, "error-403")


def test_admin_creates_a_user_and_disables_them(page: Page) -> None:
    username = f"e2e.{uuid.uuid4().hex[:8]}"
    log_in_as(page, "admin")
    page.get_by_role("link", name="Brugere").first.click()
    expect(page.get_by_test_id("users-table").locator("tbody tr").first).to_be_visible()

    form = page.get_by_test_id("user-form")
    tier = form.get_by_label("Niveau")
    expect(tier).to_be_hidden()
    form.get_by_label("Brugernavn").fill(username)
    form.get_by_label("Navn", exact=True).fill("Testa Rådgiversen")
    form.get_by_label("Adgangskode").fill("et-langt-kodeord-1")
    form.get_by_label("Rolle").select_option(label="Rådgiver")
    expect(tier).to_be_visible()
    tier.select_option(label="Læge")
    form.get_by_label("Organisation").select_option(label="Lægehuset Fiktivvej (Lægepraksis)")
    screenshot(page, "admin-users-form")
    form.get_by_role("button", name="Opret bruger").click()

    expect(page.locator("#flash")).to_have_text("Brugeren er oprettet.")
    row = page.locator(f"tr[data-username='{username}']")
    expect(row).to_contain_text("Rådgiver · Læge")
    expect(row).to_contain_text("Aktiv")

    page.once("dialog", lambda dialog: _accept_disable(dialog, "Testa Rådgiversen"))
    row.get_by_role("button", name="Spær Testa Rådgiversen").click()
    expect(row).to_contain_text("Spærret")
    expect(row.get_by_role("button", name="Genåbn Testa Rådgiversen")).to_be_visible()
    expect(page.locator("#flash")).to_have_text("Testa Rådgiversen er spærret.")
    screenshot(page, "admin-users")

    page.context.clear_cookies()
    fill_login(page, username, "et-langt-kodeord-1")
    expect(page.get_by_role("alert")).to_have_text("Forkert brugernavn eller adgangskode.")


def _accept_disable(dialog: Dialog, name: str) -> None:
    assert dialog.type == "confirm"
    assert dialog.message.startswith(f"Spær {name}?")
    dialog.accept()


def test_admin_user_form_shows_field_errors_in_danish(page: Page) -> None:
    log_in_as(page, "admin")
    page.goto("/admin/users")
    form = page.get_by_test_id("user-form")
    form.get_by_label("Brugernavn").fill("Ikke gyldig!")
    form.get_by_label("Adgangskode").fill("kort")
    form.get_by_role("button", name="Opret bruger").click()
    expect(page.locator("#username-error")).to_have_text(
        "Brug kun små bogstaver, tal, punktum, bindestreg og understregning."
    )
    expect(page.locator("#display_name-error")).to_have_text("Skal udfyldes.")
    expect(page.locator("#role-error")).to_have_text("Skal udfyldes.")


def test_admin_creates_an_organisation(page: Page) -> None:
    name = f"E2E Hjemmepleje {uuid.uuid4().hex[:6]}"
    log_in_as(page, "admin")
    page.goto("/admin/organisations")
    form = page.get_by_test_id("organisation-form")
    form.get_by_label("Navn").fill(name)
    form.get_by_label("Type").select_option(label="Hjemmesygepleje")
    form.get_by_role("button", name="Opret organisation").click()
    expect(page.locator("#flash")).to_have_text("Organisationen er oprettet.")
    expect(page.get_by_test_id("organisations-table").locator("tr", has_text=name)).to_contain_text(
        "Hjemmesygepleje"
    )
    screenshot(page, "admin-organisations")

    form.get_by_label("Navn").fill(name)
    form.get_by_label("Type").select_option(label="Hospital")
    form.get_by_role("button", name="Opret organisation").click()
    expect(page.locator("#name-error")).to_have_text(
        "Der findes allerede en organisation med dette navn."
    )


def test_admin_filters_the_access_log_by_patient_and_gets_the_export_link(page: Page) -> None:
    log_in_as(page, "admin")
    page.goto("/admin/audit")
    table = page.get_by_test_id("audit-table")
    expect(table.locator("tbody tr").first).to_be_visible()
    expect(page.get_by_test_id("audit-export")).to_be_hidden()

    page.get_by_label("Patient-id").fill("1")
    page.get_by_role("button", name="Filtrér").click()
    expect(page).to_have_url(re.compile(r"/admin/audit\?patient_id=1$"))
    expect(table).to_contain_text("Patient oprettet")
    export = page.get_by_test_id("audit-export")
    expect(export).to_have_attribute("href", "/api/v1/audit/patients/1/export")
    screenshot(page, "admin-audit")

    with page.expect_download() as download:
        export.click()
    assert download.value.suggested_filename == "patient-1-access.csv"

    page.get_by_label("Patient-id").fill("abc")
    page.get_by_role("button", name="Filtrér").click()
    expect(page.locator("#patient_id-error")).to_have_text("Skal være et helt tal.")
