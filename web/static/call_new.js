// The nurse asks for advice: the ISBAR prefilled from the patient record, quick picks for
// the common situations and requests, urgency and channel as big buttons, one big submit.
// Without ?patient=, she finds the patient first (her own organisation's, as on /patients).

import { api, errorText, flash, showFieldErrors, clearFieldErrors, t } from "./app.js";
import { el, showState, whileBusy } from "./dom.js";
import * as view from "./consult_view.js";

const page = document.getElementById("call-new");
const patientId = page.dataset.patientId ? Number(page.dataset.patientId) : null;
const state = document.getElementById("call-new-state");

// Finding the patient ---------------------------------------------------------------------

function pickItem(patient) {
  return el("li", { class: "pick-item", dataset: { patientId: patient.id } },
    el("div", { class: "pick-who" },
      el("strong", {}, patient.name),
      el("span", { class: "muted" }, patient.reference),
      patient.dnr ? el("span", { class: "badge dnr" }, t("patients.badge.dnr")) : null),
    el("a", { class: "button primary big call-button", href: `/call/new?patient=${patient.id}`,
      "aria-label": t("call.ask_for", { name: patient.name }) }, t("call.ask")));
}

function startPicker() {
  const form = document.getElementById("pick-form");
  const input = document.getElementById("pick-q");
  const list = document.getElementById("pick-list");
  const pickState = document.getElementById("pick-state");
  let latest = 0;
  let timer = null;
  const search = async () => {
    clearTimeout(timer);
    const sequence = ++latest;
    showState(pickState, "loading", t("patients.loading"));
    try {
      const { patients } = await api("GET", `/api/v1/patients?q=${encodeURIComponent(input.value.trim())}`);
      if (sequence !== latest) return;
      list.replaceChildren(...patients.map(pickItem));
      if (patients.length === 0) showState(pickState, "empty", t("patients.none"));
      else showState(pickState);
    } catch (error) {
      if (sequence !== latest) return;
      showState(pickState, "error", errorText(error), search);
    }
  };
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    search();
  });
  input.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(search, 300);
  });
  input.focus();
  search();
}

// The ISBAR ---------------------------------------------------------------------------------

/** Background from the record: diagnosis group and treatment level (with its limitations). */
function background(patient) {
  const parts = [`${t("patients.diagnosis_group")}: ${t(`patients.diagnosis.${patient.diagnosis_group}`)}.`];
  let treatment = `${t("patients.treatment_level")}: ${t(`patients.treatment.${patient.treatment_level}`)}`;
  if (patient.treatment_level === "limited" && patient.treatment_limitations) treatment += ` (${patient.treatment_limitations})`;
  parts.push(`${treatment}.`);
  if (patient.dnr) parts.push(`${t("patients.badge.dnr")}.`);
  return parts.join("\n");
}

function bindQuickPicks(form) {
  for (const group of form.querySelectorAll(".quick-picks")) {
    const target = document.getElementById(group.dataset.target);
    group.addEventListener("click", (event) => {
      const chip = event.target.closest(".chip");
      if (!chip) return;
      const text = chip.dataset.text;
      const current = target.value.trim();
      target.value = current ? `${current}${/[.!?]$/.test(current) ? "" : "."} ${text}` : text;
      chip.classList.add("is-used");
      target.focus();
      target.setSelectionRange(target.value.length, target.value.length);
    });
  }
}

function readForm(form) {
  const value = (name) => form.elements.namedItem(name).value.trim();
  return {
    patient_id: patientId,
    urgency: form.elements.namedItem("urgency").value,
    channel: form.elements.namedItem("channel").value,
    isbar: {
      situation: value("isbar.situation"),
      background: value("isbar.background"),
      assessment: value("isbar.assessment"),
      request: value("isbar.request"),
    },
  };
}

async function startForm() {
  const form = document.getElementById("isbar-form");
  const button = document.getElementById("ask-button");
  showState(state, "loading", t("patients.loading_one"));
  let patient;
  try {
    ({ patient } = await api("GET", `/api/v1/patients/${patientId}`));
  } catch (error) {
    if (error.status === 404) {
      showState(state, "error", t("patients.not_found"));
      state.append(el("a", { class: "button secondary", href: "/call/new" }, t("call.new.pick_other")));
      return;
    }
    if (error.status !== 503) {
      showState(state, "error", errorText(error), startForm);
      return;
    }
    // The database is away: the patient's record cannot be shown, but the call can still be
    // asked for (it is routed without the database; docs/operations.md).
    patient = null;
  }
  showState(state);
  if (patient) {
    document.getElementById("identify-patient").textContent = view.patientLabel(patient);
    document.getElementById("identify-careplan").replaceChildren(view.carePlanBanners(patient));
    form.elements.namedItem("isbar.background").value = background(patient);
  } else {
    document.getElementById("identify-patient").textContent = t("call.new.patient_number", { id: patientId });
    document.getElementById("identify-careplan").replaceChildren(
      el("div", { class: "banner limited", role: "alert", "data-testid": "patient-unavailable" },
        el("strong", { class: "banner-value" }, t("call.new.patient_unavailable")),
        el("span", { class: "banner-detail" }, t("call.new.patient_unavailable_detail"))));
  }
  bindQuickPicks(form);
  form.hidden = false;

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    flash("");
    const body = readForm(form);
    if (!body.isbar.situation) {
      showFieldErrors(form, { problem: { errors: [{ field: "isbar.situation", code: "required" }] } });
      return;
    }
    clearFieldErrors(form);
    await whileBusy(button, t("call.new.sending"), async () => {
      try {
        const { consultation } = await api("POST", "/api/v1/consultations", body);
        window.location.assign(`/call/${consultation.id}`);
      } catch (error) {
        showFieldErrors(form, error); // the form keeps what was typed: try again
      }
    });
  });
  form.elements.namedItem("isbar.situation").focus();
}

if (patientId) startForm();
else startPicker();
