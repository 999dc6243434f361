// The WebRTC side of a call (docs/protocol.md, "Calls (WebRTC)"): camera and microphone, one
// RTCPeerConnection per other person with the server's ICE servers, the W3C "perfect
// negotiation" pattern with the role the server assigns, the remote videos (one tile per
// person), the mute / camera / audio-only controls, what to do when the camera or microphone
// is refused, ICE restarts, rejoining after a reconnect, and a call-quality report every ~10 s.
//
// call.js tells it about the consultation through the "consultation" event on the media
// element ({consultation, side, me, live}); it talks over that page's live connection.

import { t } from "./app.js";
import { el } from "./dom.js";
import * as view from "./consult_view.js";

const AUDIO = { echoCancellation: true, noiseSuppression: true, autoGainControl: true };
const VIDEO = { width: { ideal: 640 }, height: { ideal: 480 }, frameRate: { ideal: 24, max: 30 }, facingMode: "user" };
/** The server takes at most one call.quality per 5 s per connection. */
const MIN_QUALITY_SECONDS = 5;
const POOR_LOSS = 0.05;
const POOR_RTT_MS = 400;
const JOIN_RETRY_MS = 3000;
/** Someone already in the call waits this long for the newcomer's offer before offering. */
const OFFER_WAIT_MS = 3000;
/**
 * A connection negotiated but not connected after this long gets an ICE restart (besides
 * one on "failed"): e.g. gathering that never finished after a rolled-back offer. The polite
 * side waits longer, so that the two rarely restart at once.
 */
const STUCK_MS = { impolite: 5000, polite: 8000 };
/** Codec limits of a call.quality report (signalling/codec.py). */
const LIMITS = { rtt_ms: 60000, packet_loss: 1, bitrate_kbps: 1000000 };

const clamp = (value, high) => (Number.isFinite(value) ? Math.min(Math.max(value, 0), high) : 0);
const kindOf = (transceiver) => transceiver.receiver.track?.kind;
const usable = (transceiver) => transceiver.currentDirection !== "stopped" && transceiver.direction !== "stopped";

/** Danish/English text for a getUserMedia failure; ``audio`` when only the microphone was asked. */
function mediaProblem(error, audio) {
  const name = error?.name;
  if (name === "NotSupportedError" || name === "TypeError") return t("media.error.unsupported");
  if (audio) {
    if (name === "NotAllowedError" || name === "SecurityError") return t("media.error.audio_denied");
    if (name === "NotFoundError" || name === "OverconstrainedError") return t("media.error.audio_not_found");
    if (name === "NotReadableError" || name === "AbortError") return t("media.error.audio_busy");
    return t("media.error.audio_other");
  }
  if (name === "NotAllowedError" || name === "SecurityError") return t("media.error.denied");
  if (name === "NotFoundError" || name === "OverconstrainedError") return t("media.error.not_found");
  if (name === "NotReadableError" || name === "AbortError") return t("media.error.busy");
  return t("media.error.other");
}

/**
 * One other person of the call: their peer connection (perfect negotiation) and tile. A
 * newcomer (``offerFirst``) offers at once; who was already in the call lets them, adding
 * its tracks to the answer, so that the first negotiation rarely collides.
 */
class Peer {
  constructor(call, userId, polite, offerFirst) {
    this.call = call;
    this.userId = userId;
    this.polite = polite;
    this.makingOffer = false;
    this.ignoreOffer = false;
    this.settingAnswer = false;
    this.held = []; // candidates that came before the remote description
    this.queue = Promise.resolve(); // signals are handled one at a time, in order
    // The figures of the previous quality report; the first one counts from now.
    this.last = { rtt: 0, relay: false, lost: 0, received: 0, bytes: 0, at: performance.now() };
    this.stream = null;
    this.tile = call.makeTile(userId);
    const pc = new RTCPeerConnection({ iceServers: call.iceServers });
    this.pc = pc;
    this.waitTimer = null;
    this.stuckTimer = null;
    pc.onnegotiationneeded = () => this.offer();
    pc.onicecandidate = ({ candidate }) => this.send({ candidate: candidate ? candidate.toJSON() : null });
    pc.oniceconnectionstatechange = () => {
      if (pc.iceConnectionState === "failed") pc.restartIce();
      this.watch();
      this.call.renderState();
    };
    pc.onconnectionstatechange = () => this.call.renderState();
    pc.onsignalingstatechange = () => {
      this.watch();
      this.call.renderTile(this); // directions settle when stable
    };
    pc.ontrack = (event) => this.track(event);
    if (offerFirst) call.syncPeer(this);
    else this.waitTimer = setTimeout(() => call.syncPeer(this), OFFER_WAIT_MS);
  }

  /** Restart ICE if negotiated but not connected for a while (see ``STUCK_MS``). */
  watch() {
    clearTimeout(this.stuckTimer);
    const pc = this.pc;
    if (["connected", "completed", "closed"].includes(pc.iceConnectionState)) return;
    this.stuckTimer = setTimeout(() => {
      const stuck = ["new", "checking", "disconnected"].includes(pc.iceConnectionState);
      if (stuck && pc.signalingState === "stable" && pc.remoteDescription) {
        pc.restartIce();
      }
      if (pc.signalingState !== "closed") this.watch();
    }, this.polite ? STUCK_MS.polite : STUCK_MS.impolite);
  }

  send(body) {
    this.call.send("signal", { to: this.userId, ...body });
  }

  async offer() {
    try {
      this.makingOffer = true;
      await this.pc.setLocalDescription();
      this.send({ description: this.pc.localDescription.toJSON() });
    } catch (error) {
      console.warn("media: offer failed", error);
    } finally {
      this.makingOffer = false;
    }
  }

  receive(message) {
    this.queue = this.queue.then(() => this.handle(message)).catch((error) => console.warn("media: signal failed", error));
  }

  async handle({ description, candidate }) {
    const pc = this.pc;
    if (pc.signalingState === "closed") return;
    if (description && description.type !== "rollback") {
      const ready = !this.makingOffer && (pc.signalingState === "stable" || this.settingAnswer);
      const collision = description.type === "offer" && !ready;
      this.ignoreOffer = !this.polite && collision;
      if (this.ignoreOffer) return;
      this.settingAnswer = description.type === "answer";
      await pc.setRemoteDescription(description); // the polite side rolls its own offer back
      this.settingAnswer = false;
      for (const held of this.held.splice(0)) await this.addCandidate(held);
      if (description.type === "offer") {
        this.call.syncPeer(this); // e.g. audio only: no video back, whatever was offered
        await pc.setLocalDescription();
        this.send({ description: pc.localDescription.toJSON() });
      }
    }
    if (candidate) {
      if (!pc.remoteDescription) this.held.push(candidate);
      else await this.addCandidate(candidate);
    }
  }

  async addCandidate(candidate) {
    try {
      await this.pc.addIceCandidate(candidate);
    } catch (error) {
      if (!this.ignoreOffer) console.warn("media: candidate refused", error);
    }
  }

  track({ track, streams }) {
    const stream = streams[0] || this.stream || new MediaStream();
    if (!stream.getTracks().includes(track)) stream.addTrack(track);
    if (stream !== this.stream) {
      this.stream = stream;
      stream.addEventListener("addtrack", () => this.call.renderTile(this));
      stream.addEventListener("removetrack", () => this.call.renderTile(this));
      this.tile.video.srcObject = stream;
      this.tile.audio.srcObject = stream;
      this.call.play(this.tile.audio);
      this.tile.video.play().catch(() => {});
    }
    track.addEventListener("ended", () => this.call.renderTile(this));
    this.call.renderTile(this);
  }

  /**
   * Whether this person sends video now: the negotiated direction says so (a track's
   * ``muted`` is no guide: in Chrome it can stay set while media flows) and it shows.
   */
  hasVideo() {
    const receiving = this.pc.getTransceivers().some((item) => usable(item) && kindOf(item) === "video"
      && ["sendrecv", "recvonly"].includes(item.currentDirection) && item.receiver.track.readyState === "live");
    return receiving && this.tile.video.videoWidth > 0;
  }

  ice() {
    return this.pc.iceConnectionState;
  }

  close() {
    clearTimeout(this.waitTimer);
    clearTimeout(this.stuckTimer);
    this.pc.onnegotiationneeded = this.pc.onicecandidate = this.pc.ontrack = null;
    this.pc.oniceconnectionstatechange = this.pc.onconnectionstatechange = this.pc.onsignalingstatechange = null;
    this.pc.close();
    this.tile.node.remove();
  }
}

export class MediaCall {
  constructor(root) {
    this.root = root;
    this.c = null;
    this.side = null;
    this.me = 0;
    this.live = null;
    this.started = false; // media asked for, call joined (or being joined)
    this.mediaAsked = false; // the first getUserMedia has answered (either way)
    this.over = false; // the call ended for this page: nothing restarts it
    this.joined = false;
    this.joinPending = false;
    this.joinSeq = 0;
    this.refusedAt = -1; // the consultation version at which a join was refused
    this.iceServers = [];
    this.peers = new Map();
    this.localStream = new MediaStream();
    this.micOn = true;
    this.cameraOn = true;
    this.audioOnly = false;
    this.poor = false;
    this.qualityTimer = null;
    this.outbox = []; // signals made while the socket was down: sent if the session resumes
    this.names = new Map();
    root.addEventListener("consultation", (event) => this.update(event.detail));
    window.addEventListener("pagehide", () => this.stopTracks());
    // For the browser tests and for support: the figures of this call (no patient data).
    window.__adviceCall = this;
  }

  get id() {
    return this.c?.id;
  }

  get channel() {
    return this.c?.channel || "video";
  }

  // Following the consultation -------------------------------------------------------------

  update({ consultation, side, me, live }) {
    if (this.c && consultation.version < this.c.version) return; // a late, older view
    this.c = consultation;
    this.side = side;
    this.me = me;
    this.attach(live);
    this.learnNames(consultation);
    const inCall = view.IN_CALL.includes(consultation.state) && (side === "nurse" || consultation.participants.includes(me));
    if (inCall && !this.started && !this.over) this.start();
    else if (!inCall && this.started && !this.over) this.end();
    else if (inCall && this.mediaAsked && !this.over && !this.joined && !this.joinPending
      && consultation.version > this.refusedAt) this.join(false);
    for (const peer of this.peers.values()) this.renderTile(peer);
  }

  attach(live) {
    if (this.live || !live) return;
    this.live = live;
    live.on("ready", (info) => this.ready(info));
    live.on("state", () => this.renderState());
    live.on("call.joined", (message) => this.mine(message) && this.joinedCall(message));
    live.on("call.peer_joined", (message) => this.mine(message) && this.peerJoined(message));
    live.on("call.peer_left", (message) => this.mine(message) && this.peerLeft(message.user_id));
    live.on("call.ended", (message) => this.mine(message) && this.end());
    live.on("signal", (message) => this.mine(message) && this.signal(message));
    live.on("error", (message) => this.refused(message));
  }

  mine(message) {
    return this.started && !this.over && message.consultation_id === this.id;
  }

  learnNames(c) {
    if (c.nurse?.id) this.names.set(c.nurse.id, c.nurse.name || t("call.the_nurse"));
    for (const person of c.people || []) if (person.name) this.names.set(person.id, person.name);
  }

  nameOf(userId) {
    return this.names.get(userId) || t("call.someone");
  }

  // Starting, joining, ending --------------------------------------------------------------

  async start() {
    this.started = true;
    this.build();
    this.renderState();
    view.loadNames().then((known) => {
      for (const [userId, person] of known) if (!this.names.has(userId)) this.names.set(userId, person.name);
      for (const peer of this.peers.values()) this.renderTile(peer);
    });
    await this.getMedia(this.channel === "video");
    this.mediaAsked = true;
    if (!this.over && !this.joined && !this.joinPending) this.join(false);
  }

  join(resume) {
    if (this.over || !this.live || this.live.state !== "open") return; // the next welcome joins
    this.joinPending = true;
    this.joinId = `media-join-${++this.joinSeq}`;
    const body = { consultation_id: this.id, id: this.joinId };
    if (resume) body.resume = true;
    if (!this.live.send("call.join", body)) this.joinPending = false;
  }

  /**
   * After every welcome: join (again). A resumed session (the server replayed what this page
   * missed) asks to keep its place and its peer connections; otherwise all start afresh.
   */
  ready({ reconnected, resumed } = {}) {
    if (!this.mediaAsked || this.over) return;
    const resume = Boolean(reconnected && resumed) && this.joined && this.peers.size > 0;
    // Resuming, the peer connections stay and the replayed signals (they come before the
    // call.joined answer) are theirs; otherwise nothing is taken until the answer.
    if (!resume) this.joined = false;
    this.join(resume);
    this.renderState();
  }

  joinedCall(message) {
    this.joinPending = false;
    this.joined = true;
    this.iceServers = message.ice_servers || [];
    const listed = new Map((message.peers || []).map((peer) => [peer.user_id, peer.polite]));
    const outbox = this.outbox.splice(0);
    if (!message.resumed) {
      // A fresh membership: the others were told (call.peer_joined) and start afresh too.
      for (const userId of [...this.peers.keys()]) this.removePeer(userId);
    } else {
      for (const userId of [...this.peers.keys()]) if (!listed.has(userId)) this.removePeer(userId);
      for (const body of outbox) if (this.peers.has(body.to)) this.send("signal", body);
    }
    for (const [userId, polite] of listed) if (!this.peers.has(userId)) this.addPeer(userId, polite, true);
    this.scheduleQuality();
    this.renderState();
  }

  refused(message) {
    if (!this.joinPending || message.id !== this.joinId) return;
    this.joinPending = false;
    this.joined = false;
    if (message.code === "not_in_call") this.refusedAt = this.c?.version ?? 0; // wait for news
    else setTimeout(() => !this.joined && !this.joinPending && this.join(false), JOIN_RETRY_MS);
    this.renderState();
  }

  peerJoined(message) {
    if (!this.joined) return; // they are in the call.joined answer still to come
    this.removePeer(message.user_id);
    this.addPeer(message.user_id, message.polite, false); // the newcomer offers
    this.renderState();
  }

  signal(message) {
    if (!this.joined) return;
    let peer = this.peers.get(message.from);
    // An offer from someone whose call.peer_joined has not been seen: the server orders
    // roles by user id (the lower id is polite).
    if (!peer && message.description?.type === "offer") peer = this.addPeer(message.from, this.me < message.from, false);
    peer?.receive(message);
  }

  addPeer(userId, polite, offerFirst) {
    const peer = new Peer(this, userId, polite, offerFirst);
    this.peers.set(userId, peer);
    this.renderTile(peer);
    return peer;
  }

  removePeer(userId) {
    this.peers.get(userId)?.close();
    this.peers.delete(userId);
    this.renderState();
  }

  peerLeft(userId) {
    this.removePeer(userId);
  }

  /** The call is over for this page: tracks stopped, connections closed, nothing restarts. */
  end() {
    this.over = true;
    this.joined = false;
    clearTimeout(this.qualityTimer);
    for (const userId of [...this.peers.keys()]) this.removePeer(userId);
    this.stopTracks();
    this.showProblem(null);
    this.renderState();
    this.renderControls();
  }

  stopTracks() {
    for (const track of this.localStream.getTracks()) track.stop();
  }

  send(type, body) {
    const sent = this.live?.send(type, { consultation_id: this.id, ...body }) || false;
    if (!sent && type === "signal" && this.outbox.length < 500) this.outbox.push(body);
    return sent;
  }

  // Camera and microphone ------------------------------------------------------------------

  /**
   * Ask for the microphone (unless it is already on) and, with ``video``, the camera. On a
   * failure say what to do now; the call goes on either way (hearing and seeing the others).
   */
  async getMedia(video) {
    this.showProblem(null);
    const audio = !this.localStream.getAudioTracks().some((track) => track.readyState === "live");
    if (!audio && !video) {
      if (this.channel === "video") this.audioOnly = true;
      this.afterMediaChange();
      return true;
    }
    this.busy(true);
    try {
      if (!navigator.mediaDevices?.getUserMedia) throw Object.assign(new Error("no getUserMedia"), { name: "NotSupportedError" });
      const stream = await navigator.mediaDevices.getUserMedia({ audio: audio ? AUDIO : false, video: video ? VIDEO : false });
      if (this.over) {
        for (const track of stream.getTracks()) track.stop();
        return false;
      }
      this.useTracks(stream.getTracks());
      if (this.channel === "video") this.audioOnly = !video;
      return true;
    } catch (error) {
      if (this.over) return false;
      const canAudioOnly = video && error?.name !== "NotSupportedError";
      this.showProblem(mediaProblem(error, !video), { audioOnly: canAudioOnly, retry: () => this.getMedia(video) });
      return false;
    } finally {
      this.busy(false);
      this.afterMediaChange();
    }
  }

  /** Put new local tracks in place of those of the same kind. */
  useTracks(tracks) {
    for (const track of tracks) {
      for (const old of this.localStream.getTracks().filter((item) => item.kind === track.kind)) {
        old.stop();
        this.localStream.removeTrack(old);
      }
      if (track.kind === "audio") track.enabled = this.micOn;
      if (track.kind === "video") {
        this.cameraOn = true;
        track.enabled = true;
      }
      this.localStream.addTrack(track);
    }
  }

  afterMediaChange() {
    for (const peer of this.peers.values()) this.syncPeer(peer);
    this.selfView.srcObject = this.localStream.getVideoTracks().length ? this.localStream : null;
    this.renderControls();
    this.renderState();
  }

  /** What this connection sends and receives: the local tracks, video per the controls. */
  syncPeer(peer) {
    const pc = peer.pc;
    if (pc.signalingState === "closed") return;
    const noVideo = this.channel === "audio" || this.audioOnly;
    // The transceivers that carry a local track from now on (replaceTrack settles later, so
    // ``sender.track`` cannot tell yet).
    const carrying = new Set();
    for (const track of this.localStream.getTracks()) {
      if (track.kind === "video" && noVideo) continue;
      const transceivers = pc.getTransceivers().filter((item) => usable(item) && kindOf(item) === track.kind);
      let current = transceivers.find((item) => item.sender.track === track)
        || transceivers.find((item) => !item.sender.track);
      if (!current) {
        const sender = pc.addTrack(track, this.localStream);
        current = pc.getTransceivers().find((item) => item.sender === sender);
      } else if (current.sender.track !== track) {
        current.sender.replaceTrack(track).catch((error) => console.warn("media: replaceTrack", error));
        current.sender.setStreams?.(this.localStream);
      }
      carrying.add(current);
    }
    for (const transceiver of pc.getTransceivers().filter(usable)) {
      const sends = carrying.has(transceiver);
      let direction;
      if (kindOf(transceiver) === "audio") direction = sends ? "sendrecv" : "recvonly";
      else if (noVideo) direction = "inactive";
      else direction = sends && this.cameraOn ? "sendrecv" : "recvonly";
      if (transceiver.direction !== direction) transceiver.direction = direction;
    }
  }

  toggleMic() {
    this.micOn = !this.micOn;
    for (const track of this.localStream.getAudioTracks()) track.enabled = this.micOn;
    this.renderControls();
  }

  toggleCamera() {
    this.cameraOn = !this.cameraOn;
    // Disabled and not sent (the others see the avatar); turned on again without asking anew.
    for (const track of this.localStream.getVideoTracks()) track.enabled = this.cameraOn;
    this.afterMediaChange();
  }

  /** Audio only: the video track is stopped and removed, and no video comes back either. */
  async toggleAudioOnly() {
    if (this.audioOnly) {
      await this.getMedia(true);
      return;
    }
    this.audioOnly = true;
    this.poor = false;
    for (const track of this.localStream.getVideoTracks()) {
      track.stop();
      this.localStream.removeTrack(track);
      for (const peer of this.peers.values()) {
        const sender = peer.pc.getSenders().find((item) => item.track === track);
        if (sender && peer.pc.signalingState !== "closed") peer.pc.removeTrack(sender);
      }
    }
    this.afterMediaChange();
  }

  play(media) {
    media.play().then(() => { this.soundButton.hidden = true; }).catch(() => {
      // Autoplay with sound refused (no camera or microphone in use): one tap starts it.
      this.soundButton.hidden = false;
    });
  }

  // Call quality ---------------------------------------------------------------------------

  scheduleQuality() {
    clearTimeout(this.qualityTimer);
    const seconds = Math.max(Number(this.root.dataset.qualitySeconds) || 10, MIN_QUALITY_SECONDS);
    this.qualityTimer = setTimeout(() => this.reportQuality(), seconds * 1000);
  }

  async reportQuality() {
    try {
      const report = await this.quality();
      if (report && this.joined && !this.over) {
        this.send("call.quality", report);
        this.poor = report.packet_loss > POOR_LOSS || report.rtt_ms > POOR_RTT_MS;
        this.renderState();
      }
    } catch (error) {
      console.warn("media: quality", error);
    }
    if (!this.over) this.scheduleQuality();
  }

  /** One summary over all connections: worst round trip, overall loss, bitrate in, relay. */
  async quality() {
    let rtt = 0;
    let lost = 0;
    let received = 0;
    let bits = 0;
    let relay = false;
    let measured = 0;
    for (const peer of this.peers.values()) {
      const figures = await measure(peer.pc);
      if (!figures) continue;
      const last = peer.last;
      peer.last = figures;
      measured += 1;
      rtt = Math.max(rtt, figures.rtt);
      relay ||= figures.relay;
      lost += figures.lost - (last?.lost ?? 0);
      received += figures.received - (last?.received ?? 0);
      const seconds = last ? (figures.at - last.at) / 1000 : 0;
      if (seconds > 0) bits += ((figures.bytes - last.bytes) * 8) / seconds;
    }
    if (!measured) return null;
    const lossBase = Math.max(lost, 0) + Math.max(received, 0);
    return {
      rtt_ms: Math.round(clamp(rtt * 1000, LIMITS.rtt_ms) * 10) / 10,
      packet_loss: Math.round(clamp(lossBase ? lost / lossBase : 0, LIMITS.packet_loss) * 10000) / 10000,
      bitrate_kbps: Math.round(clamp(bits / 1000, LIMITS.bitrate_kbps)),
      relay,
    };
  }

  /** Figures for tests and support: per person, the connection states and what comes in. */
  async snapshot() {
    const peers = [];
    for (const [userId, peer] of this.peers) {
      const inbound = {};
      (await peer.pc.getStats()).forEach((item) => {
        if (item.type !== "inbound-rtp") return;
        const sum = (inbound[item.kind] ||= { packetsReceived: 0, bytesReceived: 0, framesDecoded: 0, totalAudioEnergy: 0 });
        sum.packetsReceived += item.packetsReceived || 0;
        sum.bytesReceived += item.bytesReceived || 0;
        sum.framesDecoded += item.framesDecoded || 0;
        sum.totalAudioEnergy += item.totalAudioEnergy || 0;
      });
      peers.push({
        userId, polite: peer.polite, ice: peer.pc.iceConnectionState, signaling: peer.pc.signalingState,
        hasVideo: peer.hasVideo(), inbound,
        sending: peer.pc.getTransceivers().filter(usable).map((item) => [kindOf(item), item.currentDirection]),
      });
    }
    return { state: this.root.dataset.mediaState, joined: this.joined, micOn: this.micOn, cameraOn: this.cameraOn,
      audioOnly: this.audioOnly, local: this.localStream.getTracks().map((track) => track.kind), peers };
  }

  // What the person sees -------------------------------------------------------------------

  build() {
    const video = this.channel === "video";
    this.root.dataset.channel = this.channel;
    this.stateLine = el("p", { class: "media-state", role: "status", "aria-live": "polite", "data-testid": "media-state" });
    this.poorButton = el("button", { type: "button", class: "button secondary big", "data-testid": "media-poor-audio-only",
      on: { click: () => this.toggleAudioOnly() } }, t("media.switch_audio_only"));
    this.poorBox = el("div", { class: "media-poor", role: "status", "data-testid": "media-poor", hidden: true },
      el("span", {}, t("media.poor")), this.poorButton);
    this.problemText = el("p", { class: "media-problem-text" });
    this.problemAudio = el("button", { type: "button", class: "button primary big", "data-testid": "media-audio-only",
      on: { click: () => this.getMedia(false) } }, t("media.continue_audio_only"));
    this.problemRetry = el("button", { type: "button", class: "button secondary big", "data-testid": "media-retry" },
      t("media.retry"));
    this.problemBox = el("div", { class: "media-problem", role: "alert", "data-testid": "media-problem", hidden: true },
      this.problemText, el("div", { class: "actions" }, this.problemAudio, this.problemRetry));
    this.soundButton = el("button", { type: "button", class: "button primary big", "data-testid": "media-sound", hidden: true,
      on: { click: () => this.unlockSound() } }, t("media.play_sound"));
    this.grid = el("div", { class: "media-grid", "data-testid": "remote-tiles" });
    this.selfView = el("video", { class: "self-video", autoplay: true, playsinline: true, "data-testid": "self-video" });
    this.selfView.muted = true; // never hear yourself
    this.selfCaption = el("span", { class: "self-caption" });
    this.self = el("figure", { class: "self-tile", "data-testid": "self-tile", hidden: !video },
      this.selfView, el("figcaption", {}, this.selfCaption));
    this.micButton = this.control("media-mute", t("media.mute"), () => this.toggleMic());
    this.cameraButton = this.control("media-camera", t("media.camera_off"), () => this.toggleCamera());
    this.audioOnlyButton = this.control("media-audio-only-toggle", t("media.audio_only"), () => this.toggleAudioOnly());
    this.cameraButton.hidden = !video;
    this.audioOnlyButton.hidden = !video;
    this.root.replaceChildren(
      this.stateLine, this.problemBox, this.poorBox, this.soundButton,
      el("div", { class: "media-stage" }, this.grid, this.self),
      el("div", { class: "media-controls", role: "group", "aria-label": t("media.controls") },
        this.micButton, this.cameraButton, this.audioOnlyButton));
    this.renderControls();
  }

  control(testid, label, click) {
    return el("button", { type: "button", class: "button secondary big media-toggle", "aria-pressed": "false",
      "data-testid": testid, on: { click } }, label);
  }

  makeTile(userId) {
    const video = el("video", { autoplay: true, playsinline: true, "data-testid": "remote-video" });
    video.muted = true; // the sound plays from the audio element, whatever shows
    const update = () => { const peer = this.peers.get(userId); if (peer) this.renderTile(peer); };
    video.addEventListener("resize", update);
    video.addEventListener("loadeddata", update);
    const audio = el("audio", { autoplay: true });
    const name = el("span", { class: "tile-name", "data-testid": "tile-name" });
    const note = el("span", { class: "tile-note", "data-testid": "tile-note" });
    const avatar = el("div", { class: "avatar", "aria-hidden": "true" });
    const node = el("figure", { class: "tile", "data-testid": "remote-tile", dataset: { userId, video: "off" } },
      video, avatar, audio, el("figcaption", {}, name, note));
    this.grid.append(node);
    return { node, video, audio, name, note, avatar };
  }

  renderTile(peer) {
    const { node, name, note, avatar } = peer.tile;
    const who = this.nameOf(peer.userId);
    const showing = peer.hasVideo() && this.channel === "video" && !this.audioOnly;
    node.dataset.video = showing ? "on" : "off";
    node.dataset.ice = peer.ice();
    name.textContent = who;
    avatar.textContent = initials(who);
    const ice = peer.ice();
    if (ice === "disconnected" || ice === "failed") note.textContent = t("media.peer_reconnecting");
    else if (!["connected", "completed"].includes(ice)) note.textContent = t("media.peer_connecting");
    else if (this.channel === "audio" || this.audioOnly) note.textContent = t("media.peer_audio_only");
    else note.textContent = showing ? "" : t("media.peer_camera_off");
  }

  renderState() {
    if (!this.stateLine) return;
    const state = this.overallState();
    this.root.dataset.mediaState = state;
    const audio = this.channel === "audio" || this.audioOnly;
    const texts = {
      connecting: t(audio ? "media.state.connecting_audio" : "media.state.connecting"),
      waiting: t("media.state.waiting"),
      connected: t(audio ? "media.state.connected_audio" : "media.state.connected"),
      reconnecting: t("media.state.reconnecting"),
      ended: t("media.state.ended"),
    };
    this.stateLine.textContent = texts[state];
    this.stateLine.dataset.state = state;
    this.poorBox.hidden = !(this.poor && state === "connected");
    this.poorButton.hidden = audio;
    for (const peer of this.peers.values()) this.renderTile(peer);
  }

  overallState() {
    if (this.over) return "ended";
    if (this.live && this.live.state !== "open") return "reconnecting";
    if (!this.joined) return "connecting";
    const states = [...this.peers.values()].map((peer) => peer.ice());
    if (!states.length) return "waiting";
    if (states.some((state) => state === "disconnected" || state === "failed")) return "reconnecting";
    if (states.some((state) => state === "connected" || state === "completed")) return "connected";
    return "connecting";
  }

  renderControls() {
    if (!this.micButton) return;
    const hasAudio = this.localStream.getAudioTracks().length > 0;
    const hasVideo = this.localStream.getVideoTracks().length > 0;
    this.micButton.disabled = !hasAudio || this.over;
    this.micButton.setAttribute("aria-pressed", String(!this.micOn));
    this.cameraButton.disabled = !hasVideo || this.audioOnly || this.over;
    this.cameraButton.setAttribute("aria-pressed", String(!this.cameraOn || !hasVideo));
    this.audioOnlyButton.disabled = this.over;
    this.audioOnlyButton.setAttribute("aria-pressed", String(this.audioOnly));
    const showingSelf = hasVideo && this.cameraOn && !this.audioOnly;
    this.self.dataset.video = showingSelf ? "on" : "off";
    this.self.hidden = this.channel !== "video" || this.over;
    const notes = [t("media.self")];
    if (!this.micOn) notes.push(t("media.you_muted"));
    if (!showingSelf) notes.push(t(this.audioOnly ? "media.you_audio_only" : "media.you_camera_off"));
    this.selfCaption.textContent = notes.join(" · ");
  }

  showProblem(text, { audioOnly = false, retry = null } = {}) {
    if (!this.problemBox) return;
    this.problemBox.hidden = !text;
    this.problemText.textContent = text || "";
    this.problemAudio.hidden = !audioOnly;
    this.problemRetry.hidden = !retry;
    this.problemRetry.onclick = retry;
    if (text) this.problemBox.dataset.kind = audioOnly ? "camera" : "microphone";
  }

  busy(on) {
    if (!this.problemBox) return;
    for (const button of [this.problemAudio, this.problemRetry, this.audioOnlyButton]) button.disabled = on;
  }

  unlockSound() {
    for (const peer of this.peers.values()) this.play(peer.tile.audio);
  }
}

/** "AA" for "Anne Afprøvning". */
function initials(name) {
  return name.split(/\s+/).filter(Boolean).slice(0, 2).map((part) => part[0].toUpperCase()).join("");
}

/** Round trip, loss and bytes in, and whether the selected pair goes through TURN. */
async function measure(pc) {
  if (pc.signalingState === "closed") return null;
  const report = await pc.getStats();
  let pair = null;
  let remoteRtt = 0;
  let lost = 0;
  let received = 0;
  let bytes = 0;
  report.forEach((item) => {
    if (item.type === "transport" && item.selectedCandidatePairId) pair = report.get(item.selectedCandidatePairId) || pair;
    if (item.type === "candidate-pair" && item.nominated && item.state === "succeeded" && !pair) pair = item;
    if (item.type === "remote-inbound-rtp" && item.roundTripTime) remoteRtt = Math.max(remoteRtt, item.roundTripTime);
    if (item.type === "inbound-rtp") {
      lost += item.packetsLost || 0;
      received += item.packetsReceived || 0;
      bytes += item.bytesReceived || 0;
    }
  });
  if (!pair) return null;
  const local = report.get(pair.localCandidateId);
  return {
    rtt: pair.currentRoundTripTime ?? remoteRtt, relay: local?.candidateType === "relay",
    lost, received, bytes, at: performance.now(),
  };
}
