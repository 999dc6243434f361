// The end of the patient's palliative course on the patient page: how it ended (died or
// not, where, where the patient wished to), every earlier version, and the form to record
// it or amend it (an amendment says why). Reading it is audited by the server.

import { api, clearFieldErrors, errorText, flash, formatDate, formatDateTime, showFieldErrors, t } from "./app.js";
import { bindShowWhen, el, showState, whileBusy } from "./dom.js";

const section = document.getElementById("course-outcome");
const patientId = section.dataset.patientId;
const path = `/api/v1/patients/${patientId}/course-outcome`;
const state = document.getElementById("course-state");
const form = document.getElementById("course-form");
const recordButton = document.getElementById("course-record");
const saveButton = document.getElementById("course-save");
const reasonField = document.getElementById("co-reason-field");
const updateShowWhen = bindShowWhen(form);

// Codes the server adds for this form, translated (app.js knows the general ones).
const CODES = {
  place_needed: "course.error.place_needed",
  place_without_death: "course.error.place_without_death",
  in_future: "course.error.in_future",
  reason_needed: "episodes.error.reason_needed",
};

let known = null;

const place = (value) => t(`patients.place.${value}`);
const fact = (label, value) => el("div", {}, el("dt", {}, label), el("dd", { class: value ? null : "muted" }, value || "–"));

function outcomeView(o) {
  const wish = o.died_where_wished ? t("course.wish_met") : o.died && o.wished_place !== "unknown" ? t("course.wish_not_met") : "";
  return el("dl", { class: "facts", dataset: { version: o.version } },
    fact(t("course.ended_on"), formatDate(o.course_ended_on)),
    fact(t("course.died"), t(o.died ? "patients.yes" : "patients.no")),
    o.died ? fact(t("course.place_of_death"), place(o.place_of_death)) : null,
    fact(t("course.wished_place"), place(o.wished_place)),
    wish ? el("div", { "data-testid": "course-wish" }, el("dt", {}, t("course.wish")), el("dd", {}, wish)) : null,
    o.note ? el("div", { class: "span-all" }, el("dt", {}, t("course.note")), el("dd", {}, o.note)) : null,
    o.amendment_reason ? el("div", { class: "span-all" }, el("dt", {}, t("episodes.amendment_reason")), el("dd", {}, o.amendment_reason)) : null,
    el("div", { class: "span-all muted" }, t("episodes.version_by", {
      version: o.version, who: o.recorded_by_name, when: formatDateTime(o.recorded_at),
    })));
}

function render(found) {
  known = found;
  const current = document.getElementById("course-current");
  current.replaceChildren(found.current ? outcomeView(found.current) : el("p", { class: "muted" }, t("course.none")));
  const earlier = found.history.slice(1);
  document.getElementById("course-history").hidden = earlier.length === 0;
  document.getElementById("course-history-list").replaceChildren(...earlier.map((o) => el("li", {}, outcomeView(o))));
  recordButton.textContent = t(found.current ? "course.amend" : "course.record");
  section.hidden = false;
}

function openForm() {
  const current = known.current;
  form.reset();
  clearFieldErrors(form);
  form.elements.namedItem("course_ended_on").value = current?.course_ended_on || "";
  if (current) form.elements.namedItem("died").value = String(current.died);
  form.elements.namedItem("place_of_death").value = current?.place_of_death || "";
  form.elements.namedItem("wished_place").value = current?.wished_place || known.preferred_place_of_death;
  form.elements.namedItem("note").value = current?.note || "";
  reasonField.hidden = !current;
  document.getElementById("course-form-title").textContent = t(current ? "course.amend" : "course.record");
  form.hidden = false;
  recordButton.hidden = true;
  setTimeout(updateShowWhen);
  form.elements.namedItem("course_ended_on").focus();
}

function closeForm() {
  form.hidden = true;
  recordButton.hidden = false;
}

function readForm() {
  const body = { wished_place: form.elements.namedItem("wished_place").value, note: form.elements.namedItem("note").value };
  const ended = form.elements.namedItem("course_ended_on").value;
  if (ended) body.course_ended_on = ended;
  const died = form.elements.namedItem("died").value;
  if (died) body.died = died === "true";
  body.place_of_death = died === "true" ? form.elements.namedItem("place_of_death").value || null : null;
  if (known.current) body.amendment_reason = form.elements.namedItem("amendment_reason").value;
  return body;
}

async function load() {
  try {
    render(await api("GET", path));
  } catch (error) {
    if (error.status === 404) return; // not this user's patient: the page says so already
    section.hidden = false;
    showState(state, "error", errorText(error), load);
  }
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  flash("");
  await whileBusy(saveButton, t("common.saving"), async () => {
    try {
      await api("POST", path, readForm());
      closeForm();
      flash(t("course.saved"));
      await load();
    } catch (error) {
      for (const item of error.problem?.errors || []) {
        if (CODES[item.code]) item.translated = t(CODES[item.code]);
      }
      showFieldErrors(form, error);
    }
  });
});
recordButton.addEventListener("click", openForm);
document.getElementById("course-cancel").addEventListener("click", () => {
  closeForm();
  flash("");
});

load();
