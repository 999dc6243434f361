// Users (admin): the list with disable/enable per user, and the form that creates one.

import { api, clearFieldErrors, errorText, flash, showFieldErrors, t } from "./app.js";
import { bindShowWhen, el, showState, whileBusy } from "./dom.js";

const me = Number(document.getElementById("users-page").dataset.me);
const table = document.getElementById("users-table");
const body = document.getElementById("users-body");
const state = document.getElementById("users-state");
const form = document.getElementById("user-form");
const submit = document.getElementById("user-submit");
const organisationSelect = form.elements.namedItem("organisation_id");
const updateShowWhen = bindShowWhen(form);

function roleText(user) {
  return user.tier ? `${t(`role.${user.role}`)} · ${t(`tier.${user.tier}`)}` : t(`role.${user.role}`);
}

async function setDisabled(user, disabled, button) {
  if (disabled && !window.confirm(t("admin.users.confirm_disable", { name: user.display_name }))) return;
  flash("");
  try {
    await whileBusy(button, t("common.saving"), () => api("PATCH", `/api/v1/users/${user.id}`, { disabled }));
    flash(t(disabled ? "admin.users.disabled_done" : "admin.users.enabled_done", { name: user.display_name }));
    await loadUsers();
  } catch (error) {
    flash(errorText(error), true);
  }
}

function actionCell(user) {
  if (user.id === me) return el("td", { class: "muted" }, t("admin.users.you"));
  const disable = !user.disabled;
  const button = el("button", {
    type: "button",
    class: disable ? "button danger" : "button secondary",
    "aria-label": t(disable ? "admin.users.disable_named" : "admin.users.enable_named", { name: user.display_name }),
  }, t(disable ? "admin.users.disable" : "admin.users.enable"));
  button.addEventListener("click", () => setDisabled(user, disable, button));
  return el("td", { class: "cell-action" }, button);
}

function row(user) {
  return el("tr", { dataset: { username: user.username }, class: user.disabled ? "is-disabled" : null },
    el("td", {}, user.username),
    el("td", {}, user.display_name),
    el("td", {}, roleText(user)),
    el("td", {}, user.organisation_name || "–"),
    el("td", {}, user.disabled
      ? el("span", { class: "badge danger" }, t("admin.users.disabled"))
      : el("span", { class: "badge ok" }, t("admin.users.active"))),
    actionCell(user));
}

async function loadUsers() {
  showState(state, "loading", t("common.loading"));
  try {
    const { users } = await api("GET", "/api/v1/users");
    body.replaceChildren(...users.map(row));
    table.hidden = users.length === 0;
    showState(state, users.length ? null : "empty", t("admin.users.none"));
  } catch (error) {
    table.hidden = true;
    showState(state, "error", errorText(error), loadUsers);
  }
}

async function loadOrganisations() {
  try {
    const { organisations } = await api("GET", "/api/v1/organisations");
    organisationSelect.replaceChildren(
      el("option", { value: "" }, t("admin.users.no_organisation")),
      ...organisations.map((org) => el("option", { value: org.id }, `${org.name} (${t(`org.kind.${org.kind}`)})`)),
    );
  } catch (error) {
    flash(errorText(error), true);
  }
}

function readForm() {
  const value = (name) => form.elements.namedItem(name).value;
  const body = {
    username: value("username").trim().toLowerCase(),
    display_name: value("display_name"),
    password: value("password"),
    tier: value("role") === "advisor" && value("tier") ? value("tier") : null,
    organisation_id: value("organisation_id") ? Number(value("organisation_id")) : null,
  };
  if (value("role")) body.role = value("role");
  return body;
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  flash("");
  await whileBusy(submit, t("common.saving"), async () => {
    try {
      await api("POST", "/api/v1/users", readForm());
      form.reset();
      updateShowWhen();
      clearFieldErrors(form);
      flash(t("admin.users.created"));
      await loadUsers();
    } catch (error) {
      if (error.status === 409) {
        showFieldErrors(form, { problem: { errors: [{ field: "username", message: t("validation.username_taken") }] } });
      } else {
        showFieldErrors(form, error);
      }
    }
  });
});

loadUsers();
loadOrganisations();
