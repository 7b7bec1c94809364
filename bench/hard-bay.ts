/**
 * Harder physics for the detector benchmark (bench/detect-hard.ts), over the simulator's bay model
 * (host-sim/kernel/hw/mass-model.ts), which stays as the scenarios use it. Node only (bench).
 *
 * Added to each reading, all pure functions of (seed, t):
 * - noise correlated between readings (value noise, knots 2 periods apart) so that the total is
 *   1.0–1.35× the datasheet figure, plus a slow wander (knots 20 s apart, ≈ 0.5× its rms);
 * - 50 Hz hum seen through the chip's rate error (±4 %): aliased to a slow beat;
 * - heating cycles: a zero that swings at up to ≈ 0.5 g/h (period 30–60 min);
 * - hysteresis / settling: after each hand action the level keeps moving 3–20 mg (1 in 10:
 *   25–45 mg) in the direction of the step, time constant 3–15 s;
 * - rebound: the box rocks on its feet after the hand leaves, ≈ 0.9 % of the press at 6–10 Hz,
 *   decaying with a time constant of 0.15–0.5 s (a box on rubber feet: Q ≈ 4–12);
 * - pours: a mass step with no hand (pills poured in without touching the tray);
 * - spikes: rare corrupted single readings (a high bit flipped).
 * The model's own: chip filter, white noise, slow temperature drift, creep, hands, faults.
 */
import { BayModel, type BayFaultKind, hash3, TWO32 } from "../host-sim/kernel/hw/mass-model";
import type { Calibration } from "../firmware/core/load/events";

export interface HardOptions {
  seed: number;
  /** Nominal rate the detector assumes. */
  sps: number;
  calibration: Calibration;
  initialGrams: number;
  /** Chip rate error (−0.04..0.04): the chip converts at sps·(1+e). */
  rateError: number;
  /** Total noise as a multiple of the datasheet figure (1.0–1.35). */
  noiseFactor: number;
  /** Heating-cycle zero swing, largest slope in g/h (0: none). */
  heatGPerH: number;
  /** Corrupted readings per reading (e.g. 1/3000). */
  spikeRate: number;
  /** Hum amplitude, counts. */
  humCounts: number;
}

interface Relax {
  at: number;
  grams: number;
  tauMs: number;
}
interface Rock {
  at: number;
  amp: number;
  hz: number;
  decayMs: number;
}

const u32 = (seed: number, key: number, salt: number) => hash3(seed, key, salt) / TWO32;
const smooth = (u: number) => (u <= 0 ? 0 : u >= 1 ? 1 : u * u * (3 - 2 * u));

export class HardBay {
  readonly model: BayModel;
  private readonly o: HardOptions;
  private readonly white: number;
  private readonly corr: number;
  private readonly relax: Relax[] = [];
  private readonly rocks: Rock[] = [];
  private readonly pours: { at: number; grams: number }[] = [];
  private readonly faults: { at: number; until: number; kind: BayFaultKind }[] = [];
  private seq = 0;
  private readonly heatPeriodMs: number;
  private readonly heatPhase: number;

  constructor(o: HardOptions) {
    this.o = o;
    this.white = ((o.sps >= 40 ? 90 : 50) / 1000) * (8388608 / ((0.5 * 3.3e6) / 128));
    this.corr = this.white * Math.sqrt(Math.max(0, o.noiseFactor * o.noiseFactor - 1));
    this.model = new BayModel({
      seed: o.seed,
      sps: o.sps * (1 + o.rateError),
      calibration: o.calibration,
      initialGrams: o.initialGrams,
      noiseCounts: this.white,
    });
    this.heatPeriodMs = (30 + 30 * u32(o.seed, 1, 91)) * 60000;
    this.heatPhase = u32(o.seed, 2, 91);
  }

  private r(salt: number): number {
    return u32(this.o.seed, this.seq++, 300 + salt);
  }

  /** A hand action just ended at `endMs` after moving `netG` (signed) with a press of about pressG. */
  private after(endMs: number, netG: number, pressG: number): void {
    // 3–20 mg, and 1 in 10 settles 25–45 mg further (as seen after some removals).
    const mag = this.r(10) < 0.1 ? 0.025 + 0.02 * this.r(1) : 0.003 + 0.017 * this.r(1);
    const h = mag * (netG === 0 ? (this.r(2) < 0.5 ? -1 : 1) : Math.sign(netG));
    this.relax.push({ at: endMs, grams: h, tauMs: 3000 + 12000 * this.r(3) });
    this.rocks.push({ at: endMs, amp: 0.009 * pressG, hz: 6 + 4 * this.r(4), decayMs: 150 + 350 * this.r(5) });
  }

  removePills(at: number, grams: number, dur: number): void {
    this.model.removePills(at, grams, dur);
    this.after(at + dur, -grams, 20 + 280 * this.r(6));
  }
  addMass(at: number, grams: number, dur: number): void {
    this.model.addMass(at, grams, dur);
    this.after(at + dur, grams, 20 + 280 * this.r(7));
  }
  /** A hand resting on the tray (no net change), long. */
  restHand(at: number, dur: number): void {
    this.addMass(at, 0, dur);
  }
  liftAndReturn(at: number, dur: number): void {
    this.model.liftAndReturn(at, dur);
    this.after(at + dur, 0, 40);
  }
  bump(at: number, peakG: number, dur: number): void {
    this.model.bump(at, peakG, dur);
    this.rocks.push({ at: at + dur, amp: 0.01 * peakG, hz: 6 + 4 * this.r(8), decayMs: 150 + 350 * this.r(9) });
  }
  /** Pills poured in (or dropped back) without a hand on the tray: a step with a small impact. */
  pour(at: number, grams: number): void {
    this.pours.push({ at, grams });
    this.rocks.push({ at: at + 200, amp: 3 * grams, hz: 8, decayMs: 200 });
    this.relax.push({ at: at + 200, grams: 0.3 * grams * 0.05, tauMs: 4000 });
  }
  fault(at: number, kind: BayFaultKind, until: number): void {
    this.model.fault(at, kind, until);
    this.faults.push({ at, until, kind });
  }

  /** Extra load in grams at t (settling, rocking, pours, heating). */
  private extraGrams(t: number): number {
    let g = 0;
    for (const x of this.relax) if (t > x.at) g += x.grams * (1 - Math.exp(-(t - x.at) / x.tauMs));
    for (const x of this.rocks)
      if (t > x.at && t < x.at + 4 * x.decayMs)
        g += x.amp * Math.exp(-(t - x.at) / x.decayMs) * Math.sin((2 * Math.PI * x.hz * (t - x.at)) / 1000);
    for (const p of this.pours) g += p.grams * smooth((t - p.at) / 200);
    if (this.o.heatGPerH > 0) {
      const amp = (this.o.heatGPerH * (this.heatPeriodMs / 3600000)) / (2 * Math.PI);
      g += amp * Math.sin(2 * Math.PI * (t / this.heatPeriodMs + this.heatPhase));
    }
    return g;
  }

  /** Value noise: smooth between hashed knots `spacing` ms apart, unit variance-ish. */
  private vnoise(t: number, spacing: number, salt: number): number {
    const k = Math.floor(t / spacing);
    const f = (t - k * spacing) / spacing;
    const a = u32(this.o.seed, k, salt) * 2 - 1;
    const b = u32(this.o.seed, k + 1, salt) * 2 - 1;
    return (a + (b - a) * smooth(f)) * Math.sqrt(3) * 1.25;
  }

  raw(t: number): number {
    const base = this.model.raw(t);
    if (Number.isNaN(base)) return base;
    for (const f of this.faults) if (t >= f.at && t < f.until && (f.kind === "stuck" || f.kind === "saturate")) return base;
    const period = 1000 / this.o.sps;
    // The chip averages the load over its conversion window (4 periods, as the bay model does).
    const win = (4 * period) / (1 + this.o.rateError);
    let eg = 0;
    let ws = 0;
    for (let k = 0; k < 32; k++) {
      const u = (k + 0.5) / 8; // over the 4 periods, as the model's 16 taps (here 32)
      const w =
        u < 1
          ? u * u * u
          : u < 2
            ? -3 * u * u * u + 12 * u * u - 12 * u + 4
            : u < 3
              ? 3 * u * u * u - 24 * u * u + 60 * u - 44
              : (4 - u) ** 3;
      eg += w * this.extraGrams(t - win + ((k + 0.5) * win) / 32);
      ws += w;
    }
    let v = base + (this.o.calibration.countsPerGram * eg) / ws;
    v += this.corr * this.vnoise(t, 2 * period, 71) + 0.4 * this.white * this.vnoise(t, 20000, 72);
    v += this.o.humCounts * Math.sin(2 * Math.PI * 50 * (1 + this.o.rateError) * (t / 1000) + 0.7);
    if (this.o.spikeRate > 0 && u32(this.o.seed, Math.round(t * 4), 73) < this.o.spikeRate) {
      const bit = 14 + Math.floor(8 * u32(this.o.seed, Math.round(t * 4), 74));
      v += (u32(this.o.seed, Math.round(t * 4), 75) < 0.5 ? -1 : 1) * 2 ** bit;
    }
    const r = Math.round(v);
    return r > 0x7fffff ? 0x7fffff : r < -0x800000 ? -0x800000 : r;
  }
}
