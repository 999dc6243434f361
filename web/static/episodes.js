// The coordinator's list of episodes: filter by period, organisation, outcome, disposition
// or "not documented", newest first, more on request; each row opens the episode.

import { api, errorText, formatDateTime, showFieldErrors, t } from "./app.js";
import { el, showState } from "./dom.js";
import { urgencyBadge } from "./consult_view.js";

const form = document.getElementById("episode-filters");
const table = document.getElementById("episodes-table");
const rows = document.getElementById("episodes-body");
const state = document.getElementById("episodes-state");
const more = document.getElementById("more-button");
const organisations = form.elements.namedItem("organisation_id");

let next = null;
let latest = 0;

/** The filters as a query string (empty fields left out). */
function query(before) {
  const params = new URLSearchParams();
  for (const name of ["from", "to", "organisation_id", "outcome", "disposition"]) {
    const value = form.elements.namedItem(name).value;
    if (value) params.set(name, value);
  }
  if (form.elements.namedItem("undocumented").checked) params.set("undocumented", "true");
  if (before) params.set("before", before);
  return params.toString();
}

function documentationCell(e) {
  if (e.documented) return el("span", {}, t(`episodes.disposition.${e.disposition}`));
  if (e.needs_documentation) return el("span", { class: "badge danger", "data-testid": "undocumented" }, t("episodes.undocumented_short"));
  return el("span", { class: "muted" }, "–");
}

function row(e) {
  const href = `/episodes/${e.id}`;
  const open = (event) => {
    if (!event.target.closest("a")) window.location.assign(href);
  };
  return el("tr", { class: "clickable", dataset: { episodeId: e.id }, on: { click: open } },
    el("td", {}, el("a", { class: "row-link", href }, formatDateTime(e.created_at))),
    el("td", {}, `${e.patient.name} (${e.patient.reference})`, el("br"), el("span", { class: "muted" }, e.organisation.name)),
    el("td", {}, urgencyBadge(e.urgency)),
    el("td", {}, e.advisors.map((a) => a.name).join(", ") || el("span", { class: "muted" }, t("episodes.not_answered"))),
    el("td", {}, t(`episodes.outcome.${e.outcome}`)),
    el("td", {}, documentationCell(e)));
}

async function load(append = false) {
  const sequence = ++latest;
  showState(state, "loading", t("common.loading"));
  try {
    const found = await api("GET", `/api/v1/episodes?${query(append ? next : null)}`);
    if (sequence !== latest) return;
    const items = found.episodes.map(row);
    if (append) rows.append(...items);
    else rows.replaceChildren(...items);
    next = found.next_before;
    more.hidden = next === null;
    table.hidden = rows.children.length === 0;
    if (rows.children.length === 0) showState(state, "empty", t("episodes.none"));
    else showState(state);
  } catch (error) {
    if (sequence !== latest) return;
    if (error.status === 400 && error.problem?.errors) {
      showState(state);
      showFieldErrors(form, error);
    } else showState(state, "error", errorText(error), () => load(append));
  }
}

async function loadOrganisations() {
  try {
    const { organisations: found } = await api("GET", "/api/v1/organisations?kind=home_care");
    organisations.append(...found.map((org) => el("option", { value: org.id }, org.name)));
  } catch (error) {
    // The filter still works without the names; the list itself says if the server is gone.
  }
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  load();
});
form.addEventListener("reset", () => setTimeout(load));
more.addEventListener("click", () => load(true));

loadOrganisations();
load();
