/**
 * POSIX TZ strings: parser with positioned errors, and the canonical formatter (docs/timezones.md).
 */
import {
  TZ_ABBR_MAX,
  RULE_HOURS_MAX,
  OFFSET_HOURS_MAX,
  type TzDateRule,
  type TzRule,
  type PosixTz,
  type TzSyntaxError,
  type TzParseResult,
} from "./tz-types";

// ---------------------------------------------------------------------------------------------
// Parser

export interface Cursor {
  readonly s: string;
  i: number;
  err: TzSyntaxError | undefined;
}

export function fail(c: Cursor, pos: number, message: string): false {
  if (c.err === undefined) c.err = { code: "TZ_SYNTAX", pos, message };
  return false;
}

export function code(c: Cursor, i: number): number {
  return i < c.s.length ? c.s.charCodeAt(i) : -1;
}

export function isAlpha(ch: number): boolean {
  return (ch >= 65 && ch <= 90) || (ch >= 97 && ch <= 122);
}

export function isDigit(ch: number): boolean {
  return ch >= 48 && ch <= 57;
}

/** Parses an abbreviation at c.i; returns it or undefined (c.err set). */
export function parseName(c: Cursor, what: string): string | undefined {
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
export function parseNum(c: Cursor, maxDigits: number, what: string): number {
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
export function parseHms(c: Cursor, maxHours: number, what: string): number | undefined {
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

export function parseRule(c: Cursor, what: string): TzRule | undefined {
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

export function parseAll(c: Cursor): PosixTz | undefined {
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

export function quoteName(a: string): string {
  for (let i = 0; i < a.length; i++) if (!isAlpha(a.charCodeAt(i))) return "<" + a + ">";
  return a;
}

export function fmtHms(posixSeconds: number, withPlus: boolean): string {
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

export function fmtRule(r: TzRule): string {
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
