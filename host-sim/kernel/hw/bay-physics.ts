/**
 * Physics of a load-cell bay for the BayModel: options, HX711 noise figures, deterministic hash
 * noise and the shapes of creep, ringing and smooth wander.
 */
import type { Calibration } from "../../../firmware/core/load/events";

export type BayFaultKind = "disconnect" | "stuck" | "saturate" | "noisy";

export interface BayModelOptions {
  seed: number;
  sps: number;
  calibration: Calibration;
  /** Mass resting on the cell (tray + contents) above the calibration zero, grams. */
  initialGrams: number;
  /** RMS noise per reading, counts. Default: HX711 datasheet (50 nV at 10 SPS, 90 nV at 80 SPS) at 650.8 counts/uV. */
  noiseCounts?: number;
  /** Largest slope of the temperature drift, counts per hour (default 200). */
  tempDriftCountsPerHour?: number;
  /** Creep as a fraction of a load step (default 0.0003 = 0.03 %). */
  creepFraction?: number;
  /** RMS noise of a "noisy" fault, grams (default 1.5 g). */
  faultNoiseGrams?: number;
}

/** HX711 at gain 128, AVDD 3.3 V: +-0.5*AVDD/128 = +-12.89 mV spans 2^23 counts. */
export const COUNTS_PER_UV = 8388608 / ((0.5 * 3.3e6) / 128);
/**
 * Ratiometric (excitation = AVDD): a 1 kg, 1 mV/V cell gives 1e-3 * AVDD over 1000 g against a
 * full scale of 0.5 * AVDD / 128, i.e. 2^23 * 1e-3 * 256 / 1000 = 2147.5 counts per gram.
 */
export const COUNTS_PER_GRAM_1KG_1MVV = (8388608 * 0.001 * 256) / 1000;

/** Datasheet input noise (nV rms) for a rate. */
export function hx711NoiseCounts(sps: number): number {
  return ((sps >= 40 ? 90 : 50) / 1000) * COUNTS_PER_UV;
}

export const KIND_REMOVE = 0;
export const KIND_ADD = 1;
export const KIND_BUMP = 2;
export const KIND_LIFT = 3;

export const RING_MS = 120;
export const CREEP_MS = 1200000;
/** Actions are folded into the settled mass this long after their creep horizon. */
export const FOLD_MARGIN_MS = 3600000;
export const KNOT_MS = 3 * 3600000;
export const TWO32 = 4294967296;

export interface Action {
  readonly kind: number;
  readonly at: number;
  readonly dur: number;
  /** removal/addition: grams moved (signed net); bump: peak. */
  readonly grams: number;
  /** Net load change once finished. */
  readonly net: number;
  /** Hand press force (grams), wobble phase, tremor phase. */
  readonly press: number;
  readonly ph1: number;
  readonly ph2: number;
  /** Insertion sequence (tie-break of equal times). */
  readonly seq: number;
}

export interface FaultSpan {
  readonly at: number;
  readonly until: number;
  readonly kind: BayFaultKind;
}

export function mix32(x: number): number {
  let h = x >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  h ^= h >>> 15;
  h = Math.imul(h, 0x846ca68b);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Hash of (seed, integer key possibly above 2^32, salt) to a 32-bit unsigned. */
export function hash3(seed: number, key: number, salt: number): number {
  const hi = Math.floor(key / TWO32);
  const lo = key - hi * TWO32;
  return mix32(mix32(mix32(seed ^ Math.imul(salt, 0x9e3779b9)) ^ lo) + Math.imul(hi, 0x85ebca6b));
}

export function unit(seed: number, key: number, salt: number): number {
  return hash3(seed, key, salt) / TWO32;
}

/** Triangle wave in [-1, 1] with period 1. */
export function tri(x: number): number {
  const f = x - Math.floor(x);
  return 4 * Math.abs(f - 0.5) - 1;
}

/** 0 below 0, 1 above 1, smooth in between. */
export function smooth(u: number): number {
  if (u <= 0) return 0;
  if (u >= 1) return 1;
  return u * u * (3 - 2 * u);
}

export function creepShape(ageMs: number): number {
  if (ageMs <= 0) return 0;
  if (ageMs >= CREEP_MS) return 1;
  const v = 1 - ageMs / CREEP_MS;
  return 1 - v * v * v;
}

export function bspline4(u: number): number {
  if (u <= 0 || u >= 4) return 0;
  if (u < 1) return (u * u * u) / 6;
  if (u < 2) return (-3 * u * u * u + 12 * u * u - 12 * u + 4) / 6;
  if (u < 3) return (3 * u * u * u - 24 * u * u + 60 * u - 44) / 6;
  const v = 4 - u;
  return (v * v * v) / 6;
}

export const TAPS = 16;
