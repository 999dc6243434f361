// One advice episode. For an advisor who took part and has not documented it yet, the
// documentation form comes first (disposition, advice, follow-up); then what happened: the
// patient (DNR and treatment level first), who answered and how fast, escalations with their
// notes, the timeline, call quality, and the documentation with its earlier versions.
// Reading the episode is audited by the server.

import {
  api, clearFieldErrors, errorText, flash, formatDateTime, showFieldErrors, t, translateCode,
} from "./app.js";
import { bindShowWhen, el, showState, whileBusy } from "./dom.js";
import { carePlanBanners, formatElapsed, isbarView, tierName, urgencyBadge, channelText } from "./consult_view.js";

const page = document.getElementById("episode-page");
const id = page.dataset.consultationId;
const state = document.getElementById("episode-state");
const body = document.getElementById("episode-body");
const form = document.getElementById("doc-form");
const saveButton = document.getElementById("doc-save");
const cancelButton = document.getElementById("doc-cancel");
const amendButton = document.getElementById("amend-button");
const reasonField = document.getElementById("reason-field");
const updateShowWhen = bindShowWhen(form);

let episode = null;
let amending = false;

/** "4:05" for seconds, or a dash when there is nothing to time. */
function duration(seconds) {
  return seconds === null || seconds === undefined ? "–" : formatElapsed(seconds * 1000);
}

const nameOf = (who) => (who ? who.name || t("call.someone") : t("episodes.system"));
const fact = (label, value, testid) => el("div", { "data-testid": testid },
  el("dt", {}, label), el("dd", { class: value ? null : "muted" }, value || "–"));

// Codes the server adds for this form, translated (app.js knows the general ones).
const FORM_CODES = { reason_needed: "episodes.error.reason_needed" };

function translateErrors(error) {
  for (const item of error.problem?.errors || []) {
    if (FORM_CODES[item.code]) item.translated = t(FORM_CODES[item.code]);
  }
  return error;
}

// The documentation ------------------------------------------------------------------------

function documentationView(doc) {
  return el("dl", { class: "facts documentation", dataset: { version: doc.version } },
    fact(t("episodes.disposition"), t(`episodes.disposition.${doc.disposition}`), "doc-disposition"),
    fact(t("episodes.follow_up"), t(doc.follow_up ? "episodes.follow_up.yes" : "episodes.follow_up.no"), "doc-follow-up"),
    doc.follow_up_note ? fact(t("episodes.follow_up_note"), doc.follow_up_note, "doc-follow-up-note") : null,
    el("div", { class: "span-all" }, el("dt", {}, t("episodes.advice")), el("dd", { "data-testid": "doc-advice" }, doc.advice)),
    doc.amendment_reason ? fact(t("episodes.amendment_reason"), doc.amendment_reason, "doc-reason") : null,
    el("div", { class: "span-all muted" }, t("episodes.version_by", {
      version: doc.version, who: doc.author_name, when: formatDateTime(doc.created_at),
    })));
}

function renderDocumentation(ep) {
  const current = document.getElementById("doc-current");
  if (ep.documentation) current.replaceChildren(documentationView(ep.documentation));
  else if (ep.needs_documentation) current.replaceChildren(el("p", { class: "warning", "data-testid": "doc-missing" }, t("episodes.undocumented")));
  else current.replaceChildren(el("p", { class: "muted" }, t("episodes.nothing_to_document")));
  const versions = document.getElementById("doc-versions");
  versions.hidden = ep.earlier_versions.length === 0;
  document.getElementById("doc-version-list").replaceChildren(
    ...ep.earlier_versions.map((doc) => el("li", {}, documentationView(doc))));
  amendButton.hidden = !(ep.may_document && ep.documentation);
}

function openForm(asAmendment) {
  amending = asAmendment;
  form.reset();
  clearFieldErrors(form);
  const doc = asAmendment ? episode.documentation : null;
  if (doc) {
    form.elements.namedItem("disposition").value = doc.disposition;
    form.elements.namedItem("advice").value = doc.advice;
    form.elements.namedItem("follow_up").value = String(doc.follow_up);
    form.elements.namedItem("follow_up_note").value = doc.follow_up_note;
  }
  reasonField.hidden = !asAmendment;
  cancelButton.hidden = !asAmendment;
  document.getElementById("doc-form-title").textContent = t(asAmendment ? "episodes.amend_title" : "episodes.document_title");
  document.getElementById("doc-form-hint").textContent = t(
    episode.in_wrap_up ? "episodes.document_hint_wrap_up" : asAmendment ? "episodes.amend_hint" : "episodes.document_hint");
  form.hidden = false;
  setTimeout(updateShowWhen);
}

function readForm() {
  const data = { advice: form.elements.namedItem("advice").value };
  const disposition = form.elements.namedItem("disposition").value;
  if (disposition) data.disposition = disposition; // not chosen yet: the server says it is required
  const followUp = form.elements.namedItem("follow_up").value;
  if (followUp) data.follow_up = followUp === "true";
  if (followUp === "true") data.follow_up_note = form.elements.namedItem("follow_up_note").value;
  if (amending) data.amendment_reason = form.elements.namedItem("amendment_reason").value;
  return data;
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  flash("");
  await whileBusy(saveButton, t("common.saving"), async () => {
    try {
      const saved = await api("POST", `/api/v1/episodes/${id}/documentation`, readForm());
      form.hidden = true;
      flash(t(saved.documentation.version > 1 ? "episodes.amended" : "episodes.saved"));
      await load();
    } catch (error) {
      if (error.status === 409 || error.status === 403) flash(t("episodes.error.not_allowed"), true);
      else showFieldErrors(form, translateErrors(error));
    }
  });
});

amendButton.addEventListener("click", () => {
  openForm(true);
  form.scrollIntoView();
  form.elements.namedItem("amendment_reason").focus();
});
cancelButton.addEventListener("click", () => {
  form.hidden = true;
  flash("");
});

// The episode --------------------------------------------------------------------------------

function renderFacts(ep) {
  const f = ep.facts;
  const advisors = f.participations.map((p) => `${nameOf(p.advisor)} (${tierName(p.tier)}, ${duration(p.seconds)})`);
  document.getElementById("episode-facts").replaceChildren(...[
    fact(t("episodes.requested_at"), formatDateTime(f.requested_at), "fact-requested"),
    el("div", {}, el("dt", {}, t("episodes.urgency")), el("dd", {}, urgencyBadge(ep.urgency), " ", channelText(ep.channel))),
    fact(t("episodes.nurse"), `${ep.nurse.name || ""} · ${ep.organisation.name || ""}`, "fact-nurse"),
    fact(t("episodes.answered_by"), f.answered_by ? `${nameOf(f.answered_by)} · ${formatDateTime(f.first_answer_at)}` : t("episodes.not_answered"), "fact-answered-by"),
    fact(t("episodes.time_to_answer"), duration(f.seconds_to_first_answer), "fact-time-to-answer"),
    fact(t("episodes.call_length"), duration(f.call_seconds), "fact-call-length"),
    fact(t("episodes.participants"), advisors.join("; "), "fact-participants"),
    fact(t("episodes.outcome"), t(`episodes.outcome.${f.outcome}`), "fact-outcome"),
    f.queued ? fact(t("episodes.queued"), t("patients.yes"), "fact-queued") : null,
    f.callback_requested ? fact(t("episodes.callback"), t("patients.yes"), "fact-callback") : null,
  ].filter(Boolean));
  document.getElementById("episode-isbar").replaceWith(
    Object.assign(isbarView(ep.isbar, ep.patient), { id: "episode-isbar" }));
  document.getElementById("episode-tier-rows").replaceChildren(...f.tiers.map((tier) => el("tr", {},
    el("td", {}, tierName(tier.tier)),
    el("td", {}, formatDateTime(tier.reached_at)),
    el("td", {}, tier.skipped ? translateCode("episodes.skipped.", tier.skipped) : tier.offered.map(nameOf).join(", ") || "–"),
    el("td", {}, tier.answered_by ? `${nameOf(tier.answered_by)} · ${formatDateTime(tier.answered_at)}` : "–"),
    el("td", {}, duration(tier.seconds_to_answer)))));
  const escalations = f.escalations.map((e) => el("li", { class: "escalation" },
    el("strong", {}, t("episodes.escalated_by", { who: nameOf(e.by), tier: tierName(e.from_tier), when: formatDateTime(e.at) })),
    el("p", { class: "note" }, e.note),
    el("span", { class: "muted" }, t(`episodes.escalation.${e.result}`))));
  document.getElementById("episode-escalations").replaceChildren(
    ...(escalations.length ? escalations : [el("li", { class: "muted" }, t("episodes.no_escalations"))]));
  const q = f.quality;
  document.getElementById("episode-quality").textContent = q.reports
    ? t("episodes.quality_summary", {
      rtt: Math.round(q.median_rtt_ms), loss: (q.max_packet_loss * 100).toFixed(1),
      bitrate: Math.round(q.mean_bitrate_kbps), relay: Math.round(q.relay_share * 100), reports: q.reports,
    })
    : t("episodes.no_quality");
}

function renderTimeline(ep) {
  document.getElementById("episode-timeline").replaceChildren(...ep.timeline.map((e) => el("li", { dataset: { type: e.type } },
    el("time", { datetime: e.at }, formatDateTime(e.at)),
    el("span", { class: "event-type" }, translateCode("episodes.event.", e.type)),
    el("span", { class: "muted" }, e.actor ? nameOf(e.actor) : ""),
    e.type === "escalated" && e.data.note ? el("p", { class: "note" }, e.data.note) : null)));
}

function render(ep) {
  episode = ep;
  const p = ep.patient;
  document.getElementById("episode-title").textContent = t("episodes.title", { patient: p.name, when: formatDateTime(ep.created_at) });
  const outcome = document.getElementById("episode-outcome");
  outcome.textContent = t(`episodes.outcome.${ep.facts.outcome}`);
  outcome.className = `badge outcome-${ep.facts.outcome}`;
  outcome.hidden = false;
  document.getElementById("episode-patient").textContent = `${p.name} (${p.reference}) · ${t("patients.preferred_place_of_death")}: ${t(`patients.place.${p.preferred_place_of_death}`)}`;
  document.getElementById("episode-careplan").replaceChildren(carePlanBanners(p));
  renderDocumentation(ep);
  renderFacts(ep);
  renderTimeline(ep);
  body.hidden = false;
  // A participant who has not documented yet: the form first.
  if (ep.may_document && !ep.documentation) openForm(false);
}

async function load() {
  if (!episode) showState(state, "loading", t("common.loading"));
  try {
    const { episode: found } = await api("GET", `/api/v1/episodes/${id}`);
    showState(state);
    render(found);
  } catch (error) {
    if (error.status === 404) showState(state, "error", t("episodes.not_found"));
    else showState(state, "error", errorText(error), load);
  }
}

load();
