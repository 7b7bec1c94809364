/**
 * Civil (calendar) date arithmetic: proleptic Gregorian calendar, integer math only.
 *
 * A date is represented by its day number: days since 1970-01-01 (negative before).
 * A time of day is represented in minutes since local midnight (0..1439).
 * Nothing here uses Date or Intl, so results are byte-identical on XS and V8.
 * See docs/timezones.md.
 */

export const MS_PER_DAY = 86_400_000;
export const MS_PER_MINUTE = 60_000;

export interface CivilDate {
  readonly y: number;
  /** 1..12 */
  readonly m: number;
  /** 1..31 */
  readonly d: number;
}

export function isLeapYear(y: number): boolean {
  return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
}

/** Days in month `m` (1..12) of year `y`. */
export function daysInMonth(y: number, m: number): number {
  if (m === 2) return isLeapYear(y) ? 29 : 28;
  return m === 4 || m === 6 || m === 9 || m === 11 ? 30 : 31;
}

/**
 * Day number (days since 1970-01-01) of y-m-d. m is 1..12, d is 1..31; out-of-range d
 * simply counts on from the first of the month (no validation here, see parseDate).
 */
export function daysFromCivil(y: number, m: number, d: number): number {
  const yy = m <= 2 ? y - 1 : y;
  const era = Math.floor(yy / 400);
  const yoe = yy - era * 400; // 0..399
  const mp = m > 2 ? m - 3 : m + 9; // March = 0
  const doy = Math.floor((153 * mp + 2) / 5) + d - 1; // 0..365
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy; // 0..146096
  return era * 146097 + doe - 719468;
}

/** Inverse of daysFromCivil. */
export function civilFromDays(days: number): CivilDate {
  const z = days + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097; // 0..146096
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100)); // 0..365
  const mp = Math.floor((5 * doy + 2) / 153); // 0..11, March = 0
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp < 10 ? mp + 3 : mp - 9;
  const y = yoe + era * 400 + (m <= 2 ? 1 : 0);
  return { y, m, d };
}

/** Day of week of a day number: 0 = Sunday .. 6 = Saturday. */
export function weekday(days: number): number {
  // 1970-01-01 was a Thursday (4).
  return (((days + 4) % 7) + 7) % 7; // never -0
}

function digitsAt(s: string, from: number, count: number): number {
  let v = 0;
  for (let i = from; i < from + count; i++) {
    const c = s.charCodeAt(i) - 48;
    if (!(c >= 0 && c <= 9)) return -1;
    v = v * 10 + c;
  }
  return v;
}

/**
 * Strict "YYYY-MM-DD" (4-digit year, 2-digit month and day) to a day number;
 * undefined when malformed or not a real date (e.g. "2026-02-30").
 */
export function parseDate(s: string): number | undefined {
  if (typeof s !== "string" || s.length !== 10) return undefined;
  if (s.charCodeAt(4) !== 45 || s.charCodeAt(7) !== 45) return undefined; // '-'
  const y = digitsAt(s, 0, 4);
  const m = digitsAt(s, 5, 2);
  const d = digitsAt(s, 8, 2);
  if (y < 0 || m < 1 || m > 12 || d < 1) return undefined;
  if (d > daysInMonth(y, m)) return undefined;
  return daysFromCivil(y, m, d);
}

/** Strict 24-hour "HH:MM" (00:00..23:59) to minutes since midnight; undefined when invalid. */
export function parseHm(s: string): number | undefined {
  if (typeof s !== "string" || s.length !== 5 || s.charCodeAt(2) !== 58) return undefined; // ':'
  const h = digitsAt(s, 0, 2);
  const mi = digitsAt(s, 3, 2);
  if (h < 0 || h > 23 || mi < 0 || mi > 59) return undefined;
  return h * 60 + mi;
}

function pad(n: number, width: number): string {
  let s = String(n);
  while (s.length < width) s = "0" + s;
  return s;
}

/** Year as ISO 8601 writes it: 4 digits for 0..9999, otherwise a sign and 6 digits. */
function isoYear(y: number): string {
  if (y >= 0 && y <= 9999) return pad(y, 4);
  return (y < 0 ? "-" : "+") + pad(y < 0 ? -y : y, 6);
}

/** Day number to "YYYY-MM-DD" (years outside 0..9999 use the ISO expanded form, e.g. "+010000-01-01"). */
export function formatDate(days: number): string {
  const c = civilFromDays(days);
  return isoYear(c.y) + "-" + pad(c.m, 2) + "-" + pad(c.d, 2);
}

/** Minutes since midnight to "HH:MM"; the value is taken modulo one day (1440 → "00:00", -1 → "23:59"). */
export function formatHm(minutes: number): string {
  let m = Math.floor(minutes) % 1440;
  if (m < 0) m += 1440;
  return pad(Math.floor(m / 60), 2) + ":" + pad(m % 60, 2);
}

/**
 * UTC milliseconds since the epoch to "YYYY-MM-DDTHH:MM:SS.sssZ", built from integers
 * (same text as Date.prototype.toISOString for finite values in its range; the fraction
 * of a millisecond is dropped). Non-finite input gives "Invalid Date".
 */
export function isoUtc(ms: number): string {
  if (typeof ms !== "number" || !(ms - ms === 0)) return "Invalid Date";
  const t = Math.floor(ms);
  const days = Math.floor(t / MS_PER_DAY);
  let rem = t - days * MS_PER_DAY; // 0..86399999
  const h = Math.floor(rem / 3_600_000);
  rem -= h * 3_600_000;
  const mi = Math.floor(rem / 60_000);
  rem -= mi * 60_000;
  const sec = Math.floor(rem / 1000);
  const milli = rem - sec * 1000;
  return formatDate(days) + "T" + pad(h, 2) + ":" + pad(mi, 2) + ":" + pad(sec, 2) + "." + pad(milli, 3) + "Z";
}
