// The override dialog: put another clinician in the place of whoever has a shift
// ("replace"), or put someone on duty where nobody is ("add", from a coverage gap).
// Times are edited as Danish wall-clock time and sent as RFC 3339 with Danish offsets.

import { api, clearFieldErrors, errorText, fieldMessage, flash, showFieldErrors, t } from "./app.js";
import { el, showState, whileBusy } from "./dom.js";
import * as time from "./rota_time.js";

const dialog = document.getElementById("override-dialog");
const form = document.getElementById("override-form");
const title = document.getElementById("override-title");
const summary = document.getElementById("override-summary");
const stateBox = document.getElementById("override-state");
const alertBox = document.getElementById("override-alert");
const rotaSelect = document.getElementById("o-rota");
const replacesSelect = document.getElementById("o-replaces");
const replacesField = document.getElementById("o-replaces-field");
const replacesOne = document.getElementById("o-replaces-one");
const clinicianSelect = document.getElementById("o-clinician");
const clinicianLabel = document.getElementById("o-clinician-label");
const saveButton = document.getElementById("override-save");

const clinicianCache = new Map();
const rotaCache = new Map();
let session = null; // {mode, tier, item, onSaved, clinicians}

/** The answer of ``load`` for ``tier``, asked once per page (again after a failure). */
function cached(cache, tier, load) {
  if (!cache.has(tier)) cache.set(tier, load().catch((error) => { cache.delete(tier); throw error; }));
  return cache.get(tier);
}

const tierClinicians = (tier) => cached(clinicianCache, tier,
  async () => (await api("GET", `/api/v1/rota/clinicians?tier=${encodeURIComponent(tier)}`)).clinicians);
const tierRotas = (tier) => cached(rotaCache, tier,
  async () => (await api("GET", `/api/v1/rotas?tier=${encodeURIComponent(tier)}`)).rotas);

function options(select, items, placeholder) {
  select.replaceChildren(
    ...(placeholder ? [el("option", { value: "" }, placeholder)] : []),
    ...items.map(({ id, name }) => el("option", { value: id }, name)),
  );
}

function showAlert(text) {
  alertBox.replaceChildren(el("span", { class: "gap-icon", "aria-hidden": "true" }, "⚠"), el("span", {}, text));
  alertBox.hidden = !text;
}

function reset({ mode, item }) {
  form.reset();
  clearFieldErrors(form);
  showAlert("");
  for (const part of form.querySelectorAll("[data-mode]")) part.hidden = part.dataset.mode !== mode;
  const range = time.formatRange(item.startMs, item.endMs);
  if (mode === "replace") {
    title.textContent = t("rota.dialog.replace_title");
    summary.textContent = t("rota.dialog.shift_summary", { rota: item.rota, range });
    clinicianLabel.textContent = t("rota.dialog.replacement");
    const people = item.clinicians;
    options(replacesSelect, people, null);
    replacesField.hidden = people.length < 2;
    replacesOne.hidden = people.length > 1;
    replacesOne.textContent = t("rota.dialog.replaces_one", { name: people[0]?.name ?? "" });
  } else {
    title.textContent = t("rota.dialog.add_title");
    summary.textContent = t("rota.dialog.gap_summary", { range });
    clinicianLabel.textContent = t("rota.dialog.cover");
  }
  form.elements.namedItem("start").value = time.toLocalInput(item.startMs);
  form.elements.namedItem("end").value = time.toLocalInput(item.endMs);
  options(clinicianSelect, [], t("common.loading"));
  options(rotaSelect, [], t("common.loading"));
}

async function fillChoices() {
  const { mode, tier, item } = session;
  showState(stateBox, "loading", t("rota.dialog.loading"));
  saveButton.disabled = true;
  try {
    const [clinicians, rotas] = await Promise.all([tierClinicians(tier), mode === "add" ? tierRotas(tier) : []]);
    session.clinicians = clinicians;
    const busy = new Set(mode === "replace" ? item.clinicians.map((c) => c.id) : []);
    options(clinicianSelect, clinicians.filter((c) => !busy.has(c.id)), t("form.choose"));
    if (mode === "add") {
      options(rotaSelect, rotas, rotas.length === 1 ? null : t("form.choose"));
      if (!rotas.length) showAlert(t("rota.dialog.no_rotas"));
    }
    showState(stateBox);
    saveButton.disabled = false;
    (mode === "replace" && !replacesField.hidden ? replacesSelect : rotas.length > 1 ? rotaSelect : clinicianSelect).focus();
  } catch (error) {
    showState(stateBox, "error", errorText(error), fillChoices);
  }
}

/** Open the dialog for a shift (``mode`` "replace") or a gap ("add") of ``tier``. */
export function openOverrideDialog({ mode, tier, item, onSaved }) {
  session = { mode, tier, item, onSaved, clinicians: [] };
  reset(session);
  flash("");
  dialog.showModal();
  fillChoices();
}

function nameOf(id) {
  return session.clinicians.find((c) => c.id === Number(id))?.name
    ?? session.item.clinicians?.find((c) => c.id === Number(id))?.name ?? "?";
}

/** The service's errors about overrides, by their stable codes, for people. */
function rotaMessage(error) {
  const { field, code, clinician } = error;
  if (code === "overlap") return t("rota.error.overlap", { name: nameOf(clinician) });
  if (field === "rota") return t("rota.error.rota");
  if (code === "not_advisor_of_tier") return t("rota.error.not_in_tier");
  if (code === "end_before_start") return t("rota.error.end_after_start");
  if (code === "replaces_oneself") return t("rota.error.replace_self");
  if (code === "not_datetime") return t("rota.error.datetime");
  return fieldMessage(error);
}

function showErrors(error) {
  const errors = error.status === 422 ? error.problem?.errors : null;
  if (!errors) {
    showAlert(errorText(error));
    return;
  }
  const translated = errors.map((e) => ({ field: e.field, translated: rotaMessage(e) }));
  const onForm = translated.filter((e) => form.querySelector(`[name="${CSS.escape(e.field)}"]`));
  const general = translated.filter((e) => !onForm.includes(e));
  showAlert(general.map((e) => e.translated).join(" "));
  if (onForm.length) {
    showFieldErrors(form, { ...error, problem: { ...error.problem, errors: onForm } });
    return;
  }
  clearFieldErrors(form);
  flash(""); // the alert in the dialog says it all
  clinicianSelect.focus();
}

function readBody() {
  const { mode } = session;
  const instant = (name) => {
    const { value } = form.elements.namedItem(name);
    // Unchanged: the shift's own instant (the second 02:30 of an autumn night stays itself).
    const original = session.item[`${name}Ms`];
    const ms = value === time.toLocalInput(original) ? original : time.fromLocalInput(value);
    return ms === null ? null : time.rfc3339(ms);
  };
  const body = {
    kind: mode, clinician_id: Number(clinicianSelect.value) || null,
    start: instant("start"), end: instant("end"), note: form.elements.namedItem("note").value.trim(),
  };
  if (mode === "replace") body.replaces_id = Number(replacesSelect.value) || null;
  return body;
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  showAlert("");
  const { mode, item } = session;
  const rotaId = mode === "replace" ? item.rota_id : Number(rotaSelect.value);
  if (!rotaId) {
    showFieldErrors(form, { problem: { errors: [{ field: "rota_id", code: "required" }] } });
    return;
  }
  const body = readBody();
  await whileBusy(saveButton, t("common.saving"), async () => {
    try {
      await api("POST", `/api/v1/rotas/${rotaId}/overrides`, body);
    } catch (error) {
      showErrors(error);
      return;
    }
    dialog.close();
    const name = nameOf(body.clinician_id);
    flash(mode === "replace"
      ? t("rota.saved_replace", { name, replaced: nameOf(body.replaces_id) })
      : t("rota.saved_add", { name }));
    const focus = mode === "replace"
      ? `.block.shift[data-start="${CSS.escape(item.start)}"][data-rota-id="${item.rota_id}"]`
      : null;
    session.onSaved(focus);
  });
});

document.getElementById("override-cancel").addEventListener("click", () => dialog.close());
dialog.addEventListener("close", () => {
  if (document.getElementById("flash")?.classList.contains("is-error")) flash("");
});
