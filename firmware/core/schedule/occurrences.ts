/**
 * Fixed doses -> concrete due instants.
 *
 * A dose has one slot per local date it applies to; the slot id is `${dose.id}@${localDate}`
 * whatever UTC day (or local day, once late) it is actually taken on.
 * Local times that do not exist (spring forward) or exist twice (fall back) follow the
 * policy of core/tz.ts localToUtc: skipped -> the transition instant, repeated -> the first one.
 * So every slot fires exactly once. See docs/timezones.md.
 */

import type { FixedDose, Weekday } from "../config/types";
import { MS_PER_DAY, MS_PER_MINUTE, formatDate, formatHm, parseDate, parseHm, weekday } from "./civil";
import { localToUtc, type LocalKind, type PosixTz } from "./tz";

export interface Occurrence {
  readonly doseId: string;
  /** `${doseId}@${localDate}`, e.g. "am@2026-03-29". */
  readonly slotId: string;
  /** Local date of the slot, "YYYY-MM-DD". */
  readonly localDate: string;
  /** Local wall time "HH:MM" as configured. */
  readonly at: string;
  /** Due instant, UTC ms. */
  readonly dueUtcMs: number;
  /** How the local time resolved: normal, gap (moved to the transition instant) or fold (first occurrence). */
  readonly kind: LocalKind;
}

/** Bit mask of weekdays (bit 0 = Sunday, as civil.weekday). */
const WEEKDAY_BIT: Readonly<Record<Weekday, number>> = Object.freeze({ sun: 1, mon: 2, tue: 4, wed: 8, thu: 16, fri: 32, sat: 64 });
const ALL_DAYS = 127;

/** Largest `max` honoured by occurrencesBetween (heap bound). */
export const OCCURRENCES_MAX = 1024;

interface Plan {
  readonly atMin: number;
  readonly mask: number;
  readonly startDay: number; // -Infinity when open
  readonly endDay: number; // +Infinity when open
}

/** Decodes the dose; undefined when it can never occur (bad time/date, empty days, end < start). */
function plan(dose: FixedDose): Plan | undefined {
  const atMin = parseHm(dose.at);
  if (atMin === undefined) return undefined;
  let mask = ALL_DAYS;
  if (dose.days !== undefined) {
    mask = 0;
    for (const d of dose.days) mask |= WEEKDAY_BIT[d] ?? 0;
  }
  if (mask === 0) return undefined;
  let startDay = -Infinity;
  let endDay = Infinity;
  if (dose.start !== undefined) {
    const s = parseDate(dose.start);
    if (s === undefined) return undefined;
    startDay = s;
  }
  if (dose.end !== undefined) {
    const e = parseDate(dose.end);
    if (e === undefined) return undefined;
    endDay = e;
  }
  if (endDay < startDay) return undefined;
  return { atMin, mask, startDay, endDay };
}

function occurrence(dose: FixedDose, p: Plan, tz: PosixTz, day: number): Occurrence {
  const localDate = formatDate(day);
  const r = localToUtc(tz, day * MS_PER_DAY + p.atMin * MS_PER_MINUTE);
  return { doseId: dose.id, slotId: dose.id + "@" + localDate, localDate, at: formatHm(p.atMin), dueUtcMs: r.utcMs, kind: r.kind };
}

function largestOffsetMs(tz: PosixTz): number {
  const d = tz.dst;
  return (d !== undefined && d.offsetS > tz.stdOffsetS ? d.offsetS : tz.stdOffsetS) * 1000;
}

function smallestOffsetMs(tz: PosixTz): number {
  const d = tz.dst;
  return (d !== undefined && d.offsetS < tz.stdOffsetS ? d.offsetS : tz.stdOffsetS) * 1000;
}

/**
 * Occurrences with fromUtcMs <= dueUtcMs < toUtcMs, ascending, at most min(max, OCCURRENCES_MAX).
 * toUtcMs may be Infinity. Work is bounded by about 7 * max days whatever the range.
 * A dose whose `at`, `start` or `end` does not parse, or whose `days` is empty, has no occurrence
 * (core/config.ts refuses such configs before they get here).
 */
export function occurrencesBetween(dose: FixedDose, tz: PosixTz, fromUtcMs: number, toUtcMs: number, max: number): Occurrence[] {
  const out: Occurrence[] = [];
  const limit = Math.min(Math.floor(max), OCCURRENCES_MAX);
  if (!(limit > 0) || !(fromUtcMs < toUtcMs) || fromUtcMs !== fromUtcMs) return out;
  const p = plan(dose);
  if (p === undefined) return out;
  // Every due instant lies in [local - largestOffset, local - smallestOffset] (gaps included),
  // so the first local date that can reach fromUtcMs is:
  let day = Math.floor((fromUtcMs + smallestOffsetMs(tz) - p.atMin * MS_PER_MINUTE) / MS_PER_DAY);
  if (!(day - day === 0)) day = p.startDay; // fromUtcMs = -Infinity
  if (day < p.startDay) day = p.startDay;
  if (!(day - day === 0)) return out; // both open: no lower bound given
  const lastDay =
    toUtcMs === Infinity
      ? p.endDay
      : Math.min(p.endDay, Math.floor((toUtcMs + largestOffsetMs(tz) - p.atMin * MS_PER_MINUTE) / MS_PER_DAY) + 1);
  // Due instants increase with the local date (consecutive dates are >= 20 h apart), so stop at the first one >= toUtcMs.
  for (; day <= lastDay; day++) {
    if ((p.mask & (1 << weekday(day))) === 0) continue;
    const o = occurrence(dose, p, tz, day);
    if (o.dueUtcMs < fromUtcMs) continue;
    if (o.dueUtcMs >= toUtcMs) break;
    out.push(o);
    if (out.length >= limit) break;
  }
  return out;
}

/**
 * First occurrence with dueUtcMs > afterUtcMs, or undefined when the dose has ended.
 * Looks at no more than about 9 local dates (it jumps straight to `start`).
 */
export function nextOccurrence(dose: FixedDose, tz: PosixTz, afterUtcMs: number): Occurrence | undefined {
  const r = occurrencesBetween(dose, tz, Math.floor(afterUtcMs) + 1, Infinity, 1);
  return r.length > 0 ? r[0] : undefined;
}

/** The slot id of a dose on a local date ("am@2026-03-29"). */
export function slotIdOf(doseId: string, localDate: string): string {
  return doseId + "@" + localDate;
}
