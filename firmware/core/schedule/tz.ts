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
import type { TzDateRule, TzDst, PosixTz, LocalTime, UtcResult, TzTransition } from "./tz-types";
export * from "./tz-types";
export * from "./tz-parse";

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
export function startUtc(tz: PosixTz, d: TzDst, y: number): number {
  return (ruleDay(d.start.date, y) * 86400 + d.start.timeS - tz.stdOffsetS) * 1000;
}

/** UTC ms of the change back to standard time in year y. */
export function endUtc(d: TzDst, y: number): number {
  return (ruleDay(d.end.date, y) * 86400 + d.end.timeS - d.offsetS) * 1000;
}

export function yearOfUtc(tz: PosixTz, utcMs: number): number {
  return civilFromDays(Math.floor((Math.floor(utcMs / 1000) + tz.stdOffsetS) / 86400)).y;
}

/** 16 days: more than a rule can move from one year to the next (7 d) plus rule time and offsets (< 8 d). */
export const MARGIN_MS = 16 * 86_400_000;

/** Whether DST is in effect at utcMs (tz must have dst). */
export function isDstAt(tz: PosixTz, d: TzDst, utcMs: number): boolean {
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
