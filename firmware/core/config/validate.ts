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

import { CONFIG_SCHEMA, type Compartment, type DispenserConfig, type FixedDose, type Ladder, type PrnDose } from "./types";
import { parsePosixTz } from "../schedule/tz";
import { DEVICE_ID_RE as DEVICE_RE, ITEM_ID_RE as ID_RE } from "../protocol/ids";
import { crossCheck, type PrnDraft } from "./cross-checks";
import { array, Ctx, int, isPlainObject, MISSING, type Obj, object, oneOf, own, str, token, utf8ByteLength } from "./fields";
import { LANGUAGES } from "../protocol/channels";
import {
  CONFIG_LIMITS,
  CONFIG_MAX_ERRORS,
  CONFIG_MAX_INDEX,
  type HardwareLimits,
  ROOT_KEYS,
  TZ_MAX_BYTES,
  type ValidateConfigResult,
} from "./limits";
import { checkCompartment, checkDefaults, checkDose, checkHelp, checkLadder, checkPrn, checkStockConfig, type DoseDraft } from "./sections";

export * from "./limits";
export { isWellFormedText, utf8ByteLength } from "./fields";

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
  const prnDrafts: PrnDraft[] = [];
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
  const helpV = own(root, "help");
  const help = helpV === MISSING ? undefined : checkHelp(ctx, helpV, "help");
  const stockV = own(root, "stock");
  const stock = stockV === MISSING ? undefined : checkStockConfig(ctx, stockV, "stock");
  const langV = own(root, "lang");
  const lang = langV === MISSING ? undefined : oneOf(ctx, langV, "lang", LANGUAGES);

  crossCheck(ctx, { compItems, compIds, drafts, doseIdx, prnDrafts, ladderItems, ladderIds, ladderOk, ladders, defaults });

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
    ...(help !== undefined ? { help } : {}),
    ...(stock !== undefined ? { stock } : {}),
    ...(lang !== undefined ? { lang } : {}),
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
