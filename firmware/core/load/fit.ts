/**
 * Pill counting for the load-cell detector: which combination of the dose's
 * medications best explains a measured mass step, and how sure we are.
 *
 * XS-clean and bit-deterministic: only + - * / and Math.floor/round/abs/min/max/sqrt,
 * fixed iteration order (medications in the order given).
 */
import type { Medication } from "../config/types";

/** e^-x for x >= 0 using only + - * / (range reduction by 2^10 then a 5-term series). */
export function expNeg(x: number): number {
  if (!(x > 0)) return 1;
  if (x > 700) return 0;
  const y = x / 1024;
  let r = 1 - y * (1 - y * (0.5 - y * (1 / 6 - y * (1 / 24 - y / 120))));
  for (let i = 0; i < 10; i++) r = r * r;
  return r;
}

/** Natural logarithm for x > 0 using only + - * / (exact scaling by 2, then an atanh series). */
export function lnPos(x: number): number {
  if (!(x > 0)) return -Infinity;
  let k = 0;
  let m = x;
  while (m > 1.5) {
    m = m / 2;
    k++;
  }
  while (m < 0.75) {
    m = m * 2;
    k--;
  }
  const z = (m - 1) / (m + 1);
  const z2 = z * z;
  let term = z;
  let sum = 0;
  for (let i = 1; i < 40; i += 2) {
    sum += term / i;
    term *= z2;
  }
  return 2 * sum + k * Math.LN2;
}

export interface PillFit {
  /** Best estimate of the total number of pills (0 = no pill-sized change). */
  readonly pills: number;
  /** Posterior probability (0..1) that `pills` is the right total, given the noise. */
  readonly confidence: number;
  /** Pills per medication (same order as `meds`) of the best combination. */
  readonly perMed: readonly number[];
  /** Measured minus explained mass, grams. */
  readonly residualGrams: number;
}

export interface FitOptions {
  /** Std-dev of the mass measurement itself, grams. */
  readonly sigmaGrams: number;
  /** Relative std-dev of one pill's mass around unitMg (tablet weight variation), default 0.03. */
  readonly pillCv?: number;
  /** Largest multiple of each medication's `count` considered (removal 2, refill 8). */
  readonly maxFactor: number;
  /** Penalty (in chi-square units) per pill beyond the dose's count of that medication; 0 = none. */
  readonly overDosePenalty: number;
}

/** Hard bound on combinations visited (heap/CPU bound on the device). */
const MAX_VISITS = 5000;
/** Largest total we keep a likelihood bucket for. */
const MAX_TOTAL = 120;

/**
 * Best combination of pills (0..maxFactor*count of each medication) explaining `grams` (>= 0).
 * The score of a combination is resid^2/var + penalty with
 * var = sigma^2 + sum(a_i * (cv*m_i)^2) (plus ln(var/sigma^2), the Gaussian normaliser); the confidence is the likelihood of the best
 * total divided by the summed likelihood of every total (flat prior apart from the penalty).
 */
export function fitPills(grams: number, meds: readonly Medication[], opts: FitOptions): PillFit {
  const n = meds.length;
  const mass: number[] = [];
  const maxA: number[] = [];
  for (let i = 0; i < n; i++) {
    mass.push(meds[i].unitMg / 1000);
    maxA.push(Math.max(1, Math.floor(meds[i].count * opts.maxFactor)));
  }
  const cv = opts.pillCv === undefined ? 0.03 : opts.pillCv;
  const s2 = opts.sigmaGrams * opts.sigmaGrams;
  const v0 = s2 > 0 ? s2 : 1e-12;
  const a: number[] = [];
  for (let i = 0; i < n; i++) a.push(0);
  // Likelihood sums per total pill count, relative to the best score seen so far
  // (rescaled when the best improves): bounded memory, no list of all combinations.
  const bucket: number[] = [];
  for (let t = 0; t <= MAX_TOTAL; t++) bucket.push(0);
  let bestScore = Infinity;
  let bestChi = 0;
  let bestTotal = 0;
  let bestCombo: number[] = a.slice();
  let bestResid = grams;
  let visits = 0;

  const visit = (m: number, v: number, total: number, pen: number): void => {
    const r = grams - m;
    const chi = (r * r) / v;
    // -2 ln(likelihood) of a Gaussian: the variance term keeps wide combinations honest.
    const sc = chi + lnPos(v / v0) + pen;
    if (sc < bestScore) {
      if (bestScore !== Infinity) {
        const f = expNeg((bestScore - sc) / 2);
        for (let t = 0; t <= MAX_TOTAL; t++) bucket[t] *= f;
      }
      bestScore = sc;
      bestChi = chi;
      bestTotal = total;
      bestCombo = a.slice();
      bestResid = r;
    }
    if (total <= MAX_TOTAL) bucket[total] += expNeg((sc - bestScore) / 2);
  };

  const rec = (i: number, m: number, v: number, total: number, pen: number): void => {
    if (visits >= MAX_VISITS) return;
    if (i === n) {
      visits++;
      visit(m, v, total, pen);
      return;
    }
    const mi = mass[i];
    const vi = cv * mi * (cv * mi);
    for (let k = 0; k <= maxA[i]; k++) {
      a[i] = k;
      const mk = m + k * mi;
      const vk = v + k * vi;
      const over = k > meds[i].count ? k - meds[i].count : 0;
      rec(i + 1, mk, vk, total + k, pen + over * opts.overDosePenalty);
      // Adding more pills only increases the mass: stop once far above the target.
      if (mk - grams > 8 * Math.sqrt(vk)) break;
    }
    a[i] = 0;
  };
  rec(0, 0, v0, 0, 0);

  let sum = 0;
  for (let t = 0; t <= MAX_TOTAL; t++) sum += bucket[t];
  const bestL = bestTotal <= MAX_TOTAL ? bucket[bestTotal] : 0;
  // Goodness of fit: a step no combination explains (beyond 3 sigma) is not trusted.
  const goodness = bestChi > 9 ? expNeg((bestChi - 9) / 2) : 1;
  const confidence = sum > 0 ? (bestL / sum) * goodness : 0;
  return { pills: bestTotal, confidence, perMed: bestCombo, residualGrams: bestResid };
}
