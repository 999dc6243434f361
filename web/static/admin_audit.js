// The access log (admin): newest first, optionally about one patient, with that patient's
// full access history as a CSV download (the patient's right of access).

import {
  api, clearFieldErrors, errorText, flash, formatDateTime, showFieldErrors, t, translateCode,
} from "./app.js";
import { el, showState, whileBusy } from "./dom.js";

const PAGE_SIZE = 100;
const form = document.getElementById("audit-form");
const input = form.elements.namedItem("patient_id");
const table = document.getElementById("audit-table");
const body = document.getElementById("audit-body");
const state = document.getElementById("audit-state");
const exportRow = document.getElementById("audit-export-row");
const exportLink = document.getElementById("audit-export");
const olderButton = document.getElementById("audit-older");

let filter = "";
let oldestId = null;

function row(entry) {
  const patient = entry.patient_id === null ? "–" : el("a", {
    class: "row-link",
    href: `/admin/audit?patient_id=${entry.patient_id}`,
    "aria-label": t("admin.audit.show_patient", { id: entry.patient_id }),
  }, String(entry.patient_id));
  return el("tr", {},
    el("td", {}, formatDateTime(entry.at)),
    el("td", {}, entry.actor_username),
    el("td", { title: entry.action }, translateCode("audit.action.", entry.action)),
    el("td", {}, patient),
    el("td", {}, entry.reason ? translateCode("audit.reason.", entry.reason) : ""));
}

function query(beforeId) {
  const params = new URLSearchParams({ limit: String(PAGE_SIZE) });
  if (filter) params.set("patient_id", filter);
  if (beforeId) params.set("before_id", String(beforeId));
  return `/api/v1/audit?${params}`;
}

function showEntries(entries, append) {
  if (append) body.append(...entries.map(row));
  else body.replaceChildren(...entries.map(row));
  if (entries.length) oldestId = entries[entries.length - 1].id;
  olderButton.hidden = entries.length < PAGE_SIZE;
  table.hidden = body.children.length === 0;
}

async function load() {
  showState(state, "loading", t("common.loading"));
  olderButton.hidden = true;
  try {
    const { entries } = await api("GET", query());
    showEntries(entries, false);
    if (!entries.length) showState(state, "empty", t("admin.audit.none"));
    else showState(state, filter ? "done" : null, t("admin.audit.for_patient", { id: filter }));
  } catch (error) {
    table.hidden = true;
    showState(state, "error", errorText(error), load);
  }
}

function applyFilter() {
  clearFieldErrors(form);
  flash("");
  const raw = input.value.trim();
  if (raw && !/^[0-9]{1,18}$/.test(raw)) {
    showFieldErrors(form, { problem: { errors: [{ field: "patient_id", message: t("validation.number") }] } });
    return;
  }
  filter = raw;
  exportRow.hidden = !filter;
  exportLink.href = filter ? `/api/v1/audit/patients/${filter}/export` : "/admin/audit";
  history.replaceState(null, "", filter ? `?patient_id=${filter}` : window.location.pathname);
  load();
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  applyFilter();
});
document.getElementById("audit-clear").addEventListener("click", () => {
  input.value = "";
  applyFilter();
});
olderButton.addEventListener("click", () => whileBusy(olderButton, t("common.loading"), async () => {
  try {
    showEntries((await api("GET", query(oldestId))).entries, true);
  } catch (error) {
    flash(errorText(error), true);
  }
}));

applyFilter();
