// One patient: the care plan at the top (DNR and treatment level first), and the form that
// creates the patient (POST) or changes it (PATCH). Reading the patient is audited.

import {
  api, clearFieldErrors, errorText, flash, flashOnNextPage, formatDate, formatDateTime, showFieldErrors, t,
} from "./app.js";
import { bindShowWhen, el, showState, whileBusy } from "./dom.js";

const page = document.getElementById("patient-page");
const patientId = page.dataset.patientId || null;
const state = document.getElementById("patient-state");
const view = document.getElementById("patient-view");
const form = document.getElementById("patient-form");
const saveButton = document.getElementById("save-button");
const practiceSelect = form.elements.namedItem("gp_practice_id");

// How each field travels between the form and the JSON body.
const FIELDS = {
  reference: "text", name: "text", diagnosis_group: "choice", gp_practice_id: "id",
  dnr: "bool", dnr_decided_by: "text", dnr_decided_on: "date", treatment_level: "choice",
  treatment_limitations: "text", living_will: "bool", preferred_place_of_death: "choice",
  people_present: "text", notes: "text",
};
const NEW_PATIENT = { dnr: false, treatment_level: "full", living_will: false, preferred_place_of_death: "unknown" };

let patient = null;
const updateShowWhen = bindShowWhen(form);

function readForm() {
  const body = {};
  for (const [name, kind] of Object.entries(FIELDS)) {
    const raw = form.elements.namedItem(name).value;
    if (kind === "text") body[name] = raw;
    else if (kind === "id") body[name] = raw ? Number(raw) : null;
    else if (kind === "date") body[name] = raw || null;
    else if (kind === "bool") body[name] = raw === "true";
    else if (raw) body[name] = raw; // a choice not made yet is left out: the server says it is required
  }
  return body;
}

function fillForm(data) {
  for (const name of Object.keys(FIELDS)) {
    const value = data[name];
    form.elements.namedItem(name).value = value === null || value === undefined ? "" : String(value);
  }
  clearFieldErrors(form);
  updateShowWhen();
}

function show(name, text) {
  const node = view.querySelector(`[data-show="${name}"]`);
  node.textContent = text || t("patients.not_given");
  node.classList.toggle("muted", !text);
}

function renderView(p) {
  document.getElementById("patient-name").textContent = p.name;
  document.getElementById("patient-meta").textContent = `${t("patients.reference")}: ${p.reference}`;

  const dnrBanner = document.getElementById("dnr-banner");
  dnrBanner.className = `banner ${p.dnr ? "dnr-yes" : "dnr-no"}`;
  dnrBanner.dataset.dnr = String(p.dnr);
  document.getElementById("dnr-value").textContent = t(p.dnr ? "patients.dnr.yes" : "patients.dnr.no");
  let decided = "";
  if (p.dnr && p.dnr_decided_on) decided = t("patients.dnr_decided", { by: p.dnr_decided_by, on: formatDate(p.dnr_decided_on) });
  else if (p.dnr) decided = t("patients.dnr_decided_by_only", { by: p.dnr_decided_by });
  document.getElementById("dnr-detail").textContent = decided;

  const treatmentBanner = document.getElementById("treatment-banner");
  treatmentBanner.className = `banner ${p.treatment_level}`;
  treatmentBanner.dataset.treatmentLevel = p.treatment_level;
  document.getElementById("treatment-value").textContent = t(`patients.treatment.${p.treatment_level}`);
  document.getElementById("treatment-detail").textContent =
    p.treatment_level === "limited" ? p.treatment_limitations || t("patients.limitations_none") : "";

  show("living_will", t(p.living_will ? "patients.yes" : "patients.no"));
  show("preferred_place_of_death", t(`patients.place.${p.preferred_place_of_death}`));
  show("people_present", p.people_present);
  show("diagnosis_group", t(`patients.diagnosis.${p.diagnosis_group}`));
  show("gp_practice_name", p.gp_practice_name);
  show("notes", p.notes);
  document.getElementById("patient-updated").textContent =
    t("patients.updated_at", { when: formatDateTime(p.updated_at) });
}

function fillPractices(practices) {
  practiceSelect.replaceChildren(
    el("option", { value: "" }, t("patients.none_selected")),
    ...practices.map((org) => el("option", { value: org.id }, org.name)),
  );
}

function startEditing() {
  fillForm(patient);
  view.hidden = true;
  form.hidden = false;
  document.getElementById("form-title").scrollIntoView();
  form.elements.namedItem("reference").focus();
}

function stopEditing() {
  form.hidden = true;
  view.hidden = false;
  window.scrollTo(0, 0);
  document.getElementById("patient-name").focus();
}

async function load() {
  showState(state, "loading", t(patientId ? "patients.loading_one" : "common.loading"));
  try {
    const [{ organisations }, found] = await Promise.all([
      api("GET", "/api/v1/organisations?kind=gp_practice"),
      patientId ? api("GET", `/api/v1/patients/${patientId}`) : null,
    ]);
    fillPractices(organisations);
    showState(state);
    if (found) {
      patient = found.patient;
      renderView(patient);
      view.hidden = false;
    } else {
      fillForm(NEW_PATIENT);
      form.hidden = false;
      form.elements.namedItem("reference").focus();
    }
  } catch (error) {
    if (error.status === 404) showState(state, "error", t("patients.not_found"));
    else showState(state, "error", errorText(error), load);
  }
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  flash("");
  await whileBusy(saveButton, t("common.saving"), async () => {
    try {
      if (patientId) {
        patient = (await api("PATCH", `/api/v1/patients/${patientId}`, readForm())).patient;
        renderView(patient);
        stopEditing();
        flash(t("patients.saved"));
      } else {
        const { patient: created } = await api("POST", "/api/v1/patients", readForm());
        flashOnNextPage(t("patients.created"));
        window.location.assign(`/patients/${created.id}`);
      }
    } catch (error) {
      showFieldErrors(form, error); // network failures included: the form keeps what was typed
    }
  });
});

document.getElementById("edit-button")?.addEventListener("click", startEditing);
document.getElementById("cancel-button")?.addEventListener("click", () => {
  clearFieldErrors(form);
  flash("");
  stopEditing();
});

load();
