/**
 * Dose slots: one scheduled occurrence of a fixed dose, with its state machine
 *
 *   upcoming ──due──▶ due ──late──▶ late ──missed──▶ missed
 *      │               │              │                │
 *      └─ removal ─▶ taken_early   taken / partial / wrong_compartment
 *
 * A slot is created when its window opens (due − earlyMin). It is resolved by a removal of the
 * whole dose from its compartment (taken, or taken_early before the due time). A removal of
 * fewer pills makes it partial (it stays open for the rest); a removal from another
 * compartment marks it wrong_compartment (it stays open). At due + missedMin a slot that is not
 * taken closes as missed (or partial if some pills were removed). The slot is kept until its
 * escalation ladder has run out (remote steps after the missed time still fire) or it is taken.
 *
 * Everything here is plain data so the whole list persists as one record.
 */
import type { DispenserConfig, DoseWindow, FixedDose } from "../config/types";
import { MS_PER_MINUTE } from "../schedule/civil";

export type SlotState = "upcoming" | "due" | "late" | "missed" | "taken" | "taken_early" | "partial" | "wrong_compartment";

export interface Slot {
  /** `${doseId}@${localDate}`: the dose belongs to its slot, not to the day it is taken. */
  readonly id: string;
  readonly dose: string;
  readonly comp: string;
  /** UTC ms of the window edges. */
  readonly open: number;
  readonly due: number;
  readonly late: number;
  readonly missed: number;
  state: SlotState;
  /** True once the slot reached due, late, missed (milestones are emitted once). */
  reached: number;
  /** Escalation firings done so far (index into the flattened ladder). */
  fired: number;
  /** Pills and milligrams removed for this slot so far. */
  pills: number;
  mg: number;
  /** At least one remote request went out: a resolve must follow. */
  remote: boolean;
  /** Compartment a wrong removal came from, if any. */
  wrong?: string;
  /** Times a config re-based this slot's ladder after it fell due (part of its relay keys). */
  gen?: number;
}

/** Milestone bits in `reached`. */
export const REACHED_DUE = 1;
export const REACHED_LATE = 2;
export const REACHED_MISSED = 4;

export function windowOf(cfg: DispenserConfig, dose: FixedDose): DoseWindow {
  return dose.window ?? cfg.defaults.window;
}

export function makeSlot(id: string, dose: FixedDose, dueUtc: number, w: DoseWindow): Slot {
  return {
    id,
    dose: dose.id,
    comp: dose.compartment,
    open: dueUtc - w.earlyMin * MS_PER_MINUTE,
    due: dueUtc,
    late: dueUtc + w.lateMin * MS_PER_MINUTE,
    missed: dueUtc + w.missedMin * MS_PER_MINUTE,
    state: "upcoming",
    reached: 0,
    fired: 0,
    pills: 0,
    mg: 0,
    remote: false,
  };
}

/** The slot still waits for pills (can be resolved by a removal from its compartment). */
export function isOpen(s: Slot): boolean {
  return s.state !== "taken" && s.state !== "taken_early" && (s.reached & REACHED_MISSED) === 0;
}

/** Past its due time and not resolved: the dose is being asked for (LED, sound). */
export function isCalling(s: Slot): boolean {
  return isOpen(s) && (s.reached & REACHED_DUE) !== 0;
}

export function isResolved(s: Slot): boolean {
  return s.state === "taken" || s.state === "taken_early";
}

/** Expected pills and milligrams of one dose from a compartment. */
export function doseSize(cfg: DispenserConfig, compId: string): { pills: number; mg: number } {
  let pills = 0;
  let mg = 0;
  for (const c of cfg.compartments) {
    if (c.id !== compId) continue;
    for (const m of c.meds) {
      pills += m.count;
      mg += m.count * m.unitMg;
    }
  }
  return { pills, mg };
}
