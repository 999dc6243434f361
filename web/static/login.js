import { api, t } from "./app.js";

const form = document.getElementById("login-form");
const errorBox = document.getElementById("login-error");
const totpRow = document.getElementById("totp-row");
const submit = document.getElementById("login-submit");

function showError(text) {
  errorBox.textContent = text;
  errorBox.hidden = false;
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  errorBox.hidden = true;
  const body = { username: form.username.value.trim(), password: form.password.value };
  if (!totpRow.hidden && form.totp.value) body.totp = form.totp.value.trim();
  submit.disabled = true;
  submit.textContent = t("login.busy");
  try {
    const result = await api("POST", "/api/v1/auth/login", body);
    const next = result.totp_enrolment_required ? "/account" : form.dataset.next || "/";
    window.location.assign(next);
  } catch (error) {
    const kind = error.kind;
    if (kind === "totp-required") {
      totpRow.hidden = false;
      showError(t("login.totp_needed"));
      form.totp.focus();
    } else if (kind === "totp-invalid") {
      showError(t("login.totp_invalid"));
      form.totp.select();
    } else if (kind === "login-throttled") {
      showError(t("login.throttled", { seconds: error.problem.retry_after }));
    } else if (error.status === 0) {
      showError(t("login.network"));
    } else {
      showError(t("login.failed"));
      form.password.select();
    }
  } finally {
    submit.disabled = false;
    submit.textContent = t("login.submit");
  }
});
