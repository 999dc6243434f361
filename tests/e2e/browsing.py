"""Steps the browser tests share: logging in through the form, keeping screenshots."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page, expect

from advice_line import demo

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"

#: Demo logins per role: (username, display name, role as the header shows it, organisation).
DEMO_LOGINS = {
    "nurse": ("sygeplejerske", "Dorthe Demosen", "Sygeplejerske", demo.HOME_CARE),
    "advisor": (
        "senior.anne",
        "Anne Afprøvning",
        "Rådgiver · Erfaren sygeplejerske",
        demo.HOME_CARE,
    ),
    "coordinator": ("koordinator", "Olga Koordinatorsen", "Koordinator", demo.HOME_CARE),
    "admin": ("admin", "Admin Demosen", "Administrator", None),
}


def log_in(page: Page, username: str, password: str = demo.DEMO_PASSWORD) -> None:
    """Log in through the form and wait for the landing page of the user's role."""
    fill_login(page, username, password)
    expect(page.locator("[data-testid^='landing-']")).to_be_visible()


def fill_login(page: Page, username: str, password: str) -> None:
    page.goto("/login")
    page.get_by_label("Brugernavn").fill(username)
    page.get_by_label("Adgangskode").fill(password)
    page.get_by_role("button", name="Log ind").click()


def log_in_as(page: Page, role: str) -> None:
    log_in(page, DEMO_LOGINS[role][0])


def screenshot(page: Page, name: str) -> None:
    """Keep a full-page picture of a key page (test-artifacts/screenshots/<name>.png)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
