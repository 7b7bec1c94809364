/**
 * POSIX TZ: the parsed form and the results of conversions (docs/timezones.md).
 */
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
export const RULE_HOURS_MAX = 167;
/** Largest hour accepted in an offset. */
export const OFFSET_HOURS_MAX = 24;
