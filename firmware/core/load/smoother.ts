/**
 * Rocking-aware smoothing for fast rates (docs/load-cells.md, "Rebound"): after the hand leaves,
 * a box on its feet rocks at 6–10 Hz for a fraction of a second. At 80 SPS the chip's own filter
 * (4 conversions, 50 ms) passes that, and a stable window would wait for it to die out. Two
 * running means of 1/10 s and 1/6 s (nulls at 10 and 6 Hz and their multiples) take it down by
 * ≥ 20× over 6–10 Hz for ≈ 120 ms of delay. Exact running sums (XS-clean, bit-deterministic).
 */
export class Smoother {
  private readonly a: Float64Array;
  private readonly b: Float64Array;
  private na = 0;
  private pa = 0;
  private sa = 0;
  private nb = 0;
  private pb = 0;
  private sb = 0;

  /** Raw readings behind one smoothed value, less one (its extra averaging). */
  readonly span: number;

  constructor(sps: number) {
    this.a = new Float64Array(Math.max(1, Math.round(sps / 10)));
    this.b = new Float64Array(Math.max(1, Math.round(sps / 6)));
    this.span = this.a.length + this.b.length - 2;
  }

  reset(): void {
    this.na = this.pa = this.sa = 0;
    this.nb = this.pb = this.sb = 0;
  }

  /** The next smoothed value (means of what is held while the windows fill). */
  push(x: number): number {
    const m1 = this.step(this.a, x, 0);
    return this.step(this.b, m1, 1);
  }

  private step(buf: Float64Array, x: number, which: number): number {
    const cap = buf.length;
    if (which === 0) {
      if (this.na === cap) this.sa -= buf[this.pa];
      else this.na++;
      buf[this.pa] = x;
      this.sa += x;
      this.pa = (this.pa + 1) % cap;
      return this.sa / this.na;
    }
    if (this.nb === cap) this.sb -= buf[this.pb];
    else this.nb++;
    buf[this.pb] = x;
    this.sb += x;
    this.pb = (this.pb + 1) % cap;
    return this.sb / this.nb;
  }
}
