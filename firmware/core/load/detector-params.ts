/**
 * The dose detector's options, snapshot, modes and tuning constants (docs/load-cells.md), and the
 * two-point calibration.
 */
import type { Medication } from "../config/types";
import type { Calibration } from "./events";

export interface DetectorOptions {
  channel: number;
  /** Conversion rate of the chip (10 or 80; anything in 1..1000 works). */
  sps: number;
  calibration: Calibration;
  /** The dose in this bay; unit masses for pill counting. */
  meds: readonly Medication[];
  /** Sampling period while everything is stable (WATCH mode), default 1000 ms. */
  watchIntervalMs?: number;
}

/** What the device persists for a channel. */
export interface DetectorSnapshot {
  tareCounts: number;
  calibration: Calibration;
}

export type DetectorMode = "init" | "watch" | "active" | "fault";

export const RAW_MAX = 0x7fffff;
export const RAW_MIN = -0x800000;

/** Time without any reading before DISCONNECTED. */
export const DISCONNECT_MS = 3000;
/** Time of continuous saturation before SATURATED. */
export const SATURATE_MS = 1000;
/** Identical raw values for this long (and at least STUCK_MIN_N samples) = STUCK. */
export const STUCK_MS = 2000;
export const STUCK_MIN_N = 8;
/** Per-sample rms noise (grams) above which a quiet channel is NOISY. */
export const NOISY_GRAMS = 0.5;
/** A full-rate reading this many σ from the last one is held back as a possible spike. */
export const SPIKE_K = 12;
/** var(d2)/(3 var(d1)) above this = white noise (1 for white noise, ~0.25 for a hand). */
export const WHITE_RATIO = 0.6;
/** A jump larger than this (in sigmas) just before a window disqualifies the window. */
export const JUMP_K = 20;
/** Physical zero drift the tracker may follow (temperature + creep), grams per hour. */
export const DRIFT_G_PER_H = 0.5;
/** Re-anchor the drift tracker at least this often. */
export const ANCHOR_MS = 600000;
/** Activity shorter than this with no net change is a bump, longer a lift. */
export const BUMP_MS = 1000;
/** Accept the pill count at once above this confidence, else average longer. */
export const QUICK_CONFIDENCE = 0.995;
/** Relative std-dev of a tablet's mass (pharmacopoeia uniformity is a few %). */
export const PILL_CV = 0.03;
/** Penalty per pill beyond the dose (chi-square units) when counting a removal. */
export const OVERDOSE_PENALTY = 6;
/** A tray lifted out longer than this counts as its contents removed. */
export const LIFT_MAX_MS = 120000;
/**
 * A removal is "taken" only at or above this confidence; below, it is `uncertain` (the pills may
 * have left, the signal cannot show how many): the dose stays open (docs/load-cells.md).
 */
export const TAKEN_CONFIDENCE = 0.99;
/**
 * Settling allowance of a step measured right after a hand (hysteresis of the cell and the tray,
 * seen up to ≈ 45 mg; 1 σ here), grams: added to the measurement noise in the pill fit.
 */
export const HYST_G = 0.012;
/**
 * A hand was seen when the activity went this far (grams) beyond the step it left: pills are
 * taken by a hand that presses the tray; a change without one (drift, wander, settling) is
 * never "taken".
 */
export const HAND_G = 1;
/** Detectability (weighZ) from which one pill is counted surely: P(miscount) = 2·Q(z) < 1 %. */
export const WEIGH_Z_SURE = 2.6;
/** An uncertain removal is judged again with the next removal by hand within this time. */
export const PENDING_MS = 600000;
/** Time constant of the baseline tracker, in watch samples. */
export const TRACK_N = 64;

export const M_INIT = 0;
export const M_WATCH = 1;
export const M_ACTIVE = 2;
export const M_FAULT = 3;

export function isSaturated(raw: number): boolean {
  return raw >= RAW_MAX || raw <= RAW_MIN;
}

/** Two-point calibration: grams = (raw - offset) / countsPerGram through both points. */
export function twoPointCalibration(g0: number, raw0: number, g1: number, raw1: number): Calibration {
  if (!(Number.isFinite(g0) && Number.isFinite(g1) && Number.isFinite(raw0) && Number.isFinite(raw1))) {
    throw new RangeError("CAL_NOT_FINITE");
  }
  if (Math.abs(g1 - g0) < 1e-6) throw new RangeError("CAL_SAME_MASS");
  const cpg = (raw1 - raw0) / (g1 - g0);
  if (!(Math.abs(cpg) >= 1)) throw new RangeError("CAL_TOO_FLAT");
  return { offset: raw0 - g0 * cpg, countsPerGram: cpg };
}
