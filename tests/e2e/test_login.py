"""Logging in and out, the landing page of each role, and the language switch."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.browsing import DEMO_LOGINS, fill_login, log_in_as, screenshot

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("role", ["nurse", "advisor", "coordinator", "admin"])
def test_each_role_lands_on_its_page_with_name_role_and_organisation(page: Page, role: str) -> None:
    _username, name, role_text, organisation = DEMO_LOGINS[role]
    log_in_as(page, role)
    expect(page.get_by_test_id(f"landing-{role}")).to_be_visible()
    who = page.get_by_test_id("who")
    expect(who.locator(".who-name")).to_have_text(name)
    expect(who.locator(".who-role")).to_have_text(role_text)
    if organisation:
        expect(who.locator(".who-org")).to_have_text(organisation)
    else:
        expect(who.locator(".who-org")).to_have_count(0)
    screenshot(page, f"landing-{role}")


def test_wrong_password_shows_the_danish_error_and_stays_on_login(page: Page) -> None:
    fill_login(page, "sygeplejerske", "forkert-kodeord")
    expect(page.get_by_role("alert")).to_have_text("Forkert brugernavn eller adgangskode.")
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.get_by_label("Adgangskode")).to_be_focused()
    screenshot(page, "login-failed")


def test_language_switch_changes_the_text_to_english_and_back(page: Page) -> None:
    log_in_as(page, "nurse")
    heading = page.get_by_test_id("landing-nurse").get_by_role("heading", level=1)
    expect(heading).to_have_text("Hjemmesygeplejerske")

    page.get_by_role("link", name="English").click()
    expect(heading).to_have_text("Home nurse")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    expect(page.get_by_test_id("who").locator(".who-role")).to_have_text("Nurse")

    page.get_by_role("link", name="Dansk").click()
    expect(heading).to_have_text("Hjemmesygeplejerske")
    expect(page.locator("html")).to_have_attribute("lang", "da")
    expect(page.get_by_role("button", name="Log ud")).to_be_visible()


def test_logout_returns_to_login_and_protected_pages_then_redirect(page: Page) -> None:
    log_in_as(page, "nurse")
    page.get_by_role("button", name="Log ud").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.get_by_role("button", name="Log ind")).to_be_visible()

    page.goto("/patients")
    expect(page).to_have_url(re.compile(r"/login\?next=/patients$"))
    expect(page.get_by_role("heading", name="Log ind")).to_be_visible()
