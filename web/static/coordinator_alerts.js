// The coordinator's live alerts (coordinator.alert over the WebSocket): a tier skipped
// because nobody is on duty, a tier asleep, every tier tried, a call failed. Newest first,
// with the time and the tier; never patient data.

import { t } from "./app.js";
import { el } from "./dom.js";
import { Live } from "./live.js";

const MAX_SHOWN = 50;
const list = document.getElementById("alerts");
const empty = document.getElementById("alerts-empty");

function time(date) {
  return date.toLocaleTimeString(document.body.dataset.lang || "da", {
    hour: "2-digit", minute: "2-digit", second: "2-digit", timeZone: "Europe/Copenhagen",
  });
}

function show(message) {
  const kind = ["tier_skipped", "tier_asleep", "all_tiers_exhausted", "consultation_failed"].includes(message.kind)
    ? message.kind : "other";
  const now = new Date();
  const item = el("li", { class: `alert-item alert-${kind}`, "data-testid": "alert", dataset: { kind, tier: message.tier || "" } },
    el("time", { datetime: now.toISOString(), class: "alert-time tabular" }, time(now)),
    el("span", { class: "alert-text" }, t(`alerts.kind.${kind}`)),
    message.tier ? el("span", { class: "badge alert-tier" }, t(`tier.${message.tier}`)) : null,
    message.consultation_id ? el("span", { class: "muted" }, t("call.number", { id: message.consultation_id })) : null);
  list.prepend(item);
  while (list.children.length > MAX_SHOWN) list.lastElementChild.remove();
  empty.hidden = true;
}

new Live().on("coordinator.alert", show).start();
