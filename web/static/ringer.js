// How an incoming call gets an advisor's attention: a ring tone made with the Web Audio API
// (no sound files) and a browser notification while the tab is in the background.
//
// Browsers only play sound after the person has touched the page, so the tone is unlocked
// by a click (the availability switch, or the "turn on the ring tone" button) and the page
// says whether it is.

const TONES_HZ = [880, 1175];
const BEEP_SECONDS = 0.18;
const BURST_GAP_SECONDS = 0.07;
const BURSTS = 4;
const PERIOD_MS = 2600;
const VOLUME = 0.25;

export class Ringer {
  constructor() {
    this.context = null;
    this.timer = null;
  }

  /** Call from a click: makes (or resumes) the audio context so that ringing can sound. */
  async unlock() {
    const AudioContext = window.AudioContext || window.webkitAudioContext;
    if (!AudioContext) return false;
    this.context ??= new AudioContext();
    if (this.context.state !== "running") {
      try {
        await this.context.resume();
      } catch (error) {
        return false;
      }
    }
    return this.unlocked;
  }

  get supported() {
    return Boolean(window.AudioContext || window.webkitAudioContext);
  }

  get unlocked() {
    return this.context?.state === "running";
  }

  get ringing() {
    return this.timer !== null;
  }

  /** Ring until ``stop()``; true when it can be heard (the audio was unlocked). */
  start() {
    if (this.timer !== null) return this.unlocked;
    this.timer = setInterval(() => this.burst(), PERIOD_MS);
    this.burst();
    return this.unlocked;
  }

  stop() {
    clearInterval(this.timer);
    this.timer = null;
  }

  /** One short test ring (after unlocking), so the advisor knows what to listen for. */
  sample() {
    this.burst();
  }

  burst() {
    const context = this.context;
    if (!context || context.state !== "running") return;
    let at = context.currentTime + 0.02;
    for (let i = 0; i < BURSTS; i += 1) {
      this.beep(context, TONES_HZ[i % TONES_HZ.length], at);
      at += BEEP_SECONDS + BURST_GAP_SECONDS;
    }
  }

  beep(context, frequency, at) {
    const oscillator = context.createOscillator();
    const gain = context.createGain();
    oscillator.type = "sine";
    oscillator.frequency.value = frequency;
    // A short attack and release: no clicks.
    gain.gain.setValueAtTime(0, at);
    gain.gain.linearRampToValueAtTime(VOLUME, at + 0.015);
    gain.gain.setValueAtTime(VOLUME, at + BEEP_SECONDS - 0.03);
    gain.gain.linearRampToValueAtTime(0, at + BEEP_SECONDS);
    oscillator.connect(gain).connect(context.destination);
    oscillator.start(at);
    oscillator.stop(at + BEEP_SECONDS + 0.01);
  }
}

// Notifications --------------------------------------------------------------------------

const shown = new Map();

/** "granted", "denied", "default", or "unsupported". */
export function notificationPermission() {
  return "Notification" in window ? Notification.permission : "unsupported";
}

export async function askNotificationPermission() {
  if (!("Notification" in window)) return "unsupported";
  try {
    return await Notification.requestPermission();
  } catch (error) {
    return Notification.permission;
  }
}

/** Show a notification (no patient data: it may show on a lock screen) while the tab is hidden. */
export function notify(tag, title, body) {
  if (!document.hidden || notificationPermission() !== "granted") return false;
  try {
    const notification = new Notification(title, { body, tag, requireInteraction: true });
    notification.addEventListener("click", () => {
      window.focus();
      notification.close();
    });
    shown.set(tag, notification);
    return true;
  } catch (error) {
    return false; // e.g. a browser that allows notifications only from a service worker
  }
}

export function closeNotification(tag) {
  shown.get(tag)?.close();
  shown.delete(tag);
}
