// One call, for the nurse who asked and for the advisors offered it or in it. Read from the
// API on load and after every reconnect, kept live by the WebSocket (consultation.updated,
// .status, .joined, .withdrawn; an update older than what is shown is ignored).
//
// The nurse sees which tier is being rung, her place in the queue, what to do now when
// nobody can take the call, who answered; she can cancel, ask to be called back, end.
// The advisor sees the ISBAR and the care plan, accepts or declines, escalates with a note,
// leaves after an escalation, ends, and finishes the wrap-up.

import { api, flash, showFieldErrors, clearFieldErrors, language, t, translateCode } from "./app.js";
import { el, showState } from "./dom.js";
import { Live } from "./live.js";
import { Ringer, closeNotification, notify } from "./ringer.js";
import * as view from "./consult_view.js";
import { MediaCall } from "./media_call.js";

const page = document.getElementById("call-page");
const id = Number(page.dataset.consultationId);
const side = page.dataset.side; // "nurse" or "advisor"
const me = Number(page.dataset.userId);
const $ = (name) => document.getElementById(name);
const state = $("call-state");
const callView = $("call-view");
const headline = $("call-headline");
const detail = $("call-detail");
const kicker = $("call-kicker");
const queue = $("call-queue");
const elapsed = $("call-elapsed");
const note = $("call-note");
const participantsBox = $("participants-box");
const participantsList = $("participants");
const media = $("media");
const homeLink = $("home-link");
const endButton = $("end-button");
new MediaCall(media); // the video and sound: it follows the "consultation" events on ``media``

let c = null; // the consultation as last read or told
let names = new Map();
let fallback = null; // what the nurse should do now while no one can take the call
let escalation = null; // the latest escalation {advisor, note, from_tier}
let left = false; // this advisor left the call (after an escalation)
let wrappedUp = false; // this advisor pressed "done" in the wrap-up
let withdrawnText = null; // why a ring on this page stopped
let ticker = null;

// Reading ---------------------------------------------------------------------------------

async function load() {
  showState(state, "loading", t("call.loading"));
  try {
    const [{ consultation }, known] = await Promise.all([api("GET", `/api/v1/consultations/${id}`), view.loadNames()]);
    names = known;
    // Two loads can cross (the first welcome may come before the first answer), and an
    // update may have come meanwhile: never go back to an older version of the call.
    if (c && consultation.version < c.version) return;
    c = consultation;
    fallback = consultation.fallback || fallback;
    escalation = view.escalationOf(consultation.timeline);
    showState(state);
    callView.hidden = false;
    renderDetails();
    render();
    headline.focus();
  } catch (error) {
    callView.hidden = true;
    if (error.status === 404) showState(state, "error", t("call.error.not_found"));
    else showState(state, "error", view.callErrorText(error), load);
  }
}

/** Read again (after a reconnect, or to learn the queue position): the cheap list first. */
async function refresh() {
  if (!c) return load();
  try {
    const { consultations } = await api("GET", "/api/v1/consultations");
    const found = consultations.find((item) => item.id === id);
    if (found) {
      merge(found);
      return;
    }
    // No longer open (ended, cancelled ...), or no longer mine to see as open.
    const { consultation } = await api("GET", `/api/v1/consultations/${id}`);
    escalation = view.escalationOf(consultation.timeline) || escalation;
    merge(consultation);
  } catch (error) {
    if (error.status === 404) showNote(t("call.error.not_found"));
    // A network failure shows in the connection banner; the next reconnect reads again.
  }
}

let refreshTimer = null;
function refreshSoon() {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(refresh, 200);
}

/** Take a newer view of the call; an older one (a late message) is ignored. */
function merge(update) {
  if (!c || update.version < c.version) return;
  const before = c;
  c = { ...c, ...update };
  if ("fallback" in update && update.fallback) fallback = update.fallback;
  if (!["queued", "callback"].includes(c.state)) c.queue_position = null;
  if (side === "advisor" && before.state === "escalating" && c.state === "connected"
      && c.participants.length === before.participants.length) {
    showNote(t("call.note.escalation_failed_advisor"));
  }
  if (c.state === "escalating" && before.state !== "escalating") refreshEscalation();
  render();
}

async function refreshEscalation() {
  if (side !== "advisor") return;
  try {
    const { consultation } = await api("GET", `/api/v1/consultations/${id}`);
    escalation = view.escalationOf(consultation.timeline);
    renderDetails();
  } catch (error) {
    // Shown at the next reload; the call goes on.
  }
}

// Showing ---------------------------------------------------------------------------------

function whoAnswered() {
  const people = c.participants.map((person) => names.get(person)?.name || t("call.someone"));
  return people.length > 1 ? `${people.slice(0, -1).join(", ")} ${t("call.and")} ${people.at(-1)}` : people[0] || "";
}

function nurseTexts() {
  switch (c.state) {
    case "requested": return [t("call.nurse.requested"), ""];
    case "ringing": return [t(`call.nurse.ringing.${c.tier}`), t("call.nurse.ringing_detail")];
    case "waking": return [t(`call.nurse.waking.${c.tier}`), t("call.nurse.waking_detail")];
    case "queued": return [t("call.nurse.queued"), t("call.nurse.queued_detail")];
    case "callback": return [t("call.nurse.callback"), t("call.nurse.callback_detail")];
    case "connected": return [t("call.nurse.connected", { who: whoAnswered() }), t("call.nurse.connected_detail")];
    case "escalating": return [t(`call.nurse.escalating.${c.tier}`), t("call.nurse.escalating_detail", { who: whoAnswered() })];
    case "wrap_up":
    case "ended": return [t("call.nurse.ended"), t("call.nurse.ended_detail")];
    case "cancelled": return [t("call.nurse.cancelled"), t("call.nurse.cancelled_detail")];
    case "abandoned": return [t("call.nurse.abandoned"), t("call.nurse.cancelled_detail")];
    default: return [t("call.nurse.failed"), t("call.nurse.failed_detail")];
  }
}

function offeredToMe() {
  return c.offered?.includes(me) && !withdrawnText;
}

function participant() {
  return c.participants.includes(me);
}

function advisorTexts() {
  if (offeredToMe() && !view.FINAL.includes(c.state)) return [t("call.advisor.offered"), t("ring.as_tier", { tier: view.tierName(c.tier) })];
  if (view.FINAL.includes(c.state) && c.state !== "ended") return [t(`call.advisor.final.${c.state}`), ""];
  if (left) return [t("call.advisor.left"), t("call.advisor.left_detail")];
  if (!participant()) {
    if (c.state === "ended") return [t("call.advisor.ended"), ""];
    return [t("call.advisor.not_in_call"), withdrawnText || ""];
  }
  switch (c.state) {
    case "connected": return [t("call.advisor.connected"), ""];
    case "escalating": return [t(`call.nurse.ringing.${c.tier}`), t("call.advisor.escalating_detail")];
    case "wrap_up": return wrappedUp
      ? [t("call.advisor.wrapped_up"), t("call.advisor.wrapped_up_detail")]
      : [t("call.advisor.wrap_up"), t("call.advisor.wrap_up_detail")];
    case "ended": return [t("call.advisor.ended"), ""];
    default: return [t(`call.advisor.state.${c.state}`), ""];
  }
}

function render() {
  page.dataset.state = c.state;
  const [title, text] = side === "nurse" ? nurseTexts() : advisorTexts();
  headline.textContent = title;
  detail.textContent = text;
  document.title = `${title} – ${t("app.name")}`;
  kicker.replaceChildren(
    el("span", {}, t("call.number", { id: c.id })), " · ",
    view.urgencyBadge(c.urgency), " · ",
    el("span", {}, view.channelText(c.channel)));
  queue.hidden = !c.queue_position;
  queue.textContent = c.queue_position ? t("call.queue_position", { n: c.queue_position }) : "";
  renderParticipants();
  media.hidden = !(view.IN_CALL.includes(c.state) && (side === "nurse" || participant()));
  // The seam for the video part: it listens here and talks over this page's live connection.
  media.dispatchEvent(new CustomEvent("consultation", { detail: { consultation: { ...c }, side, me, live } }));
  if (side === "nurse") renderNurse();
  else renderAdvisor();
  tick();
  clearInterval(ticker);
  if (!view.FINAL.includes(c.state)) ticker = setInterval(tick, 1000);
}

function tick() {
  elapsed.textContent = view.formatElapsed(Date.now() - Date.parse(c.created_at));
}

function renderParticipants() {
  const people = c.participants.map((person) => el("li", { dataset: { userId: person } },
    view.advisorLabel(names, person), person === me ? ` (${t("call.you")})` : ""));
  if (side === "advisor" && people.length) people.unshift(el("li", {}, t("call.the_nurse")));
  participantsList.replaceChildren(...people);
  participantsBox.hidden = people.length === 0 || c.state === "wrap_up" || view.FINAL.includes(c.state);
}

function showNote(text) {
  note.textContent = text;
  note.hidden = !text;
}

// The nurse -------------------------------------------------------------------------------

function renderNurse() {
  const waiting = view.WAITING.includes(c.state);
  $("cancel-button").hidden = !waiting;
  $("callback-button").hidden = !waiting || c.state === "callback";
  endButton.hidden = !view.IN_CALL.includes(c.state);
  const over = !waiting && !view.IN_CALL.includes(c.state);
  const again = $("again-link");
  again.hidden = !over || !c.patient_id;
  again.href = `/call/new?patient=${c.patient_id}`;
  homeLink.hidden = !over;
  const box = $("fallback");
  box.hidden = !(c.state === "queued" && fallback);
  if (!box.hidden) {
    $("fallback-text").textContent = fallback[language] || fallback.da || "";
    const phone = $("fallback-phone");
    phone.hidden = !fallback.phone;
    phone.href = `tel:${String(fallback.phone || "").replace(/[^0-9+]/g, "")}`;
    phone.textContent = t("call.fallback.phone", { phone: fallback.phone || "" });
  }
}

function renderIsbarSent() {
  $("isbar-box").replaceChildren(view.isbarView(c.isbar, c.care_plan));
}

// The advisor -----------------------------------------------------------------------------

function renderAdvisor() {
  const offered = offeredToMe() && !view.FINAL.includes(c.state);
  const inCall = view.IN_CALL.includes(c.state) && participant();
  $("accept-button").hidden = !offered;
  $("decline-button").hidden = !offered;
  const upward = view.nextTier(c.tier);
  const escalateOpen = $("escalate-open");
  escalateOpen.hidden = !(c.state === "connected" && participant() && upward);
  if (escalateOpen.hidden) closeEscalate();
  $("escalate-to").textContent = upward ? t("call.escalate_to", { tier: view.tierName(upward) }) : "";
  $("leave-button").hidden = !(inCall && c.participants.length > 1);
  endButton.hidden = !inCall;
  const wrapping = c.state === "wrap_up" && participant() && !wrappedUp;
  $("wrapup-button").hidden = !wrapping;
  $("wrapup-hint").hidden = !wrapping;
  // Document the advice and the outcome: saving it also ends this advisor's wrap-up.
  $("document-link").hidden = !(participant() && ["wrap_up", "ended"].includes(c.state));
  homeLink.hidden = offered || inCall || wrapping;
}

function renderDetails() {
  if (side === "nurse") {
    renderIsbarSent();
    return;
  }
  const plan = c.care_plan;
  $("details-box").replaceChildren(
    view.escalationView(escalation, names) || "",
    el("h2", {}, t("patients.care_plan")),
    el("p", { class: "ring-patient" }, view.patientLabel(plan)),
    view.carePlanBanners(plan, Boolean(c.degraded)),
    el("h2", {}, t("call.isbar.title")),
    view.isbarView(c.isbar, plan),
    view.carePlanFacts(plan) || "");
}

const escalateForm = $("escalate-form");

function openEscalate() {
  escalateForm.hidden = false;
  $("escalate-open").setAttribute("aria-expanded", "true");
  escalateForm.elements.namedItem("note").focus();
}

function closeEscalate() {
  if (!escalateForm) return;
  escalateForm.hidden = true;
  $("escalate-open")?.setAttribute("aria-expanded", "false");
}

// Acting ----------------------------------------------------------------------------------

async function act(action, body, button) {
  showNote("");
  if (button) button.disabled = true;
  try {
    const { consultation } = await api("POST", `/api/v1/consultations/${id}/${action}`, body);
    if (action === "leave") left = true;
    if (action === "wrap-up-done") wrappedUp = true;
    if (action === "accept") withdrawnText = null;
    merge(consultation);
    render();
    return true;
  } catch (error) {
    if (error.status === 409 || error.status === 404 || error.status === 403) refreshSoon();
    showNote(view.callErrorText(error));
    return false;
  } finally {
    if (button) button.disabled = false;
  }
}

if (side === "nurse") {
  const dialog = $("cancel-dialog");
  $("cancel-button").addEventListener("click", () => dialog.showModal());
  $("cancel-no").addEventListener("click", () => dialog.close());
  $("cancel-yes").addEventListener("click", async () => {
    dialog.close();
    if (await act("cancel", undefined, $("cancel-button"))) flash(t("call.cancelled_flash"));
  });
  $("callback-button").addEventListener("click", (event) => act("callback", undefined, event.currentTarget));
  endButton.addEventListener("click", (event) => act("end", undefined, event.currentTarget));
} else {
  $("accept-button").addEventListener("click", (event) => act("accept", undefined, event.currentTarget));
  $("decline-button").addEventListener("click", async (event) => {
    if (await act("decline", undefined, event.currentTarget)) {
      withdrawnText = t("ring.declined");
      render();
    }
  });
  $("escalate-open").addEventListener("click", () => (escalateForm.hidden ? openEscalate() : closeEscalate()));
  $("escalate-cancel").addEventListener("click", () => {
    clearFieldErrors(escalateForm);
    closeEscalate();
  });
  escalateForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const noteField = escalateForm.elements.namedItem("note");
    const text = noteField.value.trim();
    if (!text) {
      showFieldErrors(escalateForm, { problem: { errors: [{ field: "note", code: "required" }] } });
      return;
    }
    clearFieldErrors(escalateForm);
    if (await act("escalate", { note: text }, $("escalate-submit"))) {
      noteField.value = "";
      closeEscalate();
      flash(t("call.escalated_flash"));
      refreshEscalation();
    }
  });
  $("leave-button").addEventListener("click", (event) => act("leave", undefined, event.currentTarget));
  endButton.addEventListener("click", (event) => act("end", undefined, event.currentTarget));
  $("wrapup-button").addEventListener("click", (event) => act("wrap-up-done", undefined, event.currentTarget));
}

// Live ------------------------------------------------------------------------------------

const live = new Live();
live.on("ready", () => {
  // Every welcome, the first too: whatever changed between loading the page and the socket
  // being subscribed would otherwise be missed (messages are not replayed).
  refresh();
});
live.on("consultation.updated", (message) => {
  if (message.consultation?.id !== id) return;
  merge(message.consultation);
  if (["queued", "callback"].includes(message.consultation.state)) refreshSoon(); // the queue position
});
live.on("consultation.status", (message) => {
  if (message.consultation_id !== id) return;
  if (message.status === "fallback" && message.instructions) fallback = message.instructions;
  if (message.status === "escalation_failed") showNote(t("call.note.escalation_failed"));
  if (message.status === "connected" || message.status === "escalating") showNote("");
  refreshSoon();
});
live.on("consultation.joined", (message) => {
  if (message.consultation?.id !== id) return;
  withdrawnText = null;
  merge(message.consultation);
});
live.on("consultation.withdrawn", (message) => {
  if (message.consultation_id !== id) {
    otherRing(message, false);
    return;
  }
  const text = translateCode("ring.withdrawn.", message.reason);
  withdrawnText = text === String(message.reason) ? t("ring.gone") : text;
  if (c) render();
  refreshSoon();
});
live.on("consultation.ringing", (message) => {
  if (message.consultation?.id !== id) {
    otherRing(message, true);
    return;
  }
  withdrawnText = null;
  refreshSoon();
});

// Another call ringing for this advisor (this one is over for them, or they left it): say so
// here too, and ring, so that no call is missed by someone who stayed on this page.
const otherRings = new Set();
const ringer = new Ringer();
if (side === "advisor") document.addEventListener("click", () => ringer.unlock(), { capture: true });

function otherRing(message, ringing) {
  const other = message.consultation?.id ?? message.consultation_id;
  if (side !== "advisor" || other === id) return;
  if (ringing) otherRings.add(other);
  else otherRings.delete(other);
  $("other-ring").hidden = otherRings.size === 0;
  if (otherRings.size) ringer.start();
  else ringer.stop();
  if (ringing) {
    notify(`consultation-${other}`, t("ring.notify_title"), t("ring.notify_body", {
      urgency: t(`call.urgency.${message.consultation.urgency}`), tier: view.tierName(message.tier) }));
  } else {
    closeNotification(`consultation-${other}`);
  }
}

load();
live.start();
