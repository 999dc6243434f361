// The advisor's console (their landing page): duty and availability, incoming calls with the
// care plan (DNR and treatment level first) to accept or decline, a ring tone and a
// notification while ringing, and the calls they are in. Live over the WebSocket; read
// again from the API after every (re)connect, so a reload shows a call ringing or going on.

import { api, errorText, flash, language, t, translateCode } from "./app.js";
import { el, showState } from "./dom.js";
import { Live } from "./live.js";
import { Ringer, askNotificationPermission, closeNotification, notificationPermission, notify } from "./ringer.js";
import * as view from "./consult_view.js";
import { setupPush } from "./push_setup.js";

const root = document.getElementById("console");
const me = Number(root.dataset.userId);
const rings = document.getElementById("rings");
const badge = document.getElementById("presence-status");
const presenceState = document.getElementById("presence-state");
const duty = document.getElementById("duty");
const availability = document.getElementById("availability");
const availabilityValue = document.getElementById("availability-value");
const soundButton = document.getElementById("sound-button");
const soundState = document.getElementById("sound-state");
const notifyButton = document.getElementById("notify-button");
const notifyState = document.getElementById("notify-state");
const myCalls = document.getElementById("my-calls");
const myCallsState = document.getElementById("my-calls-state");

const ringer = new Ringer();
const live = new Live();
/** Calls offered to me, by id: {data, node, status: "ringing" | "gone", seq}. */
const offers = new Map();
let offerSeq = 0; // an answer read before an offer arrived must not call that offer gone
let presence = null;
let names = new Map();
const pageTitle = document.title;

/** "mandag 23. nov. 08.00" in Danish time. */
function when(iso) {
  return new Date(iso).toLocaleString(language, {
    weekday: "long", day: "numeric", month: "short", hour: "2-digit", minute: "2-digit", timeZone: "Europe/Copenhagen",
  });
}

// Presence --------------------------------------------------------------------------------

function showStatus(status) {
  badge.textContent = t(`presence.${status}`);
  badge.className = `presence-badge is-${status}`;
  badge.dataset.status = status;
}

function renderPresence(p) {
  presence = p;
  showStatus(p.status);
  const tier = view.tierName(p.tier);
  if (p.on_duty) duty.textContent = t("console.on_duty", { tier, until: when(p.shift_ends) });
  else if (p.next_shift) duty.textContent = t("console.next_shift", { tier, start: when(p.next_shift.start), end: when(p.next_shift.end) });
  else duty.textContent = t("console.no_shift");
  duty.className = `duty ${p.on_duty ? "is-on-duty" : "is-off-duty"}`;
  const available = p.chosen === "available";
  availability.setAttribute("aria-checked", String(available));
  availability.disabled = false;
  availabilityValue.textContent = t(available ? "console.switch_on" : "console.switch_off");
}

async function refreshPresence() {
  try {
    renderPresence(await api("GET", "/api/v1/presence"));
    showState(presenceState);
  } catch (error) {
    showState(presenceState, "error", errorText(error), refreshPresence);
  }
}

let presenceTimer = null;
function refreshPresenceSoon() {
  clearTimeout(presenceTimer);
  presenceTimer = setTimeout(refreshPresence, 250);
}

availability.addEventListener("click", async () => {
  unlockSound(); // a click: the browser now lets the ring tone play
  const next = presence?.chosen === "available" ? "away" : "available";
  availability.disabled = true;
  try {
    await api("PUT", "/api/v1/presence", { status: next });
    flash(t(next === "available" ? "console.now_available" : "console.now_away"));
  } catch (error) {
    flash(errorText(error), true);
  }
  await refreshPresence();
  availability.disabled = false;
});

// Sound and notifications --------------------------------------------------------------------

function renderSound() {
  if (!ringer.supported) {
    soundState.textContent = t("console.sound_unsupported");
    soundButton.hidden = true;
    return;
  }
  soundState.textContent = t(ringer.unlocked ? "console.sound_ready" : "console.sound_locked");
  soundState.dataset.sound = ringer.unlocked ? "on" : "locked";
  soundButton.textContent = t(ringer.unlocked ? "console.sound_test" : "console.sound_on");
  updateRinging();
}

async function unlockSound() {
  await ringer.unlock();
  renderSound();
}

soundButton.addEventListener("click", async () => {
  await unlockSound();
  ringer.sample();
});

function renderNotify(asked = false) {
  const permission = notificationPermission();
  notifyState.dataset.permission = permission;
  // Still "default" after asking: the prompt was closed without an answer.
  notifyState.textContent = t(asked && permission === "default" ? "console.notify_dismissed" : `console.notify_${permission}`);
  notifyButton.hidden = permission !== "default";
}

notifyButton.addEventListener("click", async () => {
  unlockSound();
  await askNotificationPermission();
  renderNotify(true);
});

// Ringing -----------------------------------------------------------------------------------

function ringingNow() {
  return [...offers.values()].some((offer) => offer.status === "ringing");
}

function updateRinging() {
  const ringing = ringingNow();
  if (ringing) ringer.start();
  else ringer.stop();
  root.dataset.ringtone = ringing ? (ringer.unlocked ? "on" : "muted") : "off";
  if (ringing) showStatus("ringing"); // at once; the next read of the presence confirms it
  document.title = ringing ? `${t("ring.tab_title")} – ${pageTitle}` : pageTitle;
  for (const offer of offers.values()) {
    const muted = offer.node.querySelector(".ring-muted");
    if (muted) muted.hidden = !(offer.status === "ringing" && !ringer.unlocked);
  }
}

function kindText(consultation) {
  if (consultation.state === "escalating") return t("ring.kind.escalation");
  if (consultation.state === "queued") return t("ring.kind.queued");
  if (consultation.state === "callback") return t("ring.kind.callback");
  return t("ring.kind.new");
}

function offerPanel(data) {
  const { consultation: c, care_plan: plan } = data;
  const statusLine = el("p", { class: "ring-status", role: "alert", "data-testid": "ring-status" });
  const accept = el("button", { type: "button", class: "button primary big", "data-testid": "accept-button",
    on: { click: () => act(c.id, "accept") } }, t("ring.accept"));
  const decline = el("button", { type: "button", class: "button secondary big", "data-testid": "decline-button",
    on: { click: () => act(c.id, "decline") } }, t("ring.decline"));
  const dismiss = el("button", { type: "button", class: "button secondary", hidden: true, "data-testid": "dismiss-button",
    on: { click: () => forget(c.id) } }, t("ring.dismiss"));
  const node = el("section", {
    class: `ring-panel urgency-${c.urgency}`, "data-testid": "ring-panel", "aria-labelledby": `ring-title-${c.id}`,
    dataset: { consultationId: c.id, status: "ringing", state: c.state },
  },
  el("div", { class: "ring-header" },
    el("h2", { id: `ring-title-${c.id}`, class: "ring-title", tabindex: "-1" }, el("span", { class: "ring-icon", "aria-hidden": "true" }, "☎ "),
      kindText(c)),
    el("div", { class: "ring-meta" },
      view.urgencyBadge(c.urgency),
      el("span", { class: "ring-tier", "data-testid": "ring-tier" }, t("ring.as_tier", { tier: view.tierName(data.tier) })),
      el("span", { class: "ring-channel" }, view.channelText(c.channel)))),
  el("p", { class: "ring-patient", "data-testid": "ring-patient" }, view.patientLabel(plan)),
  statusLine,
  view.carePlanBanners(plan, Boolean(data.degraded)),
  el("div", { class: "ring-actions" }, accept, decline, dismiss),
  el("p", { class: "ring-muted hint", hidden: true }, t("ring.muted")),
  el("div", { class: "ring-escalation" }),
  el("h3", {}, t("call.isbar.title")),
  view.isbarView(data.isbar, plan),
  el("h3", {}, t("patients.care_plan")),
  view.carePlanFacts(plan));
  return { node, statusLine, accept, decline, dismiss };
}

/** Show a call offered to me (replacing an earlier panel of the same call). */
function showOffer(data) {
  const id = data.consultation.id;
  offers.get(id)?.node.remove();
  const panel = offerPanel(data);
  const offer = { data, status: "ringing", seq: ++offerSeq, ...panel };
  offers.set(id, offer);
  rings.prepend(panel.node);
  // Into view (DNR and the buttons on one screen, even on a phone) and announced, without
  // putting the focus on "accept", where a stray key press would take the call.
  panel.node.scrollIntoView({ block: "start" });
  panel.node.querySelector(".ring-title").focus({ preventScroll: true });
  updateRinging();
  notify(`consultation-${id}`, t("ring.notify_title"),
    t("ring.notify_body", { urgency: t(`call.urgency.${data.consultation.urgency}`), tier: view.tierName(data.tier) }));
  if (data.consultation.state === "escalating") addEscalationNote(id);
}

async function addEscalationNote(id) {
  try {
    const [{ consultation }, known] = await Promise.all([api("GET", `/api/v1/consultations/${id}`), view.loadNames()]);
    names = known;
    const note = view.escalationView(view.escalationOf(consultation.timeline), names);
    const offer = offers.get(id);
    if (offer && note) offer.node.querySelector(".ring-escalation").replaceChildren(note);
  } catch (error) {
    // The ring goes on without the note; the call page shows it after accepting.
  }
}

/** The offer is gone (someone else answered, it timed out, the nurse cancelled ...). */
function offerGone(id, text) {
  const offer = offers.get(id);
  if (!offer || offer.status === "gone") return;
  offer.status = "gone";
  offer.node.dataset.status = "withdrawn";
  offer.statusLine.textContent = text;
  offer.accept.hidden = true;
  offer.decline.hidden = true;
  offer.dismiss.hidden = false;
  closeNotification(`consultation-${id}`);
  updateRinging();
}

function forget(id) {
  const offer = offers.get(id);
  offers.delete(id);
  offer?.node.remove();
  closeNotification(`consultation-${id}`);
  updateRinging();
}

async function act(id, action) {
  const offer = offers.get(id);
  if (!offer || offer.status !== "ringing") return;
  offer.accept.disabled = true;
  offer.decline.disabled = true;
  offer.statusLine.textContent = t(action === "accept" ? "ring.accepting" : "ring.declining");
  try {
    await api("POST", `/api/v1/consultations/${id}/${action}`);
    if (action === "accept") {
      ringer.stop();
      window.location.assign(`/call/${id}`);
      return;
    }
    forget(id);
    flash(t("ring.declined"));
  } catch (error) {
    offer.accept.disabled = false;
    offer.decline.disabled = false;
    if (error.status === 0) {
      offer.statusLine.textContent = t("error.network"); // still offered, perhaps: try again
      return;
    }
    offerGone(id, view.callErrorText(error));
  } finally {
    refreshPresenceSoon();
  }
}

// My calls ----------------------------------------------------------------------------------

function callItem(c) {
  return el("li", { class: "call-item", dataset: { consultationId: c.id, state: c.state } },
    el("span", { class: "call-item-state" }, t(`console.call_state.${c.state}`)),
    view.urgencyBadge(c.urgency),
    el("span", { class: "muted" }, view.tierName(c.tier)),
    el("a", { class: "button primary", href: `/call/${c.id}` }, t("console.open_call")));
}

async function refreshCalls() {
  const asked = offerSeq;
  try {
    const { consultations } = await api("GET", "/api/v1/consultations");
    const mine = consultations.filter((c) => c.participants.includes(me));
    myCalls.replaceChildren(...mine.map(callItem));
    if (mine.length === 0) showState(myCallsState, "empty", t("console.no_calls"));
    else showState(myCallsState);
    const offeredNow = new Set(consultations.filter((c) => c.offered.includes(me)).map((c) => c.id));
    for (const [id, offer] of offers) {
      if (offer.status === "ringing" && offer.seq <= asked && !offeredNow.has(id)) offerGone(id, t("ring.gone"));
    }
    for (const id of offeredNow) {
      if (offers.get(id)?.status === "ringing") continue;
      // Offered while this page was away (a reload, a reconnect): read what the ring would show.
      const { consultation } = await api("GET", `/api/v1/consultations/${id}`);
      if (!consultation.offered.includes(me)) continue;
      showOffer({ consultation, tier: consultation.tier, isbar: consultation.isbar, care_plan: consultation.care_plan,
        degraded: consultation.degraded });
    }
  } catch (error) {
    showState(myCallsState, "error", errorText(error), refreshCalls);
  }
}

let callsTimer = null;
function refreshCallsSoon() {
  clearTimeout(callsTimer);
  callsTimer = setTimeout(refreshCalls, 250);
}

// Live --------------------------------------------------------------------------------------

live.on("ready", () => {
  refreshPresence();
  refreshCalls();
});
live.on("state", (state) => {
  if (state !== "open" && presence) showStatus("offline");
});
live.on("consultation.ringing", (message) => {
  showOffer({ consultation: message.consultation, tier: message.tier, isbar: message.isbar, care_plan: message.care_plan,
    degraded: message.degraded });
  refreshPresenceSoon();
  refreshCallsSoon(); // a ring carries the call's summary: no consultation.updated follows it
});
live.on("consultation.withdrawn", (message) => {
  const text = translateCode("ring.withdrawn.", message.reason);
  offerGone(message.consultation_id, text === String(message.reason) ? t("ring.gone") : text);
  refreshPresenceSoon();
  refreshCallsSoon();
});
live.on("consultation.joined", () => {
  refreshPresenceSoon();
  refreshCallsSoon();
});
live.on("consultation.updated", () => {
  refreshPresenceSoon();
  refreshCallsSoon();
});

renderSound();
renderNotify();
showState(presenceState, "loading", t("common.loading"));
live.start();
setupPush(document.getElementById("push-setup"));
