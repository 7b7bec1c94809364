/**
 * From a measured step (counts against the baseline) to pills: the pill-count fit with its
 * confidence, and the test for excursions no pill movement explains (tray lifted out, a hand
 * resting on it).
 */
import type { Medication } from "../config/types";
import { OVERDOSE_PENALTY, PILL_CV } from "./detector-params";
import { fitPills } from "./fit";

export interface StepParams {
  readonly countsPerGram: number;
  /** Per-sample rms noise, counts. */
  readonly sigma: number;
  /** Weight (samples) of the baseline the step is measured against. */
  readonly baseWeight: number;
  readonly meds: readonly Medication[];
  /** Mass of one full dose, grams. */
  readonly doseG: number;
  /** Extra 1-σ uncertainty of the step, grams (settling after a hand: HYST_G; 0 otherwise). */
  readonly extraG?: number;
}

/** Pill fit of a step (counts) measured as the mean of n samples against the baseline. */
export function fitStep(p: StepParams, stepCounts: number, n: number): { pills: number; confidence: number; perMed: readonly number[] } {
  const cpg = Math.abs(p.countsPerGram);
  const g = Math.abs(stepCounts) / cpg;
  const sm = (p.sigma / cpg) * Math.sqrt(1 / n + 1 / Math.max(1, p.baseWeight));
  const sg = p.extraG === undefined ? sm : Math.sqrt(sm * sm + p.extraG * p.extraG);
  if (p.meds.length === 0) return { pills: g > Math.max(6 * sg, 0.1) ? 1 : 0, confidence: 0, perMed: [] };
  const removal = stepCounts * p.countsPerGram < 0;
  return fitPills(g, p.meds, {
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
export function implausibleStep(p: StepParams, stepCounts: number): boolean {
  const cpg = Math.abs(p.countsPerGram);
  const g = Math.abs(stepCounts) / cpg;
  const margin = Math.max(0.3, (8 * p.sigma) / cpg);
  return stepCounts * p.countsPerGram < 0 ? g > 1.5 * p.doseG + margin : g > 8.5 * p.doseG + margin;
}
