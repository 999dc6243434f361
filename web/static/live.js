// The live connection (/ws, docs/protocol.md) shared by the call pages, the advisor console
// and the coordinator's page: connects, keeps itself alive, reconnects with backoff after a
// drop (showing so), and hands each message to the handlers of its type. After a drop it
// resumes the session (docs/protocol.md, "Resuming"): the server replays what was missed,
// and a message seen twice (by its ``seq``) is handed on once.
//
//   const live = new Live();
//   live.on("consultation.updated", (message) => ...);
//   live.on("ready", ({ reconnected, resumed }) => ...);   // after every welcome: re-read the state
//   live.start();

import { api, t } from "./app.js";
import { el } from "./dom.js";

const BACKOFF_SECONDS = [1, 2, 4, 8, 15];
const PONG_TIMEOUT_MS = 6000;
const MAX_PING_SECONDS = 20;
const SESSION_ENDED = 4401;

/** Whether stream id ``a`` ("<ms>-<n>") comes after ``b``. */
function seqAfter(a, b) {
  const [am, an] = a.split("-").map(Number);
  const [bm, bn] = b.split("-").map(Number);
  return am > bm || (am === bm && an > bn);
}

export class Live {
  constructor() {
    this.handlers = new Map();
    this.socket = null;
    this.attempt = 0;
    this.everConnected = false;
    this.retryTimer = null;
    this.pingTimer = null;
    this.pongTimer = null;
    this.pingSeconds = 15;
    this.stopped = false;
    this.resumeToken = null;
    this.lastSeq = null;
    this.banner = this.makeBanner();
    this.setState("connecting");
  }

  /** Call ``handler(message)`` for each message of ``type`` ("*" for all); also "ready". */
  on(type, handler) {
    if (!this.handlers.has(type)) this.handlers.set(type, []);
    this.handlers.get(type).push(handler);
    return this;
  }

  /** Send one message (e.g. the WebRTC signalling's call.join, signal); false when not open. */
  send(type, body = {}) {
    const socket = this.socket;
    if (!socket || socket.readyState !== WebSocket.OPEN || this.state !== "open") return false;
    socket.send(JSON.stringify({ v: 1, type, ...body }));
    return true;
  }

  start() {
    window.addEventListener("offline", () => this.drop());
    window.addEventListener("online", () => this.reconnectNow());
    window.addEventListener("pagehide", () => this.stop());
    window.addEventListener("pageshow", (event) => {
      if (!event.persisted) return;
      // Back from the browser's page cache: connect again (and read the state again).
      this.stopped = false;
      this.reconnectNow();
    });
    this.connect();
    return this;
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.stopPings();
    this.socket?.close(1000);
  }

  /** Run the handlers of ``type`` (and, for messages from the server, those of "*"). */
  emit(type, payload, fromServer = false) {
    const handlers = [...(this.handlers.get(type) || []), ...(fromServer ? this.handlers.get("*") || [] : [])];
    for (const handler of handlers) {
      try {
        handler(payload);
      } catch (error) {
        // One page part failing must not stop the others from hearing the message.
        setTimeout(() => { throw error; });
      }
    }
  }

  connect() {
    if (this.stopped) return;
    clearTimeout(this.retryTimer);
    const scheme = window.location.protocol === "https:" ? "wss" : "ws";
    let socket;
    try {
      const resume = this.resumeToken && this.lastSeq
        ? `?${new URLSearchParams({ resume: this.resumeToken, last: this.lastSeq })}` : "";
      socket = new WebSocket(`${scheme}://${window.location.host}/ws${resume}`);
    } catch (error) {
      this.scheduleRetry();
      return;
    }
    this.socket = socket;
    socket.addEventListener("message", (event) => this.receive(socket, event));
    socket.addEventListener("close", (event) => this.closed(socket, event));
  }

  receive(socket, event) {
    if (socket !== this.socket) return;
    let message;
    try {
      message = JSON.parse(event.data);
    } catch (error) {
      return;
    }
    clearTimeout(this.pongTimer);
    if (message.type === "welcome") {
      this.resumeToken = message.resume_token || null;
      this.lastSeq = message.seq || null;
      const reconnected = this.everConnected;
      this.everConnected = true;
      this.attempt = 0;
      this.pingSeconds = Math.min(Number(message.heartbeat_seconds) || 15, MAX_PING_SECONDS);
      this.setState("open");
      this.startPings();
      this.emit("ready", { reconnected, resumed: Boolean(message.resumed), user: message.user });
      return;
    }
    if (message.type === "pong") return;
    if (typeof message.seq === "string") {
      if (this.lastSeq && !seqAfter(message.seq, this.lastSeq)) return;  // replayed twice
      this.lastSeq = message.seq;
    }
    this.emit(message.type, message, true);
  }

  closed(socket, event) {
    if (socket !== this.socket) return;
    this.socket = null;
    this.stopPings();
    if (this.stopped) return;
    if (event.code === SESSION_ENDED) {
      this.setState("ended");
      return;
    }
    this.setState("closed");
    this.scheduleRetry();
  }

  /** The network is gone (the browser says so, or a ping went unanswered): show it now. */
  drop() {
    if (this.stopped) return;
    const socket = this.socket;
    this.socket = null;
    this.stopPings();
    socket?.close();
    this.setState("closed");
    this.scheduleRetry();
  }

  reconnectNow() {
    if (this.stopped || this.socket) return;
    this.attempt = 0;
    this.setState(this.everConnected ? "closed" : "connecting");
    this.connect();
  }

  scheduleRetry() {
    clearTimeout(this.retryTimer);
    const base = BACKOFF_SECONDS[Math.min(this.attempt, BACKOFF_SECONDS.length - 1)];
    this.attempt += 1;
    const delay = base * 1000 * (1 + Math.random() * 0.3);
    this.retryTimer = setTimeout(() => this.connect(), delay);
    if (this.attempt === 3) {
      // Refused upgrades look like network errors: if the session ended, api() goes to login.
      api("GET", "/api/v1/auth/me").catch(() => {});
    }
  }

  startPings() {
    this.stopPings();
    this.pingTimer = setInterval(() => this.ping(), this.pingSeconds * 1000);
  }

  stopPings() {
    clearInterval(this.pingTimer);
    clearTimeout(this.pongTimer);
  }

  ping() {
    const socket = this.socket;
    if (!socket || socket.readyState !== WebSocket.OPEN) return;
    socket.send(JSON.stringify({ v: 1, type: "ping", id: `p-${Date.now()}` }));
    clearTimeout(this.pongTimer);
    this.pongTimer = setTimeout(() => this.drop(), PONG_TIMEOUT_MS);
  }

  // What the person sees ------------------------------------------------------------------

  makeBanner() {
    const text = el("span", { class: "live-text" });
    const retry = el("button", { type: "button", class: "button secondary", on: { click: () => this.reconnectNow() } },
      t("live.retry_now"));
    const login = el("a", { class: "button primary", href: "/login" }, t("live.login"));
    const banner = el("div", { class: "live-banner", role: "status", "aria-live": "assertive",
      "data-testid": "live-status", hidden: true }, text, retry, login);
    const main = document.getElementById("main");
    main?.prepend(banner);
    return { node: banner, text, retry, login };
  }

  setState(state) {
    this.state = state;
    document.body.dataset.live = state;
    const { node, text, retry, login } = this.banner;
    node.dataset.state = state;
    node.hidden = state === "open" || (state === "connecting" && !this.everConnected);
    retry.hidden = state !== "closed";
    login.hidden = state !== "ended";
    if (state === "closed") text.textContent = t("live.lost");
    else if (state === "ended") text.textContent = t("live.ended");
    else text.textContent = t("live.connecting");
    this.emit("state", state);
  }
}
