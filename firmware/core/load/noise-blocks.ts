/**
 * Noise blocks of a load-cell channel: full-rate samples grouped in blocks of about one second;
 * per block a robust noise estimate (median of |second differences|), mean, standard
 * deviation and a clean flag, with a history of the last three blocks. The detector decides
 * from them (noise floor, NOISY fault, recovery, end of INIT).
 */
import { WHITE_RATIO } from "./detector-params";

export class NoiseBlocks {
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
  /** History of the last 3 blocks (index 0 = newest): noise (d2-based), mean, std, clean flag. */
  readonly hSig = [0, 0, 0];
  readonly hMean = [0, 0, 0];
  readonly hStd = [0, 0, 0];
  private readonly hClean = [false, false, false];
  /** Per block: sum of squared first / second differences and their counts. */
  private readonly hD1 = [0, 0, 0];
  private readonly hD1N = [0, 0, 0];
  private readonly hD2 = [0, 0, 0];
  private readonly hD2N = [0, 0, 0];
  private hN = 0;

  constructor(private readonly blockN: number) {
    this.bD2 = new Float64Array(blockN);
    this.bSort = new Float64Array(blockN);
  }

  /** The next sample does not continue the previous ones (no differences across the gap). */
  breakChain(): void {
    this.p1 = NaN;
    this.p2 = NaN;
  }

  reset(): void {
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

  /** Adds a sample (bad: a rejected reading); true when it completed a block (history updated). */
  add(x: number, bad: boolean): boolean {
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
    if (this.bN < this.blockN) return false;
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
    return true;
  }

  /** Two newest blocks are clean and their means agree within their noise. */
  quiet(i: number, floor: number): boolean {
    if (this.hN < i + 2 || !this.hClean[i] || !this.hClean[i + 1]) return false;
    const s = Math.max(this.hSig[i], this.hSig[i + 1], floor);
    return Math.abs(this.hMean[i] - this.hMean[i + 1]) <= 6 * s * Math.sqrt(2 / this.blockN);
  }

  /**
   * Whiteness of the last k blocks: var(d2) / (3 var(d1)) is 1 for white noise and well
   * below 1 for anything smooth (a hand's wobble and tremor seen through the chip filter).
   */
  white(k: number): boolean {
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
}
