/**
 * Slots whose whole window passed while the box could not act on them — it was off, or its
 * clock jumped forward over them (an SNTP correction) — are never dropped silently
 * (docs/scenarios.md, "Catch-up"):
 * - each is recorded `dose.missed` with `catchUp: true`, once;
 * - the ladder's rungs already past are not replayed one by one; the remote rungs among them are
 *   collapsed into ONE `relay.request` for the whole catch-up (the strongest channel any of them
 *   reached, to everyone those rungs name, the newest slot as reference, `others` = how many
 *   more slots it covers) — never zero when a passed rung was remote;
 * - rungs still ahead (a call 10 min after the close) stay on the ladder and fire on time.
 */
import type { Active, StateRecord } from "../config/active";
import { firingsOf } from "../config/active";
import { type EscalationDeps, passedRungs } from "../escalation/escalator";
import type { Firing } from "../escalation/ladder";
import { EV } from "../protocol/events";
import { REMOTE_CHANNELS } from "../protocol/channels";
import { isoUtc } from "../schedule/civil";
import { retire } from "./retired";
import { REACHED_DUE, REACHED_LATE, REACHED_MISSED, type Slot } from "./slots";

export function closeSkipped(d: EscalationDeps, a: Active, st: StateRecord, skipped: readonly Slot[], now: number): void {
  let newest: Slot | undefined;
  let strongest: Firing | undefined;
  let step = 0;
  let count = 0;
  const to: string[] = [];
  for (const s of skipped) {
    s.reached = REACHED_DUE | REACHED_LATE | REACHED_MISSED;
    s.state = "missed";
    d.log(EV.DOSE_MISSED, "dose", { slot: s.id, comp: s.comp, due: isoUtc(s.due), catchUp: true });
    const firings = firingsOf(a, s);
    const { count: k, lastRemote: last } = passedRungs(firings, s.due, now);
    s.fired = k;
    if (last >= 0) {
      const f = firings[last];
      s.remote = true;
      count++;
      for (const r of f.to ?? []) if (to.indexOf(r) < 0 && to.length < 5) to.push(r);
      if (strongest === undefined || rank(f) >= rank(strongest)) strongest = f;
      if (newest === undefined || s.due >= newest.due) {
        newest = s;
        step = last;
      }
    }
    // Rungs still ahead run on the ladder; a slot with none left is done.
    if (k < firings.length) st.slots.push(s);
    else retire(st, s.id);
  }
  if (newest === undefined || strongest === undefined) return;
  const data: Record<string, unknown> = {
    key: `${d.deviceId}/${newest.id}/catchup`,
    ch: strongest.channel,
    to,
    slot: newest.id,
    comp: newest.comp,
    step,
    state: "missed",
    due: isoUtc(newest.due),
    catchUp: true,
  };
  if (count > 1) data.others = count - 1;
  d.log(EV.RELAY_REQUEST, "dose", data);
}

function rank(f: Firing): number {
  return (REMOTE_CHANNELS as readonly string[]).indexOf(f.channel);
}
