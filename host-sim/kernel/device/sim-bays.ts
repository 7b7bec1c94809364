/**
 * The load-cell bays of a simulated dispenser: one BayModel per channel, loaded from the factory
 * config, and the patient's actions on them addressed by compartment, as the running config
 * (which may arrive over the link) defines the compartments.
 */
import type { DispenserConfig } from "../../../firmware/core/config/types";
import { BayModel } from "../hw/mass-model";
import { type Amount, type BayFault, type CompInfo, compartmentsOf, doseMg, simCalibration, TRAY_GRAMS } from "./sim-config";

export interface BaysOptions {
  readonly channels: number;
  readonly sps: 10 | 80;
  readonly seed: number;
  readonly loadedDoses: number;
  readonly config: Record<string, unknown>;
}

export class SimBays {
  readonly bays: BayModel[] = [];
  /** Compartments of the factory config; replaced by the running config's (see compartment()). */
  private comps: Map<string, CompInfo>;
  /** The running config `comps` was derived from. */
  private compsOf: unknown = undefined;

  constructor(
    o: BaysOptions,
    private readonly running: () => DispenserConfig | undefined,
  ) {
    this.comps = compartmentsOf(o.config);
    for (let ch = 0; ch < o.channels; ch++) {
      let grams = TRAY_GRAMS;
      for (const c of this.comps.values()) if (c.channel === ch) grams += (o.loadedDoses * doseMg(c)) / 1000;
      this.bays.push(
        new BayModel({ seed: o.seed * 7919 + ch * 104_729 + 1, sps: o.sps, calibration: simCalibration(ch), initialGrams: grams }),
      );
    }
  }

  remove(t: number, comp: string, amount: Amount, durationMs: number): boolean {
    const c = this.compartment(comp);
    if (c === undefined) return false;
    this.bays[c.channel].removePills(t, this.mgOf(c, amount) / 1000, durationMs);
    return true;
  }

  add(t: number, comp: string, amount: Amount, durationMs: number): boolean {
    const c = this.compartment(comp);
    if (c === undefined) return false;
    this.bays[c.channel].addMass(t, this.mgOf(c, amount) / 1000, durationMs);
    return true;
  }

  bump(t: number, comp: string, grams: number, durationMs: number): boolean {
    const c = this.compartment(comp);
    if (c === undefined) return false;
    this.bays[c.channel].bump(t, grams, durationMs);
    return true;
  }

  lift(t: number, comp: string, durationMs: number): boolean {
    const c = this.compartment(comp);
    if (c === undefined) return false;
    this.bays[c.channel].liftAndReturn(t, durationMs);
    return true;
  }

  fault(t: number, comp: string, kind: BayFault, durationMs?: number): boolean {
    const c = this.compartment(comp);
    if (c === undefined) return false;
    if (durationMs !== undefined) this.bays[c.channel].fault(t, kind, t + durationMs);
    else this.bays[c.channel].fault(t, kind);
    return true;
  }

  /** True mass on each bay (grams). */
  trueGrams(t: number): number[] {
    return this.bays.map((b) => Math.round(b.grams(t) * 1000) / 1000);
  }

  /** A compartment as the running config defines it (a config may arrive over the link). */
  private compartment(id: string): CompInfo | undefined {
    const cfg = this.running();
    if (cfg !== undefined && cfg !== this.compsOf) {
      this.compsOf = cfg;
      this.comps = compartmentsOf(cfg as unknown as Record<string, unknown>);
    }
    return this.comps.get(id);
  }

  private mgOf(c: CompInfo, a: Amount): number {
    if ("doses" in a) return a.doses * doseMg(c);
    if ("pills" in a) return a.pills * (c.meds.length > 0 ? c.meds[0].unitMg : 0);
    return a.mg;
  }
}
