// Organisations (admin): the list and the form that creates one.

import { api, clearFieldErrors, errorText, flash, showFieldErrors, t } from "./app.js";
import { el, showState, whileBusy } from "./dom.js";

const table = document.getElementById("orgs-table");
const body = document.getElementById("orgs-body");
const state = document.getElementById("orgs-state");
const form = document.getElementById("org-form");
const submit = document.getElementById("org-submit");

async function loadOrganisations() {
  showState(state, "loading", t("common.loading"));
  try {
    const { organisations } = await api("GET", "/api/v1/organisations");
    body.replaceChildren(...organisations.map((org) => el("tr", {},
      el("td", {}, org.name),
      el("td", {}, t(`org.kind.${org.kind}`)))));
    table.hidden = organisations.length === 0;
    showState(state, organisations.length ? null : "empty", t("admin.orgs.none"));
  } catch (error) {
    table.hidden = true;
    showState(state, "error", errorText(error), loadOrganisations);
  }
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  flash("");
  const body = { name: form.elements.namedItem("name").value };
  if (form.elements.namedItem("kind").value) body.kind = form.elements.namedItem("kind").value;
  await whileBusy(submit, t("common.saving"), async () => {
    try {
      await api("POST", "/api/v1/organisations", body);
      form.reset();
      clearFieldErrors(form);
      flash(t("admin.orgs.created"));
      await loadOrganisations();
    } catch (error) {
      if (error.status === 409) {
        showFieldErrors(form, { problem: { errors: [{ field: "name", message: t("validation.organisation_taken") }] } });
      } else {
        showFieldErrors(form, error);
      }
    }
  });
});

loadOrganisations();
