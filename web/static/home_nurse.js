// The nurse's start page: her calls still open (after a reload or a lost connection she
// finds her way back to the call screen).

import { api, formatDateTime, t } from "./app.js";
import { el } from "./dom.js";
import * as view from "./consult_view.js";

const card = document.getElementById("open-calls-card");
const list = document.getElementById("open-calls");

async function load() {
  try {
    const { consultations } = await api("GET", "/api/v1/consultations");
    list.replaceChildren(...consultations.map((c) => el("li", { class: "call-item", dataset: { consultationId: c.id } },
      el("span", { class: "call-item-state" }, t(`console.call_state.${c.state}`)),
      view.urgencyBadge(c.urgency),
      el("span", { class: "muted" }, formatDateTime(c.created_at)),
      el("a", { class: "button primary", href: `/call/${c.id}` }, t("home.nurse.open_call")))));
    card.hidden = consultations.length === 0;
  } catch (error) {
    card.hidden = true; // the start page works without it; the call screens say more
  }
}

load();
