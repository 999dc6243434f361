"""Coordinators see the duty rotas by week and month, cover gaps, replace people on shifts,
and check coverage; nurses may not see the rotas.

The tests share one server and database with the other browser tests, so each works in a
week of 2027 of its own and never relies on what another test leaves behind. The demo rotas
(advice_line/demo.py) cover nurses and GPs around the clock and specialists by day only.
"""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, Locator, Page, Route, expect

from tests.e2e.browsing import log_in_as, screenshot

pytestmark = pytest.mark.browser

COPENHAGEN = ZoneInfo("Europe/Copenhagen")
# Each test has a week of 2027 to itself.
COVER_DAY = "2027-02-10"
REPLACE_DAY = "2027-04-13"
OVERLAP_DAY = "2027-05-18"
NAVIGATION_DAY = "2027-06-09"
DST_SUNDAY = "2027-03-28"  # summer time begins at 02:00: a day of 23 hours
COVERAGE_FROM = "2027-08-02"
RETRY_DAY = "2027-09-15"
TWO_PEOPLE_DAY = "2027-10-20"
TABLET = {"width": 1024, "height": 768}


def day_column(page: Page, date: str) -> Locator:
    return page.locator(f".day[data-date='{date}']")


def shift_starting(page: Page, date: str, start: str) -> Locator:
    return day_column(page, date).locator(f".block.shift[data-start='{start}']")


def who(block: Locator) -> str:
    return block.locator(".block-who").inner_text().strip()


def open_week(page: Page, tier: str, date: str) -> None:
    page.goto(f"/rota?tier={tier}&view=week&date={date}")
    expect(day_column(page, date).locator(".block").first).to_be_visible()


def dialog_ready(page: Page, title: str) -> Locator:
    dialog = page.get_by_role("dialog", name=title)
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("button", name="Gem ændring")).to_be_enabled()
    return dialog


def choose_other(select: Locator, avoid: set[str]) -> str:
    """Choose the first person in ``select`` who is not in ``avoid``; return the name."""
    labels = [label.strip() for label in select.locator("option").all_inner_texts()]
    name = next(label for label in labels[1:] if label not in avoid)
    select.select_option(label=name)
    return name


def evening_shift(page: Page, date: str) -> tuple[Locator, str, str]:
    """The night-duty shift of a weekday (from 16.00), and the names next to it in time:
    a replacement who is neither keeps the shift a block of its own."""
    day = day_column(page, date)
    evening = day.locator(".block.shift").last
    expect(evening).to_contain_text("16.00–24.00")
    before = who(day.locator(".block.shift").nth(-2))
    end = evening.get_attribute("data-end")
    following = day_column(page, next_day(date)).locator(f".block.shift[data-start='{end}']")
    return evening, before, who(following)


def next_day(date: str) -> str:
    return (dt.date.fromisoformat(date) + dt.timedelta(days=1)).isoformat()


def previous_day(date: str) -> str:
    return (dt.date.fromisoformat(date) - dt.timedelta(days=1)).isoformat()


def utc(date: str, hour: int) -> str:
    """The API's form of a Danish wall-clock time: 2027-02-10 22:00 -> 2027-02-10T21:00:00Z."""
    local = dt.datetime.combine(dt.date.fromisoformat(date), dt.time(hour), COPENHAGEN)
    return local.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_coordinator_covers_a_specialist_night_gap(page: Page) -> None:
    log_in_as(page, "coordinator")
    page.get_by_role("navigation", name="Hovedmenu").get_by_role("link", name="Vagtplaner").click()
    expect(page).to_have_url(
        re.compile(r"/rota\?tier=senior_nurse&view=week&date=\d{4}-\d{2}-\d{2}$")
    )
    expect(page.locator(".day")).to_have_count(7)

    page.goto(f"/rota?date={COVER_DAY}")
    page.get_by_role("tab", name="Palliativ specialist").click()
    expect(page).to_have_url(re.compile(rf"tier=specialist&view=week&date={COVER_DAY}$"))
    expect(page.get_by_role("tab", name="Palliativ specialist")).to_have_attribute(
        "aria-selected", "true"
    )
    start = utc(COVER_DAY, 22)
    gap = day_column(page, COVER_DAY).locator(f".block.gap[data-start='{start}']")
    expect(gap).to_contain_text("Ingen på vagt")
    expect(gap).to_contain_text("22.00–24.00")
    expect(
        day_column(page, next_day(COVER_DAY)).locator(f".block.gap[data-start='{start}']")
    ).to_contain_text("00.00–08.00")
    day_shift = who(day_column(page, COVER_DAY).locator(".block.shift").first)
    screenshot(page, "rota-week-gap")

    gap.click()
    dialog = dialog_ready(page, "Dæk hul i vagtplanen")
    expect(dialog.get_by_label("Fra", exact=True)).to_have_value(f"{COVER_DAY}T22:00")
    expect(dialog.get_by_label("Til", exact=True)).to_have_value(f"{next_day(COVER_DAY)}T08:00")
    expect(dialog.get_by_label("Vagtplan").locator("option:checked")).to_have_text(
        "Palliativt team – speciallæger"
    )
    name = choose_other(dialog.get_by_label("Hvem tager vagten"), {day_shift})
    dialog.get_by_label("Note (valgfri)").fill("Dækker natten")
    screenshot(page, "rota-cover-dialog")
    dialog.get_by_role("button", name="Gem ændring").click()

    expect(dialog).to_be_hidden()
    expect(page.locator("#flash")).to_have_text(f"Gemt: {name} er sat på vagt.")
    expect(page.locator(f".block.gap[data-start='{start}']")).to_have_count(0)
    expect(shift_starting(page, COVER_DAY, start)).to_contain_text(name)
    expect(shift_starting(page, next_day(COVER_DAY), start)).to_contain_text("00.00–08.00")
    # The night before is still open: only the chosen night was covered.
    night_before = utc(previous_day(COVER_DAY), 22)
    expect(
        day_column(page, COVER_DAY).locator(f".block.gap[data-start='{night_before}']")
    ).to_be_visible()
    screenshot(page, "rota-week-covered")

    page.goto(f"/rota/coverage?date={previous_day(previous_day(COVER_DAY))}")
    specialist = page.get_by_test_id("coverage-specialist")
    expect(specialist.locator(f"tr[data-start='{night_before}']")).to_have_count(1)
    expect(specialist.locator(f"tr[data-start='{start}']")).to_have_count(0)


def test_coordinator_replaces_a_senior_nurse_on_a_shift(page: Page) -> None:
    log_in_as(page, "coordinator")
    open_week(page, "senior_nurse", REPLACE_DAY)
    evening, before, after = evening_shift(page, REPLACE_DAY)
    start = evening.get_attribute("data-start")
    assert start == utc(REPLACE_DAY, 16)
    old = who(evening)

    evening.focus()
    page.keyboard.press("Enter")
    dialog = dialog_ready(page, "Sæt en anden på vagten")
    expect(dialog).to_contain_text(f"Erstatter: {old}")
    expect(dialog.get_by_label("Fra", exact=True)).to_have_value(f"{REPLACE_DAY}T16:00")
    expect(dialog.get_by_label("Til", exact=True)).to_have_value(f"{next_day(REPLACE_DAY)}T08:00")
    select = dialog.get_by_label("Ny på vagt")
    expect(select).to_be_focused()
    expect(select.locator("option", has_text=old)).to_have_count(0)
    new = choose_other(select, {old, before, after})
    screenshot(page, "rota-replace-dialog")
    dialog.get_by_role("button", name="Gem ændring").click()

    expect(dialog).to_be_hidden()
    expect(page.locator("#flash")).to_have_text(f"Gemt: {new} tager vagten i stedet for {old}.")
    block = shift_starting(page, REPLACE_DAY, start)
    expect(block).to_contain_text(new)
    expect(block).not_to_contain_text(old)
    expect(block).to_contain_text("16.00–24.00")
    expect(shift_starting(page, next_day(REPLACE_DAY), start)).to_contain_text(new)
    screenshot(page, "rota-week-replaced")


def test_an_overlapping_override_is_refused_in_the_dialog_and_changes_nothing(page: Page) -> None:
    log_in_as(page, "coordinator")
    open_week(page, "senior_nurse", OVERLAP_DAY)
    evening, before, after = evening_shift(page, OVERLAP_DAY)
    start = evening.get_attribute("data-start")
    evening.click()
    dialog = dialog_ready(page, "Sæt en anden på vagten")
    name = choose_other(dialog.get_by_label("Ny på vagt"), {who(evening), before, after})
    dialog.get_by_role("button", name="Gem ændring").click()
    expect(dialog).to_be_hidden()
    expect(shift_starting(page, OVERLAP_DAY, start)).to_contain_text(name)
    blocks = day_column(page, OVERLAP_DAY).locator(".block")
    shown = blocks.all_inner_texts()

    # The same person again, on the day shift before, running into the evening they now have.
    day_shift = day_column(page, OVERLAP_DAY).locator(".block.shift").nth(-2)
    day_shift.click()
    dialog = dialog_ready(page, "Sæt en anden på vagten")
    dialog.get_by_label("Ny på vagt").select_option(label=name)
    until = dialog.get_by_label("Til", exact=True)
    until.fill(f"{OVERLAP_DAY}T07:00")  # before the start: refused next to the field
    dialog.get_by_role("button", name="Gem ændring").click()
    expect(dialog.locator("#end-error")).to_have_text("Skal være efter starttidspunktet.")
    expect(until).to_have_attribute("aria-invalid", "true")
    expect(until).to_be_focused()

    until.fill(f"{OVERLAP_DAY}T18:00")
    dialog.get_by_role("button", name="Gem ændring").click()

    alert = dialog.get_by_role("alert")
    expect(alert).to_contain_text(
        f"{name} har allerede en anden ændring i dette tidsrum. "
        "Vælg en anden person eller andre tider."
    )
    expect(dialog).to_be_visible()
    expect(dialog.locator("#end-error")).to_have_count(0)
    expect(page.locator("#flash")).to_be_empty()
    screenshot(page, "rota-overlap-error")
    dialog.get_by_role("button", name="Annullér").click()
    expect(dialog).to_be_hidden()

    page.reload()
    expect(shift_starting(page, OVERLAP_DAY, start)).to_contain_text(name)
    expect(blocks).to_have_text(shown, use_inner_text=True)


def test_coordinator_chooses_whom_to_replace_on_a_shift_of_two(page: Page) -> None:
    log_in_as(page, "coordinator")
    open_week(page, "specialist", TWO_PEOPLE_DAY)
    regular = who(day_column(page, TWO_PEOPLE_DAY).locator(".block.shift").first)
    day_column(page, TWO_PEOPLE_DAY).locator(".block.gap").last.click()
    dialog = dialog_ready(page, "Dæk hul i vagtplanen")
    extra = choose_other(dialog.get_by_label("Hvem tager vagten"), {regular})
    dialog.get_by_label("Fra", exact=True).fill(f"{TWO_PEOPLE_DAY}T20:00")  # two hours early
    dialog.get_by_role("button", name="Gem ændring").click()
    expect(dialog).to_be_hidden()
    both = shift_starting(page, TWO_PEOPLE_DAY, utc(TWO_PEOPLE_DAY, 20))
    expect(both).to_contain_text("20.00–22.00")
    expect(both).to_contain_text(regular)
    expect(both).to_contain_text(extra)

    both.click()
    dialog = dialog_ready(page, "Sæt en anden på vagten")
    replaced = dialog.get_by_label("Hvem skal erstattes")
    expect(replaced.locator("option")).to_have_count(2)
    replaced.select_option(label=extra)
    new = choose_other(dialog.get_by_label("Ny på vagt"), {regular, extra})
    screenshot(page, "rota-replace-one-of-two")
    dialog.get_by_role("button", name="Gem ændring").click()

    expect(dialog).to_be_hidden()
    expect(page.locator("#flash")).to_have_text(f"Gemt: {new} tager vagten i stedet for {extra}.")
    expect(both).to_contain_text(regular)
    expect(both).to_contain_text(new)
    expect(both).not_to_contain_text(extra)
    expect(shift_starting(page, TWO_PEOPLE_DAY, utc(TWO_PEOPLE_DAY, 22))).to_contain_text(extra)


def test_month_view_week_navigation_and_the_url(page: Page) -> None:
    log_in_as(page, "coordinator")
    page.goto(f"/rota?tier=specialist&view=week&date={NAVIGATION_DAY}")
    period = page.get_by_test_id("rota-period")
    expect(period).to_have_text("Uge 23 · 7.–13. juni 2027")
    days = page.locator(".day")
    expect(days.first).to_have_attribute("data-date", "2027-06-07")
    expect(days.last).to_have_attribute("data-date", "2027-06-13")

    page.get_by_role("button", name="Næste uge").click()
    expect(page).to_have_url(re.compile(r"tier=specialist&view=week&date=2027-06-14$"))
    expect(days.first).to_have_attribute("data-date", "2027-06-14")
    expect(period).to_have_text("Uge 24 · 14.–20. juni 2027")
    page.get_by_role("button", name="Forrige uge").click()
    page.get_by_role("button", name="Forrige uge").click()
    expect(page).to_have_url(re.compile(r"date=2027-05-31$"))
    expect(days.first).to_have_attribute("data-date", "2027-05-31")
    page.go_back()
    expect(page).to_have_url(re.compile(r"date=2027-06-07$"))
    expect(days.first).to_have_attribute("data-date", "2027-06-07")

    page.get_by_role("button", name="Måned", exact=True).click()
    expect(page).to_have_url(re.compile(r"tier=specialist&view=month&date=2027-06-07$"))
    expect(period).to_have_text("Juni 2027")
    june = page.get_by_test_id("rota-month").locator("td[data-date^='2027-06-']")
    expect(june).to_have_count(30)
    expect(june.locator(".gap-marker")).to_have_count(30)  # a night without a specialist every day
    expect(june.filter(has_text="10 t uden vagt")).to_have_count(22)  # weekdays: 22.00 to 08.00
    expect(page.locator("td[data-date='2027-06-12'] .gap-marker")).to_contain_text("16 t uden vagt")
    expect(page.locator("td[data-date='2027-06-09']")).to_contain_text(
        re.compile(r"Konstrueret|Lånenavn|Modelsen|Nonexist")
    )
    screenshot(page, "rota-month")

    page.reload()
    expect(page.get_by_role("button", name="Måned", exact=True)).to_have_attribute(
        "aria-pressed", "true"
    )
    expect(page.get_by_role("tab", name="Palliativ specialist")).to_have_attribute(
        "aria-selected", "true"
    )
    page.get_by_role("button", name="Næste måned").click()
    expect(page).to_have_url(re.compile(r"view=month&date=2027-07-01$"))
    expect(period).to_have_text("Juli 2027")
    page.locator("td[data-date='2027-07-14'] a").click()
    expect(page).to_have_url(re.compile(r"tier=specialist&view=week&date=2027-07-14$"))
    expect(days.first).to_have_attribute("data-date", "2027-07-12")

    page.get_by_role("button", name="I dag").click()
    today = dt.datetime.now(COPENHAGEN).date()
    expect(page).to_have_url(re.compile(rf"date={today.isoformat()}$"))
    expect(page.locator(".day.is-today")).to_have_attribute("data-date", today.isoformat())


def test_the_week_of_the_change_to_summer_time_has_local_midnights(page: Page) -> None:
    log_in_as(page, "coordinator")
    open_week(page, "specialist", DST_SUNDAY)
    days = page.locator(".day")
    expect(days.first).to_have_attribute("data-date", "2027-03-22")
    expect(days.last).to_have_attribute("data-date", DST_SUNDAY)
    sunday = day_column(page, DST_SUNDAY)
    gaps = sunday.locator(".block.gap")
    expect(gaps).to_have_count(2)
    # Saturday 18.00 (winter time) to Sunday 10.00 (summer time); then from 18.00 on.
    expect(gaps.first).to_have_attribute("data-start", "2027-03-27T17:00:00Z")
    expect(gaps.first).to_have_attribute("data-end", "2027-03-28T08:00:00Z")
    expect(gaps.first).to_contain_text("00.00–10.00")
    expect(gaps.last).to_have_attribute("data-start", "2027-03-28T16:00:00Z")
    expect(gaps.last).to_contain_text("18.00–24.00")
    expect(sunday.locator(".block.shift")).to_contain_text("10.00–18.00")
    expect(day_column(page, "2027-03-29")).to_have_count(0)
    screenshot(page, "rota-week-dst")


def test_times_are_danish_whatever_the_time_zone_of_the_tablet(
    browser: Browser, live_server: str
) -> None:
    context = browser.new_context(
        base_url=live_server, viewport=TABLET, locale="da-DK", timezone_id="America/New_York"
    )
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    try:
        log_in_as(tab, "coordinator")
        open_week(tab, "specialist", DST_SUNDAY)
        expect(tab.locator(".day").first).to_have_attribute("data-date", "2027-03-22")
        gaps = day_column(tab, DST_SUNDAY).locator(".block.gap")
        expect(gaps.first).to_contain_text("00.00–10.00")
        expect(gaps.last).to_contain_text("18.00–24.00")
        gaps.last.click()
        dialog = dialog_ready(tab, "Dæk hul i vagtplanen")
        expect(dialog.get_by_label("Fra", exact=True)).to_have_value(f"{DST_SUNDAY}T18:00")
        expect(dialog.get_by_label("Til", exact=True)).to_have_value("2027-03-29T08:00")
    finally:
        context.close()
    assert not errors


def test_coverage_lists_specialist_gaps_and_no_gaps_for_nurses_and_gps(page: Page) -> None:
    log_in_as(page, "coordinator")
    panel = page.get_by_test_id("coverage-panel")
    expect(panel.get_by_test_id("coverage-summary-specialist")).to_contain_text(
        re.compile(r"\d+ huller, i alt")
    )
    expect(panel.get_by_test_id("coverage-summary-senior_nurse")).to_contain_text("Ingen huller")
    expect(panel.get_by_test_id("coverage-summary-gp")).to_contain_text("Ingen huller")
    screenshot(page, "home-coordinator")

    page.get_by_role("navigation", name="Hovedmenu").get_by_role("link", name="Dækning").click()
    expect(page).to_have_url(re.compile(r"/rota/coverage$"))
    expect(page.get_by_test_id("coverage-specialist").locator("tbody tr").first).to_be_visible()

    page.goto(f"/rota/coverage?date={COVERAGE_FROM}")
    expect(page.locator("#coverage-lead")).to_contain_text("14 dage fra mandag den 2. august 2027")
    specialist = page.get_by_test_id("coverage-specialist")
    rows = specialist.locator("tbody tr")
    expect(rows).to_have_count(15)  # from Monday 00.00: the rest of a night, then 14 nights
    night = specialist.locator(f"tr[data-start='{utc(COVERAGE_FROM, 22)}']")
    expect(night).to_contain_text("Ingen på vagt")
    expect(night).to_contain_text("22.00")
    expect(night).to_contain_text("10 t")
    expect(specialist).to_contain_text("Huller: 15")
    for tier in ("senior_nurse", "gp"):
        expect(page.get_by_test_id(f"coverage-{tier}")).to_contain_text(
            "Ingen huller de næste 14 dage"
        )
        expect(page.get_by_test_id(f"coverage-{tier}").locator("tbody tr")).to_have_count(0)
    screenshot(page, "rota-coverage")

    night.get_by_role("link").click()
    expect(page).to_have_url(re.compile(rf"/rota\?tier=specialist&view=week&date={COVERAGE_FROM}$"))
    expect(page.locator(f".block.gap[data-start='{utc(COVERAGE_FROM, 22)}']").first).to_be_visible()


def test_a_failing_rota_shows_a_danish_message_and_a_way_to_try_again(page: Page) -> None:
    log_in_as(page, "coordinator")

    def offline(route: Route) -> None:
        route.abort("internetdisconnected")

    page.route("**/api/v1/rota/shifts?*", offline)
    page.goto(f"/rota?tier=gp&date={RETRY_DAY}")
    state = page.locator("#rota-state")
    expect(state).to_contain_text("Ingen forbindelse til serveren. Tjek netværket og prøv igen.")
    screenshot(page, "rota-offline")

    page.unroute("**/api/v1/rota/shifts?*", offline)
    state.get_by_role("button", name="Prøv igen").click()
    expect(day_column(page, RETRY_DAY).locator(".block.shift").first).to_be_visible()
    expect(state).not_to_contain_text("Ingen forbindelse")


def test_admin_has_the_rota_pages_in_the_menu(page: Page) -> None:
    log_in_as(page, "admin")
    menu = page.get_by_role("navigation", name="Hovedmenu")
    menu.get_by_role("link", name="Vagtplaner").click()
    expect(page.get_by_test_id("rota")).to_be_visible()
    expect(menu.get_by_role("link", name="Vagtplaner")).to_have_attribute("aria-current", "page")


def test_nurse_opening_the_rota_gets_the_403_page(page: Page) -> None:
    log_in_as(page, "nurse")
    expect(
        page.get_by_role("navigation", name="Hovedmenu").get_by_role("link", name="Vagtplaner")
    ).to_have_count(0)
    for path in ("/rota", "/rota/coverage"):
        response = page.goto(path)
        assert response is not None
        assert response.status == 403
        expect(page.get_by_test_id("error")).to_contain_text("Du har ikke adgang til denne side.")
        expect(page.get_by_test_id("rota")).to_have_count(0)
    screenshot(page, "rota-403")
