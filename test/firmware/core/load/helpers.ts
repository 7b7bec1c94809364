import { BayModel } from "../../../../host-sim/kernel/hw/mass-model";
import { ChannelDetector } from "../../../../firmware/core/load/detector";
import type { Medication } from "../../../../firmware/core/config/types";
import type { Calibration, LoadEvent } from "../../../../firmware/core/load/events";
import { gauss12, lcg } from "../../../support/prng";

export const CAL: Calibration = { offset: 120000, countsPerGram: 2147.5 };
export const MEDS: Medication[] = [{ name: "A", count: 2, unitMg: 500 }];

/** Drive a detector from a raw source, honouring nextIntervalMs(); returns the events. */
export function drive(
  det: ChannelDetector,
  raw: (t: number) => number,
  untilMs: number,
  startMs = 0,
): { events: LoadEvent[]; samples: number } {
  const events: LoadEvent[] = [];
  let t = startMs;
  let samples = 0;
  while (t <= untilMs) {
    const ev = det.push(raw(t), t);
    samples++;
    if (ev) events.push(ev);
    t += det.nextIntervalMs();
  }
  return { events, samples };
}

export function setup(sps: number, seed: number, meds: Medication[] = MEDS, initialGrams = 40) {
  const model = new BayModel({ seed, sps, calibration: CAL, initialGrams });
  const det = new ChannelDetector({ channel: 0, sps, calibration: CAL, meds });
  return { model, det };
}

/** Deterministic Gaussian-ish noise for synthetic streams. */
export function lcgNoise(seed: number): () => number {
  const r = lcg(seed);
  return () => gauss12(r);
}
