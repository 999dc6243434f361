// The pre-call test (docs/api.md, "Pre-call test"): camera and microphone, one
// RTCPeerConnection to the server's echo peer, which sends the nurse's own audio and video
// back. For about 8 seconds the page pings over the "echo" data channel (the application
// round trip), reads getStats() (the echoed bitrate, loss, whether a TURN relay carried it)
// and measures the level of the echoed sound; then it says in plain words what works.

import { ApiError, api, csrfToken, t } from "./app.js";
import { el, showState } from "./dom.js";

const TEST_SECONDS = 8;
const CONNECT_TIMEOUT_MS = 15000;
const GATHER_TIMEOUT_MS = 5000;
const PING_MS = 500;
/**
 * The verdict on the network (documented in docs/api.md): "good" when every figure is within
 * `good`, "usable" (consider audio only) when within `usable`, otherwise "poor". The bitrate
 * is what came back: the echoed video (a video test) or the echoed audio (audio only).
 */
export const THRESHOLDS = {
  good: { rttMs: 200, videoKbps: 300, audioKbps: 24, loss: 0.02 },
  usable: { rttMs: 500, videoKbps: 100, audioKbps: 12, loss: 0.1 },
};
/** Level (RMS, full scale 1) the echoed sound must reach at some moment for the microphone to count as heard. */
const AUDIO_FLOOR = 0.01;
const AUDIO = { echoCancellation: true, noiseSuppression: true, autoGainControl: true };
const VIDEO = { width: { ideal: 640 }, height: { ideal: 480 }, frameRate: { ideal: 24, max: 30 }, facingMode: "user" };

const $ = (id) => document.getElementById(id);
const state = $("precall-state");
const startButton = $("precall-start");
const audioButton = $("precall-audio");
const stopButton = $("precall-stop");
const media = $("precall-media");
const selfVideo = $("precall-self");
const echoVideo = $("precall-echo");
const meterBox = $("precall-meter-box");
const meter = $("precall-meter");
const errorBox = $("precall-error");
const result = $("precall-result");

let current = null; // the running test

class TestFailed extends Error {
  constructor(kind, values = {}) { super(kind); this.kind = kind; this.values = values; }
}

/** The kind of device problem behind a getUserMedia failure. */
async function deviceProblem(error, video) {
  const name = error?.name;
  if (name === "NotAllowedError" || name === "SecurityError") return "denied";
  if (name === "NotReadableError" || name === "AbortError") return "busy";
  if (name === "NotFoundError" || name === "OverconstrainedError") {
    const devices = await navigator.mediaDevices.enumerateDevices().catch(() => []);
    if (!devices.some((d) => d.kind === "audioinput")) return "no_microphone";
    return video ? "no_camera" : "no_microphone";
  }
  return "unsupported";
}

/** One test: the devices, the connection, the measurements. ``close()`` ends all of it. */
class EchoTest {
  constructor(video) {
    this.video = video;
    this.pings = new Map(); // seq -> sent at (ms)
    this.rtts = [];
    this.seq = 0;
    this.samples = []; // getStats() figures each second
    this.localPeak = 0;
    this.echoPeak = 0;
    this.timers = [];
    this.audio = new AudioContext(); // made within the click, so it may run
  }

  async run() {
    if (!navigator.mediaDevices?.getUserMedia || !window.RTCPeerConnection) throw new TestFailed("unsupported");
    showState(state, "loading", t("precall.state.devices"));
    try {
      this.stream = await navigator.mediaDevices.getUserMedia({ audio: AUDIO, video: this.video ? VIDEO : false });
    } catch (error) {
      throw new TestFailed(await deviceProblem(error, this.video));
    }
    this.showSelf();
    showState(state, "loading", t("precall.state.connecting"));
    const { ice_servers: iceServers } = await this.call("GET", "/api/v1/ice-servers");
    this.pc = new RTCPeerConnection({ iceServers });
    for (const track of this.stream.getTracks()) this.pc.addTrack(track, this.stream);
    this.channel = this.pc.createDataChannel("echo");
    this.channel.onmessage = (event) => this.onMessage(event.data);
    // The echoed sound plays muted (no howling; Chrome feeds Web Audio only from a stream
    // that plays) and is measured through its own analyser.
    const echoed = new MediaStream();
    this.pc.ontrack = (event) => {
      echoed.addTrack(event.track);
      echoVideo.srcObject = echoed;
      if (event.track.kind === "audio") this.echoMeter = this.levelOf(new MediaStream([event.track]));
    };
    await this.pc.setLocalDescription(await this.pc.createOffer());
    await this.gathered(); // the echo peer takes no trickled candidates: send them all at once
    const answer = await this.call("POST", "/api/v1/echo-test", { sdp: this.pc.localDescription.sdp, type: "offer" });
    this.id = answer.id;
    await this.pc.setRemoteDescription({ type: "answer", sdp: answer.sdp });
    await this.connected();
    return this.measure();
  }

  async call(method, url, body) {
    try {
      return await api(method, url, body);
    } catch (error) {
      if (error instanceof ApiError && error.status === 503) {
        throw new TestFailed("server_busy", { seconds: error.problem.retry_after || 30 });
      }
      throw new TestFailed("server");
    }
  }

  gathered() {
    return new Promise((resolve) => {
      if (this.pc.iceGatheringState === "complete") return resolve();
      const done = () => { if (this.pc.iceGatheringState === "complete") resolve(); };
      this.pc.addEventListener("icegatheringstatechange", done);
      this.timers.push(setTimeout(resolve, GATHER_TIMEOUT_MS));
    });
  }

  connected() {
    return new Promise((resolve, reject) => {
      const check = () => {
        const s = this.pc.connectionState;
        if (s === "connected") resolve();
        else if (s === "failed" || s === "closed") reject(new TestFailed("network"));
      };
      this.pc.addEventListener("connectionstatechange", check);
      this.timers.push(setTimeout(() => reject(new TestFailed("network")), CONNECT_TIMEOUT_MS));
      check();
    });
  }

  showSelf() {
    media.hidden = false;
    selfVideo.hidden = echoVideo.hidden = !this.video;
    selfVideo.srcObject = this.stream;
    meterBox.hidden = false;
    const local = this.levelOf(this.stream);
    const draw = () => {
      if (this.closed) return;
      const rms = local();
      this.localPeak = Math.max(this.localPeak, rms);
      if (this.echoMeter) this.echoPeak = Math.max(this.echoPeak, this.echoMeter());
      meter.value = Math.min(1, rms * 4); // speech sits around 0.05-0.2 RMS: fill the bar
      requestAnimationFrame(draw);
    };
    draw();
  }

  /** A function that gives the sound level (RMS, full scale 1) of ``stream`` right now. */
  levelOf(stream) {
    const analyser = this.audio.createAnalyser();
    analyser.fftSize = 1024;
    this.audio.createMediaStreamSource(stream).connect(analyser);
    const samples = new Float32Array(analyser.fftSize);
    return () => {
      analyser.getFloatTimeDomainData(samples);
      return Math.sqrt(samples.reduce((sum, s) => sum + s * s, 0) / samples.length);
    };
  }

  onMessage(raw) {
    let message;
    try { message = JSON.parse(raw); } catch { return; }
    if (message.type === "pong" && this.pings.has(message.seq)) {
      this.rtts.push(performance.now() - this.pings.get(message.seq));
      this.pings.delete(message.seq);
    } else if (message.type === "stats") {
      this.server = message;
    }
  }

  ping() {
    if (this.channel?.readyState !== "open") return;
    this.seq += 1;
    this.pings.set(this.seq, performance.now());
    this.channel.send(JSON.stringify({ type: "ping", seq: this.seq, t: Date.now() }));
  }

  async sample() {
    const figures = { at: performance.now(), video: null, audio: null, relay: false };
    const report = await this.pc.getStats();
    let pair = null;
    report.forEach((s) => {
      if (s.type === "inbound-rtp" && (s.kind === "video" || s.kind === "audio")) {
        figures[s.kind] = { bytes: s.bytesReceived || 0, received: s.packetsReceived || 0, lost: Math.max(s.packetsLost || 0, 0),
          frames: s.framesDecoded || 0 };
      }
      if (s.type === "candidate-pair" && (s.nominated || s.selected) && s.state === "succeeded") pair = s;
    });
    const local = pair && report.get(pair.localCandidateId);
    figures.relay = local?.candidateType === "relay";
    this.samples.push(figures);
  }

  async measure() {
    showState(state, null);
    stopButton.hidden = false;
    let left = TEST_SECONDS;
    const progress = $("precall-progress");
    progress.hidden = false;
    progress.textContent = t("precall.state.testing", { seconds: left });
    this.timers.push(setInterval(() => this.ping(), PING_MS));
    await this.sample();
    await new Promise((resolve) => {
      const tick = setInterval(async () => {
        left -= 1;
        progress.textContent = t("precall.state.testing", { seconds: Math.max(left, 0) });
        await this.sample().catch(() => {});
        if (left <= 0 || this.closed) { clearInterval(tick); resolve(); }
      }, 1000);
      this.timers.push(tick);
    });
    progress.hidden = true;
    if (this.closed) return null;
    return this.findings();
  }

  findings() {
    const first = this.samples[0];
    const last = this.samples[this.samples.length - 1];
    const seconds = (last.at - first.at) / 1000;
    const kind = this.video ? "video" : "audio";
    // Before the first packet the counters do not exist yet: they start from zero.
    const kbps = last[kind] && seconds > 0 ? ((last[kind].bytes - (first[kind]?.bytes || 0)) * 8) / seconds / 1000 : 0;
    const received = ["audio", "video"].reduce((n, k) => n + ((last[k]?.received || 0) - (first[k]?.received || 0)), 0);
    const lost = ["audio", "video"].reduce((n, k) => n + ((last[k]?.lost || 0) - (first[k]?.lost || 0)), 0);
    const sorted = [...this.rtts].sort((x, y) => x - y);
    return {
      video: this.video,
      cameraOk: this.video && selfVideo.videoWidth > 0 && (last.video?.frames || 0) > 0 && echoVideo.videoWidth > 0,
      cameraLocal: this.video && selfVideo.videoWidth > 0,
      micOk: this.echoPeak > AUDIO_FLOOR,
      micLocal: this.localPeak > AUDIO_FLOOR,
      rttMs: sorted.length ? Math.round(sorted[Math.floor(sorted.length / 2)]) : null,
      kbps: Math.round(kbps),
      loss: received + lost > 0 ? lost / (received + lost) : 0,
      relay: this.samples.some((s) => s.relay),
      uploadKbps: this.server?.bitrate_kbps ?? null, // what the echo peer received, its own count
    };
  }

  close() {
    if (this.closed) return;
    this.closed = true;
    this.timers.forEach((timer) => { clearTimeout(timer); clearInterval(timer); });
    this.pc?.close();
    this.stream?.getTracks().forEach((track) => track.stop()); // the camera light goes off
    this.audio.close().catch(() => {});
    selfVideo.srcObject = null;
    echoVideo.srcObject = null;
    if (this.id) {
      // keepalive: the request still goes out when the page is being left
      fetch(`/api/v1/echo-test?id=${encodeURIComponent(this.id)}`, { method: "DELETE", keepalive: true,
        credentials: "same-origin", headers: { "X-CSRF-Token": csrfToken(), Accept: "application/json" } }).catch(() => {});
    }
  }
}

/** "good", "usable" or "poor" for the measured figures (see THRESHOLDS). */
export function verdict({ rttMs, kbps, loss, video }) {
  if (rttMs === null) return "poor";
  const within = (limit) => rttMs <= limit.rttMs && loss <= limit.loss && kbps >= (video ? limit.videoKbps : limit.audioKbps);
  if (within(THRESHOLDS.good)) return "good";
  if (within(THRESHOLDS.usable)) return "usable";
  return "poor";
}

function check(id, ok, text) {
  const item = $(id);
  item.hidden = false;
  item.className = ok ? "check is-ok" : "check is-problem";
  item.replaceChildren(el("span", { class: "check-mark", "aria-hidden": "true" }, ok ? "✓" : "!"), el("span", {}, text));
}

function showResult(found) {
  const quality = verdict(found);
  if (found.video) {
    check("check-camera", found.cameraOk, t(found.cameraOk ? "precall.camera.ok"
      : found.cameraLocal ? "precall.camera.no_echo" : "precall.camera.none"));
  } else {
    $("check-camera").hidden = true;
  }
  check("check-microphone", found.micOk, t(found.micOk ? "precall.microphone.ok"
    : found.micLocal ? "precall.microphone.no_echo" : "precall.microphone.silent"));
  check("check-network", quality === "good", t(`precall.network.${quality}`));
  check("check-relay", true, t(found.relay ? "precall.relay.yes" : "precall.relay.no"));
  $("precall-rtt").textContent = found.rttMs === null ? "–" : t("precall.rtt_value", { ms: found.rttMs });
  $("precall-rtt").dataset.value = found.rttMs ?? "";
  $("precall-bitrate").textContent = t("precall.bitrate_value", { kbps: found.kbps });
  $("precall-bitrate").dataset.value = found.kbps;
  $("precall-upload").textContent = found.uploadKbps === null ? "–" : t("precall.bitrate_value", { kbps: Math.round(found.uploadKbps) });
  $("precall-loss").textContent = t("precall.loss_value", { percent: (found.loss * 100).toFixed(1) });
  result.dataset.verdict = quality;
  result.hidden = false;
  $("precall-result-title").focus();
}

function showError(kind, values = {}, video = true) {
  errorBox.hidden = false;
  $("precall-error-title").textContent = t(`precall.error.${kind}.title`);
  $("precall-error-text").textContent = t(`precall.error.${kind}.text`, values);
  errorBox.dataset.kind = kind;
  const actions = [el("button", { type: "button", class: "button primary big", on: { click: () => begin(video) } }, t("precall.retry"))];
  if (video && ["denied", "no_camera", "busy"].includes(kind)) {
    actions.push(el("button", { type: "button", class: "button secondary big", on: { click: () => begin(false) } }, t("precall.start_audio")));
  }
  $("precall-error-actions").replaceChildren(...actions);
}

async function begin(video) {
  if (current) {
    current.stopped = true;
    current.close();
  }
  errorBox.hidden = true;
  result.hidden = true;
  startButton.disabled = audioButton.disabled = true;
  const test = new EchoTest(video);
  current = test;
  try {
    const found = await test.run();
    if (found) showResult(found);
    else showState(state, "done", t("precall.state.stopped"));
  } catch (error) {
    if (test.stopped) showState(state, "done", t("precall.state.stopped"));
    else {
      showState(state, null);
      showError(error instanceof TestFailed ? error.kind : "server", error.values, video);
    }
  } finally {
    test.close();
    if (current === test) media.hidden = meterBox.hidden = true;
    stopButton.hidden = true;
    startButton.disabled = audioButton.disabled = false;
  }
}

startButton.addEventListener("click", () => begin(true));
audioButton.addEventListener("click", () => begin(false));
stopButton.addEventListener("click", () => {
  if (!current) return;
  current.stopped = true;
  current.close();
});
window.addEventListener("pagehide", () => current?.close());
