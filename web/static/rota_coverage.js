// Coverage: every time nobody is on duty, per tier, in the next 14 days (or the 14 days
// from ?date=YYYY-MM-DD). In full on the coverage page; in short on the coordinator's
// landing page, which is what a coordinator checks every morning.

import { api, errorText, t } from "./app.js";
import { el, showState } from "./dom.js";
import * as time from "./rota_time.js";

const DAYS = 14;
const root = document.querySelector("[data-coverage]");
const compact = root.dataset.coverage === "compact";

/** [from, to) to ask about, and the instant before which gaps are over already. */
function period() {
  const chosen = time.parseIsoDate(new URLSearchParams(window.location.search).get("date"));
  if (chosen && !compact) {
    const from = time.localMidnight(chosen);
    return { from, to: time.localMidnight(time.addDays(chosen, DAYS)), after: from, chosen };
  }
  const now = Date.now();
  // From midnight, so a gap going on now shows when it began.
  return { from: time.localMidnight(time.todayIso()), to: now + DAYS * time.DAY_MS, after: now, chosen: null };
}

function weekLink(tier, gap) {
  const query = new URLSearchParams({ tier, view: "week", date: time.localDate(gap.startMs) });
  return `/rota?${query}`;
}

function summaryText(gaps) {
  const total = gaps.reduce((sum, gap) => sum + gap.endMs - gap.startMs, 0);
  const hours = time.formatHours(total);
  return gaps.length === 1 ? t("coverage.count_one", { hours }) : t("coverage.count", { count: gaps.length, hours });
}

function noneText() {
  return el("p", { class: "coverage-none" }, el("span", { class: "ok-icon", "aria-hidden": "true" }, "✓"), t("coverage.none"));
}

function gapRow(tier, gap, now) {
  const ongoing = gap.startMs <= now;
  return el("tr", { dataset: { start: gap.start, end: gap.end } },
    el("td", {}, el("span", { class: "gap-marker" },
      el("span", { class: "gap-icon", "aria-hidden": "true" }, "⚠"), t("rota.gap")),
    ongoing ? el("span", { class: "badge danger" }, t("coverage.ongoing")) : null),
    el("td", {}, time.formatDayTime(gap.startMs)),
    el("td", {}, time.formatDayTime(gap.endMs)),
    el("td", {}, time.formatHours(gap.endMs - gap.startMs)),
    el("td", { class: "cell-action" }, el("a", { class: "row-link", href: weekLink(tier, gap),
      "aria-label": t("coverage.show_week_of", { range: time.formatRange(gap.startMs, gap.endMs) }) },
    t("coverage.show_week"))));
}

function renderFull(section, tier, gaps, now) {
  const body = section.querySelector(".coverage-body");
  section.querySelector("[data-count]").replaceChildren(gaps.length
    ? el("span", { class: "badge danger" }, t("coverage.badge_gaps", { count: gaps.length }))
    : el("span", { class: "badge ok" }, t("coverage.badge_none")));
  if (!gaps.length) {
    body.replaceChildren(noneText());
    return;
  }
  body.replaceChildren(
    el("p", { class: "coverage-total" }, summaryText(gaps)),
    el("div", { class: "table-wrap" }, el("table", { class: "coverage-table" },
      el("thead", {}, el("tr", {},
        el("th", { scope: "col" }, el("span", { class: "visually-hidden" }, t("coverage.what"))),
        el("th", { scope: "col" }, t("coverage.from")),
        el("th", { scope: "col" }, t("coverage.to")),
        el("th", { scope: "col" }, t("coverage.duration")),
        el("th", { scope: "col" }, el("span", { class: "visually-hidden" }, t("coverage.link"))))),
      el("tbody", {}, gaps.map((gap) => gapRow(tier, gap, now))))));
}

function renderCompact(section, tier, gaps) {
  const body = section.querySelector(".coverage-body");
  if (!gaps.length) {
    body.replaceChildren(el("span", { class: "badge ok" }, el("span", { "aria-hidden": "true" }, "✓ "), t("coverage.badge_none")));
    return;
  }
  body.replaceChildren(
    el("a", { class: "coverage-gaps-link", href: `/rota/coverage#coverage-${tier}` },
      el("span", { class: "gap-icon", "aria-hidden": "true" }, "⚠"), summaryText(gaps)),
    el("span", { class: "muted coverage-next" },
      t("coverage.next", { range: time.formatRange(gaps[0].startMs, gaps[0].endMs) })));
}

async function loadTier(section) {
  const { tier } = section.dataset;
  const state = section.querySelector(".state");
  const body = section.querySelector(".coverage-body");
  const { from, to, after } = period();
  body.replaceChildren();
  showState(state, "loading", t("coverage.loading"));
  try {
    const query = new URLSearchParams({ tier, from: time.utcIso(from), to: time.utcIso(to) });
    const { gaps } = await api("GET", `/api/v1/rota/gaps?${query}`);
    const found = gaps
      .map((gap) => ({ ...gap, startMs: Date.parse(gap.start), endMs: Date.parse(gap.end) }))
      .filter((gap) => gap.endMs > after);
    showState(state);
    if (compact) renderCompact(section, tier, found);
    else renderFull(section, tier, found, Date.now());
  } catch (error) {
    showState(state, "error", errorText(error), () => loadTier(section));
  }
}

const lead = document.getElementById("coverage-lead");
if (lead) {
  const { chosen } = period();
  lead.textContent = chosen ? t("coverage.lead_from", { date: time.formatLongDay(chosen) }) : t("coverage.lead_now");
  const input = document.getElementById("coverage-date");
  if (input) input.value = chosen || time.todayIso();
}
for (const section of root.querySelectorAll("[data-tier]")) loadTier(section);
