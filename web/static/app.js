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

// The server's field messages are English and stable; show them in the page's language.
const FIELD_MESSAGES = [
  [/^(is required|must not be empty|must not be null)$/, "validation.required"],
  [/^must be at least (\d+) characters$/, "validation.min_length"],
  [/^must be at most (\d+) characters$/, "validation.max_length"],
  [/^must be a whole number$/, "validation.number"],
  [/^must be at least (\d+)$/, "validation.minimum"],
  [/^must be at most (\d+)$/, "validation.maximum"],
  [/^must be a date/, "validation.date"],
  [/^must be one of /, "validation.choice"],
  [/^(must be a string|must be true or false|unknown field|must not contain NUL characters)$/,
    "validation.invalid"],
  [/^say what the limitations are$/, "validation.treatment_limitations"],
  [/^say who decided against resuscitation$/, "validation.dnr_decided_by"],
  [/^no such GP practice$/, "validation.gp_practice"],
  [/^another patient has this reference$/, "validation.reference_taken"],
  [/^an advisor needs a tier$/, "validation.tier_needed"],
  [/^only advisors have a tier$/, "validation.tier_only_advisors"],
  [/^this role needs an organisation$/, "validation.organisation_needed"],
  [/^nurses belong to a home-care organisation$/, "validation.nurse_home_care"],
  [/^no such organisation$/, "validation.organisation_unknown"],
  [/^must not start or end with spaces$/, "validation.password_spaces"],
];

/** A field error in the page's language (unknown messages are shown as they came). */
export function fieldMessage(field, message) {
  if (field === "username" && message === "has an invalid format") return t("validation.username_format");
  if (message === "has an invalid format") return t("validation.format");
  for (const [pattern, key] of FIELD_MESSAGES) {
    const match = pattern.exec(message);
    if (match) return t(key, { n: match[1] });
  }
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
  for (const { field, message } of error.problem?.errors || []) {
    const inputs = form.querySelectorAll(`[name="${CSS.escape(field)}"]`);
    if (!inputs.length) continue;
    const note = document.createElement("p");
    note.className = "field-error";
    note.id = `${field}-error`;
    note.textContent = fieldMessage(field, message);
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
