// The coordinators' live board (/board): per tier the calls waiting and in progress, who is
// on duty and their status, coverage gaps and handoffs; the alerts of the last hours.
// The snapshot is read from GET /api/v1/board every few seconds, at once on every
// coordinator.alert and whenever the live connection is (re)established. Elapsed times tick
// every second between reads. When reads fail the board says so and shows how old it is.

import { api, errorText, language, t } from "./app.js";
import { el } from "./dom.js";
import { Live } from "./live.js";
import * as time from "./rota_time.js";

const POLL_MS = 5000;
/** Without a successful read for this long the board is stale, even if no read failed. */
const STALE_MS = 3 * POLL_MS;
const TIER_NAMES = { 1: "senior_nurse", 2: "gp", 3: "specialist" };

const root = document.getElementById("board");
const updated = document.getElementById("board-updated");
const stale = document.getElementById("board-stale");
const staleText = document.getElementById("board-stale-text");
const alertList = document.getElementById("board-alerts");

let readAt = null; // performance.now() of the last successful read
let lastOkMs = null; // wall clock of the last successful read
let inFlight = null;
let again = false;

const clockFormat = new Intl.DateTimeFormat(language, {
  timeZone: time.ZONE, hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23",
});

/** 0:42, 12:05, 1:02:33 */
function duration(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = String(s % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${rest}` : `${m}:${rest}`;
}

/** A time today as 14:30, another day as "tors. 3. apr. 14:30". */
function when(ms) {
  return time.localDate(ms) === time.todayIso() ? time.formatTime(ms) : time.formatDayTime(ms);
}

function range(startMs, endMs) {
  const sameDay = time.localDate(startMs) === time.localDate(endMs);
  return `${when(startMs)}–${sameDay ? time.formatTime(endMs) : when(endMs)}`;
}

function names(people) {
  return people.map((p) => p.name || t("board.unknown_person")).join(", ");
}

// Cards -------------------------------------------------------------------------------------

function whoLine(call) {
  if (call.participants.length && ["connected", "escalating", "wrap_up"].includes(call.state)) {
    const lines = [el("p", { class: "board-who", "data-testid": "board-in-call" },
      t("board.in_call", { names: names(call.participants) }))];
    if (call.state === "escalating" && call.offered.length) {
      lines.push(el("p", { class: "board-who", "data-testid": "board-ringing" },
        t("board.ringing", { names: names(call.offered) })));
    }
    return lines;
  }
  if (call.offered.length) {
    const key = ["queued", "callback"].includes(call.state) ? "board.offered_queue" : "board.ringing";
    return [el("p", { class: "board-who", "data-testid": "board-ringing" }, t(key, { names: names(call.offered) }))];
  }
  if (call.woken.length) {
    return [el("p", { class: "board-who", "data-testid": "board-woken" }, t("board.woken", { names: names(call.woken) }))];
  }
  return [];
}

function card(call) {
  const waiting = ["requested", "ringing", "waking", "queued", "callback"].includes(call.state);
  const escalation = call.escalation
    ? el("p", { class: "board-escalation", "data-testid": "board-escalation" }, t("board.escalated", {
      tier: t(`tier.${TIER_NAMES[call.escalation.from_tier] || "senior_nurse"}`),
      name: call.escalation.by?.name || t("board.unknown_person"),
    }))
    : null;
  return el("li", {
    class: `board-card urgency-${call.urgency} state-${call.state}`, "data-testid": "board-card",
    dataset: { consultationId: call.id, state: call.state, urgency: call.urgency },
  },
  el("div", { class: "board-card-top" },
    el("span", { class: `badge urgency-${call.urgency}` }, t(`call.urgency.${call.urgency}`)),
    el("span", { class: "board-card-state", "data-testid": "board-card-state" }, t(`console.call_state.${call.state}`)),
    el("span", { class: "board-elapsed tabular", "data-testid": "board-elapsed",
      dataset: { seconds: call.seconds, kind: waiting ? "waiting" : "in_call" } })),
  el("p", { class: "board-card-facts" },
    el("span", {}, t("call.number", { id: call.id })),
    el("span", {}, call.organisation),
    el("span", {}, t(`call.channel.${call.channel}`)),
    call.patient_reference ? el("span", {}, t("board.patient", { reference: call.patient_reference })) : null),
  ...whoLine(call),
  escalation);
}

// Tiers ------------------------------------------------------------------------------------

function person(p) {
  const until = p.until ? t("board.until", { time: when(Date.parse(p.until)) }) : null;
  return el("li", { class: `board-person is-${p.status}`, "data-testid": "board-person",
    dataset: { status: p.status, advisorId: p.id } },
  el("span", { class: "status-dot", "aria-hidden": "true" }),
  el("span", { class: "board-person-name" }, p.name || t("board.unknown_person")),
  el("span", { class: "board-person-status" }, t(`presence.${p.status}`)),
  until ? el("span", { class: "board-person-until muted" }, until) : null);
}

function notes(tier) {
  const parts = [];
  const gap = tier.next_gap;
  if (gap) {
    const start = Date.parse(gap.start);
    const end = Date.parse(gap.end);
    const text = gap.ongoing
      ? t("board.gap_now", { nobody: t(`board.nobody.${tier.name}`), end: when(end) })
      : t("board.gap", { nobody: t(`board.nobody.${tier.name}`), range: range(start, end) });
    parts.push(el("p", { class: `board-gap${gap.ongoing ? " is-ongoing" : ""}`, "data-testid": "board-gap" },
      el("span", { class: "gap-icon", "aria-hidden": "true" }, "⚠"), text));
  }
  const handoff = tier.next_handoff;
  if (handoff) {
    const at = when(Date.parse(handoff.at));
    const text = handoff.arriving.length
      ? t("board.handoff", { time: at, names: names(handoff.arriving) })
      : t("board.handoff_leaving", { time: at, names: names(handoff.leaving) });
    parts.push(el("p", { class: "board-handoff", "data-testid": "board-handoff" }, text));
  }
  return parts;
}

function fill(section, part, items) {
  section.querySelector(`[data-part="${part}"]`).replaceChildren(...items);
  section.querySelector(`[data-none="${part}"]`).hidden = items.length > 0;
}

function renderTier(tier) {
  const section = root.querySelector(`.board-tier[data-tier="${tier.tier}"]`);
  if (!section) return;
  for (const [name, value] of Object.entries(tier.counts)) {
    const count = section.querySelector(`[data-count="${name}"]`);
    if (count) count.textContent = String(value);
  }
  section.dataset.waiting = String(tier.counts.waiting);
  section.dataset.available = String(tier.counts.available);
  section.querySelector('[data-part="notes"]').replaceChildren(...notes(tier));
  fill(section, "waiting", tier.waiting.map(card));
  fill(section, "in_progress", tier.in_progress.map(card));
  fill(section, "on_duty", tier.on_duty.map(person));
}

// Alerts -----------------------------------------------------------------------------------

const SKIP_REASONS = ["nobody_on_duty", "all_busy", "not_woken"];

function alertText(alert) {
  if (alert.type === "tier_skipped" && SKIP_REASONS.includes(alert.reason)) {
    return t(`board.alert.tier_skipped.${alert.reason}`);
  }
  return t(`board.alert.${alert.type}`);
}

function alertItem(alert) {
  const tiers = alert.tier ? [alert.tier] : alert.tiers;
  const at = Date.parse(alert.at);
  return el("li", { class: `alert-item alert-${alert.type}`, "data-testid": "board-alert",
    dataset: { type: alert.type, tier: alert.tier || "", consultationId: alert.consultation_id } },
  el("time", { datetime: alert.at, class: "alert-time tabular" }, when(at)),
  el("span", { class: "alert-text" }, alertText(alert)),
  ...tiers.map((n) => el("span", { class: "badge alert-tier" }, t(`tier.${TIER_NAMES[n]}`))),
  el("span", { class: "muted" }, t("call.number", { id: alert.consultation_id })));
}

// Reading ----------------------------------------------------------------------------------

function render(board) {
  for (const tier of board.tiers) renderTier(tier);
  const alerts = board.alerts.map(alertItem);
  alertList.replaceChildren(...alerts);
  root.querySelector('[data-none="alerts"]').hidden = alerts.length > 0;
  tick();
}

function showFresh() {
  root.dataset.state = "fresh";
  stale.hidden = true;
  updated.textContent = t("board.updated", { time: clockFormat.format(new Date(lastOkMs)) });
}

function showStale(error) {
  root.dataset.state = "stale";
  stale.hidden = false;
  const reason = error ? errorText(error) : t("board.no_answer");
  staleText.textContent = lastOkMs
    ? t("board.stale", { time: clockFormat.format(new Date(lastOkMs)), reason })
    : t("board.never", { reason });
  updated.textContent = lastOkMs ? t("board.updated", { time: clockFormat.format(new Date(lastOkMs)) }) : t("board.loading");
}

/** Read the board now (once at a time: a request during a read makes one more after it). */
async function refresh() {
  if (inFlight) {
    again = true;
    return inFlight;
  }
  inFlight = (async () => {
    try {
      const board = await api("GET", "/api/v1/board");
      readAt = performance.now();
      lastOkMs = Date.now();
      render(board);
      showFresh();
    } catch (error) {
      showStale(error);
    }
  })();
  try {
    await inFlight;
  } finally {
    inFlight = null;
  }
  if (again) {
    again = false;
    await refresh();
  }
  return null;
}

/** Every second: elapsed times move on from the last read; an old read is shown as stale. */
function tick() {
  if (readAt === null) return;
  const since = (performance.now() - readAt) / 1000;
  for (const node of root.querySelectorAll(".board-elapsed")) {
    const seconds = Number(node.dataset.seconds) + since;
    node.textContent = t(node.dataset.kind === "waiting" ? "board.waited" : "board.talked", { time: duration(seconds) });
  }
  if (since * 1000 > STALE_MS && root.dataset.state === "fresh") showStale(null);
}

document.getElementById("board-retry").addEventListener("click", refresh);
setInterval(refresh, POLL_MS);
setInterval(tick, 1000);
new Live().on("coordinator.alert", refresh).on("ready", refresh).start();
refresh();
