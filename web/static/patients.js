// The patient search: type or submit, see the care-plan essentials, open a patient.

import { api, errorText, t } from "./app.js";
import { el, showState } from "./dom.js";

const form = document.getElementById("search-form");
const input = document.getElementById("q");
const table = document.getElementById("patients-table");
const body = document.getElementById("patients-body");
const state = document.getElementById("patients-state");
const TYPING_PAUSE_MS = 300;

const ASKS_FOR_ADVICE = document.body.dataset.role === "nurse";
let latest = 0; // answers to older searches are dropped, so typing fast never shows stale rows
let typingTimer = null;

function treatmentBadge(level) {
  return el("span", { class: `badge ${level}` }, t(`patients.treatment.${level}`));
}

function dnrBadge(dnr) {
  return dnr
    ? el("span", { class: "badge dnr", "data-dnr": "true" }, t("patients.badge.dnr"))
    : el("span", { class: "muted", "data-dnr": "false" }, t("patients.badge.no_dnr"));
}

function row(patient) {
  const href = `/patients/${patient.id}`;
  const open = (event) => {
    if (!event.target.closest("a")) window.location.assign(href);
  };
  const cells = [
    el("td", {}, patient.reference),
    el("td", {}, el("a", { class: "row-link", href }, patient.name)),
    el("td", {}, t(`patients.diagnosis.${patient.diagnosis_group}`)),
    el("td", {}, treatmentBadge(patient.treatment_level)),
    el("td", {}, dnrBadge(patient.dnr)),
  ];
  if (ASKS_FOR_ADVICE) {
    // Straight from the search to the advice request: one tap at the bedside.
    cells.push(el("td", {}, el("a", {
      class: "button primary", href: `/call/new?patient=${patient.id}`, "data-testid": "row-call",
      "aria-label": t("call.ask_for", { name: patient.name }),
    }, t("call.ask"))));
  }
  return el("tr", { class: "clickable", dataset: { patientId: patient.id }, on: { click: open } }, ...cells);
}

async function search() {
  clearTimeout(typingTimer);
  const sequence = ++latest;
  const q = input.value.trim();
  showState(state, "loading", t("patients.loading"));
  table.setAttribute("aria-busy", "true");
  try {
    const { patients } = await api("GET", `/api/v1/patients?q=${encodeURIComponent(q)}`);
    if (sequence !== latest) return;
    body.replaceChildren(...patients.map(row));
    table.hidden = patients.length === 0;
    if (patients.length === 0) showState(state, "empty", t("patients.none"));
    else showState(state, "done", patients.length === 1 ? t("patients.count_one") : t("patients.count", { count: patients.length }));
  } catch (error) {
    if (sequence !== latest) return;
    table.hidden = true;
    showState(state, "error", errorText(error), search);
  } finally {
    if (sequence === latest) table.removeAttribute("aria-busy");
  }
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  search();
});
input.addEventListener("input", () => {
  clearTimeout(typingTimer);
  typingTimer = setTimeout(search, TYPING_PAUSE_MS);
});

search();
