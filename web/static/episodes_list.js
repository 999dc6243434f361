// "My recent episodes" on the advisor's console: the calls they took part in, newest first,
// the undocumented ones flagged with a button straight to the documentation form. Read on
// load and again whenever the page comes back into view (e.g. back from a call).

import { api, errorText, formatDateTime, t } from "./app.js";
import { el, showState } from "./dom.js";
import { urgencyBadge } from "./consult_view.js";

const list = document.getElementById("my-episodes");
const state = document.getElementById("my-episodes-state");
const REFRESH_MS = 60_000;

function item(e) {
  const undocumented = e.needs_documentation && e.may_document;
  return el("li", { class: `episode-item${undocumented ? " is-undocumented" : ""}`, dataset: { episodeId: e.id } },
    el("span", { class: "episode-item-when" }, formatDateTime(e.created_at)),
    el("span", { class: "episode-item-patient" }, e.patient.name),
    urgencyBadge(e.urgency),
    undocumented
      ? el("span", { class: "badge danger", "data-testid": "undocumented" }, t("episodes.undocumented_short"))
      : el("span", { class: "muted" }, e.documented ? t(`episodes.disposition.${e.disposition}`) : t(`episodes.outcome.${e.outcome}`)),
    el("a", {
      class: `button ${undocumented ? "primary" : "secondary"}`, href: `/episodes/${e.id}`,
      "data-testid": undocumented ? "document-episode" : "open-episode",
    }, t(undocumented ? "episodes.document" : "episodes.open")));
}

async function refresh() {
  try {
    const { episodes } = await api("GET", "/api/v1/episodes?mine=true&limit=10");
    list.replaceChildren(...episodes.map(item));
    if (episodes.length === 0) showState(state, "empty", t("episodes.none_mine"));
    else showState(state);
  } catch (error) {
    showState(state, "error", errorText(error), refresh);
  }
}

if (list) {
  showState(state, "loading", t("common.loading"));
  refresh();
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") refresh();
  });
  setInterval(() => {
    if (document.visibilityState === "visible") refresh();
  }, REFRESH_MS);
}
