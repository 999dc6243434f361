// Shared by every page: translations, the CSRF-aware API client, flash messages, logout.

const messages = JSON.parse(document.getElementById("messages")?.textContent || "{}");

export function t(key, values = {}) {
  const text = messages[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => String(values[name] ?? ""));
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

/** Show the API's field errors next to the form's inputs (ids match field names). */
export function showFieldErrors(form, error) {
  form.querySelectorAll(".field-error").forEach((node) => node.remove());
  form.querySelectorAll("[aria-invalid]").forEach((node) => node.removeAttribute("aria-invalid"));
  for (const { field, message } of error.problem?.errors || []) {
    const input = form.querySelector(`[name="${CSS.escape(field)}"]`);
    if (!input) continue;
    input.setAttribute("aria-invalid", "true");
    const note = document.createElement("p");
    note.className = "field-error";
    note.id = `${field}-error`;
    note.textContent = message;
    input.setAttribute("aria-describedby", note.id);
    input.insertAdjacentElement("afterend", note);
  }
  flash(error.problem?.errors ? t("error.fields") : (error.message || t("error.generic")), true);
}

document.getElementById("logout")?.addEventListener("click", async () => {
  try { await api("POST", "/api/v1/auth/logout"); } catch (error) { /* session already gone */ }
  window.location.assign("/login");
});
