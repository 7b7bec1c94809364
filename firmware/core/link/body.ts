/**
 * Checks of the signed bodies the link receives (docs/protocol.md, "Signed bodies"):
 * a config body { type: "config", device, version, issuedAt, expires, config } and a command
 * body { type: "cmd", name, device, id, issuedAt, expires, args }.
 *
 * Only shape and time are checked here; the signature was verified by openEnvelope before,
 * and the config itself is validated by the dispenser. XS-clean.
 */
import { daysFromCivil, daysInMonth } from "../schedule/civil";
import { isObj } from "../protocol/json";

export interface BodyError {
  readonly code: string;
  readonly path: string;
}

/** Largest accepted clock skew of `issuedAt` ahead of the device clock. */
export const MAX_FUTURE_SKEW_MS = 5 * 60_000;
/** A command may be valid for at most this long (expires − issuedAt): bounds the replay window. */
export const CMD_MAX_LIFETIME_MS = 60 * 60_000;
/** Command ids: 1..40 of [A-Za-z0-9_-]. */
export const CMD_ID_MAX = 40;
export const COMMAND_NAMES: readonly string[] = Object.freeze([
  "tare",
  "calibrate",
  "identify",
  "silence",
  "refill",
  "keys",
  "decommission",
  "ota",
]);

function digits(s: string, from: number, n: number): number {
  let v = 0;
  for (let i = from; i < from + n; i++) {
    const c = s.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return -1;
    v = v * 10 + c;
  }
  return v;
}

/**
 * Parse "YYYY-MM-DDTHH:MM:SS[.f{1,3}]Z" (UTC only) to epoch ms; undefined when malformed.
 * Built from integers: no Date parsing quirks across engines.
 */
export function parseIsoUtc(s: unknown): number | undefined {
  if (typeof s !== "string" || s.length < 20 || s.length > 24) return undefined;
  if (s[4] !== "-" || s[7] !== "-" || s[10] !== "T" || s[13] !== ":" || s[16] !== ":" || s[s.length - 1] !== "Z") return undefined;
  const y = digits(s, 0, 4);
  const mo = digits(s, 5, 2);
  const d = digits(s, 8, 2);
  const h = digits(s, 11, 2);
  const mi = digits(s, 14, 2);
  const se = digits(s, 17, 2);
  if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > daysInMonth(y, mo) || h < 0 || h > 23 || mi < 0 || mi > 59 || se < 0 || se > 59) {
    return undefined;
  }
  let ms = 0;
  if (s.length > 20) {
    if (s[19] !== "." || s.length === 21) return undefined;
    const n = s.length - 21;
    const f = digits(s, 20, n);
    if (f < 0) return undefined;
    ms = n === 1 ? f * 100 : n === 2 ? f * 10 : f;
  }
  return daysFromCivil(y, mo, d) * 86_400_000 + h * 3_600_000 + mi * 60_000 + se * 1000 + ms;
}

export interface TimedBody {
  readonly device: string;
  readonly issuedAt: number;
  readonly expires: number;
}

export interface ConfigBody extends TimedBody {
  readonly version: number;
  readonly config: Record<string, unknown>;
}

export interface CommandBody extends TimedBody {
  readonly name: string;
  readonly id: string;
  readonly args: Record<string, unknown>;
}

export type BodyResult<T> = { ok: true; body: T } | { ok: false; code: string; errors: BodyError[] };

function field(errors: BodyError[], path: string): void {
  if (errors.length < 8) errors.push({ code: "PROTO_FIELD", path });
}

function timed(b: Record<string, unknown>, errors: BodyError[]): { device: string; issuedAt: number; expires: number } {
  const device = typeof b.device === "string" && b.device.length > 0 && b.device.length <= 32 ? b.device : "";
  if (device === "") field(errors, "device");
  const issuedAt = parseIsoUtc(b.issuedAt);
  if (issuedAt === undefined) field(errors, "issuedAt");
  const expires = parseIsoUtc(b.expires);
  if (expires === undefined) field(errors, "expires");
  if (issuedAt !== undefined && expires !== undefined && expires <= issuedAt) field(errors, "expires");
  return { device, issuedAt: issuedAt ?? 0, expires: expires ?? 0 };
}

/** Shape of a config body; `config.version` must equal `version` (CFG_VERSION_MISMATCH). */
export function checkConfigBody(body: unknown): BodyResult<ConfigBody> {
  const errors: BodyError[] = [];
  if (!isObj(body) || body.type !== "config") {
    return { ok: false, code: "PROTO_FIELD", errors: [{ code: "PROTO_FIELD", path: "type" }] };
  }
  const t = timed(body, errors);
  const version = body.version;
  if (!(typeof version === "number" && Number.isInteger(version) && version >= 1)) field(errors, "version");
  const config = body.config;
  if (!isObj(config)) field(errors, "config");
  if (errors.length > 0) return { ok: false, code: "PROTO_FIELD", errors };
  const cfg = config as Record<string, unknown>;
  if (cfg.version !== version) {
    return { ok: false, code: "CFG_VERSION_MISMATCH", errors: [{ code: "CFG_VERSION_MISMATCH", path: "config.version" }] };
  }
  return { ok: true, body: { device: t.device, issuedAt: t.issuedAt, expires: t.expires, version: version as number, config: cfg } };
}

function validId(id: unknown): id is string {
  if (typeof id !== "string" || id.length < 1 || id.length > CMD_ID_MAX) return false;
  for (let i = 0; i < id.length; i++) {
    const c = id.charCodeAt(i);
    const ok = (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 45 || c === 95;
    if (!ok) return false;
  }
  return true;
}

/** Shape of a command body; `name` must equal the topic's command name. */
export function checkCommandBody(body: unknown, topicName: string): BodyResult<CommandBody> {
  const errors: BodyError[] = [];
  if (!isObj(body) || body.type !== "cmd") {
    return { ok: false, code: "PROTO_FIELD", errors: [{ code: "PROTO_FIELD", path: "type" }] };
  }
  if (body.name !== topicName) field(errors, "name");
  const t = timed(body, errors);
  if (!validId(body.id)) field(errors, "id");
  const args = body.args === undefined ? {} : body.args;
  if (!isObj(args)) field(errors, "args");
  if (errors.length > 0) return { ok: false, code: "PROTO_FIELD", errors };
  if (t.expires - t.issuedAt > CMD_MAX_LIFETIME_MS) {
    return { ok: false, code: "CMD_LIFETIME", errors: [{ code: "CMD_LIFETIME", path: "expires" }] };
  }
  return {
    ok: true,
    body: {
      device: t.device,
      issuedAt: t.issuedAt,
      expires: t.expires,
      name: topicName,
      id: body.id as string,
      args: args as Record<string, unknown>,
    },
  };
}

/** Time window check against the device's wall clock: undefined when acceptable, else the code suffix. */
export function timeWindow(b: TimedBody, now: number): "EXPIRED" | "NOT_YET" | undefined {
  if (b.expires < now) return "EXPIRED";
  if (b.issuedAt > now + MAX_FUTURE_SKEW_MS) return "NOT_YET";
  return undefined;
}
