// Danish wall-clock time, whatever the device's own time zone: calendar dates, local
// midnights as UTC instants (a day is 23 or 25 hours at a DST change), the values of
// datetime-local inputs, and RFC 3339 with the offset that applies on that date.
// Instants are milliseconds since the epoch; calendar dates are "YYYY-MM-DD" strings.

import { language, t } from "./app.js";

export const ZONE = "Europe/Copenhagen";
export const HOUR_MS = 3_600_000;
export const DAY_MS = 24 * HOUR_MS;

const wallFormat = new Intl.DateTimeFormat("en-US", {
  timeZone: ZONE, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit",
  hour: "2-digit", minute: "2-digit", second: "2-digit",
});
const timeFormat = new Intl.DateTimeFormat(language, {
  timeZone: ZONE, hour: "2-digit", minute: "2-digit", hourCycle: "h23",
});
const dayTimeFormat = new Intl.DateTimeFormat(language, {
  timeZone: ZONE, weekday: "short", day: "numeric", month: "short", hour: "2-digit", minute: "2-digit",
  hourCycle: "h23",
});
// Calendar dates are formatted as UTC noon in UTC: no time zone can move them to another day.
const dayFormat = new Intl.DateTimeFormat(language, { timeZone: "UTC", weekday: "short", day: "numeric", month: "short" });
const longDayFormat = new Intl.DateTimeFormat(language, { timeZone: "UTC", dateStyle: "full" });
const rangeFormat = new Intl.DateTimeFormat(language, { timeZone: "UTC", day: "numeric", month: "long", year: "numeric" });
const monthFormat = new Intl.DateTimeFormat(language, { timeZone: "UTC", month: "long", year: "numeric" });
const weekdayFormat = new Intl.DateTimeFormat(language, { timeZone: "UTC", weekday: "short" });
const hoursFormat = new Intl.NumberFormat(language, { maximumFractionDigits: 1 });

const pad = (n, width = 2) => String(n).padStart(width, "0");

/** The wall clock in Copenhagen at an instant: {year, month, day, hour, minute, second}. */
export function wallClock(ms) {
  const fields = {};
  for (const { type, value } of wallFormat.formatToParts(new Date(ms))) {
    if (type !== "literal") fields[type] = Number(value);
  }
  return fields;
}

/** Minutes Copenhagen is ahead of UTC at an instant (60 in winter, 120 in summer). */
export function offsetMinutes(ms) {
  const w = wallClock(ms);
  const whole = Math.floor(ms / 1000) * 1000;
  return Math.round((Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second) - whole) / 60_000);
}

/**
 * The instant a Copenhagen wall clock shows ``date`` ``hour``:``minute``, by the rota's DST
 * rule (docs/rota-rules.md): a time that occurs twice is its first occurrence; a time the
 * clocks skip is the instant they jump.
 */
export function zonedToUtc(date, hour = 0, minute = 0) {
  const [year, month, day] = date.split("-").map(Number);
  const naive = Date.UTC(year, month - 1, day, hour, minute);
  // The offsets a day either side include both sides of any change of the clocks.
  const offsets = [...new Set([offsetMinutes(naive - DAY_MS), offsetMinutes(naive + DAY_MS)])];
  const fits = offsets.map((o) => naive - o * 60_000).filter((ms) => offsetMinutes(ms) * 60_000 === naive - ms);
  if (fits.length) return Math.min(...fits);
  let before = naive - Math.max(...offsets) * 60_000;
  let after = naive - Math.min(...offsets) * 60_000;
  while (after - before > 60_000) {
    const middle = before + Math.floor((after - before) / 120_000) * 60_000;
    if (offsetMinutes(middle) === offsetMinutes(before)) before = middle;
    else after = middle;
  }
  return after;
}

/** The instant the Copenhagen day ``date`` begins. */
export function localMidnight(date) {
  return zonedToUtc(date, 0, 0);
}

/** The Copenhagen calendar date of an instant. */
export function localDate(ms) {
  const w = wallClock(ms);
  return `${pad(w.year, 4)}-${pad(w.month)}-${pad(w.day)}`;
}

export function todayIso() {
  return localDate(Date.now());
}

/** ``text`` when it is a real calendar date (YYYY-MM-DD, years 1970-2199), else null. */
export function parseIsoDate(text) {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text || "");
  if (!match) return null;
  const [year, month, day] = match.slice(1).map(Number);
  const date = new Date(Date.UTC(year, month - 1, day));
  if (year < 1970 || year > 2199 || date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day) return null;
  return text;
}

function calendar(date) {
  const [year, month, day] = date.split("-").map(Number);
  return new Date(Date.UTC(year, month - 1, day, 12));
}

function isoOf(utcDate) {
  return utcDate.toISOString().slice(0, 10);
}

export function addDays(date, days) {
  const moved = calendar(date);
  moved.setUTCDate(moved.getUTCDate() + days);
  return isoOf(moved);
}

/** The first day of the month ``months`` after the month of ``date``. */
export function addMonths(date, months) {
  const [year, month] = date.split("-").map(Number);
  return isoOf(new Date(Date.UTC(year, month - 1 + months, 1, 12)));
}

/** 0 for Monday ... 6 for Sunday. */
export function weekday(date) {
  return (calendar(date).getUTCDay() + 6) % 7;
}

export function startOfWeek(date) {
  return addDays(date, -weekday(date));
}

export function startOfMonth(date) {
  return `${date.slice(0, 7)}-01`;
}

/** The ISO 8601 week number of ``date``. */
export function isoWeek(date) {
  const thursday = calendar(addDays(date, 3 - weekday(date)));
  const firstOfYear = Date.UTC(thursday.getUTCFullYear(), 0, 1, 12);
  return 1 + Math.floor((thursday.getTime() - firstOfYear) / (7 * DAY_MS));
}

/** The value of a datetime-local input for an instant, in Copenhagen time. */
export function toLocalInput(ms) {
  const w = wallClock(ms);
  return `${localDate(ms)}T${pad(w.hour)}:${pad(w.minute)}`;
}

/** The instant of a datetime-local value read as Copenhagen time, or null. */
export function fromLocalInput(value) {
  const match = /^(\d{4}-\d{2}-\d{2})T(\d{2}):(\d{2})(?::\d{2}(?:\.\d+)?)?$/.exec(value || "");
  if (!match || !parseIsoDate(match[1])) return null;
  return zonedToUtc(match[1], Number(match[2]), Number(match[3]));
}

/** RFC 3339 in Copenhagen time with its offset, e.g. 2026-03-29T03:00:00+02:00. */
export function rfc3339(ms) {
  const w = wallClock(ms);
  const offset = offsetMinutes(ms);
  const sign = offset < 0 ? "-" : "+";
  const abs = Math.abs(offset);
  return `${localDate(ms)}T${pad(w.hour)}:${pad(w.minute)}:${pad(w.second)}${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
}

/** An instant for the API's query strings (UTC, no "+" to escape). */
export function utcIso(ms) {
  return new Date(ms).toISOString().replace(".000Z", "Z");
}

export function formatTime(ms) {
  return timeFormat.format(new Date(ms));
}

/** A day's end (the next midnight) as the clock reads it at the end of the day: 24:00. */
export function formatDayEnd(ms) {
  return formatTime(ms).replace(/^00/, "24");
}

export function formatDayTime(ms) {
  return dayTimeFormat.format(new Date(ms));
}

/** From–to of two instants, the end without its date when it falls on the same day. */
export function formatRange(startMs, endMs) {
  const sameDay = localDate(startMs) === localDate(endMs);
  return `${formatDayTime(startMs)} – ${sameDay ? formatTime(endMs) : formatDayTime(endMs)}`;
}

const capitalised = (text) => text.charAt(0).toLocaleUpperCase(language) + text.slice(1);

/** A day as a column heading: "Ons. 10. feb." */
export function formatDay(date) {
  return capitalised(dayFormat.format(calendar(date)));
}

export function formatLongDay(date) {
  return longDayFormat.format(calendar(date));
}

export function formatWeekday(date) {
  return weekdayFormat.format(calendar(date));
}

export function formatDateRange(first, last) {
  return rangeFormat.formatRange(calendar(first), calendar(last));
}

export function formatMonth(date) {
  return capitalised(monthFormat.format(calendar(date)));
}

/** A duration as hours for people ("10 t", "9,5 t"). */
export function formatHours(ms) {
  return t("rota.hours", { hours: hoursFormat.format(ms / HOUR_MS) });
}
