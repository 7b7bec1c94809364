/**
 * Physics model of one dispenser bay: load cell + HX711 (docs/load-cells.md, "Detector").
 *
 * raw(t) = round(offset + cpg * (load filtered by the chip + creep) + tempDrift(t) + noise(t)),
 * clamped to the signed 24-bit range, or NaN / stuck / saturated during an injected fault.
 *
 * - Chip filter: a reading completed at t averages the load over the previous 4 conversion
 *   periods (the HX711 output settling time is 400 ms at 10 SPS, 50 ms at 80 SPS) with
 *   cubic-B-spline weights (a sinc^4-like response), evaluated at 16 points.
 * - Noise: approximately Gaussian (Irwin-Hall, 12 uniforms) from a hash of (seed, sample time):
 *   a pure function of (seed, t), whatever the sampling pattern or call order.
 * - Temperature drift: smooth random curve (knots every 3 h, smoothstep) whose slope is at most
 *   `tempDriftCountsPerHour`.
 * - Creep: each net load step D adds creepFraction * D * c(age), c rising from 0 to 1 over 20 min
 *   (c(a) = 1 - (1 - a/20min)^3).
 * - Hands: a removal/addition is a hand press (20..300 g, smooth ramps, slow wobble and 9 Hz
 *   tremor) with the mass step at 60 % of the action; the hand has left at atMs + durationMs,
 *   then the tray rings (25 Hz, 2 % of the press, 120 ms).
 *
 * XS-clean and bit-deterministic: only + - * / Math.floor/round/abs/min/max/sqrt, Math.imul and
 * 32-bit integer operators, fixed iteration orders.
 */
import type { Calibration } from "../../../firmware/core/load/events";
import {
  hx711NoiseCounts,
  KIND_REMOVE,
  KIND_ADD,
  KIND_BUMP,
  KIND_LIFT,
  RING_MS,
  CREEP_MS,
  FOLD_MARGIN_MS,
  KNOT_MS,
  TWO32,
  mix32,
  hash3,
  unit,
  tri,
  smooth,
  creepShape,
  bspline4,
  TAPS,
  type BayFaultKind,
  type BayModelOptions,
  type Action,
  type FaultSpan,
} from "./bay-physics";
export * from "./bay-physics";

export class BayModel {
  private readonly seed: number;
  private readonly periodMs: number;
  private readonly cal: Calibration;
  /** Settled mass: the initial load plus every action folded into it (see fold()). */
  private initial: number;
  /** Fully developed creep of the folded actions, grams. */
  private creepBase = 0;
  private readonly noise: number;
  private readonly driftRate: number;
  private readonly creep: number;
  private readonly faultNoise: number;
  private readonly taps: number[] = [];
  private readonly actions: Action[] = [];
  private readonly faults: FaultSpan[] = [];
  private prefix: number[] = [0];
  private dirty = false;
  private maxDyn = 0;
  private seq = 0;

  constructor(opts: BayModelOptions) {
    this.seed = opts.seed >>> 0;
    this.periodMs = 1000 / opts.sps;
    this.cal = opts.calibration;
    this.initial = opts.initialGrams;
    this.noise = opts.noiseCounts === undefined ? hx711NoiseCounts(opts.sps) : opts.noiseCounts;
    this.driftRate = opts.tempDriftCountsPerHour === undefined ? 200 : opts.tempDriftCountsPerHour;
    this.creep = opts.creepFraction === undefined ? 0.0003 : opts.creepFraction;
    this.faultNoise = (opts.faultNoiseGrams === undefined ? 1.5 : opts.faultNoiseGrams) * Math.abs(opts.calibration.countsPerGram);
    let sum = 0;
    for (let k = 0; k < TAPS; k++) {
      const w = bspline4((k + 0.5) / (TAPS / 4));
      this.taps.push(w);
      sum += w;
    }
    for (let k = 0; k < TAPS; k++) this.taps[k] = this.taps[k] / sum;
  }

  /** A hand reaches in (pressing), picks `grams` of pills, and has left at atMs + durationMs. */
  removePills(atMs: number, grams: number, durationMs: number): void {
    this.insert(KIND_REMOVE, atMs, durationMs, grams, -grams);
  }

  /** A hand puts `grams` in (refill), same hand profile as a removal. */
  addMass(atMs: number, grams: number, durationMs: number): void {
    this.insert(KIND_ADD, atMs, durationMs, grams, grams);
  }

  /** Knock / vibration: a force pulse of `peakGrams` lasting `durationMs`, then ringing. */
  bump(atMs: number, peakGrams: number, durationMs: number): void {
    this.insert(KIND_BUMP, atMs, durationMs, peakGrams, 0);
  }

  /** The tray is lifted out with everything on it and put back (small impact); no net change. */
  liftAndReturn(atMs: number, durationMs: number): void {
    this.insert(KIND_LIFT, atMs, durationMs, 0, 0);
  }

  /** Inject a fault from atMs until untilMs (default: forever). */
  fault(atMs: number, kind: BayFaultKind, untilMs?: number): void {
    this.faults.push({ at: atMs, until: untilMs === undefined ? Infinity : untilMs, kind });
  }

  /** True static mass on the cell (no hand forces, creep or noise), grams above the calibration zero. */
  grams(tMs: number): number {
    this.rebuild();
    const idx = this.countBefore(tMs);
    let g = this.initial + this.prefix[idx];
    for (let j = idx - 1; j >= 0; j--) {
      const a = this.actions[j];
      if (a.at < tMs - this.maxDyn) break;
      g += this.staticPart(a, tMs - a.at) - a.net;
    }
    return g;
  }

  /** Raw reading completed at tMs: signed 24-bit counts, or NaN when disconnected. */
  raw(tMs: number): number {
    for (let i = 0; i < this.faults.length; i++) {
      const f = this.faults[i];
      if (tMs >= f.at && tMs < f.until) {
        if (f.kind === "disconnect") return NaN;
        if (f.kind === "saturate") return 0x7fffff;
        if (f.kind === "stuck") return this.cleanRaw(f.at, 0);
        return this.cleanRaw(tMs, this.faultNoise);
      }
    }
    return this.cleanRaw(tMs, 0);
  }

  // ---------------------------------------------------------------- internals

  /**
   * Keep the model bounded in a long or live run: actions whose dynamics and creep have settled
   * long before `now` are folded into the settled mass, and finished faults are forgotten.
   * Actions at or after the start of a stuck fault still in force are kept (its reading is
   * the load at that start).
   */
  private fold(now: number): void {
    const horizon = this.maxDyn + CREEP_MS + 4 * this.periodMs + FOLD_MARGIN_MS;
    let limit = now - horizon;
    for (let i = this.faults.length - 1; i >= 0; i--) {
      const f = this.faults[i];
      if (f.until < now - FOLD_MARGIN_MS) this.faults.splice(i, 1);
      else if (f.kind === "stuck") limit = Math.min(limit, f.at - horizon);
    }
    let n = 0;
    while (n < this.actions.length && this.actions[n].at + this.actions[n].dur < limit) n++;
    if (n === 0) return;
    for (let i = 0; i < n; i++) {
      this.initial += this.actions[i].net;
      this.creepBase += this.creep * this.actions[i].net;
    }
    this.actions.splice(0, n);
    this.dirty = true;
  }

  private insert(kind: number, at: number, dur: number, grams: number, net: number): void {
    this.fold(at);
    const s = this.seq++;
    const key = Math.round(at * 4);
    const press = 20 + 280 * unit(this.seed, key, 11 + s);
    const a: Action = {
      kind,
      at,
      dur: Math.max(dur, 1),
      grams,
      net,
      press,
      ph1: unit(this.seed, key, 12 + s),
      ph2: unit(this.seed, key, 13 + s),
      seq: s,
    };
    let i = this.actions.length;
    while (i > 0 && this.actions[i - 1].at > at) i--;
    this.actions.splice(i, 0, a);
    this.dirty = true;
    this.maxDyn = Math.max(this.maxDyn, a.dur + RING_MS);
  }

  private rebuild(): void {
    if (!this.dirty) return;
    this.prefix = [0];
    let s = 0;
    for (let i = 0; i < this.actions.length; i++) {
      s += this.actions[i].net;
      this.prefix.push(s);
    }
    this.dirty = false;
  }

  /** Number of actions starting strictly before t. */
  private countBefore(t: number): number {
    let lo = 0;
    let hi = this.actions.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.actions[mid].at < t) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Load of the contents before action j (for a lift: what is lifted). */
  private contentsBefore(j: number): number {
    return this.initial + this.prefix[j];
  }

  /** Static (mass) part of an action at age u ms (no hand force). */
  private staticPart(a: Action, u: number): number {
    if (u <= 0) return 0;
    if (a.kind === KIND_REMOVE || a.kind === KIND_ADD) {
      return a.net * smooth((u - 0.6 * a.dur) / 100);
    }
    if (a.kind === KIND_LIFT) {
      const m = this.contentsBefore(this.actions.indexOf(a));
      const up = smooth((u - 0.15 * a.dur) / 150);
      const down = smooth((u - 0.85 * a.dur) / 60);
      return -m * (up - down);
    }
    return 0;
  }

  /** Full load contribution (grams) of action a at age u ms, hand forces included. */
  private loadOf(a: Action, u: number, contents: number): number {
    if (u <= 0) return 0;
    const d = a.dur;
    if (a.kind === KIND_BUMP) {
      if (u < d) {
        const v = u / d;
        return a.grams * 4 * v * (1 - v);
      }
      return this.ring(0.05 * a.grams, u - d, a.ph1);
    }
    let st = 0;
    let hand = 0;
    if (a.kind === KIND_LIFT) {
      const up = smooth((u - 0.15 * d) / 150);
      const down = smooth((u - 0.85 * d) / 60);
      st = -contents * (up - down);
      // grab (press), tray on the hand, put back with a small impact, release.
      const env = smooth(u / (0.1 * d)) * (1 - smooth((u - 0.9 * d) / (0.1 * d)));
      hand = env * (1 - (up - down)) * (30 * (1 + 0.15 * tri(u / 700 + a.ph1)) + 0.3 * tri((u * 9) / 1000 + a.ph2));
      const impact = u - 0.85 * d;
      if (impact > 0 && impact < 100) hand += 0.3 * contents * 4 * (impact / 100) * (1 - impact / 100);
      if (u >= d) return this.ring(0.6, u - d, a.ph1);
      return st + hand;
    }
    st = a.net * smooth((u - 0.6 * d) / 100);
    if (u >= d) return st + this.ring(0.02 * a.press, u - d, a.ph1);
    const env = smooth(u / (0.15 * d)) * (1 - smooth((u - 0.85 * d) / (0.15 * d)));
    const wobble = 1 + 0.15 * tri(u / 700 + a.ph1);
    hand = env * (a.press * wobble + 0.3 * tri((u * 9) / 1000 + a.ph2));
    return st + hand;
  }

  private ring(amp: number, since: number, phase: number): number {
    if (since >= RING_MS) return 0;
    return amp * (1 - since / RING_MS) * tri((since * 25) / 1000 + phase);
  }

  /** Load (grams) as seen by the chip for a reading completed at t, plus creep. */
  private load(t: number): number {
    this.rebuild();
    const win = 4 * this.periodMs;
    const idx = this.countBefore(t);
    let g = this.initial + this.prefix[idx];
    let creepSum = this.creepBase + this.creep * this.prefix[idx];
    const horizon = Math.max(this.maxDyn + win, this.maxDyn + CREEP_MS);
    for (let j = idx - 1; j >= 0; j--) {
      const a = this.actions[j];
      if (a.at < t - horizon) break;
      const endDyn = a.at + a.dur + RING_MS;
      if (endDyn > t - win) {
        // dynamic in the filter window: replace the settled net change by the filtered load.
        g -= a.net;
        const contents = a.kind === KIND_LIFT ? this.contentsBefore(j) : 0;
        let f = 0;
        for (let k = 0; k < TAPS; k++) {
          const tk = t - win + ((k + 0.5) * win) / TAPS;
          f += this.taps[k] * this.loadOf(a, tk - a.at, contents);
        }
        g += f;
      }
      // creep of the net steps (a lift is two opposite steps)
      if (a.kind === KIND_REMOVE || a.kind === KIND_ADD) {
        creepSum -= this.creep * a.net * (1 - creepShape(t - (a.at + 0.6 * a.dur)));
      } else if (a.kind === KIND_LIFT) {
        const m = this.contentsBefore(j);
        creepSum += this.creep * m * (creepShape(t - (a.at + 0.85 * a.dur)) - creepShape(t - (a.at + 0.15 * a.dur)));
      }
    }
    return g + creepSum;
  }

  private drift(t: number): number {
    const k = Math.floor(t / KNOT_MS);
    const u = (t - k * KNOT_MS) / KNOT_MS;
    const amp = (this.driftRate * (KNOT_MS / 3600000)) / 3;
    const v0 = amp * (2 * unit(this.seed, k, 7) - 1);
    const v1 = amp * (2 * unit(this.seed, k + 1, 7) - 1);
    return v0 + (v1 - v0) * smooth(u);
  }

  private gauss(t: number, salt: number): number {
    const key = Math.round(t * 4);
    const h = hash3(this.seed, key, salt);
    let s = 0;
    for (let i = 0; i < 12; i++) s += mix32(h + Math.imul(i + 1, 0x9e3779b9)) / TWO32;
    return s - 6;
  }

  private cleanRaw(t: number, extraNoise: number): number {
    let v = this.cal.offset + this.cal.countsPerGram * this.load(t) + this.drift(t) + this.noise * this.gauss(t, 1);
    if (extraNoise > 0) v += extraNoise * this.gauss(t, 2);
    const r = Math.round(v);
    return r > 0x7fffff ? 0x7fffff : r < -0x800000 ? -0x800000 : r;
  }
}
