/**
 * Opens the dose slots whose window opened since the last look (the cursor), including the ones
 * passed while the box was off: those closed already are recorded as missed once, no alarm storm.
 */
import type { Active, StateRecord } from "../config/active";
import type { EventClass } from "../log/eventlog";
import { EV, type EventType } from "../protocol/events";
import { isoUtc, MS_PER_MINUTE } from "../schedule/civil";
import { occurrencesBetween } from "../schedule/occurrences";
import { makeSlot, windowOf, type Slot } from "./slots";

/** At most this many past occurrences are materialised at once (after a long power-off). */
export const CATCHUP_MAX = 32;

export function materialise(
  log: (type: EventType, cls: EventClass, data: Record<string, unknown>) => void,
  a: Active,
  st: StateRecord,
  now: number,
): void {
  // Occurrences whose window opened in (cursor, now].
  const from = st.cursor;
  if (now <= from) return;
  const fresh: Slot[] = [];
  for (const dose of a.cfg.doses) {
    const w = windowOf(a.cfg, dose);
    const occ = occurrencesBetween(dose, a.tz, from + w.earlyMin * MS_PER_MINUTE + 1, now + w.earlyMin * MS_PER_MINUTE + 1, CATCHUP_MAX);
    for (const o of occ) {
      if (st.slots.some((s) => s.id === o.slotId)) continue;
      fresh.push(makeSlot(o.slotId, dose, o.dueUtcMs, w));
    }
  }
  fresh.sort((x, y) => x.due - y.due || (x.id < y.id ? -1 : 1));
  const keep = fresh.length > CATCHUP_MAX ? fresh.slice(fresh.length - CATCHUP_MAX) : fresh;
  for (const s of keep) {
    if (s.missed <= now) {
      // Closed while the device could not act (power off): record the miss once, no alarm storm.
      log(EV.DOSE_MISSED, "dose", { slot: s.id, comp: s.comp, due: isoUtc(s.due), catchUp: true });
      continue;
    }
    st.slots.push(s);
    log(EV.SLOT_OPEN, "info", { slot: s.id, comp: s.comp, due: isoUtc(s.due) });
  }
  st.cursor = now;
}
