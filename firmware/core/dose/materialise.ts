/**
 * Opens the dose slots whose window opened since the last look (the cursor), including the ones
 * passed while the box was off or its clock jumped: those closed already go to closeSkipped
 * (recorded missed once, one collapsed notification, no alarm storm).
 */
import type { Active, StateRecord } from "../config/active";
import type { FixedDose } from "../config/types";
import type { EscalationDeps } from "../escalation/escalator";
import { EV } from "../protocol/events";
import { isoUtc, MS_PER_MINUTE } from "../schedule/civil";
import { occurrencesBetween } from "../schedule/occurrences";
import { makeSlot, windowOf, type Slot } from "./slots";
import { closeSkipped } from "./catchup";
import { known } from "./retired";

/** At most this many past occurrences are materialised at once (after a long power-off). */
export const CATCHUP_MAX = 32;

export function materialise(d: EscalationDeps, a: Active, st: StateRecord, now: number): void {
  // Occurrences whose window opened in (cursor, now].
  // A clock stepped back: look again from now; slots already made are known by id.
  if (now < st.cursor) st.cursor = now;
  const from = st.cursor;
  if (now <= from) return;
  const fresh: Slot[] = [];
  for (const dose of a.cfg.doses) {
    const w = windowOf(a.cfg, dose);
    const occ = occurrencesBetween(dose, a.tz, from + w.earlyMin * MS_PER_MINUTE + 1, now + w.earlyMin * MS_PER_MINUTE + 1, CATCHUP_MAX);
    for (const o of occ) {
      if (known(st, o.slotId)) continue;
      fresh.push(makeSlot(o.slotId, dose, o.dueUtcMs, w));
    }
  }
  fresh.sort((x, y) => x.due - y.due || (x.id < y.id ? -1 : 1));
  const keep = fresh.length > CATCHUP_MAX ? fresh.slice(fresh.length - CATCHUP_MAX) : fresh;
  // Closed while the device could not act (power off, clock jump).
  closeSkipped(
    d,
    a,
    st,
    keep.filter((s) => s.missed <= now),
    now,
  );
  for (const s of keep) {
    if (s.missed <= now) continue;
    st.slots.push(s);
    d.log(EV.SLOT_OPEN, "info", { slot: s.id, comp: s.comp, due: isoUtc(s.due) });
  }
  st.cursor = now;
}

/**
 * The first look with a known clock when the config came while the time was unset (a first boot
 * before SNTP answered): the windows open now and not yet due are opened, as if the config were
 * applied now (dose/rebase: nothing already due is made retroactive). Without it the cursor would
 * start at now and a window that opened before the clock was set would never be looked at.
 */
export function firstLook(d: EscalationDeps, a: Active, st: StateRecord, now: number): void {
  for (const dose of a.cfg.doses) openWindowsAt(d, a, dose, st, now);
  st.cursor = now;
}

/** Opens the slots of `dose` whose window is open at `now` and not yet due (never one already known). */
export function openWindowsAt(d: EscalationDeps, a: Active, dose: FixedDose, st: StateRecord, now: number): void {
  const w = windowOf(a.cfg, dose);
  for (const o of occurrencesBetween(dose, a.tz, now + 1, now + w.earlyMin * MS_PER_MINUTE + 1, 2)) {
    if (known(st, o.slotId)) continue;
    const slot = makeSlot(o.slotId, dose, o.dueUtcMs, w);
    st.slots.push(slot);
    d.log(EV.SLOT_OPEN, "info", { slot: slot.id, comp: slot.comp, due: isoUtc(slot.due) });
  }
}
