/** The newest full-rate samples of a channel in ACTIVE mode, for the stability test and the step mean. */
export class SampleRing {
  private readonly buf: Float64Array;
  /** Samples held (up to the capacity) and the next write position. */
  n = 0;
  pos = 0;

  constructor(capacity: number) {
    this.buf = new Float64Array(capacity);
  }

  reset(): void {
    this.n = 0;
    this.pos = 0;
  }

  add(x: number): void {
    this.buf[this.pos] = x;
    this.pos = (this.pos + 1) % this.buf.length;
    if (this.n < this.buf.length) this.n++;
  }

  /** The k-th newest sample (0 = newest). */
  newest(k: number): number {
    const cap = this.buf.length;
    return this.buf[(this.pos - 1 - k + 2 * cap) % cap];
  }

  /** Sum of the newest n samples. */
  sum(n: number): number {
    let sum = 0;
    for (let i = n - 1; i >= 0; i--) sum += this.newest(i);
    return sum;
  }
}
