/**
 * Dose detector, signal front end: one instance per load-cell channel. Turns raw HX711 counts into
 * LoadEvents (removal / addition / lift / bump / fault / recovered).
 * Design and thresholds: docs/load-cells.md, section "Detector".
 *
 * XS-clean and bit-deterministic (XS and V8 give the same events): only + - * / and
 * Math.floor/round/abs/min/max/sqrt, fixed iteration orders, bounded buffers.
 */
import type { Medication } from "../config/types";
import type { Calibration, LoadEvent, LoadFault } from "./events";
import { NoiseBlocks } from "./noise-blocks";
import { SampleRing } from "./sample-ring";
import { GATE_HOLD, GATE_USE, SpikeGate } from "./spike-gate";
import {
  DISCONNECT_MS,
  SATURATE_MS,
  STUCK_MS,
  STUCK_MIN_N,
  NOISY_GRAMS,
  HYST_G,
  PILL_CV,
  TRACK_N,
  M_INIT,
  M_WATCH,
  M_ACTIVE,
  M_FAULT,
  isSaturated,
  twoPointCalibration,
  type DetectorOptions,
  type DetectorSnapshot,
  type DetectorMode,
} from "./detector-params";
export * from "./detector-params";

export abstract class DetectorBase {
  protected readonly ch: number;
  protected readonly sps: number;
  protected readonly periodMs: number;
  protected readonly watchMs: number;
  protected readonly meds: readonly Medication[];
  protected readonly minPillG: number;
  /** Mass of one full dose, grams. */
  protected readonly doseG: number;
  protected cal: Calibration;
  protected tareC: number;
  protected zeroPoint: number | undefined = undefined;

  protected mode = M_INIT;

  /** Noise: per-sample rms, counts (floor applied). */
  protected sigma = 0;
  protected sigmaKnown = false;
  /** Baseline (stable level, counts) and its weight for the tracker. */
  protected base = 0;
  protected baseW = 0;
  protected anchor = 0;
  /** Baseline before the tray was lifted out (NaN when not lifted) and when. */
  protected liftRef = NaN;
  protected liftMs = 0;
  protected anchorMs = 0;
  /** Last 4 watch deviations. */
  protected readonly wdev = [0, 0, 0, 0];
  protected wdevN = 0;
  protected wdevPos = 0;

  // Timing / fault tracking
  protected lastReadingMs = 0;
  protected lastNaN = false;
  /** Time of the first NaN of the current run of missing readings. */
  protected nanSince = 0;
  protected satSince = -1;
  protected lastRaw = NaN;
  protected stuckSince = 0;
  protected stuckN = 0;

  // ACTIVE
  protected readonly nStable: number;
  protected readonly nExt: number;
  protected readonly ring: SampleRing;
  protected preBase = 0;
  protected devCount = 0;
  /** Largest |reading − preBase| of the activity, counts (a hand presses far beyond a pill step). */
  protected peakDev = 0;
  /** The activity began with a jump between two samples (a fast hand between watch samples). */
  protected jumped = false;
  /** Single corrupted readings (spike-gate.ts); readings dropped; an event to return next. */
  protected readonly gate: SpikeGate;
  spikes = 0;
  private queued: LoadEvent | undefined = undefined;
  protected firstDevMs = -1;
  protected lastDevMs = -1;
  protected prevSampleMs = -1;
  protected extN = 0;
  protected extSum = 0;
  protected extOut = 0;

  /** 1-s noise blocks (full-rate modes only). */
  protected readonly blocks: NoiseBlocks;
  protected readonly blockN: number;

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
    this.ring = new SampleRing(this.nStable + 1);
    this.blockN = Math.max(10, Math.round(this.sps));
    this.blocks = new NoiseBlocks(this.blockN);
    this.gate = new SpikeGate(this.periodMs);
    this.sigma = this.sigmaFloor();
  }

  get faulty(): boolean {
    return this.mode === M_FAULT;
  }

  /** Current mode (for the dashboard and tests). */
  get state(): DetectorMode {
    return this.mode === M_INIT ? "init" : this.mode === M_WATCH ? "watch" : this.mode === M_ACTIVE ? "active" : "fault";
  }

  /**
   * How well one pill of the lightest medication stands out of a quick step measurement:
   * z = (pill / 2) / √(σ_step² + HYST_G² + (PILL_CV·pill)²). A count is sure (< 1 % miscount of
   * one pill) for z ≥ WEIGH_Z_SURE. NaN until the noise is known. docs/load-cells.md.
   */
  weighZ(): number {
    if (!this.sigmaKnown) return NaN;
    const sg = (this.sigma / Math.abs(this.cal.countsPerGram)) * Math.sqrt(1 / this.nStable + 1 / TRACK_N);
    const cv = PILL_CV * this.minPillG;
    return this.minPillG / 2 / Math.sqrt(sg * sg + HYST_G * HYST_G + cv * cv);
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
    if (this.queued !== undefined) {
      const q = this.queued;
      this.queued = undefined;
      if (this.mode !== M_WATCH) this.fullRate(raw, tMs, true);
      return q;
    }
    if (this.mode === M_WATCH) return this.watchSample(raw, tMs);
    return this.fullRate(raw, tMs, false);
  }

  /** Full-rate readings through the spike gate (spike-gate.ts). */
  private fullRate(raw: number, tMs: number, queuedOut: boolean): LoadEvent | undefined {
    const g = this.gate;
    // A white, loud last block is noise, not spikes: the noise check must see all of it.
    const loud = this.blocks.hSig[0] > 0.5 * NOISY_GRAMS * Math.abs(this.cal.countsPerGram) && this.blocks.white(1);
    const what = g.offer(raw, tMs, this.sigma, this.sigmaKnown && !loud);
    if (what === GATE_HOLD) return undefined;
    if (what === GATE_USE) {
      if (g.dropped !== this.spikes) {
        this.spikes = g.dropped;
        this.jumped = false;
      }
      return this.oneSample(raw, tMs);
    }
    const h = g.held;
    g.held = NaN;
    const ev = this.oneSample(h, g.heldMs);
    if (this.mode === M_WATCH) return ev;
    const ev2 = this.oneSample(raw, tMs);
    if (ev === undefined) return ev2;
    if (ev2 !== undefined && !queuedOut) this.queued = ev2;
    return ev;
  }

  private oneSample(x: number, tMs: number): LoadEvent | undefined {
    this.gate.used(x, tMs);
    if (this.mode === M_ACTIVE) {
      const ev = this.blockAdd(x, false);
      if (ev) return ev;
      return this.activeSample(x, tMs);
    }
    return this.blockAdd(x, false);
  }

  /** Waking on a jump: the first reading waits for the next one (a lone outlier is not a hand). */
  protected holdFirst(x: number, tMs: number): void {
    this.gate.hold(x, tMs, this.base);
  }

  // ------------------------------------------------------------------ internals

  protected sigmaFloor(): number {
    return Math.max(1, 0.0005 * Math.abs(this.cal.countsPerGram));
  }

  protected level(): number {
    if (this.mode === M_WATCH) return this.base;
    if (this.mode === M_ACTIVE && this.ring.n > 0) {
      const k = Math.min(this.ring.n, 4);
      let s = 0;
      for (let i = 0; i < k; i++) s += this.ring.newest(i);
      return s / k;
    }
    return NaN;
  }

  protected breakChain(): void {
    this.blocks.breakChain();
    this.gate.reset();
  }

  protected enterFault(code: LoadFault, tMs: number): LoadEvent {
    this.mode = M_FAULT;
    this.resetBlocks();
    this.ring.n = 0;
    return { kind: "fault", channel: this.ch, atMs: tMs, code };
  }

  protected enterActive(tMs: number, deviating: boolean): void {
    this.mode = M_ACTIVE;
    this.preBase = this.base;
    this.devCount = deviating ? 1 : 0;
    this.peakDev = 0;
    this.jumped = false;
    this.gate.startAt(this.base, tMs);
    this.firstDevMs = deviating ? tMs : -1;
    this.lastDevMs = deviating ? tMs : -1;
    this.ring.reset();
    this.extN = 0;
    this.extSum = 0;
    this.extOut = 0;
    this.resetBlocks();
  }

  /** Back to WATCH at `level`; `account` = the level is fully accounted for (re-anchor the drift check). */
  protected enterWatch(level: number, tMs: number, weight: number, account: boolean): void {
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
    this.ring.n = 0;
    this.gate.reset();
  }

  // ---------------------------------------------------------------- noise blocks

  protected resetBlocks(): void {
    this.blocks.reset();
  }

  /** Feed a full-rate sample to the 1-s noise blocks; may raise NOISY, recover, or finish INIT. */
  protected blockAdd(x: number, bad: boolean): LoadEvent | undefined {
    return this.blocks.add(x, bad) ? this.onBlock() : undefined;
  }

  protected onBlock(): LoadEvent | undefined {
    const cpg = Math.abs(this.cal.countsPerGram);
    const noisy = NOISY_GRAMS * cpg;
    const q0 = this.blocks.quiet(0, this.sigmaFloor());
    if (this.mode !== M_FAULT && q0 && this.blocks.hSig[0] > noisy && this.blocks.hSig[1] > noisy && this.blocks.white(2)) {
      return this.enterFault("NOISY", this.lastReadingMs);
    }
    if (!q0) return undefined;
    const sd = Math.max(this.blocks.hSig[0], this.blocks.hSig[1]);
    const st = Math.sqrt((this.blocks.hStd[0] * this.blocks.hStd[0] + this.blocks.hStd[1] * this.blocks.hStd[1]) / 2);
    if (this.mode === M_INIT) {
      if (sd > noisy || !this.blocks.white(2)) return undefined;
      this.sigma = Math.max(this.sigmaFloor(), Math.min(st, 2 * sd + this.sigmaFloor()));
      this.sigmaKnown = true;
      this.enterWatch(this.blocks.hMean[0], this.lastReadingMs, this.blockN, true);
      return undefined;
    }
    if (this.mode === M_FAULT) {
      if (sd > noisy / 2 || !this.blocks.white(2)) return undefined;
      this.sigma = Math.max(this.sigmaFloor(), Math.min(st, 2 * sd + this.sigmaFloor()));
      this.sigmaKnown = true;
      this.enterWatch(this.blocks.hMean[0], this.lastReadingMs, this.blockN, true);
      return { kind: "recovered", channel: this.ch, atMs: this.lastReadingMs };
    }
    // ACTIVE: a level that is quiet but noisier than we think -> adopt the higher noise.
    if (sd > 1.5 * this.sigma && sd <= noisy && this.blocks.white(2)) this.sigma = sd;
    return undefined;
  }

  /** A full-rate-or-watch sample in WATCH mode (the step detector, detector.ts). */
  protected abstract watchSample(x: number, tMs: number): LoadEvent | undefined;
  /** A sample in ACTIVE mode (the step detector, detector.ts). */
  protected abstract activeSample(x: number, tMs: number): LoadEvent | undefined;
}
