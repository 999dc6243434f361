// Shared by every page: translations, the CSRF-aware API client, flash messages, logout.

const messages = JSON.parse(document.getElementById("messages")?.textContent || "{}");

export function t(key, values = {}) {
  const text = messages[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => String(values[name] ?? ""));
}

/** The translation of a code from the server (an audit action, a reason ...), else the code. */
export function translateCode(prefix, code) {
  const key = prefix + String(code).toLowerCase().replace(/[^a-z0-9.]+/g, "_").replace(/^_+|_+$/g, "");
  return key in messages ? t(key) : String(code);
}

/** The page's language, for dates and numbers. */
export const language = document.body?.dataset.lang || "da";

/** A date (YYYY-MM-DD) as people read it, e.g. "1. januar 2026". */
export function formatDate(isoDate) {
  if (!isoDate) return "";
  const [year, month, day] = isoDate.split("-").map(Number);
  return new Date(year, month - 1, day).toLocaleDateString(language, { dateStyle: "long" });
}

/** An instant in Danish time, whatever the tablet's own time zone. */
export function formatDateTime(iso) {
  if (!iso) return "";
  return new Date(iso).toLocaleString(language, {
    dateStyle: "short", timeStyle: "medium", timeZone: "Europe/Copenhagen",
  });
}

export function csrfToken() {
  return document.querySelector('meta[name="csrf-token"]')?.content || "";
}

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || problem?.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem || {};
  }
  get kind() { return (this.problem.type || "").split("/").pop(); }
}

export async function api(method, url, body) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET") headers["X-CSRF-Token"] = csrfToken();
  let response;
  try {
    response = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin" });
  } catch (error) {
    throw new ApiError(0, { title: t("error.network") });
  }
  if (response.status === 401 && !url.endsWith("/auth/login")) {
    window.location.assign("/login?next=" + encodeURIComponent(location.pathname + location.search));
  }
  if (response.status === 204) return null;
  const data = await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

export function flash(text, isError = false) {
  const box = document.getElementById("flash");
  if (!box) return;
  box.textContent = text;
  box.classList.toggle("is-error", isError);
}

/** Show ``text`` as the flash message of the next page this tab opens (after a redirect). */
export function flashOnNextPage(text) {
  sessionStorage.setItem("flash", text);
}

/** A message for people (never the server's English detail) for an error from api(). */
export function errorText(error) {
  if (error?.status === 0) return t("error.network");
  if (error?.status === 401) return t("error.session");
  if (error?.status === 403) return t("error.403");
  if (error?.status === 404) return t("error.404");
  return t("error.generic");
}

// Every field error from the server has a stable code; show it in the page's language.
const CODE_KEYS = {
  required: "validation.required",
  too_short: "validation.min_length",
  too_long: "validation.max_length",
  not_integer: "validation.number",
  too_small: "validation.minimum",
  too_large: "validation.maximum",
  not_date: "validation.date",
  not_time: "validation.time",
  not_datetime: "validation.datetime",
  choice: "validation.choice",
  format: "validation.format",
  not_string: "validation.invalid",
  not_boolean: "validation.invalid",
  not_object: "validation.invalid",
  not_list: "validation.invalid",
  unknown_field: "validation.invalid",
  invalid: "validation.invalid",
  limitations_needed: "validation.treatment_limitations",
  dnr_decider_needed: "validation.dnr_decided_by",
  gp_practice_unknown: "validation.gp_practice",
  reference_taken: "validation.reference_taken",
  tier_needed: "validation.tier_needed",
  tier_only_advisors: "validation.tier_only_advisors",
  organisation_needed: "validation.organisation_needed",
  nurse_home_care: "validation.nurse_home_care",
  organisation_unknown: "validation.organisation_unknown",
  end_before_start: "validation.end_before_start",
  wrong_password: "validation.wrong_password",
};
const TAKEN_KEYS = { username: "validation.username_taken", name: "validation.organisation_taken" };
// Password rules arrive as one code; their wording tells which rule.
const PASSWORD_MESSAGES = [
  [/^must be at least (\d+) characters$/, "validation.min_length"],
  [/^must be at most (\d+) characters$/, "validation.max_length"],
  [/^must not start or end with spaces$/, "validation.password_spaces"],
];

/** A field error in the page's language (an unknown code is shown as the server wrote it). */
export function fieldMessage({ field, code, message, limit }) {
  if (code === "format" && field === "username") return t("validation.username_format");
  if (code === "taken") return t(TAKEN_KEYS[field] || "validation.taken");
  if (code === "password_rule") {
    for (const [pattern, key] of PASSWORD_MESSAGES) {
      const match = pattern.exec(message);
      if (match) return t(key, { n: match[1] });
    }
  }
  if (CODE_KEYS[code]) return t(CODE_KEYS[code], { n: limit });
  return message;
}

/** Remove the field errors ``showFieldErrors`` put into ``form``. */
export function clearFieldErrors(form) {
  form.querySelectorAll(".field-error").forEach((node) => node.remove());
  form.querySelectorAll("[aria-invalid]").forEach((node) => node.removeAttribute("aria-invalid"));
  form.querySelectorAll("[aria-describedby$='-error']").forEach((node) => node.removeAttribute("aria-describedby"));
}

/**
 * Show the API's field errors next to the form's inputs (input names match field names),
 * in the page's language, and move the focus to the first field to correct. An error is
 * placed at the end of the input's ``.field`` wrapper when it has one (radio groups).
 */
export function showFieldErrors(form, error) {
  clearFieldErrors(form);
  let first = null;
  for (const item of error.problem?.errors || []) {
    const { field } = item;
    const inputs = form.querySelectorAll(`[name="${CSS.escape(field)}"]`);
    if (!inputs.length) continue;
    const note = document.createElement("p");
    note.className = "field-error";
    note.id = `${field}-error`;
    note.textContent = item.translated || fieldMessage(item);
    for (const input of inputs) {
      input.setAttribute("aria-invalid", "true");
      input.setAttribute("aria-describedby", note.id);
    }
    const wrapper = inputs[0].closest(".field");
    if (wrapper) wrapper.append(note);
    else inputs[0].insertAdjacentElement("afterend", note);
    first ??= inputs[0];
  }
  first?.focus();
  flash(error.problem?.errors ? t("error.fields") : errorText(error), true);
}

const pendingFlash = sessionStorage.getItem("flash");
if (pendingFlash) {
  sessionStorage.removeItem("flash");
  flash(pendingFlash);
}

document.getElementById("logout")?.addEventListener("click", async () => {
  try { await api("POST", "/api/v1/auth/logout"); } catch (error) { /* session already gone */ }
  window.location.assign("/login");
});
