/**
 * Labeled cases for the detector benchmark (bench/detect.ts): each case is one bay model
 * (host-sim/kernel/hw/mass-model.ts) with one labeled action, run through a fresh ChannelDetector
 * with the real sampling policy (nextIntervalMs).
 */
import { BayModel, type BayFaultKind } from "../host-sim/kernel/hw/mass-model";
import { ChannelDetector } from "../firmware/core/load/detector";
import type { Medication } from "../firmware/core/config/types";
import type { Calibration, LoadEvent } from "../firmware/core/load/events";
import { gauss12, mulberry32 as prng } from "../test/support/prng";

export type CaseKind = "removal" | "addition" | "lift" | "bump" | "fault" | "idle";

export interface Case {
  readonly id: number;
  readonly kind: CaseKind;
  readonly sps: number;
  readonly seed: number;
  readonly cal: Calibration;
  readonly meds: Medication[];
  /** Model time of the start of the run (varies the temperature-drift phase). */
  readonly t0: number;
  readonly initialGrams: number;
  /** Action start (absolute), duration, and end of the run. */
  readonly at: number;
  readonly dur: number;
  readonly until: number;
  /** removal/addition: true grams moved and pills moved; bump: peak grams. */
  readonly grams: number;
  readonly pills: number;
  /** Smallest unit mass of the pills moved (mg). */
  readonly unitMg: number;
  readonly fault?: BayFaultKind;
  /** The dose mixes medications. */
  readonly mixed: boolean;
  readonly noiseScale: number;
}

export interface CaseResult {
  readonly c: Case;
  readonly events: LoadEvent[];
  readonly samples: number;
  readonly noiseGrams: number;
}

function logUniform(r: () => number, lo: number, hi: number): number {
  return Math.exp(Math.log(lo) + r() * (Math.log(hi) - Math.log(lo)));
}

/** Tablet mass spread used by the generator (relative sd). */
export const PILL_CV_TRUE = 0.03;

export interface GenOptions {
  readonly sps: number;
  readonly removals: number;
  readonly additions: number;
  readonly lifts: number;
  readonly bumps: number;
  readonly faultsPerKind: number;
  readonly seed: number;
  readonly countsPerGram?: number;
  /** Scale on the datasheet noise (1 = datasheet). */
  readonly noiseScale?: number;
  /** Force the unit mass band of removals [lo, hi] mg. */
  readonly unitRange?: readonly [number, number];
}

export function generate(o: GenOptions): Case[] {
  const r = prng(o.seed);
  const cases: Case[] = [];
  const cpg = o.countsPerGram === undefined ? 2147.5 : o.countsPerGram;
  const noiseScale = o.noiseScale === undefined ? 1 : o.noiseScale;
  let id = 0;
  const base = (kind: CaseKind) => {
    const cal: Calibration = { offset: Math.round((r() - 0.5) * 400000), countsPerGram: cpg };
    const t0 = Math.floor(r() * 48) * 3600000 + Math.floor(r() * 3600) * 1000;
    const at = t0 + 8000 + Math.floor(r() * 2000);
    return { id: id++, kind, sps: o.sps, seed: (o.seed * 7919 + id * 104729) >>> 0, cal, t0, at, noiseScale };
  };
  const makeMeds = (): { meds: Medication[]; unit: number } => {
    const range = o.unitRange ?? [50, 1500];
    const u1 = Math.round(logUniform(r, range[0], range[1]));
    const total = 1 + Math.floor(r() * 4);
    if (total >= 2 && r() < 0.3) {
      const u2 = Math.round(logUniform(r, range[0], range[1]));
      const c2 = 1 + Math.floor(r() * (total - 1));
      return {
        meds: [
          { name: "A", count: total - c2, unitMg: u1 },
          { name: "B", count: c2, unitMg: u2 },
        ],
        unit: Math.min(u1, u2),
      };
    }
    return { meds: [{ name: "A", count: total, unitMg: u1 }], unit: u1 };
  };
  const pillMass = (m: Medication, k: number): number => {
    let g = 0;
    for (let i = 0; i < k; i++) g += (m.unitMg / 1000) * (1 + PILL_CV_TRUE * gauss12(r));
    return g;
  };
  for (let i = 0; i < o.removals; i++) {
    const b = base("removal");
    const { meds } = makeMeds();
    // 80 % take the whole dose, 20 % part of it.
    const partial = r() < 0.2;
    let grams = 0;
    let pills = 0;
    let unit = Infinity;
    for (const m of meds) {
      const k = partial ? Math.floor(r() * (m.count + 1)) : m.count;
      grams += pillMass(m, k);
      pills += k;
      if (k > 0) unit = Math.min(unit, m.unitMg);
    }
    if (pills === 0) {
      grams = pillMass(meds[0], 1);
      pills = 1;
      unit = meds[0].unitMg;
    }
    // hand in the bay 1.5-6 s, and 10 % long fumbles of 6-15 s
    const dur = r() < 0.1 ? 6000 + Math.floor(r() * 9000) : 1500 + Math.floor(r() * 4500);
    let dose = 0;
    for (const m of meds) dose += (m.count * m.unitMg) / 1000;
    cases.push({
      ...b,
      mixed: meds.length > 1,
      meds,
      dur,
      until: b.at + dur + 8000,
      grams,
      pills,
      unitMg: unit,
      initialGrams: 30 + r() * 30 + dose,
    });
  }
  for (let i = 0; i < o.additions; i++) {
    const b = base("addition");
    const { meds, unit } = makeMeds();
    let grams = 0;
    let pills = 0;
    for (const m of meds) {
      grams += pillMass(m, m.count);
      pills += m.count;
    }
    const dur = 2000 + Math.floor(r() * 4000);
    cases.push({
      ...b,
      mixed: meds.length > 1,
      meds,
      dur,
      until: b.at + dur + 8000,
      grams,
      pills,
      unitMg: unit,
      initialGrams: 30 + r() * 30,
    });
  }
  for (let i = 0; i < o.lifts; i++) {
    const b = base("lift");
    const { meds, unit } = makeMeds();
    const dur = 1200 + Math.floor(r() * 6000);
    cases.push({
      ...b,
      mixed: meds.length > 1,
      meds,
      dur,
      until: b.at + dur + 8000,
      grams: 0,
      pills: 0,
      unitMg: unit,
      initialGrams: 30 + r() * 30,
    });
  }
  for (let i = 0; i < o.bumps; i++) {
    const b = base("bump");
    const { meds, unit } = makeMeds();
    const peak = i % 4 === 0 ? 500 : 20 + r() * 480;
    const dur = i % 4 === 0 ? 300 : 50 + Math.floor(r() * 250);
    cases.push({
      ...b,
      mixed: meds.length > 1,
      meds,
      dur,
      until: b.at + dur + 8000,
      grams: peak,
      pills: 0,
      unitMg: unit,
      initialGrams: 30 + r() * 30,
    });
  }
  const kinds: BayFaultKind[] = ["disconnect", "stuck", "saturate", "noisy"];
  for (const fk of kinds) {
    for (let i = 0; i < o.faultsPerKind; i++) {
      const b = base("fault");
      const { meds, unit } = makeMeds();
      const dur = 10000 + Math.floor(r() * 10000);
      cases.push({
        ...b,
        mixed: meds.length > 1,
        meds,
        dur,
        until: b.at + dur + 10000,
        grams: 0,
        pills: 0,
        unitMg: unit,
        initialGrams: 30 + r() * 30,
        fault: fk,
      });
    }
  }
  return cases;
}

export function runCase(c: Case): CaseResult {
  const model = new BayModel({
    seed: c.seed,
    sps: c.sps,
    calibration: c.cal,
    initialGrams: c.initialGrams,
    noiseCounts: ((c.sps >= 40 ? 90 : 50) / 1000) * (8388608 / ((0.5 * 3.3e6) / 128)) * c.noiseScale,
  });
  switch (c.kind) {
    case "removal":
      model.removePills(c.at, c.grams, c.dur);
      break;
    case "addition":
      model.addMass(c.at, c.grams, c.dur);
      break;
    case "lift":
      model.liftAndReturn(c.at, c.dur);
      break;
    case "bump":
      model.bump(c.at, c.grams, c.dur);
      break;
    case "fault":
      model.fault(c.at, c.fault!, c.at + c.dur);
      break;
    default:
      break;
  }
  const det = new ChannelDetector({ channel: 0, sps: c.sps, calibration: c.cal, meds: c.meds });
  const events: LoadEvent[] = [];
  let t = c.t0;
  let samples = 0;
  while (t <= c.until) {
    const ev = det.push(model.raw(t), t);
    samples++;
    if (ev) events.push(ev);
    t += det.nextIntervalMs();
  }
  return { c, events, samples, noiseGrams: det.noiseGrams() };
}
