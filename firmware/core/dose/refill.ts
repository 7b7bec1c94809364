/**
 * A mass added to a compartment is a refill: it must be a whole number of doses. Off by more
 * than a quarter of the lightest pill means a missing or extra pill, or a wrong medication.
 */
import type { Compartment, DispenserConfig } from "../config/types";
import type { EventClass } from "../log/eventlog";
import { EV, type EventType } from "../protocol/events";
import { doseSize } from "./slots";

export interface CoreEvent {
  readonly type: EventType;
  readonly cls: EventClass;
  readonly data: Record<string, unknown>;
}

/** `toleranceG`: a wider tolerance than a quarter of the lightest pill (a refill found after a power-off). */
export function refillEvents(cfg: DispenserConfig, comp: Compartment, grams: number, toleranceG = 0): CoreEvent[] {
  const size = doseSize(cfg, comp.id);
  const mg = Math.round(grams * 1000);
  const whole = size.mg > 0 ? Math.round(mg / size.mg) : 0;
  let lightest = Infinity;
  for (const m of comp.meds) lightest = Math.min(lightest, m.unitMg);
  const out: CoreEvent[] = [{ type: EV.REFILL, cls: "info", data: { comp: comp.id, mg, doses: whole } }];
  if (whole < 1 || Math.abs(mg - whole * size.mg) > Math.max(0.25 * lightest, toleranceG * 1000)) {
    out.push({ type: EV.REFILL_MISMATCH, cls: "alert", data: { comp: comp.id, mg, doseMg: size.mg, doses: whole } });
  }
  return out;
}
