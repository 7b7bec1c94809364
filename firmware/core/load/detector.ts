/**
 * Dose detector: one instance per load-cell channel. Turns raw HX711 counts into
 * LoadEvents (removal / addition / lift / bump / fault / recovered).
 * Design and thresholds: docs/load-cells.md, section "Detector".
 *
 * XS-clean and bit-deterministic (XS and V8 give the same events): only + - * / and
 * Math.floor/round/abs/min/max/sqrt, fixed iteration orders, bounded buffers.
 */
import type { Medication } from "../config/types";
import type { Calibration, LoadEvent, LoadFault } from "./events";
import { fitPills } from "./fit";

export interface DetectorOptions {
  channel: number;
  /** Conversion rate of the chip (10 or 80; anything in 1..1000 works). */
  sps: number;
  calibration: Calibration;
  /** The dose in this bay; unit masses for pill counting. */
  meds: readonly Medication[];
  /** Sampling period while everything is stable (WATCH mode), default 1000 ms. */
  watchIntervalMs?: number;
}

/** What the device persists for a channel. */
export interface DetectorSnapshot {
  tareCounts: number;
  calibration: Calibration;
}

export type DetectorMode = "init" | "watch" | "active" | "fault";

export const RAW_MAX = 0x7fffff;
export const RAW_MIN = -0x800000;

/** Time without any reading before DISCONNECTED. */
const DISCONNECT_MS = 3000;
/** Time of continuous saturation before SATURATED. */
const SATURATE_MS = 1000;
/** Identical raw values for this long (and at least STUCK_MIN_N samples) = STUCK. */
const STUCK_MS = 2000;
const STUCK_MIN_N = 8;
/** Per-sample rms noise (grams) above which a quiet channel is NOISY. */
const NOISY_GRAMS = 0.5;
/** var(d2)/(3 var(d1)) above this = white noise (1 for white noise, ~0.25 for a hand). */
const WHITE_RATIO = 0.6;
/** A jump larger than this (in sigmas) just before a window disqualifies the window. */
const JUMP_K = 20;
/** Physical zero drift the tracker may follow (temperature + creep), grams per hour. */
const DRIFT_G_PER_H = 0.5;
/** Re-anchor the drift tracker at least this often. */
const ANCHOR_MS = 600000;
/** Activity shorter than this with no net change is a bump, longer a lift. */
const BUMP_MS = 1000;
/** Accept the pill count at once above this confidence, else average longer. */
const QUICK_CONFIDENCE = 0.995;
/** Relative std-dev of a tablet's mass (pharmacopoeia uniformity is a few %). */
const PILL_CV = 0.03;
/** Penalty per pill beyond the dose (chi-square units) when counting a removal. */
const OVERDOSE_PENALTY = 6;
/** A tray lifted out longer than this counts as its contents removed. */
const LIFT_MAX_MS = 120000;
/** Time constant of the baseline tracker, in watch samples. */
const TRACK_N = 64;

const M_INIT = 0;
const M_WATCH = 1;
const M_ACTIVE = 2;
const M_FAULT = 3;

function isSaturated(raw: number): boolean {
  return raw >= RAW_MAX || raw <= RAW_MIN;
}

/** Two-point calibration: grams = (raw - offset) / countsPerGram through both points. */
export function twoPointCalibration(g0: number, raw0: number, g1: number, raw1: number): Calibration {
  if (!(Number.isFinite(g0) && Number.isFinite(g1) && Number.isFinite(raw0) && Number.isFinite(raw1))) {
    throw new RangeError("CAL_NOT_FINITE");
  }
  if (Math.abs(g1 - g0) < 1e-6) throw new RangeError("CAL_SAME_MASS");
  const cpg = (raw1 - raw0) / (g1 - g0);
  if (!(Math.abs(cpg) >= 1)) throw new RangeError("CAL_TOO_FLAT");
  return { offset: raw0 - g0 * cpg, countsPerGram: cpg };
}

export class ChannelDetector {
  private readonly ch: number;
  private readonly sps: number;
  private readonly periodMs: number;
  private readonly watchMs: number;
  private readonly meds: readonly Medication[];
  private readonly minPillG: number;
  /** Mass of one full dose, grams. */
  private readonly doseG: number;
  private cal: Calibration;
  private tareC: number;
  private zeroPoint: number | undefined = undefined;

  private mode = M_INIT;

  /** Noise: per-sample rms, counts (floor applied). */
  private sigma = 0;
  private sigmaKnown = false;
  /** Baseline (stable level, counts) and its weight for the tracker. */
  private base = 0;
  private baseW = 0;
  private anchor = 0;
  /** Baseline before the tray was lifted out (NaN when not lifted) and when. */
  private liftRef = NaN;
  private liftMs = 0;
  private anchorMs = 0;
  /** Last 4 watch deviations. */
  private readonly wdev = [0, 0, 0, 0];
  private wdevN = 0;
  private wdevPos = 0;

  // Timing / fault tracking
  private lastReadingMs = 0;
  private lastNaN = false;
  /** Time of the first NaN of the current run of missing readings. */
  private nanSince = 0;
  private satSince = -1;
  private lastRaw = NaN;
  private stuckSince = 0;
  private stuckN = 0;

  // ACTIVE
  private readonly nStable: number;
  private readonly nExt: number;
  private readonly ring: Float64Array;
  private ringN = 0;
  private ringPos = 0;
  private preBase = 0;
  private devCount = 0;
  private firstDevMs = -1;
  private lastDevMs = -1;
  private prevSampleMs = -1;
  private extN = 0;
  private extSum = 0;
  private extOut = 0;

  // Noise blocks (full-rate modes only)
  private readonly blockN: number;
  private readonly bD2: Float64Array;
  private readonly bSort: Float64Array;
  private bN = 0;
  private bD2N = 0;
  private bRef = 0;
  private bSum = 0;
  private bSumSq = 0;
  private bBad = 0;
  private bSame = 0;
  private bD1Sq = 0;
  private bD1N = 0;
  private bD2Sq = 0;
  private p1 = NaN;
  private p2 = NaN;
  /** History of the last 3 blocks: noise (d2-based), mean, std, clean flag. */
  private readonly hSig = [0, 0, 0];
  private readonly hMean = [0, 0, 0];
  private readonly hStd = [0, 0, 0];
  private readonly hClean = [false, false, false];
  /** Per block: sum of squared first / second differences and their counts. */
  private readonly hD1 = [0, 0, 0];
  private readonly hD1N = [0, 0, 0];
  private readonly hD2 = [0, 0, 0];
  private readonly hD2N = [0, 0, 0];
  private hN = 0;

  constructor(opts: DetectorOptions, restored?: DetectorSnapshot) {
    if (!(opts.sps > 0 && opts.sps <= 1000)) throw new RangeError("DET_SPS");
    this.ch = opts.channel;
    this.sps = opts.sps;
    this.periodMs = 1000 / opts.sps;
    this.watchMs = opts.watchIntervalMs === undefined ? 1000 : Math.max(this.periodMs, opts.watchIntervalMs);
    this.meds = opts.meds;
    let minG = Infinity;
    for (let i = 0; i < opts.meds.length; i++) minG = Math.min(minG, opts.meds[i].unitMg / 1000);
    this.minPillG = minG === Infinity ? 0.1 : minG;
    let dose = 0;
    for (let i = 0; i < opts.meds.length; i++) dose += (opts.meds[i].count * opts.meds[i].unitMg) / 1000;
    this.doseG = dose;
    this.cal = restored ? restored.calibration : opts.calibration;
    if (!(Math.abs(this.cal.countsPerGram) > 0) || !Number.isFinite(this.cal.offset)) throw new RangeError("DET_CALIBRATION");
    this.tareC = restored ? restored.tareCounts : this.cal.offset;
    this.nStable = Math.max(4, Math.round(0.25 * this.sps));
    this.nExt = Math.max(2 * this.nStable, Math.round(this.sps));
    this.ring = new Float64Array(this.nStable + 1);
    this.blockN = Math.max(10, Math.round(this.sps));
    this.bD2 = new Float64Array(this.blockN);
    this.bSort = new Float64Array(this.blockN);
    this.sigma = this.sigmaFloor();
  }

  get faulty(): boolean {
    return this.mode === M_FAULT;
  }

  /** Current mode (for the dashboard and tests). */
  get state(): DetectorMode {
    return this.mode === M_INIT ? "init" : this.mode === M_WATCH ? "watch" : this.mode === M_ACTIVE ? "active" : "fault";
  }

  /** Estimated per-sample rms noise, grams (0 until known). */
  noiseGrams(): number {
    return this.sigmaKnown ? this.sigma / Math.abs(this.cal.countsPerGram) : 0;
  }

  nextIntervalMs(): number {
    if (this.mode === M_WATCH) return this.watchMs;
    if (this.mode === M_FAULT && this.lastNaN) return this.watchMs;
    return this.periodMs;
  }

  /** Current filtered net mass (grams above tare), NaN while unknown or faulty. */
  grams(): number {
    const lvl = this.level();
    return Number.isNaN(lvl) ? NaN : (lvl - this.tareC) / this.cal.countsPerGram;
  }

  /** Make the current stable level the zero of grams(). No effect unless a level is known. */
  tare(): void {
    const lvl = this.level();
    if (!Number.isNaN(lvl)) this.tareC = lvl;
  }

  /** First point of a two-point calibration: the bay is empty (0 g). raw defaults to the current level. */
  calibrateZero(raw?: number): void {
    const r = raw === undefined ? this.level() : raw;
    if (!Number.isFinite(r)) throw new RangeError("CAL_NO_LEVEL");
    this.zeroPoint = r;
  }

  /**
   * Second point: `knownGrams` lie on the empty bay (raw defaults to the current level).
   * Uses the zero recorded by calibrateZero(), else the current calibration offset.
   * Sets calibration and tare (to the zero point) and returns the new calibration.
   */
  calibrate(knownGrams: number, raw?: number): Calibration {
    if (!(knownGrams > 0)) throw new RangeError("CAL_MASS");
    const r = raw === undefined ? this.level() : raw;
    if (!Number.isFinite(r)) throw new RangeError("CAL_NO_LEVEL");
    const z = this.zeroPoint === undefined ? this.cal.offset : this.zeroPoint;
    this.cal = twoPointCalibration(0, z, knownGrams, r);
    this.tareC = z;
    this.zeroPoint = undefined;
    return this.cal;
  }

  snapshot(): DetectorSnapshot {
    return { tareCounts: this.tareC, calibration: { offset: this.cal.offset, countsPerGram: this.cal.countsPerGram } };
  }

  /** One sample: raw signed 24-bit counts, or NaN when there is no fresh reading. */
  push(raw: number, tMs: number): LoadEvent | undefined {
    // ---- missing reading
    if (Number.isNaN(raw)) {
      if (!this.lastNaN) this.nanSince = tMs;
      this.lastNaN = true;
      if (this.mode === M_FAULT) {
        this.resetBlocks();
        return undefined;
      }
      this.breakChain();
      if (tMs - this.nanSince >= DISCONNECT_MS) return this.enterFault("DISCONNECTED", tMs);
      if (this.mode === M_WATCH) this.enterActive(tMs, false);
      return undefined;
    }
    this.lastNaN = false;
    this.lastReadingMs = tMs;
    // ---- stuck tracking (identical raw values)
    if (raw === this.lastRaw) {
      this.stuckN++;
    } else {
      this.stuckN = 1;
      this.stuckSince = tMs;
      this.lastRaw = raw;
    }
    // ---- saturation
    if (isSaturated(raw)) {
      this.breakChain();
      if (this.satSince < 0) this.satSince = tMs;
      if (this.mode === M_FAULT) {
        this.blockAdd(raw, true);
        return undefined;
      }
      if (tMs - this.satSince >= SATURATE_MS) return this.enterFault("SATURATED", tMs);
      if (this.mode === M_WATCH) this.enterActive(tMs, false);
      return undefined;
    }
    this.satSince = -1;
    if (this.mode !== M_FAULT && this.stuckN >= STUCK_MIN_N && tMs - this.stuckSince >= STUCK_MS) {
      return this.enterFault("STUCK", tMs);
    }
    switch (this.mode) {
      case M_WATCH:
        return this.watchSample(raw, tMs);
      case M_ACTIVE: {
        const ev = this.blockAdd(raw, false);
        if (ev) return ev;
        return this.activeSample(raw, tMs);
      }
      case M_INIT:
        return this.blockAdd(raw, false);
      default:
        return this.blockAdd(raw, false);
    }
  }

  // ------------------------------------------------------------------ internals

  private sigmaFloor(): number {
    return Math.max(1, 0.0005 * Math.abs(this.cal.countsPerGram));
  }

  private level(): number {
    if (this.mode === M_WATCH) return this.base;
    if (this.mode === M_ACTIVE && this.ringN > 0) {
      const k = Math.min(this.ringN, 4);
      let s = 0;
      for (let i = 0; i < k; i++) s += this.newest(i);
      return s / k;
    }
    return NaN;
  }

  private breakChain(): void {
    this.p1 = NaN;
    this.p2 = NaN;
  }

  private enterFault(code: LoadFault, tMs: number): LoadEvent {
    this.mode = M_FAULT;
    this.resetBlocks();
    this.ringN = 0;
    return { kind: "fault", channel: this.ch, atMs: tMs, code };
  }

  private enterActive(tMs: number, deviating: boolean): void {
    this.mode = M_ACTIVE;
    this.preBase = this.base;
    this.devCount = deviating ? 1 : 0;
    this.firstDevMs = deviating ? tMs : -1;
    this.lastDevMs = deviating ? tMs : -1;
    this.ringN = 0;
    this.ringPos = 0;
    this.extN = 0;
    this.extSum = 0;
    this.extOut = 0;
    this.resetBlocks();
  }

  /** Back to WATCH at `level`; `account` = the level is fully accounted for (re-anchor the drift check). */
  private enterWatch(level: number, tMs: number, weight: number, account: boolean): void {
    this.mode = M_WATCH;
    this.base = level;
    this.baseW = weight;
    if (account) {
      this.anchor = level;
      this.anchorMs = tMs;
      this.liftRef = NaN;
    }
    this.wdevN = 0;
    this.wdevPos = 0;
    this.ringN = 0;
  }

  private watchSample(x: number, tMs: number): LoadEvent | undefined {
    const dev = x - this.base;
    this.wdev[this.wdevPos] = dev;
    this.wdevPos = (this.wdevPos + 1) & 3;
    if (this.wdevN < 4) this.wdevN++;
    let m4 = 0;
    for (let i = 0; i < this.wdevN; i++) m4 += this.wdev[i];
    m4 = m4 / this.wdevN;
    const s = this.sigma;
    if (Math.abs(dev) > 5 * s || (this.wdevN === 4 && Math.abs(m4) > 2.5 * s) || this.stuckN >= 2) {
      this.enterActive(tMs, Math.abs(dev) > 4 * s);
      this.ringAdd(x);
      this.prevSampleMs = tMs;
      return undefined;
    }
    // Quiet: follow the zero slowly (creep, temperature), refine the noise estimate.
    this.baseW = Math.min(this.baseW + 1, TRACK_N);
    this.base += dev / this.baseW;
    const d2 = Math.min(dev * dev, 9 * s * s);
    this.sigma = Math.max(this.sigmaFloor(), Math.sqrt(s * s + (d2 - s * s) / 128));
    if (!Number.isNaN(this.liftRef)) {
      if (tMs - this.liftMs < LIFT_MAX_MS) return undefined;
      // The tray never came back: its contents left the bay.
      const step = this.base - this.liftRef;
      this.liftRef = NaN;
      this.anchor = this.base;
      this.anchorMs = tMs;
      const f = this.fit(step, this.baseW);
      return this.stepEvent(step, f.pills, f.confidence, tMs);
    }
    return this.checkAnchor(tMs);
  }

  /**
   * Drift guard: the baseline may follow the zero only as fast as physical drift
   * (DRIFT_G_PER_H). A larger accumulated change since the last accounted level is a
   * slow removal/addition and is reported (if pill-sized); otherwise re-anchor periodically.
   */
  private checkAnchor(tMs: number): LoadEvent | undefined {
    const s = this.sigma;
    const cpg = Math.abs(this.cal.countsPerGram);
    const allowance = (DRIFT_G_PER_H * cpg * (tMs - this.anchorMs)) / 3600000 + (3 * s) / Math.sqrt(this.baseW);
    const drift = this.base - this.anchor;
    if (Math.abs(drift) > allowance && Math.abs(drift) > 0.5 * this.minPillG * cpg) {
      const fit = this.fit(drift, this.baseW);
      // Only a change the dose explains (a slow removal still in progress is not yet).
      if (fit.pills > 0 && fit.confidence >= 0.5) {
        this.anchor = this.base;
        this.anchorMs = tMs;
        return this.stepEvent(drift, fit.pills, fit.confidence, tMs);
      }
    }
    if (tMs - this.anchorMs >= ANCHOR_MS && Math.abs(drift) <= allowance) {
      this.anchor = this.base;
      this.anchorMs = tMs;
    }
    return undefined;
  }

  /** Sample k back in the ring (0 = newest). */
  private newest(k: number): number {
    const cap = this.ring.length;
    return this.ring[(this.ringPos - 1 - k + 2 * cap) % cap];
  }

  private windowSum(): number {
    let sum = 0;
    for (let i = this.nStable - 1; i >= 0; i--) sum += this.newest(i);
    return sum;
  }

  private ringAdd(x: number): void {
    this.ring[this.ringPos] = x;
    this.ringPos = (this.ringPos + 1) % this.ring.length;
    if (this.ringN < this.ring.length) this.ringN++;
  }

  private activeSample(x: number, tMs: number): LoadEvent | undefined {
    const s = this.sigma;
    const dev = x - this.preBase;
    if (Math.abs(dev) > 4 * s) {
      this.devCount++;
      if (this.firstDevMs < 0) this.firstDevMs = this.prevSampleMs >= 0 ? this.prevSampleMs : tMs;
      this.lastDevMs = tMs;
    }
    this.prevSampleMs = tMs;
    this.ringAdd(x);
    if (this.extN > 0) {
      // Averaging longer for an ambiguous count: stay while the level holds.
      const mean = this.extSum / this.extN;
      if (Math.abs(x - mean) <= 5 * s) {
        this.extSum += x;
        this.extN++;
        this.extOut = 0;
        if (this.extN >= this.nExt) return this.settle(this.extSum / this.extN, this.extN, tMs, true);
      } else if (++this.extOut >= 2) {
        this.extN = 0;
        this.extSum = 0;
        this.extOut = 0;
      }
      return undefined;
    }
    if (this.ringN < this.nStable + 1 || !this.ringStable()) return undefined;
    return this.settle(this.windowSum() / this.nStable, this.nStable, tMs, false);
  }

  /**
   * Stability of the newest nStable samples: range, trend (first vs second half) and a settling
   * guard: the sample before the window must not differ from it by a large jump (the chip's
   * filter leaves a residue of a jump in the next reading).
   */
  private ringStable(): boolean {
    const n = this.nStable;
    const s = this.sigma;
    if (Math.abs(this.newest(n) - this.newest(n - 1)) > JUMP_K * s) return false;
    // Identical readings are a stuck chip, not a stable load (a live HX711 always has LSB noise).
    if (this.stuckN >= 3) return false;
    let lo = Infinity;
    let hi = -Infinity;
    let first = 0;
    let second = 0;
    const h = Math.floor(n / 2);
    for (let i = 0; i < n; i++) {
      const v = this.newest(n - 1 - i);
      if (v < lo) lo = v;
      if (v > hi) hi = v;
      if (i < h) first += v;
      else if (i >= n - h) second += v;
    }
    const rangeK = n <= 8 ? 5 : 6;
    if (hi - lo > rangeK * s) return false;
    return Math.abs(second / h - first / h) <= 3 * s * Math.sqrt(2 / h);
  }

  /** Would averaging nExt samples (same mean) raise the confidence noticeably? */
  private longerHelps(stepCounts: number, conf: number): boolean {
    return this.fit(stepCounts, this.nExt).confidence > conf + 0.02;
  }

  /** Pill fit of a step (counts) measured as the mean of n samples against the baseline. */
  private fit(stepCounts: number, n: number): { pills: number; confidence: number } {
    const cpg = Math.abs(this.cal.countsPerGram);
    const g = Math.abs(stepCounts) / cpg;
    const sg = (this.sigma / cpg) * Math.sqrt(1 / n + 1 / Math.max(1, this.baseW));
    if (this.meds.length === 0) return { pills: g > Math.max(6 * sg, 0.1) ? 1 : 0, confidence: 0 };
    const removal = stepCounts * this.cal.countsPerGram < 0;
    return fitPills(g, this.meds, {
      sigmaGrams: sg,
      pillCv: PILL_CV,
      maxFactor: removal ? 2 : 8,
      overDosePenalty: removal ? OVERDOSE_PENALTY : 0,
    });
  }

  /**
   * An excursion no pill movement explains: removal heavier than 1.5 doses (the tray or cup was
   * lifted out) or addition heavier than 8.5 doses (an object or a hand resting on the tray).
   */
  private implausible(stepCounts: number): boolean {
    const cpg = Math.abs(this.cal.countsPerGram);
    const g = Math.abs(stepCounts) / cpg;
    const margin = Math.max(0.3, (8 * this.sigma) / cpg);
    return stepCounts * this.cal.countsPerGram < 0 ? g > 1.5 * this.doseG + margin : g > 8.5 * this.doseG + margin;
  }

  private settle(level: number, n: number, tMs: number, extended: boolean): LoadEvent | undefined {
    const lifted = !Number.isNaN(this.liftRef);
    const ref = lifted ? this.liftRef : this.preBase;
    const step = level - ref;
    if (this.implausible(step)) {
      // Tray out / object on (or still): judge only when the level comes back.
      if (!lifted) {
        this.liftRef = this.preBase;
        this.liftMs = this.firstDevMs < 0 ? tMs : this.firstDevMs;
      }
      this.enterWatch(level, tMs, Math.min(n, TRACK_N), false);
      return undefined;
    }
    const fit = this.fit(step, n);
    if (!extended && fit.pills > 0 && fit.confidence < QUICK_CONFIDENCE && this.longerHelps(step, fit.confidence)) {
      // Ambiguous count: keep averaging while the level holds (bounded by nExt samples).
      this.extSum = this.windowSum();
      this.extN = this.nStable;
      this.extOut = 0;
      return undefined;
    }
    const devCount = this.devCount;
    const dur = this.firstDevMs < 0 ? 0 : this.lastDevMs - this.firstDevMs + this.periodMs;
    if (fit.pills > 0 || lifted) {
      this.enterWatch(level, tMs, Math.min(n, TRACK_N), true);
      if (fit.pills > 0) return this.stepEvent(step, fit.pills, fit.confidence, tMs);
      return { kind: "lift", channel: this.ch, atMs: tMs };
    }
    // No pill-sized change since the baseline: but small changes may add up (slow removal).
    this.enterWatch(level, tMs, Math.min(n, TRACK_N), false);
    const acc = this.checkAnchor(tMs);
    if (acc) return acc;
    if (devCount <= 1) return undefined; // noise wake-up or a single glitch
    return dur < BUMP_MS ? { kind: "bump", channel: this.ch, atMs: tMs } : { kind: "lift", channel: this.ch, atMs: tMs };
  }

  private stepEvent(stepCounts: number, pills: number, confidence: number, tMs: number): LoadEvent {
    const grams = stepCounts / this.cal.countsPerGram;
    const c = Math.round(confidence * 1000) / 1000;
    const gr = Math.round(Math.abs(grams) * 10000) / 10000;
    return grams < 0
      ? { kind: "removal", channel: this.ch, atMs: tMs, grams: gr, pills, confidence: c }
      : { kind: "addition", channel: this.ch, atMs: tMs, grams: gr, pills, confidence: c };
  }

  // ---------------------------------------------------------------- noise blocks

  private resetBlocks(): void {
    this.bN = 0;
    this.bD2N = 0;
    this.bSum = 0;
    this.bSumSq = 0;
    this.bBad = 0;
    this.bSame = 0;
    this.bD1Sq = 0;
    this.bD1N = 0;
    this.bD2Sq = 0;
    this.hN = 0;
    this.breakChain();
  }

  /** Feed a full-rate sample to the 1-s noise blocks; may raise NOISY, recover, or finish INIT. */
  private blockAdd(x: number, bad: boolean): LoadEvent | undefined {
    if (this.bN === 0) this.bRef = bad ? 0 : x;
    this.bN++;
    if (bad) {
      this.bBad++;
    } else {
      const v = x - this.bRef;
      this.bSum += v;
      this.bSumSq += v * v;
      if (x === this.p1) this.bSame++;
      if (!Number.isNaN(this.p1)) {
        const d1 = x - this.p1;
        this.bD1Sq += d1 * d1;
        this.bD1N++;
      }
      if (!Number.isNaN(this.p2) && this.bD2N < this.blockN) {
        const d2 = x - 2 * this.p1 + this.p2;
        this.bD2[this.bD2N++] = Math.abs(d2);
        this.bD2Sq += d2 * d2;
      }
      this.p2 = this.p1;
      this.p1 = x;
    }
    if (this.bN < this.blockN) return undefined;
    // ---- block complete
    const good = this.bN - this.bBad;
    let sigD2 = 0;
    if (this.bD2N >= 3) {
      const k = this.bD2N;
      for (let i = 0; i < k; i++) this.bSort[i] = this.bD2[i];
      for (let i = 1; i < k; i++) {
        const v = this.bSort[i];
        let j = i - 1;
        while (j >= 0 && this.bSort[j] > v) {
          this.bSort[j + 1] = this.bSort[j];
          j--;
        }
        this.bSort[j + 1] = v;
      }
      const med = (k & 1) === 1 ? this.bSort[(k - 1) / 2] : (this.bSort[k / 2 - 1] + this.bSort[k / 2]) / 2;
      sigD2 = med / (0.6745 * Math.sqrt(6));
    }
    const mean = good > 0 ? this.bRef + this.bSum / good : NaN;
    const vr = good > 1 ? (this.bSumSq - (this.bSum * this.bSum) / good) / (good - 1) : 0;
    const std = Math.sqrt(vr > 0 ? vr : 0);
    const clean = this.bBad === 0 && this.bD2N >= 3 && this.bSame * 2 < good;
    // shift history (index 0 = newest)
    for (let i = 2; i > 0; i--) {
      this.hSig[i] = this.hSig[i - 1];
      this.hMean[i] = this.hMean[i - 1];
      this.hStd[i] = this.hStd[i - 1];
      this.hClean[i] = this.hClean[i - 1];
      this.hD1[i] = this.hD1[i - 1];
      this.hD1N[i] = this.hD1N[i - 1];
      this.hD2[i] = this.hD2[i - 1];
      this.hD2N[i] = this.hD2N[i - 1];
    }
    this.hD1[0] = this.bD1Sq;
    this.hD1N[0] = this.bD1N;
    this.hD2[0] = this.bD2Sq;
    this.hD2N[0] = this.bD2N;
    this.hSig[0] = sigD2;
    this.hMean[0] = mean;
    this.hStd[0] = std;
    this.hClean[0] = clean;
    if (this.hN < 3) this.hN++;
    this.bN = 0;
    this.bD2N = 0;
    this.bSum = 0;
    this.bSumSq = 0;
    this.bBad = 0;
    this.bSame = 0;
    this.bD1Sq = 0;
    this.bD1N = 0;
    this.bD2Sq = 0;
    return this.onBlock();
  }

  /** Two newest blocks are clean and their means agree within their noise. */
  private quiet(i: number): boolean {
    if (this.hN < i + 2 || !this.hClean[i] || !this.hClean[i + 1]) return false;
    const s = Math.max(this.hSig[i], this.hSig[i + 1], this.sigmaFloor());
    return Math.abs(this.hMean[i] - this.hMean[i + 1]) <= 6 * s * Math.sqrt(2 / this.blockN);
  }

  /**
   * Whiteness of the last k blocks: var(d2) / (3 var(d1)) is 1 for white noise and well
   * below 1 for anything smooth (a hand's wobble and tremor seen through the chip filter).
   */
  private white(k: number): boolean {
    let s1 = 0;
    let n1 = 0;
    let s2 = 0;
    let n2 = 0;
    for (let i = 0; i < k; i++) {
      s1 += this.hD1[i];
      n1 += this.hD1N[i];
      s2 += this.hD2[i];
      n2 += this.hD2N[i];
    }
    if (n1 < 4 || n2 < 4 || !(s1 > 0)) return false;
    return s2 / n2 > WHITE_RATIO * 3 * (s1 / n1);
  }

  private onBlock(): LoadEvent | undefined {
    const cpg = Math.abs(this.cal.countsPerGram);
    const noisy = NOISY_GRAMS * cpg;
    const q0 = this.quiet(0);
    if (this.mode !== M_FAULT && q0 && this.hSig[0] > noisy && this.hSig[1] > noisy && this.white(2)) {
      return this.enterFault("NOISY", this.lastReadingMs);
    }
    if (!q0) return undefined;
    const sd = Math.max(this.hSig[0], this.hSig[1]);
    const st = Math.sqrt((this.hStd[0] * this.hStd[0] + this.hStd[1] * this.hStd[1]) / 2);
    if (this.mode === M_INIT) {
      if (sd > noisy || !this.white(2)) return undefined;
      this.sigma = Math.max(this.sigmaFloor(), Math.min(st, 2 * sd + this.sigmaFloor()));
      this.sigmaKnown = true;
      this.enterWatch(this.hMean[0], this.lastReadingMs, this.blockN, true);
      return undefined;
    }
    if (this.mode === M_FAULT) {
      if (sd > noisy / 2 || !this.white(2)) return undefined;
      this.sigma = Math.max(this.sigmaFloor(), Math.min(st, 2 * sd + this.sigmaFloor()));
      this.sigmaKnown = true;
      this.enterWatch(this.hMean[0], this.lastReadingMs, this.blockN, true);
      return { kind: "recovered", channel: this.ch, atMs: this.lastReadingMs };
    }
    // ACTIVE: a level that is quiet but noisier than we think -> adopt the higher noise.
    if (sd > 1.5 * this.sigma && sd <= noisy && this.white(2)) this.sigma = sd;
    return undefined;
  }
}
