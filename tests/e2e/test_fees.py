"""Fees in the browser: the month's statement, a bad schedule upload showing every error."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.browsing import log_in_as, screenshot
from tests.unit.fees.helpers import text

pytestmark = pytest.mark.browser


def test_admin_sees_the_statement_and_a_bad_upload_lists_every_error(page: Page) -> None:
    log_in_as(page, "admin")
    page.get_by_role("link", name="Honorarer").first.click()
    statement = page.get_by_test_id("fees-statement")
    expect(statement.get_by_role("heading", name="Honorarer")).to_be_visible()
    # The demo's rotas put people on standby every day, priced by the example schedule.
    expect(page.get_by_test_id("statement-body")).to_be_visible()
    expect(page.get_by_test_id("statement-total")).to_contain_text("DKK")
    expect(page.get_by_test_id("schedules-table")).to_contain_text("eksempel-2026-01")
    expect(page.locator("#statement-csv")).to_have_attribute(
        "href", "/api/v1/fees/statement.csv?" + page.url.split("?")[1]
    )
    screenshot(page, "fees")

    bad = text(('video = "425.00"', "video = 425.0"), ('end = "22:00"', 'end = "23:00"'),
               ('version = "eksempel-2026-01"', 'version = "e2e-bad"'))  # fmt: skip
    form = page.get_by_test_id("upload-form")
    form.get_by_label("Fil (TOML)").set_input_files(
        files=[{"name": "forkert.toml", "mimeType": "application/toml", "buffer": bad.encode()}]
    )
    form.get_by_role("button", name="Kontrollér og gem").click()
    errors = page.get_by_test_id("upload-errors")
    expect(errors).to_be_visible()
    expect(errors).to_contain_text("contact.1.video: skriv beløb i anførselstegn")
    expect(errors).to_contain_text("bands[2]: tidsbåndene overlapper")
    expect(page.get_by_test_id("schedules-table")).not_to_contain_text("e2e-bad")
    screenshot(page, "fees-upload-errors")


def test_the_printable_statement(page: Page) -> None:
    log_in_as(page, "coordinator")
    page.goto("/fees")
    expect(page.get_by_test_id("statement-total")).to_contain_text("DKK")
    with page.expect_popup() as popup:
        page.locator("#statement-print").click()
    printable = popup.value
    expect(printable.get_by_test_id("fees-print")).to_contain_text("Honoraropgørelse")
    expect(printable.get_by_test_id("print-total")).not_to_be_empty()
    screenshot(printable, "fees-print")
