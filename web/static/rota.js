// The coordinator's duty rotas: one tier at a time, a week (a column per day) or a month
// (a calendar), from the tier's final schedule and its coverage gaps. All times are Danish
// time. The tier, view and date live in the URL, so reload and the back button work.

import { api, errorText, t } from "./app.js";
import { el, showState } from "./dom.js";
import { openOverrideDialog } from "./rota_dialog.js";
import * as time from "./rota_time.js";

const TIERS = JSON.parse(document.getElementById("rota-tiers").textContent);
const VIEWS = ["week", "month"];
const tabs = [...document.querySelectorAll("#rota-page [role='tab']")];
const viewButtons = [...document.querySelectorAll("#rota-page [data-view]")];
const panel = document.getElementById("rota-panel");
const periodHeading = document.getElementById("rota-period");
const stateBox = document.getElementById("rota-state");
const weekBox = document.getElementById("rota-week");
const monthBox = document.getElementById("rota-month");
const prevButton = document.getElementById("rota-prev");
const nextButton = document.getElementById("rota-next");

let current = readUrl();
let latest = 0; // answers for a period no longer shown are dropped

function readUrl() {
  const query = new URLSearchParams(window.location.search);
  return {
    tier: TIERS.includes(query.get("tier")) ? query.get("tier") : TIERS[0],
    view: VIEWS.includes(query.get("view")) ? query.get("view") : "week",
    date: time.parseIsoDate(query.get("date")) || time.todayIso(),
  };
}

function urlFor(state) {
  return `/rota?${new URLSearchParams({ tier: state.tier, view: state.view, date: state.date })}`;
}

function go(changes) {
  current = { ...current, ...changes };
  window.history.pushState(null, "", urlFor(current));
  show();
}

/** The days shown: Monday to Sunday of the week, or whole weeks around the month. */
function daysShown({ view, date }) {
  let first = time.startOfWeek(date);
  let count = 7;
  if (view === "month") {
    const monthStart = time.startOfMonth(date);
    first = time.startOfWeek(monthStart);
    const lastOfMonth = time.addDays(time.addMonths(monthStart, 1), -1);
    const last = time.addDays(time.startOfWeek(lastOfMonth), 6);
    count = Math.round((time.localMidnight(time.addDays(last, 1)) - time.localMidnight(first)) / time.DAY_MS);
  }
  return Array.from({ length: count }, (_, i) => {
    const iso = time.addDays(first, i);
    return { iso, start: time.localMidnight(iso), end: time.localMidnight(time.addDays(iso, 1)) };
  });
}

function withInstants(item) {
  return { ...item, startMs: Date.parse(item.start), endMs: Date.parse(item.end) };
}

const overlaps = (day) => (item) => item.startMs < day.end && item.endMs > day.start;

function show() {
  for (const tab of tabs) {
    const selected = tab.dataset.tier === current.tier;
    tab.setAttribute("aria-selected", String(selected));
    tab.tabIndex = selected ? 0 : -1;
  }
  panel.setAttribute("aria-labelledby", `tab-${current.tier}`);
  for (const button of viewButtons) button.setAttribute("aria-pressed", String(button.dataset.view === current.view));
  const week = current.view === "week";
  prevButton.textContent = `‹ ${t(week ? "rota.prev_week" : "rota.prev_month")}`;
  nextButton.textContent = `${t(week ? "rota.next_week" : "rota.next_month")} ›`;
  const days = daysShown(current);
  if (week) {
    periodHeading.textContent = t("rota.week_title", {
      week: time.isoWeek(days[0].iso), range: time.formatDateRange(days[0].iso, days[6].iso),
    });
  } else {
    periodHeading.textContent = time.formatMonth(current.date);
  }
  document.title = `${t("rota.title")} – ${t(`tier.${current.tier}`)} – ${t("app.name")}`;
  return load();
}

async function load() {
  const sequence = ++latest;
  const { view } = current;
  const days = daysShown(current);
  // A day more on each side, so a shift across the edge of the period shows its real times.
  const query = new URLSearchParams({
    tier: current.tier,
    from: time.utcIso(time.localMidnight(time.addDays(days[0].iso, -1))),
    to: time.utcIso(time.localMidnight(time.addDays(days.at(-1).iso, 2))),
  });
  weekBox.hidden = true;
  monthBox.hidden = true;
  showState(stateBox, "loading", t("rota.loading"));
  try {
    const [{ shifts }, { gaps }] = await Promise.all([
      api("GET", `/api/v1/rota/shifts?${query}`),
      api("GET", `/api/v1/rota/gaps?${query}`),
    ]);
    if (sequence !== latest) return;
    showState(stateBox);
    if (view === "week") renderWeek(days, shifts.map(withInstants), gaps.map(withInstants));
    else renderMonth(days, shifts.map(withInstants), gaps.map(withInstants));
  } catch (error) {
    if (sequence !== latest) return;
    showState(stateBox, "error", errorText(error), load);
  }
}

// The week -----------------------------------------------------------------------------

function timeLine(item, day) {
  const before = item.startMs < day.start;
  const after = item.endMs > day.end;
  const from = time.formatTime(Math.max(item.startMs, day.start));
  const to = after ? time.formatDayEnd(day.end) : time.formatTime(item.endMs);
  const whole = time.formatRange(item.startMs, item.endMs);
  return el("span", { class: "block-time" }, `${from}–${to}`,
    before || after ? el("span", { class: "visually-hidden" }, ` (${t("rota.whole", { range: whole })})`) : null);
}

/** Classes that show a block going on from the day before or into the next day. */
function edges(item, day) {
  return `${item.startMs < day.start ? " from-before" : ""}${item.endMs > day.end ? " to-after" : ""}`;
}

function shiftBlock(shift, day) {
  return el("button", {
    type: "button", class: `block shift${edges(shift, day)}`, title: time.formatRange(shift.startMs, shift.endMs),
    dataset: { start: shift.start, end: shift.end, rotaId: shift.rota_id },
    on: { click: () => openOverrideDialog({ mode: "replace", tier: current.tier, item: shift, onSaved: reloadAndFocus }) },
  },
  timeLine(shift, day),
  el("span", { class: "block-who" }, shift.clinicians.map((c) => c.name).join(", ")),
  el("span", { class: "block-rota" }, shift.rota));
}

function gapBlock(gap, day) {
  return el("button", {
    type: "button", class: `block gap${edges(gap, day)}`, title: time.formatRange(gap.startMs, gap.endMs),
    dataset: { start: gap.start, end: gap.end },
    on: { click: () => openOverrideDialog({ mode: "add", tier: current.tier, item: gap, onSaved: reloadAndFocus }) },
  },
  el("span", { class: "gap-label" }, el("span", { class: "gap-icon", "aria-hidden": "true" }, "⚠"), t("rota.gap")),
  timeLine(gap, day),
  el("span", { class: "gap-action" }, t("rota.gap_action")));
}

function renderWeek(days, shifts, gaps) {
  const today = time.todayIso();
  weekBox.replaceChildren(...days.map((day) => {
    const items = [
      ...shifts.filter(overlaps(day)).map((shift) => ({ at: shift.startMs, node: () => shiftBlock(shift, day) })),
      ...gaps.filter(overlaps(day)).map((gap) => ({ at: gap.startMs, node: () => gapBlock(gap, day) })),
    ].sort((a, b) => a.at - b.at);
    const isToday = day.iso === today;
    return el("section", { class: `day${isToday ? " is-today" : ""}`, dataset: { date: day.iso },
      "aria-labelledby": `day-${day.iso}` },
    el("h3", { class: "day-heading", id: `day-${day.iso}` },
      el("span", { "aria-hidden": "true" }, time.formatDay(day.iso)),
      el("span", { class: "visually-hidden" }, time.formatLongDay(day.iso)),
      isToday ? el("span", { class: "today-mark" }, t("rota.today_mark")) : null),
    el("ul", { class: "blocks" }, items.map((item) => el("li", {}, item.node()))));
  }));
  weekBox.hidden = false;
}

// The month ----------------------------------------------------------------------------

function uncovered(day, gaps) {
  return gaps.filter(overlaps(day))
    .reduce((sum, gap) => sum + Math.min(gap.endMs, day.end) - Math.max(gap.startMs, day.start), 0);
}

function namesOn(day, shifts) {
  return [...new Set(shifts.filter(overlaps(day)).flatMap((shift) => shift.clinicians.map((c) => c.name)))];
}

function monthCell(day, shifts, gaps, month, today) {
  const missing = uncovered(day, gaps);
  const names = namesOn(day, shifts);
  const classes = ["month-cell", day.iso.slice(0, 7) !== month ? "is-outside" : "", day.iso === today ? "is-today" : ""];
  const open = (event) => {
    event.preventDefault();
    go({ view: "week", date: day.iso });
  };
  return el("td", { class: classes.filter(Boolean).join(" "), dataset: { date: day.iso } },
    el("a", { class: "month-day", href: urlFor({ ...current, view: "week", date: day.iso }), on: { click: open } },
      el("span", { class: "month-date" },
        el("span", { "aria-hidden": "true" }, String(Number(day.iso.slice(8)))),
        el("span", { class: "visually-hidden" }, time.formatLongDay(day.iso))),
      names.length ? el("span", { class: "month-names" }, names.map((name) => el("span", {}, name))) : null,
      missing > 0
        ? el("span", { class: "gap-marker", dataset: { hours: String(missing / time.HOUR_MS) } },
          el("span", { class: "gap-icon", "aria-hidden": "true" }, "⚠"),
          t("rota.month_gap", { hours: time.formatHours(missing) }))
        : null));
}

function renderMonth(days, shifts, gaps) {
  const month = current.date.slice(0, 7);
  const today = time.todayIso();
  const weeks = [];
  for (let i = 0; i < days.length; i += 7) weeks.push(days.slice(i, i + 7));
  monthBox.replaceChildren(el("table", { class: "month-grid" },
    el("caption", { class: "visually-hidden" }, `${t(`tier.${current.tier}`)}: ${time.formatMonth(current.date)}`),
    el("thead", {}, el("tr", {}, days.slice(0, 7).map((day) => el("th", { scope: "col" }, time.formatWeekday(day.iso))))),
    el("tbody", {}, weeks.map((week) => el("tr", {}, week.map((day) => monthCell(day, shifts, gaps, month, today)))))));
  monthBox.hidden = false;
}

// After a change: the same period again, the focus back where it was ----------------------

async function reloadAndFocus(focusSelector) {
  await load();
  const target = focusSelector ? document.querySelector(focusSelector) : null;
  (target || periodHeading).focus();
}

// Controls ----------------------------------------------------------------------------

for (const tab of tabs) {
  tab.addEventListener("click", () => go({ tier: tab.dataset.tier }));
  tab.addEventListener("keydown", (event) => {
    const index = tabs.indexOf(tab);
    const moves = { ArrowRight: index + 1, ArrowLeft: index - 1, Home: 0, End: tabs.length - 1 };
    if (!(event.key in moves)) return;
    event.preventDefault();
    const next = tabs[(moves[event.key] + tabs.length) % tabs.length];
    next.focus();
    go({ tier: next.dataset.tier });
  });
}
for (const button of viewButtons) {
  button.addEventListener("click", () => go({ view: button.dataset.view }));
}
for (const button of [prevButton, nextButton]) {
  button.addEventListener("click", () => {
    const step = Number(button.dataset.step);
    const date = current.view === "week"
      ? time.addDays(time.startOfWeek(current.date), 7 * step)
      : time.addMonths(current.date, step);
    go({ date });
  });
}
document.getElementById("rota-today").addEventListener("click", () => go({ date: time.todayIso() }));
window.addEventListener("popstate", () => {
  current = readUrl();
  show();
});

window.history.replaceState(null, "", urlFor(current));
show();
