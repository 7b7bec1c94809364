/**
 * What a config may hold: error codes, item limits, allowed keys and formats (docs/config.md).
 * Frozen tables (kept in flash when preloaded).
 */
import type { DispenserConfig, Weekday } from "./types";

export interface ConfigError {
  code: string;
  path: string;
  message: string;
}

export interface HardwareLimits {
  channels: number;
  leds: number;
}

export type ValidateConfigResult = { ok: true; config: DispenserConfig } | { ok: false; errors: ConfigError[] };

/** Every code validateConfig() can return (documented in docs/config.md). */
export const CONFIG_ERROR_CODES = Object.freeze([
  "CFG_TYPE",
  "CFG_REQUIRED",
  "CFG_UNKNOWN_FIELD",
  "CFG_NOT_ALLOWED",
  "CFG_RANGE",
  "CFG_FORMAT",
  "CFG_SCHEMA",
  "CFG_LIMIT",
  "CFG_DUPLICATE",
  "CFG_REFERENCE",
  "CFG_TZ",
  "CFG_WINDOW",
  "CFG_DATES",
  "CFG_HW",
  "CFG_LADDER",
  "CFG_CONFLICT",
  "CFG_NO_MISSED_ESCALATION",
  "CFG_TRUNCATED",
] as const);
export type ConfigErrorCode = (typeof CONFIG_ERROR_CODES)[number];

/** At most this many errors are returned; the last one is then CFG_TRUNCATED. */
export const CONFIG_MAX_ERRORS = 50;

/** Item-count limits (CFG_LIMIT when exceeded). */
export const CONFIG_LIMITS = Object.freeze({
  compartments: 8,
  meds: 8,
  doses: 24,
  prn: 4,
  ladders: 4,
  steps: 12,
  recipients: 5,
} as const);

/** Highest load-cell channel / LED index the format accepts (the hardware may allow fewer). */
export const CONFIG_MAX_INDEX = 255;
/** A remote step must start at most this many minutes after the dose is missed. */
export const MISSED_ESCALATION_GRACE_MIN = 60;
/** Default for defaults.silenceS. */
export const DEFAULT_SILENCE_S = 120;
/** Ladder used by doses that omit `ladder`. */
export const DEFAULT_LADDER_ID = "default";

export const WEEKDAYS: readonly Weekday[] = Object.freeze(["mon", "tue", "wed", "thu", "fri", "sat", "sun"]);

/** No capture groups (see core/log/store HEAD_RE): callers slice the fields. */
export const TIME_RE = /^(?:[01][0-9]|2[0-3]):[0-5][0-9]$/;
export const DATE_RE = /^[0-9]{4}-[0-9]{2}-[0-9]{2}$/;
export const TZ_MAX_BYTES = 64;

export const ROOT_KEYS: readonly string[] = Object.freeze([
  "schema",
  "device",
  "version",
  "tz",
  "compartments",
  "doses",
  "prn",
  "ladders",
  "defaults",
  "help",
  "stock",
  "lang",
]);
export const STOCK_KEYS: readonly string[] = Object.freeze(["lowDays"]);
export const HELP_KEYS: readonly string[] = Object.freeze(["to", "channel"]);
export const COMPARTMENT_KEYS: readonly string[] = Object.freeze(["id", "label", "channel", "led", "meds"]);
export const MED_KEYS: readonly string[] = Object.freeze(["name", "count", "unitMg"]);
export const WINDOW_KEYS: readonly string[] = Object.freeze(["earlyMin", "lateMin", "missedMin"]);
export const DOSE_KEYS: readonly string[] = Object.freeze(["id", "compartment", "at", "days", "start", "end", "window", "ladder"]);
export const PRN_KEYS: readonly string[] = Object.freeze(["id", "compartment", "maxPer24h", "minIntervalMin", "maxPerIntake", "alert"]);
export const LADDER_KEYS: readonly string[] = Object.freeze(["id", "steps"]);
export const STEP_KEYS: readonly string[] = Object.freeze(["afterMin", "channel", "pattern", "volume", "to", "repeat", "everyMin"]);
export const DEFAULTS_KEYS: readonly string[] = Object.freeze(["window", "silenceS"]);
