// Evaluation reports: the filter (period, organisation, tier) lives in the query string;
// tables come from /api/v1/reports, charts are images from /api/v1/reports/charts, and
// every table has its CSV link.

import { api, errorText, language, showFieldErrors, clearFieldErrors, t, translateCode } from "./app.js";
import { el, showState } from "./dom.js";

const form = document.getElementById("report-form");
const state = document.getElementById("report-state");
const body = document.getElementById("report-body");
const FILTERS = ["from", "to", "organisation", "tier"];
// Codes only this page sends; the rest are translated by app.js.
const CODES = {
  period_too_long: "reports.error.period_too_long",
  unknown_organisation: "validation.organisation_unknown",
  unknown_parameter: "validation.invalid",
};

function currentQuery() {
  const here = new URLSearchParams(window.location.search);
  const query = new URLSearchParams();
  for (const name of FILTERS) if (here.get(name)) query.set(name, here.get(name));
  return query;
}

function filterQuery(filter) {
  const query = new URLSearchParams({ from: filter.from, to: filter.to });
  if (filter.organisation_id !== null) query.set("organisation", String(filter.organisation_id));
  if (filter.tier !== null) query.set("tier", String(filter.tier));
  return query;
}

const percent = new Intl.NumberFormat(language, { style: "percent", maximumFractionDigits: 1 });
const decimal = new Intl.NumberFormat(language, { maximumFractionDigits: 4 });

const TIER_KEYS = ["tier.senior_nurse", "tier.gp", "tier.specialist"];

function cell(column, value) {
  if (value === null || value === undefined) return "–";
  if (column === "tier" && TIER_KEYS[value - 1]) return t(TIER_KEYS[value - 1]);
  if (typeof value === "boolean") return t(value ? "reports.yes" : "reports.no");
  if (typeof value === "number") {
    if (column.startsWith("share") || column === "value_share") return percent.format(value);
    return decimal.format(value);
  }
  return translateCode("reports.value.", value);
}

function heading(column) {
  const hour = /^h(\d\d)$/.exec(column);
  return hour ? hour[1] : translateCode("reports.col.", column);
}

function tableElement(name, table) {
  const summary = name === "summary";
  return el("table", { class: `report-table report-${name}`, dataset: { table: name } },
    el("thead", {}, el("tr", {}, table.columns.map((c) => el("th", { scope: "col" }, heading(c))))),
    el("tbody", {}, table.rows.map((row) => el("tr", {}, row.map((value, i) => {
      const column = summary && i === 1 && String(row[0]).startsWith("share") ? "value_share" : table.columns[i];
      return i === 0 ? el("th", { scope: "row" }, cell(column, value)) : el("td", {}, cell(column, value));
    })))));
}

function csvLink(name, query) {
  return el("a", { class: "button secondary", href: `/api/v1/reports/${name}.csv?${query}`, download: true,
    dataset: { csv: name }, "aria-label": t("reports.csv_of", { table: t(`reports.table.${name}`) }) }, t("reports.csv"));
}

function tableCard(name, table, query) {
  return el("section", { class: "card report-card", "aria-labelledby": `table-${name}` },
    el("div", { class: "heading-row" }, el("h2", { id: `table-${name}` }, t(`reports.table.${name}`)), csvLink(name, query)),
    el("p", { class: "hint" }, t(`reports.about.${name}`)),
    el("div", { class: "table-wrap" }, tableElement(name, table)));
}

function chartFigure(name, query) {
  const withLang = new URLSearchParams(query);
  withLang.set("lang", language);
  const src = (format) => `/api/v1/reports/charts/${name}.${format}?${withLang}`;
  return el("figure", { class: "report-chart", dataset: { chart: name } },
    el("img", { src: src("svg"), alt: t(`reports.chart_alt.${name}`), loading: "lazy", width: 800, height: 450 }),
    el("figcaption", {}, t(`reports.chart_alt.${name}`), " ",
      el("a", { href: src("svg"), download: `${name}.svg` }, "SVG"), " · ",
      el("a", { href: src("png"), download: `${name}.png` }, "PNG")));
}

function render(report) {
  const query = filterQuery(report.filter);
  document.getElementById("report-scope").textContent = t("reports.scope", {
    from: report.filter.from, to: report.filter.to, episodes: report.episodes, courses: report.courses });
  document.getElementById("report-summary").replaceChildren(
    el("div", { class: "table-wrap" }, tableElement("summary", report.tables.summary)), csvLink("summary", query));
  document.getElementById("report-charts").replaceChildren(...report.charts.map((name) => chartFigure(name, query)));
  document.getElementById("report-tables").replaceChildren(...report.table_names
    .filter((name) => name !== "summary")
    .map((name) => tableCard(name, report.tables[name], query)));
  for (const part of ["episodes", "courses"]) {
    const extract = new URLSearchParams(query);
    extract.set("part", part);
    document.getElementById(`extract-${part}`).href = `/api/v1/reports/research-extract.csv?${extract}`;
  }
  body.hidden = false;
}

function fillForm(filter) {
  form.elements.namedItem("from").value = filter.from;
  form.elements.namedItem("to").value = filter.to;
  const org = form.elements.namedItem("organisation");
  if (org) org.value = filter.organisation_id === null ? "" : String(filter.organisation_id);
  form.elements.namedItem("tier").value = filter.tier === null ? "" : String(filter.tier);
}

async function load() {
  body.hidden = true;
  clearFieldErrors(form);
  showState(state, "loading", t("reports.loading"));
  try {
    const report = await api("GET", `/api/v1/reports?${currentQuery()}`);
    fillForm(report.filter);
    render(report);
    showState(state);
  } catch (error) {
    for (const item of error.problem?.errors || []) if (CODES[item.code]) item.translated = t(CODES[item.code]);
    for (const name of FILTERS) {
      const input = form.elements.namedItem(name);
      const raw = new URLSearchParams(window.location.search).get(name);
      if (input && raw !== null) input.value = raw;
    }
    if (error.status === 400) {
      showFieldErrors(form, error);
      showState(state, "error", t("reports.bad_filter"));
    } else {
      showState(state, "error", errorText(error), load);
    }
  }
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  const query = new URLSearchParams();
  for (const name of FILTERS) {
    const value = form.elements.namedItem(name)?.value;
    if (value) query.set(name, value);
  }
  history.pushState(null, "", `/reports?${query}`);
  load();
});
window.addEventListener("popstate", load);
load();
