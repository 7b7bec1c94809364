/**
 * Rocking-aware smoothing for fast rates (docs/load-cells.md, "Rebound"): after the hand leaves,
 * a box on its feet rocks at 6–10 Hz for a fraction of a second. At 80 SPS the chip's own filter
 * (4 conversions, 50 ms) passes that, and a stable window would wait for it to die out. Two
 * running means of 1/10 s and 1/6 s (nulls at 10 and 6 Hz and their multiples) take it down by
 * ≥ 20× over 6–10 Hz for ≈ 120 ms of delay. Exact running sums (XS-clean, bit-deterministic).
 */

/** Mean of the newest `length` values pushed (of what is held while it fills). */
class RunningMean {
  private readonly buf: Float64Array;
  private n = 0;
  private pos = 0;
  private sum = 0;

  constructor(readonly length: number) {
    this.buf = new Float64Array(length);
  }

  reset(): void {
    this.n = 0;
    this.pos = 0;
    this.sum = 0;
  }

  push(x: number): number {
    if (this.n === this.length) this.sum -= this.buf[this.pos];
    else this.n++;
    this.buf[this.pos] = x;
    this.sum += x;
    this.pos = (this.pos + 1) % this.length;
    return this.sum / this.n;
  }
}

export class Smoother {
  private readonly a: RunningMean;
  private readonly b: RunningMean;
  /** Raw readings behind one smoothed value, less one (its extra averaging). */
  readonly span: number;

  constructor(sps: number) {
    this.a = new RunningMean(Math.max(1, Math.round(sps / 10)));
    this.b = new RunningMean(Math.max(1, Math.round(sps / 6)));
    this.span = this.a.length + this.b.length - 2;
  }

  reset(): void {
    this.a.reset();
    this.b.reset();
  }

  /** The next smoothed value. */
  push(x: number): number {
    return this.b.push(this.a.push(x));
  }
}
