// The service worker of the advisor console (served as /sw.js, scope "/"): wakes an advisor
// on duty with a notification when a push arrives, even while the browser is closed, and
// brings them to the console when they tap it.
//
// It caches nothing on purpose: a stale clinical page is worse than none, so every page and
// every API answer comes from the server (there is no fetch handler at all).
//
// The push payload (advice_line/web_push.py) carries no patient data:
//   {"type": "wake", "consultation_id", "tier", "title", "body"} or {"type": "test", ...}
// plus optionally "lang" ("da" by default) and "url" (a path on this site to open).

"use strict";

const ICON = "/static/icons/icon-192.png";
const BADGE = "/static/icons/badge-96.png";
const VIBRATE = [400, 200, 400, 200, 400];

// Used only when a payload lacks its own words (the server sends Danish ones).
const TEXTS = {
  da: {
    wake: ["Rådgivningslinjen: et opkald venter", "Du har vagt. Åbn Rådgivningslinjen for at tage opkaldet."],
    test: ["Rådgivningslinjen: test", "Notifikationer virker på denne enhed."],
  },
  en: {
    wake: ["The advice line: a call is waiting", "You are on duty. Open the advice line to take the call."],
    test: ["The advice line: test", "Notifications work on this device."],
  },
};

self.addEventListener("install", () => {
  self.skipWaiting(); // a new version takes over at once: nothing cached to keep consistent
});

self.addEventListener("activate", (event) => {
  event.waitUntil(self.clients.claim());
});

/** The payload of a push as an object ({} if it is empty or not JSON). */
function readPayload(data) {
  if (!data) return {};
  try {
    const payload = data.json();
    return payload && typeof payload === "object" ? payload : {};
  } catch (error) {
    return {};
  }
}

/** A path on this site from the payload, else the console ("/"); never another site. */
function targetPath(payload) {
  const url = typeof payload.url === "string" ? payload.url : "";
  if (url.startsWith("/") && !url.startsWith("//") && !url.includes("\\")) return url;
  return "/";
}

/** Title and options of the notification for ``payload``. */
function notificationFor(payload) {
  const lang = payload.lang === "en" ? "en" : "da";
  const type = payload.type === "test" ? "test" : "wake";
  const [title, body] = TEXTS[lang][type];
  const id = Number.isInteger(payload.consultation_id) ? payload.consultation_id : null;
  return {
    title: typeof payload.title === "string" && payload.title ? payload.title : title,
    options: {
      body: typeof payload.body === "string" && payload.body ? payload.body : body,
      lang,
      icon: ICON,
      badge: BADGE,
      // One notification per call (the console's own ring uses the same tag, so they replace
      // each other), renotify so a repeated wake rings again; a test replaces the last test.
      tag: id !== null ? `consultation-${id}` : `push-${type}`,
      renotify: true,
      requireInteraction: true,
      vibrate: VIBRATE,
      timestamp: Date.now(),
      data: { url: targetPath(payload), type, consultation_id: id },
    },
  };
}

/** Show the notification for a push (exposed on ``self`` for the browser tests). */
async function handlePush(payload) {
  const { title, options } = notificationFor(payload);
  await self.registration.showNotification(title, options);
  return { title, tag: options.tag };
}

/**
 * Bring the advisor to ``path``: focus a window of ours already showing it, else open a new
 * one (never take over another window: it may hold a half-written record or a call).
 * Returns what it did. Browsers let a worker focus or open windows only while it handles a
 * real click on a notification; a refused focus is harmless (the window is there).
 */
async function openConsole(path) {
  const target = new URL(path, self.location.origin);
  const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
  const same = windows.find((client) => new URL(client.url).pathname === target.pathname);
  if (same) {
    await focus(same);
    return { action: "focused", url: same.url };
  }
  try {
    await self.clients.openWindow(target.href);
    return { action: "opened", url: target.href };
  } catch (error) {
    return { action: "refused", url: target.href };
  }
}

async function focus(client) {
  try {
    await client.focus();
  } catch (error) {
    // Refused outside a real click: the window is there, and the console rings by itself.
  }
}

/** What a tap on one of our notifications does (exposed on ``self`` for the browser tests). */
async function handleNotificationClick(notification) {
  notification.close();
  return openConsole(notification.data?.url || "/");
}

self.addEventListener("push", (event) => {
  event.waitUntil(handlePush(readPayload(event.data)));
});

self.addEventListener("notificationclick", (event) => {
  event.waitUntil(handleNotificationClick(event.notification));
});

/**
 * The push service renewed (or dropped) this browser's subscription: subscribe again with
 * the service's key, tell the server the new one and forget the old one. Runs without a page,
 * so it reads the CSRF token from the session itself.
 */
async function resubscribe(oldSubscription, newSubscription) {
  let subscription = newSubscription;
  if (!subscription) {
    const key = await getJson("/api/v1/push/key");
    subscription = await self.registration.pushManager.subscribe({
      userVisibleOnly: true, applicationServerKey: base64UrlBytes(key.public_key),
    });
  }
  const me = await getJson("/api/v1/auth/me");
  await send("POST", "/api/v1/push/subscriptions", subscription.toJSON(), me.csrf_token);
  if (oldSubscription && oldSubscription.endpoint !== subscription.endpoint) {
    await send("DELETE", "/api/v1/push/subscriptions", { endpoint: oldSubscription.endpoint }, me.csrf_token);
  }
  return subscription.endpoint;
}

self.addEventListener("pushsubscriptionchange", (event) => {
  event.waitUntil(resubscribe(event.oldSubscription, event.newSubscription));
});

async function getJson(url) {
  const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return response.json();
}

async function send(method, url, body, csrf) {
  const response = await fetch(url, {
    method, credentials: "same-origin", body: JSON.stringify(body),
    headers: { Accept: "application/json", "Content-Type": "application/json", "X-CSRF-Token": csrf },
  });
  if (!response.ok) throw new Error(`${method} ${url}: HTTP ${response.status}`);
}

function base64UrlBytes(text) {
  const base64 = text.replace(/-/g, "+").replace(/_/g, "/") + "=".repeat((4 - (text.length % 4)) % 4);
  return Uint8Array.from(atob(base64), (char) => char.charCodeAt(0));
}

// For the browser tests: a real click cannot be made in a headless browser, nor a push
// subscription renewed; they call these directly inside the worker.
self.handlePush = handlePush;
self.handleNotificationClick = handleNotificationClick;
self.resubscribe = resubscribe;
