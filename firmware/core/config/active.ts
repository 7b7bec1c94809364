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
import { isCalling, isOpen, makeSlot, windowOf, type Slot } from "../dose/slots";
import type { EventClass } from "../log/eventlog";
import { EV, type EventType } from "../protocol/events";
import { isoUtc, MS_PER_MINUTE } from "../schedule/civil";
import { occurrencesBetween } from "../schedule/occurrences";
import type { WalEntry } from "../log/journal";

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

/**
 * The slots when config `next` replaces `prev`: slots whose dose is unchanged are kept; the
 * others are cancelled (with a resolve when the relay was asked). New or changed doses are not
 * made retroactive: nothing already due is created, but a window that is open and not yet due
 * is (the patient may still take it early).
 */
export function rebaseSlots(
  log: (type: EventType, cls: EventClass, data: Record<string, unknown>) => void,
  prev: Active | undefined,
  next: Active,
  st: StateRecord,
  now: number | undefined,
): void {
  // Keep slots whose dose is unchanged; cancel the others (with a resolve if the relay was asked).
  const kept: Slot[] = [];
  for (const s of st.slots) {
    const before = prev?.doses.get(s.dose);
    const after = next.doses.get(s.dose);
    if (sameDose(before, after)) {
      kept.push(s);
    } else if (isOpen(s) || s.remote) {
      log(EV.SLOT_CANCELLED, "dose", { slot: s.id, reason: "config" });
      if (s.remote) log(EV.RELAY_RESOLVE, "dose", { slot: s.id, outcome: "cancelled" });
    }
  }
  st.slots = kept;
  if (now !== undefined) {
    // New or changed doses are not made retroactive: nothing already due is created, but a
    // window that is open and not yet due is (the patient may still take it early).
    for (const dose of next.cfg.doses) {
      if (prev !== undefined && sameDose(prev.doses.get(dose.id), dose)) continue;
      const w = windowOf(next.cfg, dose);
      for (const o of occurrencesBetween(dose, next.tz, now + 1, now + w.earlyMin * MS_PER_MINUTE + 1, 2)) {
        if (!st.slots.some((x) => x.id === o.slotId)) {
          const slot = makeSlot(o.slotId, dose, o.dueUtcMs, w);
          st.slots.push(slot);
          log(EV.SLOT_OPEN, "info", { slot: slot.id, comp: slot.comp, due: isoUtc(slot.due) });
        }
      }
    }
    if (prev === undefined || st.cursor === 0 || st.cursor > now) st.cursor = now;
  }
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
  };
}
