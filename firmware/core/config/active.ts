/**
 * The config a device runs, indexed for the core: flattened ladders, doses and PRN entries by id,
 * the parsed time zone. A new config is applied at a safe point (safeToApply).
 */
import type { DispenserConfig, FixedDose, Ladder, PrnDose } from "./types";
import { canonicalJson } from "./canonical";
import { configHash } from "./hash";
import { type ConfigError, validateConfig } from "./validate";
import type { DeviceIdentity } from "../device-api";
import { flattenLadder, type Firing } from "../escalation/ladder";
import { parsePosixTz, type PosixTz } from "../schedule/tz";
import { isCalling, type Slot } from "../dose/slots";
import type { WalEntry } from "../log/journal";
import { parseRetired } from "../dose/retired";

export interface ApplyRecord {
  readonly config: DispenserConfig;
  readonly hash: string;
}

export interface StateRecord {
  /** Occurrences whose window opened at or before this wall time are materialised. */
  cursor: number;
  slots: Slot[];
  silencedUntil: number;
  prn: Record<string, number[]>;
  /** Events announced with the last save, not yet known to be logged (core/log/journal). */
  wal?: WalEntry[];
  /** Ids of finished slots, newest last (core/dose/retired). */
  done?: string[];
  /** Last settled mass per channel: [grams, wall time] (core/dose/while-off). */
  mass?: Record<string, [number, number | null]>;
  /** Compartments in a low-stock episode (core/dose/stock). */
  low?: string[];
  /** Refill expectations: compartment → [doses, until wall ms] (core/dose/stock). */
  expect?: Record<string, [number, number]>;
}

export interface Active {
  readonly cfg: DispenserConfig;
  readonly hash: string;
  readonly tz: PosixTz;
  readonly ladders: Map<string, Firing[]>;
  readonly doses: Map<string, FixedDose>;
  readonly prnByComp: Map<string, PrnDose>;
}

export function sameDose(a: FixedDose | undefined, b: FixedDose | undefined): boolean {
  return a !== undefined && b !== undefined && canonicalJson(a) === canonicalJson(b);
}

export function activate(rec: ApplyRecord): Active {
  const cfg = rec.config;
  const tzr = parsePosixTz(cfg.tz);
  if (!tzr.ok) throw new RangeError("validated config with bad tz");
  const ladders = new Map<string, Firing[]>();
  for (const l of cfg.ladders) ladders.set(l.id, flattenLadder(l as Ladder));
  const doses = new Map<string, FixedDose>();
  for (const d of cfg.doses) doses.set(d.id, d);
  const prnByComp = new Map<string, PrnDose>();
  for (const p of cfg.prn) prnByComp.set(p.compartment, p);
  return { cfg, hash: rec.hash, tz: tzr.tz, ladders, doses, prnByComp };
}

export function firingsOf(a: Active, slot: Slot): Firing[] {
  const dose = a.doses.get(slot.dose);
  return a.ladders.get(dose?.ladder ?? "default") ?? [];
}

/**
 * A new config is applied at a safe point: when no slot is calling for its dose, or at once
 * when every calling slot's dose is changed or removed by the new config (the change concerns it).
 */
export function safeToApply(active: Active | undefined, slots: readonly Slot[], next: DispenserConfig): boolean {
  if (!active) return true;
  for (const s of slots) {
    if (!isCalling(s)) continue;
    const before = active.doses.get(s.dose);
    const after = next.doses.find((d) => d.id === s.dose);
    if (sameDose(before, after)) return false;
  }
  return true;
}

export type Admission =
  | { readonly ok: true; readonly rec: ApplyRecord }
  | { readonly ok: false; readonly code: "CFG_INVALID" | "CFG_WRONG_DEVICE" | "CFG_STALE"; readonly errors: readonly ConfigError[] };

/** A config that passed authentication: valid for this hardware, addressed to this device, newer than `newest`. */
export function admitConfig(raw: unknown, identity: DeviceIdentity, newest: ApplyRecord | undefined): Admission {
  const v = validateConfig(raw, identity.hw);
  if (!v.ok) return { ok: false, code: "CFG_INVALID", errors: v.errors };
  const cfg = v.config;
  if (cfg.device !== identity.deviceId) {
    return {
      ok: false,
      code: "CFG_WRONG_DEVICE",
      errors: [{ code: "CFG_WRONG_DEVICE", path: "device", message: `addressed to ${cfg.device}` }],
    };
  }
  if (newest !== undefined && cfg.version <= newest.config.version) {
    return {
      ok: false,
      code: "CFG_STALE",
      errors: [{ code: "CFG_STALE", path: "version", message: `version ${cfg.version} is not above ${newest.config.version}` }],
    };
  }
  return { ok: true, rec: { config: cfg, hash: configHash(canonicalJson(cfg)) } };
}

/** The persisted state record, checked field by field; undefined when absent or unusable. */
export function parseState(rec: StateRecord | undefined): StateRecord | undefined {
  if (!rec || typeof rec !== "object" || !Array.isArray(rec.slots)) return undefined;
  return {
    cursor: typeof rec.cursor === "number" ? rec.cursor : 0,
    slots: rec.slots,
    silencedUntil: typeof rec.silencedUntil === "number" ? rec.silencedUntil : 0,
    prn: rec.prn ?? {},
    wal: Array.isArray(rec.wal) ? rec.wal : undefined,
    done: parseRetired(rec.done),
    mass: parseMass(rec.mass),
  };
}

function parseMass(x: unknown): Record<string, [number, number | null]> | undefined {
  if (x === null || typeof x !== "object" || Array.isArray(x)) return undefined;
  const out: Record<string, [number, number | null]> = {};
  for (const [k, v] of Object.entries(x as Record<string, unknown>)) {
    if (!(k.length <= 2 && String(Number(k)) === k) || !Array.isArray(v) || typeof v[0] !== "number" || !Number.isFinite(v[0])) continue;
    out[k] = [v[0], typeof v[1] === "number" && Number.isFinite(v[1]) ? v[1] : null];
  }
  return out;
}
