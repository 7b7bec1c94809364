/**
 * POSIX TZ strings (the glibc/newlib `TZ` syntax) without Intl: parsing, UTC <-> local.
 *
 *   std offset [dst [offset] ,start[/time],end[/time]]
 *
 * Offsets in the string follow POSIX (west of Greenwich positive); everything this module
 * returns uses the usual east-positive convention. Integer arithmetic only, no Date, no Intl.
 * Gap/fold policy and the exact accepted syntax: docs/timezones.md.
 */

import { civilFromDays, daysFromCivil, daysInMonth, isLeapYear, weekday } from "./civil";

/** Day part of a transition rule. */
export type TzDateRule =
  /** Jn: Julian day 1..365, February 29 is never counted (J60 is always March 1). */
  | { readonly kind: "J"; readonly day: number }
  /** n: zero-based day of year 0..365, February 29 counted. */
  | { readonly kind: "n"; readonly day: number }
  /** Mm.w.d: weekday d (0 = Sunday) of week w (1..5, 5 = last) of month m. */
  | { readonly kind: "M"; readonly month: number; readonly week: number; readonly wday: number };

export interface TzRule {
  readonly date: TzDateRule;
  /** Local wall time of the change, in seconds after local midnight (may be negative or > 86400). */
  readonly timeS: number;
}

export interface TzDst {
  readonly abbr: string;
  /** Offset east of UTC in seconds while DST is in effect. */
  readonly offsetS: number;
  /** Change std -> dst; its time is std wall time. */
  readonly start: TzRule;
  /** Change dst -> std; its time is dst wall time. */
  readonly end: TzRule;
}

export interface PosixTz {
  /** The string it was parsed from. */
  readonly source: string;
  /** Standard-time abbreviation, without the <> quotes ("CET", "-03"). */
  readonly stdAbbr: string;
  /** Standard offset east of UTC in seconds ("CET-1" -> 3600). */
  readonly stdOffsetS: number;
  /** Daylight-saving part; undefined when the zone has no DST. */
  readonly dst?: TzDst;
}

export interface TzSyntaxError {
  readonly code: "TZ_SYNTAX";
  /** 0-based index of the offending character (== length when the string ends too early). */
  readonly pos: number;
  readonly message: string;
}

export type TzParseResult = { ok: true; tz: PosixTz } | { ok: false; error: TzSyntaxError };

export interface LocalTime {
  /** Local wall time expressed as if it were UTC: utcMs + offsetS * 1000. */
  readonly localMs: number;
  /** Offset east of UTC in seconds. */
  readonly offsetS: number;
  readonly dst: boolean;
  readonly abbr: string;
}

export type LocalKind = "normal" | "gap" | "fold";

export interface UtcResult {
  readonly utcMs: number;
  /** normal: exactly one instant; gap: skipped local time (utcMs = the transition instant); fold: repeated local time (utcMs = first occurrence). */
  readonly kind: LocalKind;
}

export interface TzTransition {
  /** Instant of the change (UTC ms); the new offset applies from this instant on. */
  readonly utcMs: number;
  readonly offsetBeforeS: number;
  readonly offsetAfterS: number;
  /** State after the change. */
  readonly dst: boolean;
  readonly abbr: string;
}

/** Longest accepted abbreviation (between 3 and this many characters). */
export const TZ_ABBR_MAX = 16;
/** Largest hour accepted in a rule time (as tzcode: 7 days - 1 hour). */
const RULE_HOURS_MAX = 167;
/** Largest hour accepted in an offset. */
const OFFSET_HOURS_MAX = 24;

// ---------------------------------------------------------------------------------------------
// Parser

interface Cursor {
  readonly s: string;
  i: number;
  err: TzSyntaxError | undefined;
}

function fail(c: Cursor, pos: number, message: string): false {
  if (c.err === undefined) c.err = { code: "TZ_SYNTAX", pos, message };
  return false;
}

function code(c: Cursor, i: number): number {
  return i < c.s.length ? c.s.charCodeAt(i) : -1;
}

function isAlpha(ch: number): boolean {
  return (ch >= 65 && ch <= 90) || (ch >= 97 && ch <= 122);
}

function isDigit(ch: number): boolean {
  return ch >= 48 && ch <= 57;
}

/** Parses an abbreviation at c.i; returns it or undefined (c.err set). */
function parseName(c: Cursor, what: string): string | undefined {
  const start = c.i;
  if (code(c, start) === 60) {
    // '<' quoted: [A-Za-z0-9+-]{3,}
    let j = start + 1;
    for (;;) {
      const ch = code(c, j);
      if (ch === 62) break; // '>'
      if (!(isAlpha(ch) || isDigit(ch) || ch === 43 || ch === 45)) {
        fail(c, j, ch < 0 ? `unterminated <${what} name>` : `invalid character in <${what} name>`);
        return undefined;
      }
      if (j - start - 1 >= TZ_ABBR_MAX) {
        fail(c, j, `${what} name longer than ${TZ_ABBR_MAX} characters`);
        return undefined;
      }
      j++;
    }
    if (j - start - 1 < 3) {
      fail(c, j, `${what} name shorter than 3 characters`);
      return undefined;
    }
    c.i = j + 1;
    return c.s.slice(start + 1, j);
  }
  let j = start;
  while (isAlpha(code(c, j))) {
    if (j - start >= TZ_ABBR_MAX) {
      fail(c, j, `${what} name longer than ${TZ_ABBR_MAX} characters`);
      return undefined;
    }
    j++;
  }
  if (j === start) {
    fail(c, start, `expected ${what} name`);
    return undefined;
  }
  if (j - start < 3) {
    fail(c, j, `${what} name shorter than 3 characters`);
    return undefined;
  }
  c.i = j;
  return c.s.slice(start, j);
}

/** Reads 1..maxDigits decimal digits at c.i; -1 (and c.err) when none. */
function parseNum(c: Cursor, maxDigits: number, what: string): number {
  let v = 0;
  let n = 0;
  while (n < maxDigits && isDigit(code(c, c.i))) {
    v = v * 10 + (code(c, c.i) - 48);
    c.i++;
    n++;
  }
  if (n === 0) {
    fail(c, c.i, `expected ${what}`);
    return -1;
  }
  if (isDigit(code(c, c.i))) {
    fail(c, c.i, `too many digits in ${what}`);
    return -1;
  }
  return v;
}

/** [+-]hh[:mm[:ss]] -> signed seconds (sign as written), or undefined. */
function parseHms(c: Cursor, maxHours: number, what: string): number | undefined {
  let sign = 1;
  const ch = code(c, c.i);
  if (ch === 43 || ch === 45) {
    if (ch === 45) sign = -1;
    c.i++;
  }
  const hPos = c.i;
  const h = parseNum(c, maxHours > 99 ? 3 : 2, what + " hours");
  if (h < 0) return undefined;
  if (h > maxHours) {
    fail(c, hPos, `${what} hours out of range (0..${maxHours})`);
    return undefined;
  }
  let m = 0;
  let sec = 0;
  if (code(c, c.i) === 58) {
    c.i++;
    const mPos = c.i;
    m = parseNum(c, 2, what + " minutes");
    if (m < 0) return undefined;
    if (m > 59) {
      fail(c, mPos, `${what} minutes out of range (0..59)`);
      return undefined;
    }
    if (code(c, c.i) === 58) {
      c.i++;
      const sPos = c.i;
      sec = parseNum(c, 2, what + " seconds");
      if (sec < 0) return undefined;
      if (sec > 59) {
        fail(c, sPos, `${what} seconds out of range (0..59)`);
        return undefined;
      }
    }
  }
  return sign * (h * 3600 + m * 60 + sec);
}

function parseRule(c: Cursor, what: string): TzRule | undefined {
  const ch = code(c, c.i);
  let date: TzDateRule;
  if (ch === 74) {
    // 'J'
    c.i++;
    const p = c.i;
    const n = parseNum(c, 3, what + " Julian day");
    if (n < 0) return undefined;
    if (n < 1 || n > 365) {
      fail(c, p, `${what} Julian day out of range (1..365)`);
      return undefined;
    }
    date = { kind: "J", day: n };
  } else if (isDigit(ch)) {
    const p = c.i;
    const n = parseNum(c, 3, what + " day of year");
    if (n < 0) return undefined;
    if (n > 365) {
      fail(c, p, `${what} day of year out of range (0..365)`);
      return undefined;
    }
    date = { kind: "n", day: n };
  } else if (ch === 77) {
    // 'M'
    c.i++;
    let p = c.i;
    const month = parseNum(c, 2, what + " month");
    if (month < 0) return undefined;
    if (month < 1 || month > 12) {
      fail(c, p, `${what} month out of range (1..12)`);
      return undefined;
    }
    if (code(c, c.i) !== 46) {
      fail(c, c.i, `expected '.' after ${what} month`);
      return undefined;
    }
    c.i++;
    p = c.i;
    const week = parseNum(c, 1, what + " week");
    if (week < 0) return undefined;
    if (week < 1 || week > 5) {
      fail(c, p, `${what} week out of range (1..5)`);
      return undefined;
    }
    if (code(c, c.i) !== 46) {
      fail(c, c.i, `expected '.' after ${what} week`);
      return undefined;
    }
    c.i++;
    p = c.i;
    const wday = parseNum(c, 1, what + " weekday");
    if (wday < 0) return undefined;
    if (wday > 6) {
      fail(c, p, `${what} weekday out of range (0..6)`);
      return undefined;
    }
    date = { kind: "M", month, week, wday };
  } else {
    fail(c, c.i, `expected ${what} date (Jn, n or Mm.w.d)`);
    return undefined;
  }
  let timeS = 7200;
  if (code(c, c.i) === 47) {
    // '/'
    c.i++;
    const t = parseHms(c, RULE_HOURS_MAX, what + " time");
    if (t === undefined) return undefined;
    timeS = t;
  }
  return { date, timeS };
}

/**
 * Parses a POSIX TZ string. Never throws. A DST name without rules is refused
 * (no implicit US rules). Stops at the first non-ASCII character, so error positions
 * are the same whether the engine counts UTF-16 units or UTF-8 bytes.
 */
export function parsePosixTz(s: string): TzParseResult {
  if (typeof s !== "string") return { ok: false, error: { code: "TZ_SYNTAX", pos: 0, message: "not a string" } };
  const c: Cursor = { s, i: 0, err: undefined };
  const r = parseAll(c);
  if (r === undefined || c.err !== undefined) {
    return { ok: false, error: c.err ?? { code: "TZ_SYNTAX", pos: c.i, message: "syntax error" } };
  }
  return { ok: true, tz: r };
}

function parseAll(c: Cursor): PosixTz | undefined {
  if (c.s.length === 0) {
    fail(c, 0, "empty TZ string");
    return undefined;
  }
  const stdAbbr = parseName(c, "std");
  if (stdAbbr === undefined) return undefined;
  const off = parseHms(c, OFFSET_HOURS_MAX, "std offset");
  if (off === undefined) return undefined;
  const stdOffsetS = 0 - off || 0; // no -0
  const next = code(c, c.i);
  if (next < 0) return { source: c.s, stdAbbr, stdOffsetS };
  if (next === 44) {
    fail(c, c.i, "rules given without a DST name");
    return undefined;
  }
  if (!(isAlpha(next) || next === 60)) {
    fail(c, c.i, "unexpected character after std offset");
    return undefined;
  }
  const dstAbbr = parseName(c, "dst");
  if (dstAbbr === undefined) return undefined;
  let dstOffsetS = stdOffsetS + 3600;
  const ch = code(c, c.i);
  if (ch === 43 || ch === 45 || isDigit(ch)) {
    const d = parseHms(c, OFFSET_HOURS_MAX, "dst offset");
    if (d === undefined) return undefined;
    dstOffsetS = 0 - d || 0;
  }
  if (code(c, c.i) !== 44) {
    fail(c, c.i, code(c, c.i) < 0 ? "DST rules required (,start[/time],end[/time])" : "expected ',' before DST rules");
    return undefined;
  }
  c.i++;
  const start = parseRule(c, "start");
  if (start === undefined) return undefined;
  if (code(c, c.i) !== 44) {
    fail(c, c.i, "expected ',' before end rule");
    return undefined;
  }
  c.i++;
  const end = parseRule(c, "end");
  if (end === undefined) return undefined;
  if (c.i < c.s.length) {
    fail(c, c.i, "unexpected character after end rule");
    return undefined;
  }
  return { source: c.s, stdAbbr, stdOffsetS, dst: { abbr: dstAbbr, offsetS: dstOffsetS, start, end } };
}

function quoteName(a: string): string {
  for (let i = 0; i < a.length; i++) if (!isAlpha(a.charCodeAt(i))) return "<" + a + ">";
  return a;
}

function fmtHms(posixSeconds: number, withPlus: boolean): string {
  let s = posixSeconds < 0 ? "-" : withPlus ? "+" : "";
  let v = posixSeconds < 0 ? -posixSeconds : posixSeconds;
  const h = Math.floor(v / 3600);
  v -= h * 3600;
  const m = Math.floor(v / 60);
  const sec = v - m * 60;
  s += String(h);
  if (m !== 0 || sec !== 0) s += ":" + (m < 10 ? "0" : "") + m;
  if (sec !== 0) s += ":" + (sec < 10 ? "0" : "") + sec;
  return s;
}

function fmtRule(r: TzRule): string {
  const d = r.date;
  let s = d.kind === "J" ? "J" + d.day : d.kind === "n" ? String(d.day) : "M" + d.month + "." + d.week + "." + d.wday;
  if (r.timeS !== 7200) s += "/" + fmtHms(r.timeS, false);
  return s;
}

/** Canonical TZ string of a parsed zone (parsePosixTz(formatPosixTz(tz)) gives the same zone). */
export function formatPosixTz(tz: PosixTz): string {
  let s = quoteName(tz.stdAbbr) + fmtHms(-tz.stdOffsetS, false);
  const d = tz.dst;
  if (d !== undefined) {
    s += quoteName(d.abbr);
    if (d.offsetS !== tz.stdOffsetS + 3600) s += fmtHms(-d.offsetS, false);
    s += "," + fmtRule(d.start) + "," + fmtRule(d.end);
  }
  return s;
}

// ---------------------------------------------------------------------------------------------
// Rules -> instants

/** Day number of the local date a rule designates in year y. */
export function ruleDay(rule: TzDateRule, y: number): number {
  if (rule.kind === "M") {
    const first = daysFromCivil(y, rule.month, 1);
    let day = first + ((rule.wday - weekday(first) + 7) % 7) + 7 * (rule.week - 1);
    const last = first + daysInMonth(y, rule.month) - 1;
    while (day > last) day -= 7;
    return day;
  }
  const jan1 = daysFromCivil(y, 1, 1);
  if (rule.kind === "J") return jan1 + rule.day - 1 + (rule.day >= 60 && isLeapYear(y) ? 1 : 0);
  return jan1 + rule.day;
}

/** UTC ms of the change to DST in year y. */
function startUtc(tz: PosixTz, d: TzDst, y: number): number {
  return (ruleDay(d.start.date, y) * 86400 + d.start.timeS - tz.stdOffsetS) * 1000;
}

/** UTC ms of the change back to standard time in year y. */
function endUtc(d: TzDst, y: number): number {
  return (ruleDay(d.end.date, y) * 86400 + d.end.timeS - d.offsetS) * 1000;
}

function yearOfUtc(tz: PosixTz, utcMs: number): number {
  return civilFromDays(Math.floor((Math.floor(utcMs / 1000) + tz.stdOffsetS) / 86400)).y;
}

/** 16 days: more than a rule can move from one year to the next (7 d) plus rule time and offsets (< 8 d). */
const MARGIN_MS = 16 * 86_400_000;

/** Whether DST is in effect at utcMs (tz must have dst). */
function isDstAt(tz: PosixTz, d: TzDst, utcMs: number): boolean {
  const y = yearOfUtc(tz, utcMs);
  const s = startUtc(tz, d, y);
  const e = endUtc(d, y);
  const lo = s < e ? s : e;
  const hi = s < e ? e : s;
  const y0 = (daysFromCivil(y, 1, 1) * 86400 - tz.stdOffsetS) * 1000;
  const y1 = (daysFromCivil(y + 1, 1, 1) * 86400 - tz.stdOffsetS) * 1000;
  if (lo - y0 >= MARGIN_MS && y1 - hi >= MARGIN_MS && hi - lo >= MARGIN_MS) {
    // Fast path: this year's two changes are well inside the year and well apart, so the
    // neighbouring years' changes are outside it and come in the same order.
    if (utcMs >= hi || utcMs < lo) return hi === s;
    return lo === s;
  }
  // General case: latest change at or before utcMs among years y-1..y+1; on a tie an end
  // sorts before a start (so "0/0,J365/25" is permanent DST, as in tzcode).
  let bestT = -Infinity;
  let bestDst = false;
  for (let yy = y - 1; yy <= y + 1; yy++) {
    const ss = yy === y ? s : startUtc(tz, d, yy);
    const ee = yy === y ? e : endUtc(d, yy);
    if (ee <= utcMs && ee > bestT) {
      bestT = ee;
      bestDst = false;
    }
    if (ss <= utcMs && ss >= bestT) {
      bestT = ss;
      bestDst = true;
    }
  }
  return bestDst;
}

/** Offset, DST flag and abbreviation in effect at a UTC instant (finite ms). */
export function utcToLocal(tz: PosixTz, utcMs: number): LocalTime {
  const d = tz.dst;
  if (d !== undefined && isDstAt(tz, d, utcMs)) {
    return { localMs: utcMs + d.offsetS * 1000, offsetS: d.offsetS, dst: true, abbr: d.abbr };
  }
  return { localMs: utcMs + tz.stdOffsetS * 1000, offsetS: tz.stdOffsetS, dst: false, abbr: tz.stdAbbr };
}

/**
 * Effective changes with fromUtcMs <= utcMs < toUtcMs, in order, at most `max` (default 64).
 * Rule changes that do not change offset or DST flag (e.g. permanent-DST encodings) are left out.
 */
export function transitionsBetween(tz: PosixTz, fromUtcMs: number, toUtcMs: number, max = 64): TzTransition[] {
  const out: TzTransition[] = [];
  const d = tz.dst;
  if (d === undefined || !(fromUtcMs < toUtcMs) || max <= 0) return out;
  const y0 = yearOfUtc(tz, fromUtcMs) - 1;
  const y1 = Math.min(yearOfUtc(tz, toUtcMs) + 1, y0 + Math.floor(max) + 3);
  for (let y = y0; y <= y1; y++) {
    const s = startUtc(tz, d, y);
    const e = endUtc(d, y);
    const a = s <= e ? s : e;
    const b = s <= e ? e : s;
    for (const t of a === b ? [a] : [a, b]) {
      if (t < fromUtcMs || t >= toUtcMs) continue;
      const before = utcToLocal(tz, t - 1);
      const after = utcToLocal(tz, t);
      if (before.offsetS === after.offsetS && before.dst === after.dst) continue;
      if (out.length > 0 && out[out.length - 1].utcMs === t) continue;
      out.push({ utcMs: t, offsetBeforeS: before.offsetS, offsetAfterS: after.offsetS, dst: after.dst, abbr: after.abbr });
      if (out.length >= max) return out;
    }
  }
  return out;
}

/**
 * Local wall time (as if UTC) to a UTC instant.
 * Policy: a skipped local time (spring forward) maps to the transition instant, the first
 * valid instant after it; a repeated local time (fall back) maps to its first occurrence.
 */
export function localToUtc(tz: PosixTz, localMs: number): UtcResult {
  const d = tz.dst;
  const c1 = localMs - tz.stdOffsetS * 1000;
  if (d === undefined || d.offsetS === tz.stdOffsetS) return { utcMs: c1, kind: "normal" };
  const c2 = localMs - d.offsetS * 1000;
  const v1 = utcToLocal(tz, c1).offsetS === tz.stdOffsetS;
  const v2 = utcToLocal(tz, c2).offsetS === d.offsetS;
  if (v1 && v2) return { utcMs: c1 < c2 ? c1 : c2, kind: "fold" };
  if (v1) return { utcMs: c1, kind: "normal" };
  if (v2) return { utcMs: c2, kind: "normal" };
  // Gap: the change lies between the two candidates.
  const lo = c1 < c2 ? c1 : c2;
  const hi = c1 < c2 ? c2 : c1;
  const ts = transitionsBetween(tz, lo, hi + 1, 4);
  for (const t of ts) {
    if (t.offsetAfterS > t.offsetBeforeS && t.utcMs + t.offsetBeforeS * 1000 <= localMs && localMs < t.utcMs + t.offsetAfterS * 1000) {
      return { utcMs: t.utcMs, kind: "gap" };
    }
  }
  // Unreachable for well-formed rules; keep a defined answer.
  return { utcMs: hi, kind: "gap" };
}
