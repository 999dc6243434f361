// Fee statements by month (per clinician and per organisation, CSV, printable) and, for
// administrators, the fee schedules with the upload form.

import { ApiError, api, csrfToken, errorText, flash, formatDate, formatDateTime, language, t } from "./app.js";
import { el, showState, whileBusy } from "./dom.js";

const form = document.getElementById("statement-form");
const canChoose = form.dataset.canChoose === "true";
const monthInput = form.elements.namedItem("month");
const scopeSelect = form.elements.namedItem("scope");
const state = document.getElementById("statement-state");
const body = document.getElementById("statement-body");
const csvLink = document.getElementById("statement-csv");
const printLink = document.getElementById("statement-print");

const money = new Intl.NumberFormat(language, { minimumFractionDigits: 2, maximumFractionDigits: 2 });
// Amounts arrive as exact decimal strings; only their display goes through a number.
const shown = (amount) => money.format(Number(amount));

function thisMonth() {
  const now = new Date();
  return `${now.getFullYear()}-${String(now.getMonth() + 1).padStart(2, "0")}`;
}

function query() {
  const params = new URLSearchParams({ month: monthInput.value });
  const [kind, id] = (scopeSelect?.value || "").split(":");
  if (kind === "clinician") params.set("clinician_id", id);
  if (kind === "organisation") params.set("organisation_id", id);
  return params.toString();
}

function kindTotal(part, kinds) {
  const sum = part.by_kind.filter((k) => kinds.includes(k.kind)).map((k) => k.amount);
  if (!sum.length) return "–";
  // Exact: add in øre as integers, never as binary fractions.
  const ore = sum.reduce((total, amount) => total + BigInt(amount.replace(".", "")), 0n);
  const sign = ore < 0n ? "-" : "";
  const abs = ore < 0n ? -ore : ore;
  return shown(`${sign}${abs / 100n}.${String(abs % 100n).padStart(2, "0")}`);
}

function fillScopes(statement) {
  if (!canChoose || statement.scope !== "all") return;
  const keep = scopeSelect.value;
  const organisations = new Map();
  for (const c of statement.clinicians) {
    if (c.organisation_id) organisations.set(c.organisation_id, c.organisation);
  }
  scopeSelect.replaceChildren(
    el("option", { value: "" }, t("fees.scope.all")),
    el("optgroup", { label: t("fees.scope.organisation") },
      ...[...organisations].map(([id, name]) => el("option", { value: `organisation:${id}` }, name))),
    el("optgroup", { label: t("fees.scope.clinician") },
      ...statement.clinicians.map((c) => el("option", { value: `clinician:${c.clinician_id}` }, c.name))),
  );
  if ([...scopeSelect.options].some((o) => o.value === keep)) scopeSelect.value = keep;
}

function lineRow(line) {
  const unit = `${line.quantity} ${t(`fees.unit.${line.unit}`)}`;
  const rate = shown(line.unit_amount) + (line.per === 60 ? ` / ${t("fees.hour")}` : "");
  return el("tr", {},
    el("td", {}, formatDateTime(line.period_start), line.consultation_id ? ` · #${line.consultation_id}` : ""),
    el("td", {}, t(`fees.kind.${line.kind}`)),
    el("td", {}, el("code", {}, line.rule), ` (${line.schedule_version})`),
    el("td", { class: "num" }, unit),
    el("td", { class: "num" }, rate),
    el("td", { class: "num" }, shown(line.amount)));
}

function details(part) {
  return el("details", { class: "fees-lines", dataset: { testid: `lines-${part.clinician_id}` } },
    el("summary", {}, t("fees.lines_of", { name: part.name, n: part.lines.length })),
    el("div", { class: "table-wrap" }, el("table", { class: "fees-table" },
      el("thead", {}, el("tr", {},
        el("th", { scope: "col" }, t("fees.when")), el("th", { scope: "col" }, t("fees.what")),
        el("th", { scope: "col" }, t("fees.rule")), el("th", { scope: "col", class: "num" }, t("fees.quantity")),
        el("th", { scope: "col", class: "num" }, t("fees.unit_amount")),
        el("th", { scope: "col", class: "num" }, t("fees.amount")))),
      el("tbody", {}, part.lines.map(lineRow)))));
}

function render(statement) {
  document.getElementById("statement-total").textContent = `${shown(statement.total)} DKK`;
  document.getElementById("statement-versions").textContent = statement.schedule_versions.join(", ") || "–";
  const unpriced = document.getElementById("statement-unpriced");
  unpriced.hidden = statement.unpriced.length === 0;
  unpriced.textContent = t("fees.unpriced", { n: statement.unpriced.length });
  document.getElementById("statement-rows").replaceChildren(...statement.clinicians.map((part) => el("tr", {},
    el("th", { scope: "row" }, part.name),
    el("td", {}, part.organisation || ""),
    el("td", { class: "num" }, kindTotal(part, ["contact", "contact_surcharge"])),
    el("td", { class: "num" }, kindTotal(part, ["supplement"])),
    el("td", { class: "num" }, kindTotal(part, ["standby", "standby_surcharge"])),
    el("td", { class: "num" }, kindTotal(part, ["commitment"])),
    el("td", { class: "num", dataset: { testid: `total-${part.clinician_id}` } }, shown(part.total)))));
  document.getElementById("statement-details").replaceChildren(...statement.clinicians.map(details));
  body.hidden = statement.clinicians.length === 0;
  showState(state, statement.clinicians.length ? null : "empty", t("fees.none"));
}

async function loadStatement() {
  if (!/^\d{4}-\d{2}$/.test(monthInput.value)) monthInput.value = thisMonth();
  const q = query();
  csvLink.href = `/api/v1/fees/statement.csv?${q}`;
  printLink.href = `/fees/print?${q}`;
  history.replaceState(null, "", `?${q}`);
  showState(state, "loading", t("common.loading"));
  try {
    const statement = await api("GET", `/api/v1/fees/statement?${q}`);
    fillScopes(statement);
    render(statement);
  } catch (error) {
    body.hidden = true;
    showState(state, "error", errorText(error), loadStatement);
  }
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  loadStatement();
});

// Schedules (coordinators and admins) ------------------------------------------------------

const schedulesTable = document.getElementById("schedules-table");
const schedulesState = document.getElementById("schedules-state");

async function loadSchedules() {
  if (!schedulesTable) return;
  showState(schedulesState, "loading", t("common.loading"));
  try {
    const { schedules } = await api("GET", "/api/v1/fee-schedules");
    document.getElementById("schedules-body").replaceChildren(...schedules.map((s) => el("tr", {},
      el("td", {}, formatDate(s.effective_from)),
      el("td", {}, el("code", {}, s.version)),
      el("td", {}, s.description),
      el("td", {}, `${formatDateTime(s.uploaded_at)} · ${s.uploaded_by}`))));
    schedulesTable.hidden = schedules.length === 0;
    showState(schedulesState, schedules.length ? null : "empty", t("fees.no_schedules"));
  } catch (error) {
    schedulesTable.hidden = true;
    showState(schedulesState, "error", errorText(error), loadSchedules);
  }
}

const upload = document.getElementById("upload-form");

function uploadMessage(error) {
  const known = `fees.error.${error.code}`;
  const text = t(known) === known ? error.message : t(known);
  const where = error.line ? t("fees.error_line", { line: error.line }) + " " : "";
  return `${where}${error.field}: ${text}`;
}

upload?.addEventListener("submit", async (event) => {
  event.preventDefault();
  flash("");
  const box = document.getElementById("upload-errors");
  const list = document.getElementById("upload-error-list");
  box.hidden = true;
  const file = upload.elements.namedItem("file").files[0];
  if (!file) {
    list.replaceChildren(el("li", {}, t("fees.choose_file")));
    box.hidden = false;
    return;
  }
  const data = new FormData();
  data.append("file", file);
  if (upload.elements.namedItem("allow_past").checked) data.append("allow_past", "true");
  await whileBusy(document.getElementById("upload-submit"), t("common.saving"), async () => {
    try {
      const response = await fetch("/api/v1/fee-schedules", {
        method: "POST", body: data, credentials: "same-origin",
        headers: { Accept: "application/json", "X-CSRF-Token": csrfToken() },
      });
      const payload = await response.json().catch(() => null);
      if (!response.ok) throw new ApiError(response.status, payload);
      upload.reset();
      flash(t("fees.uploaded_ok", { version: payload.schedule.version }));
      await loadSchedules();
      await loadStatement();
    } catch (error) {
      const errors = error.problem?.errors || [];
      if (!errors.length) {
        flash(errorText(error), true);
        return;
      }
      list.replaceChildren(...errors.map((e) => el("li", {}, uploadMessage(e))));
      box.hidden = false;
      box.focus?.();
    }
  });
});

const initial = new URLSearchParams(location.search);
monthInput.value = initial.get("month") || thisMonth();
if (scopeSelect) {
  const id = initial.get("clinician_id") || initial.get("organisation_id");
  if (id) {
    const kind = initial.has("clinician_id") ? "clinician" : "organisation";
    scopeSelect.append(el("option", { value: `${kind}:${id}` }, `#${id}`));
    scopeSelect.value = `${kind}:${id}`;
  }
}
loadStatement();
loadSchedules();
