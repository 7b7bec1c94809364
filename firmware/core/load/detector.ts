import { DetectorBase } from "./detector-base";
import type { LoadEvent } from "./events";
import { fitStep, implausibleStep, type StepParams } from "./step-fit";
import { Smoother } from "./smoother";
import { SampleRing } from "./sample-ring";
import {
  JUMP_K,
  DRIFT_G_PER_H,
  ANCHOR_MS,
  BUMP_MS,
  QUICK_CONFIDENCE,
  LIFT_MAX_MS,
  TRACK_N,
  TAKEN_CONFIDENCE,
  HYST_G,
  HAND_G,
  PENDING_MS,
  WHITE_RATIO,
} from "./detector-params";
export * from "./detector-params";

/**
 * The step detector over the front end (detector-base.ts): watch mode (slow sampling, wakes on
 * a deviation, tracks drift), active mode (stability, settling, the pill-count fit) and the
 * removal / addition / lift / bump events.
 */
export class ChannelDetector extends DetectorBase {
  /** Rocking-aware smoothing at fast rates (≥ 40 SPS), reset at each wake. */
  private readonly smooth = this.sps >= 40 ? new Smoother(this.sps) : undefined;
  /** The raw readings behind the smoothed ones: smoothing must not hide loud white noise. */
  private readonly rawRing = new SampleRing(this.nStable);
  /** An uncertain removal's step (counts) that the next removal by hand is judged with, and when. */
  private pending = 0;
  private pendingMs = 0;

  protected override watchSample(x: number, tMs: number): LoadEvent | undefined {
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
      this.jumped = Math.abs(dev) > 5 * s;
      this.prevSampleMs = tMs;
      // A jump waits for the next reading (a lone corrupted one is dropped); a slow wake starts the ring.
      if (this.jumped) this.holdFirst(x, tMs);
      else this.ring.add(x);
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
      const f = this.stepFit(step, this.baseW);
      return this.stepEvent(step, f.pills, f.confidence, f.perMed, tMs, true);
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
      const fit = this.stepFit(drift, this.baseW);
      // Only a change the dose explains (a slow removal still in progress is not yet).
      if (fit.pills > 0 && fit.confidence >= 0.5) {
        this.anchor = this.base;
        this.anchorMs = tMs;
        // No hand was seen: pills do not leave by themselves, a slow change is never "taken".
        return this.stepEvent(drift, fit.pills, fit.confidence, fit.perMed, tMs, false);
      }
    }
    if (tMs - this.anchorMs >= ANCHOR_MS && Math.abs(drift) <= allowance) {
      this.anchor = this.base;
      this.anchorMs = tMs;
    }
    return undefined;
  }

  protected override enterActive(tMs: number, deviating: boolean): void {
    super.enterActive(tMs, deviating);
    this.smooth?.reset();
    this.rawRing.reset();
  }

  protected override activeSample(x: number, tMs: number): LoadEvent | undefined {
    const s = this.sigma;
    const dev = x - this.preBase;
    if (Math.abs(dev) > this.peakDev) this.peakDev = Math.abs(dev);
    if (Math.abs(dev) > 4 * s) {
      this.devCount++;
      if (this.firstDevMs < 0) this.firstDevMs = this.prevSampleMs >= 0 ? this.prevSampleMs : tMs;
      this.lastDevMs = tMs;
    }
    this.prevSampleMs = tMs;
    // The level is judged on the rocking-free stream at fast rates (smoother.ts), the hand on raw readings.
    if (this.smooth !== undefined) {
      this.rawRing.add(x);
      x = this.smooth.push(x);
    }
    this.ring.add(x);
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
    if (this.ring.n < this.nStable + 1 || !this.ringStable()) return undefined;
    return this.settle(this.ring.sum(this.nStable) / this.nStable, this.nStable, tMs, false);
  }

  /**
   * Stability of the newest nStable samples: range, trend (first vs second half) and a settling
   * guard: the sample before the window must not differ from it by a large jump (the chip's
   * filter leaves a residue of a jump in the next reading).
   */
  private ringStable(): boolean {
    const n = this.nStable;
    const s = this.sigma;
    if (Math.abs(this.ring.newest(n) - this.ring.newest(n - 1)) > JUMP_K * s) return false;
    // Identical readings are a stuck chip, not a stable load (a live HX711 always has LSB noise).
    if (this.stuckN >= 3) return false;
    let lo = Infinity;
    let hi = -Infinity;
    let first = 0;
    let second = 0;
    const h = Math.floor(n / 2);
    for (let i = 0; i < n; i++) {
      const v = this.ring.newest(n - 1 - i);
      if (v < lo) lo = v;
      if (v > hi) hi = v;
      if (i < h) first += v;
      else if (i >= n - h) second += v;
    }
    if (this.smooth !== undefined && this.rawRing.n >= n && this.loudWhite(n)) return false;
    const rangeK = n <= 8 ? 5 : 6;
    if (hi - lo > rangeK * s) return false;
    // Smoothed readings average `span` raw ones each: their half-means are that much steadier, so a
    // filter tail still converging (a level not reached yet) must show as a trend.
    const span = this.smooth === undefined ? 0 : this.smooth.span;
    return Math.abs(second / h - first / h) <= 3 * s * Math.sqrt(2 / (h + span));
  }

  /**
   * The raw readings of the window are loud, white noise (a failing connection, not a hand nor
   * rocking, which are smooth): per-reading noise from second differences above 2.5σ and
   * var(d2) / 3·var(d1) > WHITE_RATIO.
   */
  private loudWhite(n: number): boolean {
    let s1 = 0;
    let s2 = 0;
    for (let i = 0; i + 2 < n; i++) {
      const a = this.rawRing.newest(i);
      const b = this.rawRing.newest(i + 1);
      const c = this.rawRing.newest(i + 2);
      s1 += (a - b) * (a - b);
      s2 += (a - 2 * b + c) * (a - 2 * b + c);
    }
    const m = n - 2;
    const sd = Math.sqrt(s2 / m / 6);
    return sd > 2.5 * this.sigma && s2 > WHITE_RATIO * 3 * s1;
  }

  private stepParams(): StepParams {
    return {
      countsPerGram: this.cal.countsPerGram,
      sigma: this.sigma,
      baseWeight: this.baseW,
      meds: this.meds,
      doseG: this.doseG,
      extraG: HYST_G,
    };
  }

  private stepFit(stepCounts: number, n: number): { pills: number; confidence: number; perMed: readonly number[] } {
    return fitStep(this.stepParams(), stepCounts, n);
  }

  /** Would averaging nExt samples (same mean) raise the confidence noticeably? */
  private longerHelps(stepCounts: number, conf: number): boolean {
    return this.stepFit(stepCounts, this.nExt).confidence > conf + 0.02;
  }

  private settle(level: number, n: number, tMs: number, extended: boolean): LoadEvent | undefined {
    const lifted = !Number.isNaN(this.liftRef);
    const ref = lifted ? this.liftRef : this.preBase;
    const step = level - ref;
    if (implausibleStep(this.stepParams(), step)) {
      // Tray out / object on (or still): judge only when the level comes back.
      if (!lifted) {
        this.liftRef = this.preBase;
        this.liftMs = this.firstDevMs < 0 ? tMs : this.firstDevMs;
      }
      this.enterWatch(level, tMs, Math.min(n, TRACK_N), false);
      return undefined;
    }
    const fit = this.stepFit(step, n);
    const added = step * this.cal.countsPerGram > 0;
    if (!extended && fit.pills > 0 && (added || (fit.confidence < QUICK_CONFIDENCE && this.longerHelps(step, fit.confidence)))) {
      // Ambiguous count, or an addition (a refill can wait; a touch near its peak must not pass
      // for one): keep averaging while the level holds (bounded by nExt samples).
      this.extSum = this.ring.sum(this.nStable);
      this.extN = this.nStable;
      this.extOut = 0;
      return undefined;
    }
    const devCount = this.devCount;
    const dur = this.firstDevMs < 0 ? 0 : this.lastDevMs - this.firstDevMs + this.periodMs;
    if (fit.pills > 0 || lifted) {
      this.enterWatch(level, tMs, Math.min(n, TRACK_N), true);
      // A hand: seen pressing, or the change came as a jump between two samples (no drift does that).
      const hand = lifted || this.jumped || this.peakDev > Math.abs(step) + HAND_G * Math.abs(this.cal.countsPerGram);
      if (fit.pills > 0) return this.stepEvent(step, fit.pills, fit.confidence, fit.perMed, tMs, hand, n);
      return { kind: "lift", channel: this.ch, atMs: tMs };
    }
    // No pill-sized change since the baseline: but small changes may add up (slow removal).
    this.enterWatch(level, tMs, Math.min(n, TRACK_N), false);
    const acc = this.checkAnchor(tMs);
    if (acc) return acc;
    if (devCount <= 1) return undefined; // noise wake-up or a single glitch
    return dur < BUMP_MS ? { kind: "bump", channel: this.ch, atMs: tMs } : { kind: "lift", channel: this.ch, atMs: tMs };
  }

  /**
   * The event of a pill-sized step. A removal is "taken" (`removal`) only when a hand was seen
   * and the count is confident (TAKEN_CONFIDENCE); else it is `uncertain`. A removal by hand that
   * follows an uncertain one on this tray within PENDING_MS (no refill between) is judged on the
   * sum of both steps: when that is confident, the `removal` counts the pills of both.
   */
  private stepEvent(
    stepCounts: number,
    pills: number,
    confidence: number,
    perMed: readonly number[],
    tMs: number,
    hand: boolean,
    n = this.baseW,
  ): LoadEvent {
    let step = stepCounts;
    let f = { pills, confidence, perMed };
    if (step * this.cal.countsPerGram >= 0) {
      this.pending = 0;
      return { kind: "addition", channel: this.ch, atMs: tMs, grams: this.gramsOf(step), pills, confidence: this.conf(confidence) };
    }
    if (hand && this.pending !== 0 && tMs - this.pendingMs < PENDING_MS) {
      const both = this.stepFit(this.pending + stepCounts, n);
      if (both.pills > 0) {
        step = this.pending + stepCounts;
        f = both;
      }
    }
    const taken = hand && f.confidence >= TAKEN_CONFIDENCE;
    // An ambiguous count waits for the next removal; a change with no hand never adds to one.
    this.pending = taken || !hand ? 0 : step;
    this.pendingMs = tMs;
    const kind = taken ? "removal" : "uncertain";
    return {
      kind,
      channel: this.ch,
      atMs: tMs,
      grams: this.gramsOf(step),
      pills: f.pills,
      confidence: this.conf(f.confidence),
      perMed: f.perMed,
    };
  }

  private gramsOf(stepCounts: number): number {
    return Math.round(Math.abs(stepCounts / this.cal.countsPerGram) * 10000) / 10000;
  }

  private conf(c: number): number {
    return Math.round(c * 1000) / 1000;
  }
}
