/**
 * Where a confirmed removal belongs, and what it does to a dose slot. Pure functions over the
 * slots: the dispenser logs what they decide.
 *
 * Attribution of a removal from compartment C at time t, in order:
 *  1. the oldest slot of C whose window is open (upcoming within earlyMin, due, late, partial,
 *     wrong_compartment) — else a slot of C already closed as missed (taken after missed);
 *  2. C holds an as-needed (PRN) dose;
 *  3. another compartment is calling: the wrong compartment was opened;
 *  4. nothing was expected from C: an unscheduled removal.
 */
import type { PrnDose } from "../config/types";
import { REACHED_MISSED, isOpen, type Slot } from "./slots";
import { EV, type EventType } from "../protocol/events";
import { MS_PER_MINUTE } from "../schedule/civil";

const DAY = 86_400_000;
/** PRN intake times kept per PRN entry (bounded; ≥ the largest maxPer24h the validator allows). */
export const PRN_HISTORY = 12;

export type Attribution =
  | { readonly kind: "slot"; readonly slot: Slot }
  | { readonly kind: "prn"; readonly prn: PrnDose }
  | { readonly kind: "wrong"; readonly calling: readonly Slot[] }
  | { readonly kind: "unscheduled" };

export function attributeRemoval(slots: readonly Slot[], comp: string, now: number, prn: PrnDose | undefined): Attribution {
  let best: Slot | undefined;
  for (const s of slots) {
    if (s.comp === comp && isOpen(s) && s.open <= now && (best === undefined || s.due < best.due)) best = s;
  }
  if (best === undefined) {
    for (const s of slots) {
      if (s.comp === comp && !isOpen(s) && s.state !== "taken" && s.state !== "taken_early") {
        best = s;
        break;
      }
    }
  }
  if (best !== undefined) return { kind: "slot", slot: best };
  if (prn !== undefined) return { kind: "prn", prn };
  const calling = slots.filter((s) => s.comp !== comp && isOpen(s) && s.open <= now);
  if (calling.length > 0) return { kind: "wrong", calling };
  return { kind: "unscheduled" };
}

export interface Credit {
  /** dose.taken, dose.taken_early or dose.partial */
  readonly type: EventType;
  readonly data: Record<string, unknown>;
  /** Pills beyond the dose (double dose), 0 if none. */
  readonly excess: number;
  readonly resolved: boolean;
}

/** Credit removed pills to a slot (mutates it) and say what happened. */
export function creditSlot(slot: Slot, pills: number, mg: number, expected: number, now: number): Credit {
  slot.pills += pills;
  slot.mg += mg;
  if (slot.pills < expected) {
    if (slot.state !== "missed") slot.state = "partial";
    return { type: EV.DOSE_PARTIAL, data: { slot: slot.id, comp: slot.comp, pills: slot.pills, expected }, excess: 0, resolved: false };
  }
  const early = now < slot.due;
  const wasMissed = (slot.reached & REACHED_MISSED) !== 0;
  slot.state = early ? "taken_early" : "taken";
  const data: Record<string, unknown> = { slot: slot.id, comp: slot.comp, pills: slot.pills, mg: slot.mg };
  if (early) data.earlyMin = Math.round((slot.due - now) / MS_PER_MINUTE);
  else data.lateMin = Math.round((now - slot.due) / MS_PER_MINUTE);
  if (wasMissed) data.afterMissed = true;
  const excess = slot.pills - expected;
  if (excess > 0) data.excess = excess;
  return { type: early ? EV.DOSE_TAKEN_EARLY : EV.DOSE_TAKEN, data, excess, resolved: true };
}

/**
 * An as-needed intake of `doses` doses at `now` against the limits. The pills are out of the box
 * whatever the verdict, so they always enter the history; `reason` says which limit was broken.
 */
export function checkPrn(
  history: readonly number[],
  prn: PrnDose,
  doses: number,
  now: number,
): { reason: "max24h" | "per_intake" | "interval" | undefined; history: number[] } {
  const hist = history.filter((t) => t > now - DAY);
  let reason: "max24h" | "per_intake" | "interval" | undefined;
  if (hist.length + doses > prn.maxPer24h) reason = "max24h";
  else if (doses > (prn.maxPerIntake ?? 1))
    reason = "per_intake"; // two at once against one allowed
  else if (hist.length > 0 && now - hist[hist.length - 1] < prn.minIntervalMin * MS_PER_MINUTE) reason = "interval";
  for (let i = 0; i < doses; i++) hist.push(now);
  return { reason, history: hist.slice(-PRN_HISTORY) };
}
