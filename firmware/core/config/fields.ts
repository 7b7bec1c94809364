/**
 * Safe reading of untrusted JSON-like input for the config validator: error collection with a
 * cap, own data properties only (never a getter), typed field readers that report a code and a
 * path. XS-clean.
 */
import { daysInMonth } from "../schedule/civil";
import { RECIPIENT_RE } from "../protocol/ids";
import { CONFIG_LIMITS, CONFIG_MAX_ERRORS, DATE_RE, type ConfigError, type ConfigErrorCode } from "./limits";

/** UTF-8 length in bytes (lone surrogates count 3, as the U+FFFD they are encoded as). */
import { utf8Length as utf8ByteLength } from "../crypto/utf8";

export { utf8ByteLength };

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

export const MISSING: unique symbol = Symbol("missing");
export const ACCESSOR: unique symbol = Symbol("accessor");
export type Slot = unknown;

export class Ctx {
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

export type Obj = Record<string, unknown>;

export function isPlainObject(v: unknown): v is Obj {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return false;
  const p = Object.getPrototypeOf(v);
  return p === Object.prototype || p === null;
}

/** Own data property, or MISSING / ACCESSOR. Never runs a getter. */
export function own(o: object, k: string | number): Slot {
  const d = Object.getOwnPropertyDescriptor(o, k);
  if (d === undefined) return MISSING;
  if (!("value" in d)) return ACCESSOR;
  return d.value;
}

export function describe(v: unknown): string {
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

export function keyPath(base: string, k: string): string {
  const cut = k.length > 32 ? k.slice(0, 32) + "…" : k;
  if (/^[A-Za-z_$][A-Za-z0-9_$]*$/.test(cut)) return base === "" ? cut : `${base}.${cut}`;
  return `${base}[${JSON.stringify(cut)}]`;
}

export function at(base: string, k: string): string {
  return base === "" ? k : `${base}.${k}`;
}

/** Checks that v is a plain object and reports unknown own keys. */
export function object(ctx: Ctx, v: Slot, path: string, allowed: readonly string[], required = true): Obj | undefined {
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
export function array(ctx: Ctx, v: Slot, path: string, min: number, max: number): Slot[] | undefined {
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

export function required(ctx: Ctx, v: Slot, path: string): boolean {
  if (v === MISSING) {
    ctx.add("CFG_REQUIRED", path, "is required");
    return false;
  }
  return true;
}

export function int(ctx: Ctx, v: Slot, path: string, min: number, max: number): number | undefined {
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

export function num(ctx: Ctx, v: Slot, path: string, min: number, max: number): number | undefined {
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

export function str(ctx: Ctx, v: Slot, path: string): string | undefined {
  if (!required(ctx, v, path)) return undefined;
  if (typeof v !== "string") {
    ctx.add("CFG_TYPE", path, `must be a string, got ${describe(v)}`);
    return undefined;
  }
  return v;
}

/** A string matching `re` (ASCII patterns). */
export function token(ctx: Ctx, v: Slot, path: string, re: RegExp, what: string): string | undefined {
  const s = str(ctx, v, path);
  if (s === undefined) return undefined;
  if (!re.test(s)) {
    ctx.add("CFG_FORMAT", path, `must be ${what}, got ${describe(s)}`);
    return undefined;
  }
  return s;
}

/** Free text (names, labels): 1..maxBytes UTF-8 bytes, no control characters, no lone surrogates. */
export function text(ctx: Ctx, v: Slot, path: string, maxBytes: number): string | undefined {
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

export function oneOf<T extends string>(ctx: Ctx, v: Slot, path: string, values: readonly T[]): T | undefined {
  const s = str(ctx, v, path);
  if (s === undefined) return undefined;
  const i = values.indexOf(s as T);
  if (i < 0) {
    ctx.add("CFG_FORMAT", path, `must be one of ${values.join(", ")}, got ${describe(s)}`);
    return undefined;
  }
  return values[i];
}

export function date(ctx: Ctx, v: Slot, path: string): string | undefined {
  const s = str(ctx, v, path);
  if (s === undefined) return undefined;
  let ok = false;
  if (DATE_RE.test(s)) {
    const y = Number(s.slice(0, 4));
    const mo = Number(s.slice(5, 7));
    const d = Number(s.slice(8, 10));
    ok = y >= 2000 && y <= 2099 && mo >= 1 && mo <= 12 && d >= 1 && d <= daysInMonth(y, mo);
  }
  if (!ok) {
    ctx.add("CFG_FORMAT", path, `must be a calendar date "YYYY-MM-DD" in 2000..2099, got ${describe(s)}`);
    return undefined;
  }
  return s;
}

/** A list of unique recipient references. */
export function recipients(ctx: Ctx, v: Slot, path: string, min: number): string[] | undefined {
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
