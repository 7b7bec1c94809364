/**
 * The slots when config `next` replaces `prev` (docs/scenarios.md, "Config changes"):
 * - a slot whose dose, ladder and time zone are unchanged is kept as it is;
 * - a slot whose dose still exists but changed (time, window, ladder, zone) keeps its identity and
 *   progress: its times are recomputed from the new config for the same local date (`slot.moved`),
 *   and its ladder resumes at the rung it should be at now — rungs already past are not replayed,
 *   except that a passed remote rung is sent once when none was sent for the slot yet; its later
 *   relay keys carry a generation (`slot/g1.step.rep`) so they never collide with those already
 *   sent. A slot that fell due stays due (never asked twice), even if the change moves it later;
 * - a slot whose dose is removed (or no longer falls on that date) is closed with
 *   `slot.cancelled` (`reason: "config"`, the new version), and a `relay.resolve` when the relay
 *   was asked;
 * - new doses are not made retroactive: nothing already due is created, but a window that is open
 *   and not yet due is (the patient may still take it early). A slot id already known (open or
 *   finished) is never opened again.
 */
import type { Active, StateRecord } from "../config/active";
import { firingsOf, sameDose } from "../config/active";
import { canonicalJson } from "../config/canonical";
import type { FixedDose } from "../config/types";
import { type EscalationDeps, passedRungs } from "../escalation/escalator";
import { EV } from "../protocol/events";
import { isoUtc, MS_PER_DAY } from "../schedule/civil";
import { occurrencesBetween } from "../schedule/occurrences";
import { openWindowsAt } from "./materialise";
import { retire } from "./retired";
import { isOpen, makeSlot, REACHED_DUE, REACHED_LATE, REACHED_MISSED, type Slot, windowOf } from "./slots";

export function rebaseSlots(d: EscalationDeps, prev: Active | undefined, next: Active, st: StateRecord, now: number | undefined): void {
  const kept: Slot[] = [];
  for (const s of st.slots) {
    const before = prev?.doses.get(s.dose);
    const after = next.doses.get(s.dose);
    if (prev !== undefined && sameDose(before, after) && sameLadder(prev, next, after) && prev.cfg.tz === next.cfg.tz) {
      kept.push(s);
      continue;
    }
    const moved = after !== undefined && now !== undefined ? move(d, next, s, after, now) : undefined;
    if (moved !== undefined) {
      kept.push(moved);
      continue;
    }
    if (isOpen(s) || s.remote) {
      d.log(EV.SLOT_CANCELLED, "dose", { slot: s.id, reason: "config", version: next.cfg.version });
      if (s.remote) d.log(EV.RELAY_RESOLVE, "dose", { slot: s.id, outcome: "cancelled" });
    }
    retire(st, s.id);
  }
  st.slots = kept;
  if (now === undefined) return;
  for (const dose of next.cfg.doses) {
    if (prev !== undefined && sameDose(prev.doses.get(dose.id), dose)) continue;
    openWindowsAt(d, next, dose, st, now);
  }
  if (prev === undefined || st.cursor === 0 || st.cursor > now) st.cursor = now;
}

function sameLadder(prev: Active, next: Active, dose: FixedDose | undefined): boolean {
  const id = dose?.ladder ?? "default";
  const a = prev.cfg.ladders.find((l) => l.id === id);
  const b = next.cfg.ladders.find((l) => l.id === id);
  return a !== undefined && b !== undefined && canonicalJson(a) === canonicalJson(b);
}

/** The slot `s` under the new dose, for the same local date; undefined when the dose no longer falls on it. */
function move(d: EscalationDeps, next: Active, s: Slot, dose: FixedDose, now: number): Slot | undefined {
  const occ = occurrencesBetween(dose, next.tz, s.due - 2 * MS_PER_DAY, s.due + 2 * MS_PER_DAY, 8).find((o) => o.slotId === s.id);
  if (occ === undefined) return undefined;
  const n = makeSlot(s.id, dose, occ.dueUtcMs, windowOf(next.cfg, dose));
  n.state = s.state;
  n.pills = s.pills;
  n.mg = s.mg;
  n.remote = s.remote;
  if (s.wrong !== undefined) n.wrong = s.wrong;
  // Milestones already reached stay reached (never logged twice); the others follow the new times.
  n.reached = s.reached & (REACHED_DUE | REACHED_LATE | REACHED_MISSED);
  if ((n.reached & REACHED_DUE) !== 0) {
    const { count, lastRemote } = passedRungs(firingsOf(next, n), n.due, now);
    n.fired = lastRemote >= 0 && !s.remote ? lastRemote : count;
    // The rungs now have other indices: later relay keys must not collide with those sent.
    n.gen = (s.gen ?? 0) + 1;
  }
  if (n.due !== s.due || n.missed !== s.missed)
    d.log(EV.SLOT_MOVED, "info", { slot: n.id, comp: n.comp, due: isoUtc(n.due), from: isoUtc(s.due), version: next.cfg.version });
  return n;
}
