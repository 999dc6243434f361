// "Wake me when the browser is closed": the advisor console's Web Push panel, and the offer to
// install the console as an app.
//
// States (the panel's data-state): checking, unsupported (no service worker or push here:
// on an iPhone only the app added to the home screen has them), off, working, on (this
// device is subscribed for this advisor), denied (notifications blocked for the site) and
// error (what failed, and "try again"). Notification permission is asked for only when the
// advisor presses "enable", never on page load.
//
// The server learns a subscription from POST /api/v1/push/subscriptions; this browser keeps
// a note of which advisor it subscribed for, so after another advisor signs in on the same
// device the panel shows "off" until they enable it for themselves.

import { api, t } from "./app.js";
import { el } from "./dom.js";

/** How long the browser's push service may take to subscribe before we say it failed. */
const SUBSCRIBE_TIMEOUT_MS = 20000;
const WORKER_TIMEOUT_MS = 15000;
const MARK_KEY = "advice-line.push-subscription";

class Failure extends Error {
  constructor(kind, cause) {
    super(cause ? `${cause.name || "Error"}: ${cause.message}` : kind);
    this.kind = kind;
  }
}

/** Whether this browser, here, can be woken by a push (HTTPS and a push-capable browser). */
export function pushSupported() {
  return Boolean(window.isSecureContext && "serviceWorker" in navigator && "PushManager" in window
    && "Notification" in window && "showNotification" in ServiceWorkerRegistration.prototype);
}

function withTimeout(promise, ms, kind) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Failure(kind)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function base64UrlBytes(text) {
  const base64 = text.replace(/-/g, "+").replace(/_/g, "/") + "=".repeat((4 - (text.length % 4)) % 4);
  return Uint8Array.from(atob(base64), (char) => char.charCodeAt(0));
}

function sameBytes(buffer, bytes) {
  if (!buffer) return false;
  const view = new Uint8Array(buffer);
  return view.length === bytes.length && view.every((value, i) => value === bytes[i]);
}

function readMark() {
  try {
    return JSON.parse(localStorage.getItem(MARK_KEY) || "null");
  } catch (error) {
    return null;
  }
}

function writeMark(user, endpoint) {
  localStorage.setItem(MARK_KEY, JSON.stringify({ user, endpoint }));
}

function apiFailure(error) {
  return new Failure(error?.status === 0 ? "network" : "server", error);
}

class PushPanel {
  constructor(root) {
    this.root = root;
    this.me = Number(root.dataset.userId);
    this.status = root.querySelector("[data-push-status]");
    this.help = root.querySelector("[data-push-help]");
    this.note = root.querySelector("[data-push-note]");
    this.actions = root.querySelector("[data-push-actions]");
  }

  /** Show ``state`` with its words and buttons; ``note`` is a line about what just happened. */
  render(state, { note = "", help = null, detail = "" } = {}) {
    this.root.dataset.state = state;
    if (state !== "error") delete this.root.dataset.error;
    const button = (key, kind, handler, testid) => el("button", {
      type: "button", class: `button ${kind} big`, "data-testid": testid, on: { click: handler },
    }, t(key));
    const views = {
      checking: ["push.state.checking", "", []],
      unsupported: ["push.state.unsupported", "push.unsupported_help", []],
      off: ["push.state.off", "push.enable_hint",
        [button("push.enable", "primary", () => this.enable(), "push-enable")]],
      working: [this.workingKey, "", []],
      on: ["push.state.on", "push.on_hint", [
        button("push.test", "secondary", () => this.test(), "push-test"),
        button("push.disable", "danger", () => this.disable(), "push-disable")]],
      denied: ["push.state.denied", "push.denied_help",
        [button("push.reload", "secondary", () => window.location.reload(), "push-reload")]],
      error: ["push.state.error", "push.error.generic",
        [button("push.retry", "primary", () => this.enable(), "push-retry")]],
    };
    const [statusKey, helpKey, buttons] = views[state];
    this.status.textContent = t(statusKey);
    this.help.textContent = help ?? (helpKey ? t(helpKey) : "");
    this.help.hidden = !this.help.textContent;
    this.actions.replaceChildren(...buttons);
    this.note.textContent = note;
    this.note.hidden = !note && !detail;
    if (detail) this.note.append(el("span", { class: "push-detail" }, detail));
    this.root.setAttribute("aria-busy", String(state === "checking" || state === "working"));
  }

  working(key) {
    this.workingKey = key;
    this.render("working");
  }

  /** Find out what this device is set to, without asking the person anything. */
  async check() {
    if (!pushSupported()) return this.render("unsupported");
    if (Notification.permission === "denied") return this.render("denied");
    const subscription = await this.currentSubscription();
    const mark = readMark();
    if (subscription && Notification.permission === "granted") {
      if (mark?.endpoint === subscription.endpoint && mark.user === this.me) return this.render("on");
      if (mark?.endpoint === subscription.endpoint) return this.render("off", { note: t("push.other_user") });
    }
    return this.render("off");
  }

  async currentSubscription() {
    try {
      const registration = await navigator.serviceWorker.getRegistration("/");
      return registration ? await registration.pushManager.getSubscription() : null;
    } catch (error) {
      return null;
    }
  }

  async enable() {
    // First, while the click still counts as the person's: the browser's own question.
    const asking = Notification.requestPermission();
    this.working("push.state.enabling");
    let permission;
    try {
      permission = await asking;
    } catch (error) {
      permission = Notification.permission;
    }
    if (permission === "denied") return this.render("denied");
    if (permission !== "granted") return this.render("off", { note: t("push.dismissed") });
    try {
      const subscription = await this.subscribe();
      await api("POST", "/api/v1/push/subscriptions", subscription.toJSON()).catch((error) => {
        throw apiFailure(error);
      });
      writeMark(this.me, subscription.endpoint);
      this.render("on", { note: t("push.now_on") });
    } catch (error) {
      const failure = error instanceof Failure ? error : new Failure("push_service", error);
      this.render("error", { help: t(`push.error.${failure.kind}`), detail: failure.kind === "timeout" ? "" : failure.message });
      this.root.dataset.error = failure.kind;
    }
  }

  /** Register the service worker and subscribe with the server's key (reusing a matching one). */
  async subscribe() {
    let registration;
    try {
      await navigator.serviceWorker.register("/sw.js", { scope: "/" });
      registration = await withTimeout(navigator.serviceWorker.ready, WORKER_TIMEOUT_MS, "worker");
    } catch (error) {
      throw error instanceof Failure ? error : new Failure("worker", error);
    }
    const { public_key: key } = await api("GET", "/api/v1/push/key").catch((error) => {
      throw apiFailure(error);
    });
    const applicationServerKey = base64UrlBytes(key);
    const existing = await registration.pushManager.getSubscription();
    if (existing && sameBytes(existing.options?.applicationServerKey, applicationServerKey)) return existing;
    if (existing) await existing.unsubscribe(); // made with a key the server no longer has
    return withTimeout(
      registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey }),
      SUBSCRIBE_TIMEOUT_MS, "timeout",
    );
  }

  async test() {
    this.working("push.state.testing");
    try {
      const tally = await api("POST", "/api/v1/push/test");
      if (tally.delivered > 0) return this.render("on", { note: t("push.test_sent", { delivered: tally.delivered }) });
      if (tally.failed > 0) return this.render("on", { note: t("push.test_failed") });
      // The server knows no device of ours: this one was dropped (expired at the push service).
      localStorage.removeItem(MARK_KEY);
      return this.render("off", { note: t("push.test_none") });
    } catch (error) {
      return this.render("on", { note: t(error?.status === 0 ? "push.error.network" : "push.error.server") });
    }
  }

  async disable() {
    this.working("push.state.disabling");
    const subscription = await this.currentSubscription();
    if (subscription) {
      try {
        await api("DELETE", "/api/v1/push/subscriptions", { endpoint: subscription.endpoint });
      } catch (error) {
        // Unsubscribed below all the same: the push service then forgets the endpoint, and
        // the server deletes it at the next push (404/410).
      }
      try {
        await subscription.unsubscribe();
      } catch (error) {
        // Already gone.
      }
    }
    localStorage.removeItem(MARK_KEY);
    this.render("off", { note: t("push.now_off") });
  }

  watchPermission() {
    navigator.permissions?.query({ name: "notifications" }).then((status) => {
      status.addEventListener("change", () => this.check());
    }).catch(() => {});
  }
}

/** "Install as an app" when the browser offers it (Chrome, Edge, Samsung Internet). */
function setupInstall(root) {
  const box = root.querySelector("[data-install]");
  const button = root.querySelector("[data-install-button]");
  const state = root.querySelector("[data-install-state]");
  if (!box || !button || !state) return;
  const installed = () => {
    box.hidden = false;
    button.hidden = true;
    state.textContent = t("push.installed");
  };
  if (window.matchMedia?.("(display-mode: standalone)").matches || navigator.standalone) {
    installed();
    return;
  }
  let offer = null;
  window.addEventListener("beforeinstallprompt", (event) => {
    event.preventDefault(); // offered by our button, not by the browser's own bar
    offer = event;
    box.hidden = false;
    button.hidden = false;
    state.textContent = t("push.install_hint");
  });
  button.addEventListener("click", async () => {
    if (!offer) return;
    const event = offer;
    offer = null; // a prompt can be shown once
    button.hidden = true;
    await event.prompt();
    const choice = await event.userChoice;
    if (choice?.outcome === "accepted") installed();
    else box.hidden = true;
  });
  window.addEventListener("appinstalled", installed);
}

/** Start the panel in ``root`` (the advisor console's #push-setup section). */
export function setupPush(root) {
  if (!root) return null;
  const panel = new PushPanel(root);
  panel.render("checking");
  panel.check();
  panel.watchPermission();
  setupInstall(root);
  return panel;
}
