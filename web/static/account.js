import { api, t } from "./app.js";

const start = document.getElementById("totp-start");
const form = document.getElementById("totp-form");
const errorBox = document.getElementById("totp-error");

start?.addEventListener("click", async () => {
  const { secret } = await api("POST", "/api/v1/auth/totp");
  document.getElementById("totp-secret").textContent = secret.replace(/(.{4})/g, "$1 ").trim();
  form.hidden = false;
  start.hidden = true;
  document.getElementById("totp-code").focus();
});

form?.addEventListener("submit", async (event) => {
  event.preventDefault();
  errorBox.hidden = true;
  try {
    await api("POST", "/api/v1/auth/totp/confirm", { code: document.getElementById("totp-code").value.trim() });
    window.location.assign("/");
  } catch (error) {
    errorBox.textContent = error.status === 422 ? t("account.totp.wrong") : error.message;
    errorBox.hidden = false;
  }
});
