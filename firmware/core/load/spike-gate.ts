/**
 * Single corrupted readings, removed before the detector sees them (docs/load-cells.md,
 * "Spikes"). A full-rate reading further than SPIKE_K σ (plus 3× the last step) off the trend is
 * held back; the next one says whether the signal went there (both are used) or came straight
 * back (the held one is dropped: the chip filter spreads any physical change over several
 * readings, so a lone outlier is never physics). At most one is dropped per second: more is
 * noise, and the noise check must see it. XS-clean.
 */
import { SPIKE_K } from "./detector-params";

/** What to do with an offered reading. */
export const GATE_HOLD = 0;
export const GATE_USE = 1;
export const GATE_USE_HELD_THEN = 2;

export class SpikeGate {
  held = NaN;
  heldMs = 0;
  private last = NaN;
  private lastMs = 0;
  private step = 0;
  private dropMs = -Infinity;
  /** Readings dropped so far. */
  dropped = 0;

  constructor(private readonly periodMs: number) {}

  reset(): void {
    this.held = NaN;
    this.last = NaN;
  }

  /** The signal is known to be at `level` now (a wake from watch). */
  startAt(level: number, tMs: number): void {
    this.held = NaN;
    this.last = level;
    this.lastMs = tMs;
    this.step = 0;
  }

  /** Hold `x` back at once (a jump that woke the detector): the next reading judges it. */
  hold(x: number, tMs: number, level: number): void {
    this.startAt(level, tMs - this.periodMs);
    this.held = x;
    this.heldMs = tMs;
  }

  /** Offer reading x (sigma: per-reading noise, counts; known: whether sigma is measured yet). */
  offer(x: number, tMs: number, sigma: number, known: boolean): number {
    if (!Number.isNaN(this.held)) {
      if (Math.abs(x - this.held) <= Math.abs(x - (this.last + 2 * this.step))) return GATE_USE_HELD_THEN;
      this.held = NaN;
      this.dropMs = tMs;
      this.dropped++;
      return GATE_USE;
    }
    const off = Math.abs(x - this.last - this.step);
    if (
      known &&
      !Number.isNaN(this.last) &&
      tMs - this.lastMs <= 1.5 * this.periodMs &&
      tMs - this.dropMs >= 1000 &&
      off > SPIKE_K * sigma + 3 * Math.abs(this.step)
    ) {
      this.held = x;
      this.heldMs = tMs;
      return GATE_HOLD;
    }
    return GATE_USE;
  }

  /** A reading was used. */
  used(x: number, tMs: number): void {
    this.step = Number.isNaN(this.last) || tMs - this.lastMs > 1.5 * this.periodMs ? 0 : x - this.last;
    this.last = x;
    this.lastMs = tMs;
  }
}
