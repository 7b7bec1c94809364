/**
 * The config a device runs, indexed for the core: flattened ladders, doses and PRN entries by id,
 * the parsed time zone. A new config is applied at a safe point (safeToApply).
 */
import type { DispenserConfig, FixedDose, Ladder, PrnDose } from "./types";
import { canonicalJson } from "./canonical";
import { flattenLadder, type Firing } from "../escalation/ladder";
import { parsePosixTz, type PosixTz } from "../schedule/tz";
import { isCalling, type Slot } from "../dose/slots";

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
