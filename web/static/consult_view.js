// What the call pages and the advisor console show of a consultation: the care plan (DNR and
// treatment level first, impossible to miss), the ISBAR, urgency, advisors' names, elapsed
// time, and error messages for the actions on a call.

import { api, errorText, formatDate, t } from "./app.js";
import { el } from "./dom.js";

export const TIERS = ["senior_nurse", "gp", "specialist"];
/** States in which the nurse is still waiting for an answer. */
export const WAITING = ["requested", "ringing", "waking", "queued", "callback"];
/** States of a call going on. */
export const IN_CALL = ["connected", "escalating"];
export const FINAL = ["ended", "cancelled", "abandoned", "failed"];

export const tierName = (tier) => (tier ? t(`tier.${tier}`) : "");

/** The tier after ``tier``, or null at the top. */
export function nextTier(tier) {
  const index = TIERS.indexOf(tier);
  return index >= 0 && index + 1 < TIERS.length ? TIERS[index + 1] : null;
}

let namesPromise = null;

/** Advisors' names by id (from the tiers' clinician lists; everyone signed in may read them). */
export function loadNames() {
  namesPromise ??= Promise.all(
    TIERS.map((tier) => api("GET", `/api/v1/rota/clinicians?tier=${tier}`).catch(() => ({ clinicians: [] }))),
  ).then((answers) => {
    const names = new Map();
    answers.forEach(({ clinicians }, i) => {
      for (const person of clinicians || []) names.set(person.id, { name: person.name, tier: TIERS[i] });
    });
    return names;
  });
  return namesPromise;
}

/** "Anne Afprøvning (Erfaren sygeplejerske)"; an unknown id reads as "a colleague". */
export function advisorLabel(names, id) {
  const person = names.get(id);
  if (!person) return t("call.someone");
  return `${person.name} (${tierName(person.tier)})`;
}

export function urgencyBadge(urgency) {
  return el("span", { class: `badge urgency-${urgency}`, "data-urgency": urgency }, t(`call.urgency.${urgency}`));
}

export function channelText(channel) {
  return t(`call.channel.${channel}`);
}

/** DNR and treatment level as two banners: the first thing to read about the patient.
 * ``degraded``: the call was asked for while the database was away, so there is no plan to
 * show; say so plainly (DNR unknown here: ask the nurse). */
export function carePlanBanners(plan, degraded = false) {
  if (!plan && degraded) {
    return el("div", { class: "banner limited", role: "alert", "data-testid": "care-plan-unavailable" },
      el("span", { class: "banner-label" }, t("patients.care_plan")),
      el("strong", { class: "banner-value" }, t("call.care_plan_outage")),
      el("span", { class: "banner-detail" }, t("call.care_plan_outage_ask")));
  }
  if (!plan) return el("p", { class: "muted" }, t("call.no_care_plan"));
  let decided = "";
  if (plan.dnr && plan.dnr_decided_on) decided = t("patients.dnr_decided", { by: plan.dnr_decided_by, on: formatDate(plan.dnr_decided_on) });
  else if (plan.dnr) decided = t("patients.dnr_decided_by_only", { by: plan.dnr_decided_by });
  const limited = plan.treatment_level === "limited";
  return el("div", { class: "careplan" },
    el("div", { class: `banner ${plan.dnr ? "dnr-yes" : "dnr-no"}`, "data-testid": "dnr-status", "data-dnr": String(plan.dnr) },
      el("span", { class: "banner-label" }, t("patients.dnr")),
      el("strong", { class: "banner-value" }, t(plan.dnr ? "patients.dnr.yes" : "patients.dnr.no")),
      el("span", { class: "banner-detail" }, decided)),
    el("div", { class: `banner ${plan.treatment_level}`, "data-testid": "treatment-status",
      "data-treatment-level": plan.treatment_level },
    el("span", { class: "banner-label" }, t("patients.treatment_level")),
    el("strong", { class: "banner-value" }, t(`patients.treatment.${plan.treatment_level}`)),
    el("span", { class: "banner-detail" }, limited ? plan.treatment_limitations || t("patients.limitations_none") : "")));
}

/** The rest of the care plan: living will, wishes, diagnosis group, GP. */
export function carePlanFacts(plan) {
  if (!plan) return null;
  const fact = (label, value, name) => el("div", {},
    el("dt", {}, label),
    el("dd", { class: value ? null : "muted", "data-show": name }, value || t("patients.not_given")));
  return el("dl", { class: "facts", "data-testid": "care-plan-facts" },
    fact(t("patients.living_will"), t(plan.living_will ? "patients.yes" : "patients.no"), "living_will"),
    fact(t("patients.preferred_place_of_death"), t(`patients.place.${plan.preferred_place_of_death}`), "preferred_place_of_death"),
    fact(t("patients.people_present"), plan.people_present, "people_present"),
    fact(t("patients.diagnosis_group"), t(`patients.diagnosis.${plan.diagnosis_group}`), "diagnosis_group"),
    fact(t("patients.gp_practice"), plan.gp_practice_name, "gp_practice_name"));
}

/** The patient as the ISBAR's "Identify" names them. */
export function patientLabel(plan) {
  return plan ? `${plan.name} (${plan.reference})` : "";
}

/** The nurse's report: Identify (the patient), Situation, Background, Assessment, Request. */
export function isbarView(isbar, plan) {
  const item = (key, value, name) => el("div", { class: `isbar-${name}` },
    el("dt", {}, t(key)),
    el("dd", { class: value ? null : "muted" }, value || t("patients.not_given")));
  const report = isbar || {};
  return el("dl", { class: "isbar", "data-testid": "isbar" },
    item("call.isbar.identify", patientLabel(plan), "identify"),
    item("call.isbar.situation", report.situation, "situation"),
    item("call.isbar.background", report.background, "background"),
    item("call.isbar.assessment", report.assessment, "assessment"),
    item("call.isbar.request", report.request, "request"));
}

/** The latest escalation in a timeline: {advisor, note, from_tier}, or null. */
export function escalationOf(timeline) {
  const found = (timeline || []).filter((event) => event.type === "escalated").at(-1);
  return found ? { ...found.data } : null;
}

export function escalationView(escalation, names) {
  if (!escalation?.note) return null;
  return el("div", { class: "escalation-note", "data-testid": "escalation-note" },
    el("span", { class: "banner-label" }, t("ring.escalated_by", { who: advisorLabel(names, escalation.advisor) })),
    el("p", {}, escalation.note));
}

/** "4:05", or "1:02:03" past an hour. */
export function formatElapsed(ms) {
  const total = Math.max(0, Math.floor(ms / 1000));
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const seconds = String(total % 60).padStart(2, "0");
  return hours ? `${hours}:${String(minutes).padStart(2, "0")}:${seconds}` : `${minutes}:${seconds}`;
}

/** A message for people for a refused or failed action on a call. */
export function callErrorText(error) {
  const kind = error?.kind;
  if (error?.status === 409 && kind === "not-offered") return t("call.error.taken");
  if (error?.status === 409 && kind === "no-higher-tier") return t("call.error.no_higher_tier");
  if (error?.status === 409) return t("call.error.state");
  if (error?.status === 403 && kind === "not-participant") return t("call.error.not_participant");
  if (error?.status === 404) return t("call.error.not_found");
  return errorText(error);
}
