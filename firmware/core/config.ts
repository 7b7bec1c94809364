/**
 * Validation of the pharmacist configuration (docs/config.md is the reference).
 *
 * validateConfig() never throws: it walks the input along the expected shape only (it never
 * recurses into unknown values), reads own data properties only (no getters, no inherited
 * fields), and reports every failing field with a stable code and a path such as
 * "doses[2].at". Work is bounded: arrays are read up to their limit, strings are measured
 * only up to their limit, and the error list is capped at CONFIG_MAX_ERRORS entries.
 *
 * On success it returns a deep-frozen normalized copy (defaults filled, keys in a fixed order).
 * XS-clean: ES2022 built-ins only, no I/O, no TextEncoder.
 */

import {
  CONFIG_SCHEMA,
  type Channel,
  type Compartment,
  type ConfigDefaults,
  type DispenserConfig,
  type DoseWindow,
  type EscalationStep,
  type FixedDose,
  type Ladder,
  type Medication,
  type PrnDose,
  type SoundPattern,
  type Weekday,
} from "./config-types";
import { parsePosixTz } from "./tz";

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
export const CONFIG_ERROR_CODES = [
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
] as const;
export type ConfigErrorCode = (typeof CONFIG_ERROR_CODES)[number];

/** At most this many errors are returned; the last one is then CFG_TRUNCATED. */
export const CONFIG_MAX_ERRORS = 50;

/** Item-count limits (CFG_LIMIT when exceeded). */
export const CONFIG_LIMITS = {
  compartments: 8,
  meds: 8,
  doses: 24,
  prn: 4,
  ladders: 4,
  steps: 12,
  recipients: 5,
} as const;

/** Highest load-cell channel / LED index the format accepts (the hardware may allow fewer). */
export const CONFIG_MAX_INDEX = 255;
/** A remote step must start at most this many minutes after the dose is missed. */
export const MISSED_ESCALATION_GRACE_MIN = 60;
/** Default for defaults.silenceS. */
export const DEFAULT_SILENCE_S = 120;
/** Ladder used by doses that omit `ladder`. */
export const DEFAULT_LADDER_ID = "default";

export const WEEKDAYS: readonly Weekday[] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
const CHANNELS: readonly Channel[] = ["led", "sound", "push", "sms", "call"];
const REMOTE: readonly Channel[] = ["push", "sms", "call"];
const PATTERNS: readonly SoundPattern[] = ["chime", "beep", "alarm"];

const ID_RE = /^[a-z0-9_-]{1,12}$/;
const DEVICE_RE = /^[a-z0-9][a-z0-9_-]{0,31}$/;
const RECIPIENT_RE = /^[A-Za-z][A-Za-z0-9_.:-]{0,31}$/;
const TIME_RE = /^([01][0-9]|2[0-3]):([0-5][0-9])$/;
const DATE_RE = /^([0-9]{4})-([0-9]{2})-([0-9]{2})$/;
const TZ_MAX_BYTES = 64;

const ROOT_KEYS = ["schema", "device", "version", "tz", "compartments", "doses", "prn", "ladders", "defaults"];
const COMPARTMENT_KEYS = ["id", "label", "channel", "led", "meds"];
const MED_KEYS = ["name", "count", "unitMg"];
const WINDOW_KEYS = ["earlyMin", "lateMin", "missedMin"];
const DOSE_KEYS = ["id", "compartment", "at", "days", "start", "end", "window", "ladder"];
const PRN_KEYS = ["id", "compartment", "maxPer24h", "minIntervalMin", "alert"];
const LADDER_KEYS = ["id", "steps"];
const STEP_KEYS = ["afterMin", "channel", "pattern", "volume", "to", "repeat", "everyMin"];
const DEFAULTS_KEYS = ["window", "silenceS"];

/**
 * UTF-8 length in bytes of a JS string (UTF-16). A lone surrogate counts 3 bytes, as the
 * U+FFFD it would be encoded as; use isWellFormedText() to refuse those.
 */
export function utf8ByteLength(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n += 4;
        i++;
      } else n += 3;
    } else n += 3;
  }
  return n;
}

/** True when `s` has no lone surrogate and no control character (C0, DEL, C1). */
export function isWellFormedText(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || (c >= 0x7f && c <= 0x9f)) return false;
    if (c >= 0xd800 && c <= 0xdbff) {
      const d = i + 1 < s.length ? s.charCodeAt(i + 1) : 0;
      if (d < 0xdc00 || d > 0xdfff) return false;
      i++;
    } else if (c >= 0xdc00 && c <= 0xdfff) return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// Error collection and safe reading

const MISSING: unique symbol = Symbol("missing");
const ACCESSOR: unique symbol = Symbol("accessor");
type Slot = unknown;

class Ctx {
  readonly errors: ConfigError[] = [];
  full = false;
  add(code: ConfigErrorCode, path: string, message: string): void {
    if (this.full) return;
    if (this.errors.length >= CONFIG_MAX_ERRORS - 1) {
      this.errors.push({
        code: "CFG_TRUNCATED",
        path: "",
        message: `more than ${CONFIG_MAX_ERRORS - 1} errors; the rest are not listed`,
      });
      this.full = true;
      return;
    }
    this.errors.push({ code, path, message });
  }
}

type Obj = Record<string, unknown>;

function isPlainObject(v: unknown): v is Obj {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return false;
  const p = Object.getPrototypeOf(v);
  return p === Object.prototype || p === null;
}

/** Own data property, or MISSING / ACCESSOR. Never runs a getter. */
function own(o: object, k: string | number): Slot {
  const d = Object.getOwnPropertyDescriptor(o, k);
  if (d === undefined) return MISSING;
  if (!("value" in d)) return ACCESSOR;
  return d.value;
}

function describe(v: unknown): string {
  if (v === MISSING) return "nothing";
  if (v === ACCESSOR) return "an accessor property";
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  if (typeof v === "string") {
    const cut = v.length > 24 ? v.slice(0, 24) + "…" : v;
    return `string ${JSON.stringify(cut)}`;
  }
  if (typeof v === "number") return `number ${String(v)}`;
  if (typeof v === "boolean") return `boolean ${String(v)}`;
  return typeof v;
}

function keyPath(base: string, k: string): string {
  const cut = k.length > 32 ? k.slice(0, 32) + "…" : k;
  if (/^[A-Za-z_$][A-Za-z0-9_$]*$/.test(cut)) return base === "" ? cut : `${base}.${cut}`;
  return `${base}[${JSON.stringify(cut)}]`;
}

function at(base: string, k: string): string {
  return base === "" ? k : `${base}.${k}`;
}

/** Checks that v is a plain object and reports unknown own keys. */
function object(ctx: Ctx, v: Slot, path: string, allowed: readonly string[], required = true): Obj | undefined {
  if (v === MISSING) {
    if (required) ctx.add("CFG_REQUIRED", path, "is required");
    return undefined;
  }
  if (!isPlainObject(v)) {
    ctx.add("CFG_TYPE", path, `must be an object, got ${describe(v)}`);
    return undefined;
  }
  const keys = Object.keys(v);
  for (let i = 0; i < keys.length && !ctx.full; i++) {
    const k = keys[i]!;
    if (allowed.indexOf(k) < 0) ctx.add("CFG_UNKNOWN_FIELD", keyPath(path, k), "unknown field");
  }
  return v;
}

/** Checks that v is an array of min..max items; returns the first `max` items (holes read as MISSING). */
function array(ctx: Ctx, v: Slot, path: string, min: number, max: number): Slot[] | undefined {
  if (v === MISSING) {
    ctx.add("CFG_REQUIRED", path, "is required");
    return undefined;
  }
  if (!Array.isArray(v)) {
    ctx.add("CFG_TYPE", path, `must be an array, got ${describe(v)}`);
    return undefined;
  }
  const len = v.length;
  if (len < min) ctx.add("CFG_RANGE", path, `must have at least ${min} item${min === 1 ? "" : "s"}`);
  if (len > max) ctx.add("CFG_LIMIT", path, `has ${len} items, at most ${max} allowed`);
  const out: Slot[] = [];
  const n = len < max ? len : max;
  for (let i = 0; i < n; i++) out.push(own(v, i));
  return out;
}

function required(ctx: Ctx, v: Slot, path: string): boolean {
  if (v === MISSING) {
    ctx.add("CFG_REQUIRED", path, "is required");
    return false;
  }
  return true;
}

function int(ctx: Ctx, v: Slot, path: string, min: number, max: number): number | undefined {
  if (!required(ctx, v, path)) return undefined;
  if (typeof v !== "number" || !Number.isInteger(v)) {
    ctx.add("CFG_TYPE", path, `must be an integer, got ${describe(v)}`);
    return undefined;
  }
  if (v < min || v > max) {
    ctx.add("CFG_RANGE", path, `must be ${min}..${max}, got ${String(v)}`);
    return undefined;
  }
  return v === 0 ? 0 : v; // -0 → 0
}

function num(ctx: Ctx, v: Slot, path: string, min: number, max: number): number | undefined {
  if (!required(ctx, v, path)) return undefined;
  if (typeof v !== "number" || !Number.isFinite(v)) {
    ctx.add("CFG_TYPE", path, `must be a finite number, got ${describe(v)}`);
    return undefined;
  }
  if (v < min || v > max) {
    ctx.add("CFG_RANGE", path, `must be ${min}..${max}, got ${String(v)}`);
    return undefined;
  }
  return v === 0 ? 0 : v;
}

function str(ctx: Ctx, v: Slot, path: string): string | undefined {
  if (!required(ctx, v, path)) return undefined;
  if (typeof v !== "string") {
    ctx.add("CFG_TYPE", path, `must be a string, got ${describe(v)}`);
    return undefined;
  }
  return v;
}

/** A string matching `re` (ASCII patterns). */
function token(ctx: Ctx, v: Slot, path: string, re: RegExp, what: string): string | undefined {
  const s = str(ctx, v, path);
  if (s === undefined) return undefined;
  if (!re.test(s)) {
    ctx.add("CFG_FORMAT", path, `must be ${what}, got ${describe(s)}`);
    return undefined;
  }
  return s;
}

/** Free text (names, labels): 1..maxBytes UTF-8 bytes, no control characters, no lone surrogates. */
function text(ctx: Ctx, v: Slot, path: string, maxBytes: number): string | undefined {
  const s = str(ctx, v, path);
  if (s === undefined) return undefined;
  // Each UTF-16 code unit encodes to at least one byte: cheap rejection of huge strings.
  const bytes = s.length > maxBytes ? s.length : utf8ByteLength(s);
  if (bytes < 1 || bytes > maxBytes) {
    ctx.add("CFG_RANGE", path, `must be 1..${maxBytes} UTF-8 bytes, got ${bytes}`);
    return undefined;
  }
  if (!isWellFormedText(s)) {
    ctx.add("CFG_FORMAT", path, "must not contain control characters or lone surrogates");
    return undefined;
  }
  return s;
}

function oneOf<T extends string>(ctx: Ctx, v: Slot, path: string, values: readonly T[]): T | undefined {
  const s = str(ctx, v, path);
  if (s === undefined) return undefined;
  const i = values.indexOf(s as T);
  if (i < 0) {
    ctx.add("CFG_FORMAT", path, `must be one of ${values.join(", ")}, got ${describe(s)}`);
    return undefined;
  }
  return values[i];
}

function daysInMonth(y: number, m: number): number {
  if (m === 2) return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0 ? 29 : 28;
  return m === 4 || m === 6 || m === 9 || m === 11 ? 30 : 31;
}

function date(ctx: Ctx, v: Slot, path: string): string | undefined {
  const s = str(ctx, v, path);
  if (s === undefined) return undefined;
  const m = DATE_RE.exec(s);
  let ok = false;
  if (m) {
    const y = Number(m[1]);
    const mo = Number(m[2]);
    const d = Number(m[3]);
    ok = y >= 2000 && y <= 2099 && mo >= 1 && mo <= 12 && d >= 1 && d <= daysInMonth(y, mo);
  }
  if (!ok) {
    ctx.add("CFG_FORMAT", path, `must be a calendar date "YYYY-MM-DD" in 2000..2099, got ${describe(s)}`);
    return undefined;
  }
  return s;
}

/** A list of unique recipient references. */
function recipients(ctx: Ctx, v: Slot, path: string, min: number): string[] | undefined {
  const items = array(ctx, v, path, min, CONFIG_LIMITS.recipients);
  if (items === undefined) return undefined;
  const out: string[] = [];
  let bad = items.length < min || (Array.isArray(v) && v.length > CONFIG_LIMITS.recipients);
  for (let i = 0; i < items.length; i++) {
    const p = `${path}[${i}]`;
    const r = token(ctx, items[i], p, RECIPIENT_RE, "a recipient reference [A-Za-z][A-Za-z0-9_.:-]{0,31}");
    if (r === undefined) {
      bad = true;
      continue;
    }
    if (out.indexOf(r) >= 0) {
      ctx.add("CFG_DUPLICATE", p, `recipient ${JSON.stringify(r)} is listed twice`);
      bad = true;
      continue;
    }
    out.push(r);
  }
  return bad ? undefined : out;
}

// ---------------------------------------------------------------------------------------------
// Sections. Each returns the normalized value, or undefined when something in it failed.

function checkWindow(ctx: Ctx, v: Slot, path: string): DoseWindow | undefined {
  const o = object(ctx, v, path, WINDOW_KEYS);
  if (o === undefined) return undefined;
  const n = ctx.errors.length;
  const earlyMin = int(ctx, own(o, "earlyMin"), at(path, "earlyMin"), 0, 240);
  const lateMin = int(ctx, own(o, "lateMin"), at(path, "lateMin"), 1, 720);
  const missedMin = int(ctx, own(o, "missedMin"), at(path, "missedMin"), 1, 720);
  if (lateMin !== undefined && missedMin !== undefined && lateMin >= missedMin) {
    ctx.add("CFG_WINDOW", path, `lateMin (${lateMin}) must be less than missedMin (${missedMin})`);
  }
  if (ctx.errors.length !== n || earlyMin === undefined || lateMin === undefined || missedMin === undefined) {
    return undefined;
  }
  return { earlyMin, lateMin, missedMin };
}

function checkMed(ctx: Ctx, v: Slot, path: string): Medication | undefined {
  const o = object(ctx, v, path, MED_KEYS);
  if (o === undefined) return undefined;
  const n = ctx.errors.length;
  const name = text(ctx, own(o, "name"), at(path, "name"), 40);
  const count = int(ctx, own(o, "count"), at(path, "count"), 1, 10);
  const unitMg = num(ctx, own(o, "unitMg"), at(path, "unitMg"), 20, 3000);
  if (ctx.errors.length !== n || name === undefined || count === undefined || unitMg === undefined) return undefined;
  return { name, count, unitMg };
}

function checkCompartment(ctx: Ctx, v: Slot, path: string, hw: HardwareLimits): Compartment | undefined {
  const o = object(ctx, v, path, COMPARTMENT_KEYS);
  if (o === undefined) return undefined;
  const n = ctx.errors.length;
  const id = token(ctx, own(o, "id"), at(path, "id"), ID_RE, "an id [a-z0-9_-]{1,12}");
  const label = text(ctx, own(o, "label"), at(path, "label"), 24);
  const channel = int(ctx, own(o, "channel"), at(path, "channel"), 0, CONFIG_MAX_INDEX);
  if (channel !== undefined && channel >= hw.channels) {
    ctx.add("CFG_HW", at(path, "channel"), `channel ${channel} does not exist: the hardware has ${hw.channels} (0..${hw.channels - 1})`);
  }
  const led = int(ctx, own(o, "led"), at(path, "led"), 0, CONFIG_MAX_INDEX);
  if (led !== undefined && led >= hw.leds) {
    ctx.add("CFG_HW", at(path, "led"), `LED ${led} does not exist: the hardware has ${hw.leds} (0..${hw.leds - 1})`);
  }
  const mp = at(path, "meds");
  const items = array(ctx, own(o, "meds"), mp, 1, CONFIG_LIMITS.meds);
  const meds: Medication[] = [];
  if (items !== undefined) {
    for (let i = 0; i < items.length && !ctx.full; i++) {
      const m = checkMed(ctx, items[i], `${mp}[${i}]`);
      if (m === undefined) continue;
      let dup = false;
      for (let j = 0; j < meds.length; j++) if (meds[j]!.name === m.name) dup = true;
      if (dup)
        ctx.add(
          "CFG_DUPLICATE",
          `${mp}[${i}].name`,
          `medication ${JSON.stringify(m.name)} is listed twice in this compartment (use count)`,
        );
      else meds.push(m);
    }
  }
  if (ctx.errors.length !== n || id === undefined || label === undefined || channel === undefined || led === undefined) {
    return undefined;
  }
  return { id, label, channel, led, meds };
}

interface DoseDraft {
  dose: FixedDose | undefined;
  /** Fields usable by cross-checks even when another field of the dose failed. */
  id: string | undefined;
  compartment: string | undefined;
  minute: number | undefined;
  days: Weekday[] | undefined;
  start: string | undefined;
  end: string | undefined;
  window: DoseWindow | undefined;
  windowGiven: boolean;
  ladder: string | undefined;
  ladderGiven: boolean;
}

function checkDose(ctx: Ctx, v: Slot, path: string): DoseDraft | undefined {
  const o = object(ctx, v, path, DOSE_KEYS);
  if (o === undefined) return undefined;
  const n = ctx.errors.length;
  const id = token(ctx, own(o, "id"), at(path, "id"), ID_RE, "an id [a-z0-9_-]{1,12}");
  const compartment = token(ctx, own(o, "compartment"), at(path, "compartment"), ID_RE, "a compartment id");
  const atStr = str(ctx, own(o, "at"), at(path, "at"));
  let minute: number | undefined;
  if (atStr !== undefined) {
    const m = TIME_RE.exec(atStr);
    if (m) minute = Number(m[1]) * 60 + Number(m[2]);
    else ctx.add("CFG_FORMAT", at(path, "at"), `must be a local time "HH:MM" (00:00..23:59), got ${describe(atStr)}`);
  }
  let days: Weekday[] | undefined;
  const dv = own(o, "days");
  if (dv === MISSING) days = WEEKDAYS.slice();
  else {
    const dp = at(path, "days");
    const items = array(ctx, dv, dp, 1, 7);
    if (items !== undefined) {
      const seen: boolean[] = [false, false, false, false, false, false, false];
      let bad = items.length === 0;
      for (let i = 0; i < items.length; i++) {
        const d = oneOf(ctx, items[i], `${dp}[${i}]`, WEEKDAYS);
        if (d === undefined) {
          bad = true;
          continue;
        }
        const k = WEEKDAYS.indexOf(d);
        if (seen[k]) {
          ctx.add("CFG_DUPLICATE", `${dp}[${i}]`, `day ${JSON.stringify(d)} is listed twice`);
          bad = true;
        }
        seen[k] = true;
      }
      if (!bad) days = WEEKDAYS.filter((_, k) => seen[k]); // normalized: week order
    }
  }
  const sv = own(o, "start");
  const start = sv === MISSING ? undefined : date(ctx, sv, at(path, "start"));
  const ev = own(o, "end");
  const end = ev === MISSING ? undefined : date(ctx, ev, at(path, "end"));
  if (start !== undefined && end !== undefined && start > end) {
    ctx.add("CFG_DATES", at(path, "end"), `end ${end} is before start ${start}`);
  }
  const wv = own(o, "window");
  const windowGiven = wv !== MISSING;
  const window = windowGiven ? checkWindow(ctx, wv, at(path, "window")) : undefined;
  const lv = own(o, "ladder");
  const ladderGiven = lv !== MISSING;
  const ladder = ladderGiven ? token(ctx, lv, at(path, "ladder"), ID_RE, "a ladder id") : DEFAULT_LADDER_ID;

  let dose: FixedDose | undefined;
  if (
    ctx.errors.length === n &&
    id !== undefined &&
    compartment !== undefined &&
    atStr !== undefined &&
    days !== undefined &&
    ladder !== undefined
  ) {
    // window is filled in later from defaults when not given.
    const d: { -readonly [K in keyof FixedDose]: FixedDose[K] } = { id, compartment, at: atStr, days };
    if (start !== undefined) d.start = start;
    if (end !== undefined) d.end = end;
    if (window !== undefined) d.window = window;
    d.ladder = ladder;
    dose = d;
  }
  return { dose, id, compartment, minute, days, start, end, window, windowGiven, ladder, ladderGiven };
}

function checkPrn(
  ctx: Ctx,
  v: Slot,
  path: string,
): { prn: PrnDose | undefined; id: string | undefined; compartment: string | undefined } | undefined {
  const o = object(ctx, v, path, PRN_KEYS);
  if (o === undefined) return undefined;
  const n = ctx.errors.length;
  const id = token(ctx, own(o, "id"), at(path, "id"), ID_RE, "an id [a-z0-9_-]{1,12}");
  const compartment = token(ctx, own(o, "compartment"), at(path, "compartment"), ID_RE, "a compartment id");
  const maxPer24h = int(ctx, own(o, "maxPer24h"), at(path, "maxPer24h"), 1, 12);
  const minIntervalMin = int(ctx, own(o, "minIntervalMin"), at(path, "minIntervalMin"), 0, 1440);
  const alert = recipients(ctx, own(o, "alert"), at(path, "alert"), 0);
  let prn: PrnDose | undefined;
  if (
    ctx.errors.length === n &&
    id !== undefined &&
    compartment !== undefined &&
    maxPer24h !== undefined &&
    minIntervalMin !== undefined &&
    alert !== undefined
  ) {
    prn = { id, compartment, maxPer24h, minIntervalMin, alert };
  }
  return { prn, id, compartment };
}

function checkStep(ctx: Ctx, v: Slot, path: string): EscalationStep | undefined {
  const o = object(ctx, v, path, STEP_KEYS);
  if (o === undefined) return undefined;
  const n = ctx.errors.length;
  const afterMin = int(ctx, own(o, "afterMin"), at(path, "afterMin"), 0, 1440);
  const channel = oneOf(ctx, own(o, "channel"), at(path, "channel"), CHANNELS);
  const pv = own(o, "pattern");
  const vv = own(o, "volume");
  const tv = own(o, "to");
  let pattern: SoundPattern | undefined;
  let volume: number | undefined;
  let to: string[] | undefined;
  if (channel === "sound") {
    pattern = oneOf(ctx, pv, at(path, "pattern"), PATTERNS);
    volume = int(ctx, vv, at(path, "volume"), 1, 100);
  } else if (channel !== undefined) {
    if (pv !== MISSING) ctx.add("CFG_NOT_ALLOWED", at(path, "pattern"), `pattern is only allowed on sound steps, not ${channel}`);
    if (vv !== MISSING) ctx.add("CFG_NOT_ALLOWED", at(path, "volume"), `volume is only allowed on sound steps, not ${channel}`);
  }
  if (channel !== undefined && REMOTE.indexOf(channel) >= 0) {
    to = recipients(ctx, tv, at(path, "to"), 1);
  } else if (channel !== undefined && tv !== MISSING) {
    ctx.add("CFG_NOT_ALLOWED", at(path, "to"), `recipients are only allowed on push, sms and call steps, not ${channel}`);
  }
  const rv = own(o, "repeat");
  const ev = own(o, "everyMin");
  const repeat = rv === MISSING ? undefined : int(ctx, rv, at(path, "repeat"), 0, 10);
  const everyMin = ev === MISSING ? undefined : int(ctx, ev, at(path, "everyMin"), 1, 1440);
  if (repeat !== undefined && repeat > 0 && ev === MISSING) {
    ctx.add("CFG_REQUIRED", at(path, "everyMin"), "is required when repeat > 0");
  }
  if (ev !== MISSING && (rv === MISSING || repeat === 0)) {
    ctx.add("CFG_NOT_ALLOWED", at(path, "everyMin"), "everyMin is only allowed with repeat > 0");
  }
  if (afterMin !== undefined && repeat !== undefined && everyMin !== undefined && afterMin + repeat * everyMin > 1440) {
    ctx.add("CFG_RANGE", at(path, "repeat"), `last repetition would be ${afterMin + repeat * everyMin} min after due, at most 1440`);
  }
  if (ctx.errors.length !== n || afterMin === undefined || channel === undefined) return undefined;
  const s: { -readonly [K in keyof EscalationStep]: EscalationStep[K] } = { afterMin, channel };
  if (pattern !== undefined) s.pattern = pattern;
  if (volume !== undefined) s.volume = volume;
  if (to !== undefined) s.to = to;
  if (repeat !== undefined) s.repeat = repeat;
  if (everyMin !== undefined) s.everyMin = everyMin;
  return s;
}

function checkLadder(ctx: Ctx, v: Slot, path: string): { ladder: Ladder | undefined; id: string | undefined } | undefined {
  const o = object(ctx, v, path, LADDER_KEYS);
  if (o === undefined) return undefined;
  const n = ctx.errors.length;
  const id = token(ctx, own(o, "id"), at(path, "id"), ID_RE, "an id [a-z0-9_-]{1,12}");
  const sp = at(path, "steps");
  const items = array(ctx, own(o, "steps"), sp, 1, CONFIG_LIMITS.steps);
  const steps: EscalationStep[] = [];
  if (items !== undefined) {
    let prev: number | undefined;
    for (let i = 0; i < items.length && !ctx.full; i++) {
      const p = `${sp}[${i}]`;
      const s = checkStep(ctx, items[i], p);
      if (s === undefined) {
        prev = undefined;
        continue;
      }
      if (i === 0 && (s.afterMin !== 0 || (s.channel !== "led" && s.channel !== "sound"))) {
        ctx.add("CFG_LADDER", p, `a ladder must start with a local step (led or sound) at afterMin 0, got ${s.channel} at ${s.afterMin}`);
      }
      if (prev !== undefined && s.afterMin < prev) {
        ctx.add("CFG_LADDER", at(p, "afterMin"), `steps must be ordered by afterMin: ${s.afterMin} comes after ${prev}`);
      }
      prev = s.afterMin;
      steps.push(s);
    }
  }
  if (ctx.errors.length !== n || id === undefined) return { ladder: undefined, id };
  return { ladder: { id, steps }, id };
}

function checkDefaults(ctx: Ctx, v: Slot, path: string): ConfigDefaults | undefined {
  const o = object(ctx, v, path, DEFAULTS_KEYS);
  if (o === undefined) return undefined;
  const window = checkWindow(ctx, own(o, "window"), at(path, "window"));
  const sv = own(o, "silenceS");
  const silenceS = sv === MISSING ? DEFAULT_SILENCE_S : int(ctx, sv, at(path, "silenceS"), 10, 900);
  if (window === undefined || silenceS === undefined) return undefined;
  return { window, silenceS };
}

// ---------------------------------------------------------------------------------------------
// Cross-checks

const WEEK_MIN = 7 * 1440;

/** True when two doses' windows [due - earlyMin, due + missedMin) share a minute of the week. */
function windowsOverlap(a: DoseDraft, wa: DoseWindow, b: DoseDraft, wb: DoseWindow): string | undefined {
  // Disjoint date ranges never overlap.
  if (a.end !== undefined && b.start !== undefined && a.end < b.start) return undefined;
  if (b.end !== undefined && a.start !== undefined && b.end < a.start) return undefined;
  for (const da of a.days!) {
    const ka = WEEKDAYS.indexOf(da);
    const a0 = ka * 1440 + a.minute! - wa.earlyMin;
    const a1 = ka * 1440 + a.minute! + wa.missedMin;
    for (const db of b.days!) {
      const kb = WEEKDAYS.indexOf(db);
      for (let shift = -WEEK_MIN; shift <= WEEK_MIN; shift += WEEK_MIN) {
        const b0 = kb * 1440 + b.minute! - wb.earlyMin + shift;
        const b1 = kb * 1440 + b.minute! + wb.missedMin + shift;
        if (a0 < b1 && b0 < a1) return da;
      }
    }
  }
  return undefined;
}

function checkRoot(ctx: Ctx, input: unknown, hw: HardwareLimits): DispenserConfig | undefined {
  const root = object(ctx, input, "", ROOT_KEYS);
  if (root === undefined) return undefined;

  // schema first: a config of another schema version is not read further.
  const schemaV = own(root, "schema");
  const schema = int(ctx, schemaV, "schema", 0, Number.MAX_SAFE_INTEGER);
  if (schema !== undefined && schema !== CONFIG_SCHEMA) {
    ctx.add("CFG_SCHEMA", "schema", `unsupported schema ${schema}, this firmware reads schema ${CONFIG_SCHEMA}`);
    return undefined;
  }
  const device = token(ctx, own(root, "device"), "device", DEVICE_RE, "a device id [a-z0-9][a-z0-9_-]{0,31}");
  const version = int(ctx, own(root, "version"), "version", 1, Number.MAX_SAFE_INTEGER);

  let tz = str(ctx, own(root, "tz"), "tz");
  if (tz !== undefined) {
    const bytes = tz.length > TZ_MAX_BYTES ? tz.length : utf8ByteLength(tz);
    if (bytes < 1 || bytes > TZ_MAX_BYTES) {
      ctx.add("CFG_RANGE", "tz", `must be 1..${TZ_MAX_BYTES} bytes, got ${bytes}`);
      tz = undefined;
    } else {
      let r: ReturnType<typeof parsePosixTz>;
      try {
        r = parsePosixTz(tz);
      } catch {
        r = { ok: false, error: { code: "TZ_SYNTAX", pos: 0, message: "the TZ parser failed" } };
      }
      if (!r.ok) {
        ctx.add("CFG_TZ", "tz", `invalid POSIX TZ at position ${r.error.pos}: ${r.error.message}`);
        tz = undefined;
      }
    }
  }

  // compartments
  const compartments: Compartment[] = [];
  const compIds: string[] = [];
  const compItems = array(ctx, own(root, "compartments"), "compartments", 1, CONFIG_LIMITS.compartments);
  if (compItems !== undefined) {
    const channels: number[] = [];
    const leds: number[] = [];
    for (let i = 0; i < compItems.length && !ctx.full; i++) {
      const p = `compartments[${i}]`;
      const c = checkCompartment(ctx, compItems[i], p, hw);
      // Ids are collected from the raw item too, so a dose pointing at a compartment that
      // has another error does not also get CFG_REFERENCE.
      const rawId = isPlainObject(compItems[i]) ? own(compItems[i] as Obj, "id") : MISSING;
      const cid = c ? c.id : typeof rawId === "string" && ID_RE.test(rawId) ? rawId : undefined;
      if (cid !== undefined) {
        if (compIds.indexOf(cid) >= 0) ctx.add("CFG_DUPLICATE", `${p}.id`, `compartment id ${JSON.stringify(cid)} is used twice`);
        else compIds.push(cid);
      }
      if (c === undefined) continue;
      if (channels.indexOf(c.channel) >= 0) ctx.add("CFG_DUPLICATE", `${p}.channel`, `channel ${c.channel} is used by two compartments`);
      if (leds.indexOf(c.led) >= 0) ctx.add("CFG_DUPLICATE", `${p}.led`, `LED ${c.led} is used by two compartments`);
      channels.push(c.channel);
      leds.push(c.led);
      compartments.push(c);
    }
  }

  // doses
  const drafts: DoseDraft[] = [];
  const doseIdx: number[] = [];
  const allIds: string[] = [];
  const doseItems = array(ctx, own(root, "doses"), "doses", 0, CONFIG_LIMITS.doses);
  if (doseItems !== undefined) {
    for (let i = 0; i < doseItems.length && !ctx.full; i++) {
      const d = checkDose(ctx, doseItems[i], `doses[${i}]`);
      if (d === undefined) continue;
      if (d.id !== undefined) {
        if (allIds.indexOf(d.id) >= 0) ctx.add("CFG_DUPLICATE", `doses[${i}].id`, `dose id ${JSON.stringify(d.id)} is used twice`);
        else allIds.push(d.id);
      }
      drafts.push(d);
      doseIdx.push(i);
    }
  }

  // prn (optional, default [])
  const prns: PrnDose[] = [];
  const prnDrafts: { id: string | undefined; compartment: string | undefined; index: number }[] = [];
  const prnV = own(root, "prn");
  const prnItems = prnV === MISSING ? [] : array(ctx, prnV, "prn", 0, CONFIG_LIMITS.prn);
  if (prnItems !== undefined) {
    for (let i = 0; i < prnItems.length && !ctx.full; i++) {
      const r = checkPrn(ctx, prnItems[i], `prn[${i}]`);
      if (r === undefined) continue;
      if (r.id !== undefined) {
        if (allIds.indexOf(r.id) >= 0)
          ctx.add("CFG_DUPLICATE", `prn[${i}].id`, `id ${JSON.stringify(r.id)} is already used by a dose or prn`);
        else allIds.push(r.id);
      }
      prnDrafts.push({ id: r.id, compartment: r.compartment, index: i });
      if (r.prn) prns.push(r.prn);
    }
  }

  // ladders
  const ladders: Ladder[] = [];
  const ladderIds: string[] = [];
  const ladderOk: boolean[] = [];
  const ladderItems = array(ctx, own(root, "ladders"), "ladders", 0, CONFIG_LIMITS.ladders);
  if (ladderItems !== undefined) {
    for (let i = 0; i < ladderItems.length && !ctx.full; i++) {
      const r = checkLadder(ctx, ladderItems[i], `ladders[${i}]`);
      if (r === undefined || r.id === undefined) continue;
      if (ladderIds.indexOf(r.id) >= 0) {
        ctx.add("CFG_DUPLICATE", `ladders[${i}].id`, `ladder id ${JSON.stringify(r.id)} is used twice`);
        continue;
      }
      ladderIds.push(r.id);
      ladderOk.push(r.ladder !== undefined);
      if (r.ladder) ladders.push(r.ladder);
    }
  }

  const defaults = checkDefaults(ctx, own(root, "defaults"), "defaults");

  // --- references
  if (compItems !== undefined) {
    for (let k = 0; k < drafts.length; k++) {
      const d = drafts[k]!;
      if (d.compartment !== undefined && compIds.indexOf(d.compartment) < 0) {
        ctx.add("CFG_REFERENCE", `doses[${doseIdx[k]}].compartment`, `no compartment with id ${JSON.stringify(d.compartment)}`);
      }
    }
    for (const r of prnDrafts) {
      if (r.compartment !== undefined && compIds.indexOf(r.compartment) < 0) {
        ctx.add("CFG_REFERENCE", `prn[${r.index}].compartment`, `no compartment with id ${JSON.stringify(r.compartment)}`);
      }
    }
  }
  if (ladderItems !== undefined) {
    for (let k = 0; k < drafts.length; k++) {
      const d = drafts[k]!;
      if (d.ladderGiven && d.ladder !== undefined && ladderIds.indexOf(d.ladder) < 0) {
        ctx.add("CFG_REFERENCE", `doses[${doseIdx[k]}].ladder`, `no ladder with id ${JSON.stringify(d.ladder)}`);
      }
    }
  }

  // --- conflicts: a PRN compartment is dedicated; fixed-dose windows on one compartment never overlap
  for (let a = 0; a < prnDrafts.length; a++) {
    const r = prnDrafts[a]!;
    if (r.compartment === undefined) continue;
    let other: string | undefined;
    for (let k = 0; k < drafts.length && other === undefined; k++) {
      if (drafts[k]!.compartment === r.compartment) other = `doses[${doseIdx[k]}]`;
    }
    for (let b = 0; b < a && other === undefined; b++) {
      if (prnDrafts[b]!.compartment === r.compartment) other = `prn[${prnDrafts[b]!.index}]`;
    }
    if (other !== undefined) {
      ctx.add(
        "CFG_CONFLICT",
        `prn[${r.index}].compartment`,
        `compartment ${JSON.stringify(r.compartment)} is also used by ${other}; a PRN compartment must be dedicated`,
      );
    }
  }
  const effWindow = (d: DoseDraft): DoseWindow | undefined => (d.windowGiven ? d.window : defaults?.window);
  for (let b = 0; b < drafts.length && !ctx.full; b++) {
    const db = drafts[b]!;
    const wb = effWindow(db);
    if (db.compartment === undefined || db.minute === undefined || db.days === undefined || wb === undefined) continue;
    for (let a = 0; a < b; a++) {
      const da = drafts[a]!;
      const wa = effWindow(da);
      if (da.compartment !== db.compartment || da.minute === undefined || da.days === undefined || wa === undefined) continue;
      const day = windowsOverlap(da, wa, db, wb);
      if (day !== undefined) {
        ctx.add(
          "CFG_CONFLICT",
          `doses[${doseIdx[b]}].at`,
          `window of this dose overlaps the window of doses[${doseIdx[a]}] on compartment ${JSON.stringify(db.compartment)} (${day}): a removal could not be attributed`,
        );
        break;
      }
    }
  }

  // --- safety: missed-dose escalation can never be disabled
  if (ladderItems !== undefined) {
    const reported: boolean[] = [];
    for (let k = 0; k < drafts.length && !ctx.full; k++) {
      const d = drafts[k]!;
      const p = `doses[${doseIdx[k]}]`;
      if (d.ladder === undefined) continue;
      const li = ladderIds.indexOf(d.ladder);
      if (li < 0) {
        if (!d.ladderGiven) {
          ctx.add(
            "CFG_NO_MISSED_ESCALATION",
            `${p}.ladder`,
            `ladder omitted means ${JSON.stringify(DEFAULT_LADDER_ID)}, and there is no ladder with that id`,
          );
        }
        continue; // explicit unknown ladder: CFG_REFERENCE above
      }
      if (!ladderOk[li]) continue; // the ladder has its own errors
      const ladder = ladders.find((l) => l.id === d.ladder)!;
      let first: number | undefined;
      for (const s of ladder.steps) {
        if (REMOTE.indexOf(s.channel) >= 0 && s.to !== undefined && s.to.length > 0 && (first === undefined || s.afterMin < first))
          first = s.afterMin;
      }
      if (first === undefined) {
        if (!reported[li]) {
          const lp = `ladders[${ladderItems.findIndex((x) => isPlainObject(x) && own(x as Obj, "id") === d.ladder)}]`;
          ctx.add(
            "CFG_NO_MISSED_ESCALATION",
            lp,
            `ladder ${JSON.stringify(d.ladder)} is used by a fixed dose but has no push, sms or call step`,
          );
          reported[li] = true;
        }
        continue;
      }
      const w = effWindow(d);
      if (w === undefined) continue;
      const limit = w.missedMin + MISSED_ESCALATION_GRACE_MIN;
      if (first > limit) {
        ctx.add(
          "CFG_NO_MISSED_ESCALATION",
          `${p}.ladder`,
          `first remote step of ladder ${JSON.stringify(d.ladder)} is at ${first} min, later than missedMin + ${MISSED_ESCALATION_GRACE_MIN} = ${limit}`,
        );
      }
    }
  }

  if (ctx.errors.length > 0) return undefined;
  // Everything parsed: assemble the normalized config in a fixed key order.
  const doses: FixedDose[] = [];
  for (const d of drafts) {
    const x = d.dose!;
    const out: { -readonly [K in keyof FixedDose]: FixedDose[K] } = { id: x.id, compartment: x.compartment, at: x.at, days: x.days };
    if (x.start !== undefined) out.start = x.start;
    if (x.end !== undefined) out.end = x.end;
    out.window = x.window ?? { ...defaults!.window };
    out.ladder = x.ladder;
    doses.push(out);
  }
  return {
    schema: schema!,
    device: device!,
    version: version!,
    tz: tz!,
    compartments,
    doses,
    prn: prns,
    ladders,
    defaults: defaults!,
  };
}

function deepFreeze<T>(v: T): T {
  if (typeof v === "object" && v !== null && !Object.isFrozen(v)) {
    Object.freeze(v);
    const keys = Object.keys(v);
    for (let i = 0; i < keys.length; i++) deepFreeze((v as Obj)[keys[i]!]);
  }
  return v;
}

function normHw(hw: unknown): HardwareLimits {
  const pick = (k: string): number => {
    if (!isPlainObject(hw) && !(typeof hw === "object" && hw !== null)) return 0;
    const v = own(hw as object, k);
    return typeof v === "number" && Number.isInteger(v) && v >= 0 ? (v > CONFIG_MAX_INDEX + 1 ? CONFIG_MAX_INDEX + 1 : v) : 0;
  };
  return { channels: pick("channels"), leds: pick("leds") };
}

/**
 * Validates a configuration received from the pharmacist (any JSON-like value).
 * `hw` gives how many load-cell channels and LEDs this dispenser has.
 * Never throws. On success the config is a deep-frozen normalized copy.
 */
export function validateConfig(input: unknown, hw: HardwareLimits): ValidateConfigResult {
  const ctx = new Ctx();
  let config: DispenserConfig | undefined;
  try {
    config = checkRoot(ctx, input, normHw(hw));
  } catch {
    // Only exotic inputs (proxies, engine limits) can get here.
    config = undefined;
    ctx.full = false;
    if (ctx.errors.length >= CONFIG_MAX_ERRORS) ctx.errors.length = CONFIG_MAX_ERRORS - 1;
    ctx.errors.push({ code: "CFG_TYPE", path: "", message: "the input could not be read as plain JSON data" });
  }
  if (config === undefined || ctx.errors.length > 0) {
    if (ctx.errors.length === 0) ctx.errors.push({ code: "CFG_TYPE", path: "", message: "invalid configuration" });
    return { ok: false, errors: ctx.errors };
  }
  return { ok: true, config: deepFreeze(config) };
}
