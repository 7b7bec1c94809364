/**
 * The escalation engine: advances every open slot to `now` in time order — due, late and missed
 * milestones and the ladder's firings (local steps on the box, remote steps as relay requests),
 * with catch-up after the box was off. Pure over its inputs; events go to `log`.
 */
import type { Active } from "../config/active";
import { firingsOf } from "../config/active";
import type { StateRecord } from "../config/active";
import type { EventClass } from "../log/eventlog";
import { EV, type EventType } from "../protocol/events";
import { isRemote, type Firing } from "./ladder";
import { REACHED_DUE, REACHED_LATE, REACHED_MISSED, doseSize, isOpen, windowOf, type Slot } from "../dose/slots";
import { isoUtc, MS_PER_MINUTE } from "../schedule/civil";
import { occurrencesBetween } from "../schedule/occurrences";
import { retire } from "../dose/retired";

/** A remote firing overdue by more than this is collapsed into a later overdue one (catch-up). */
export const CATCHUP_GRACE_MS = 120_000;

export interface EscalationDeps {
  readonly deviceId: string;
  log(type: EventType, cls: EventClass, data: Record<string, unknown>): void;
}

/** Advance every slot to `now`, in time order: milestones and escalation firings. */
export function advance(d: EscalationDeps, a: Active, st: StateRecord, now: number): boolean {
  let changed = false;
  for (const s of st.slots) {
    const firings = firingsOf(a, s);
    for (;;) {
      // Next moment of this slot: a milestone or a firing, whichever is earlier.
      const mDue = (s.reached & REACHED_DUE) === 0 ? s.due : Infinity;
      const mLate = (s.reached & REACHED_LATE) === 0 ? s.late : Infinity;
      const mMissed = (s.reached & REACHED_MISSED) === 0 ? s.missed : Infinity;
      const f = s.fired < firings.length && !(s.state === "taken" || s.state === "taken_early") ? firings[s.fired] : undefined;
      const mFire = f !== undefined ? s.due + f.atMs : Infinity;
      const t = Math.min(mDue, mLate, mMissed, mFire);
      if (t > now || t === Infinity) break;
      changed = true;
      if (t === mDue) {
        s.reached |= REACHED_DUE;
        if (s.state === "upcoming") s.state = "due";
        d.log(EV.DOSE_DUE, "dose", { slot: s.id, comp: s.comp });
      } else if (t === mLate) {
        s.reached |= REACHED_LATE;
        if (isOpen(s)) {
          if (s.state === "due") s.state = "late";
          d.log(EV.DOSE_LATE, "dose", { slot: s.id, comp: s.comp });
        }
      } else if (t === mMissed) {
        s.reached |= REACHED_MISSED;
        if (s.state !== "taken" && s.state !== "taken_early") {
          const expected = doseSize(a.cfg, s.comp).pills;
          if (s.pills > 0) {
            s.state = "partial";
            d.log(EV.DOSE_PARTIAL, "dose", { slot: s.id, comp: s.comp, pills: s.pills, expected, final: true });
          } else {
            s.state = "missed";
            d.log(EV.DOSE_MISSED, "dose", { slot: s.id, comp: s.comp });
          }
        }
      } else if (f !== undefined) {
        if (isRemote(f.channel) && mFire < now - CATCHUP_GRACE_MS && laterRemoteDue(s, firings, now)) {
          // The box was off or asleep through several rungs: send only the rung it should be at
          // now, and record the ones it passed so nothing is forgotten silently.
          d.log(EV.ESC_SKIPPED, "alert", { slot: s.id, step: s.fired, ch: f.channel });
        } else fire(d, s, f, s.fired);
        s.fired++;
      }
    }
  }
  // Drop slots that are finished: resolved, or closed with the ladder run out.
  const before = st.slots.length;
  st.slots = st.slots.filter((s) => {
    const finished =
      s.state === "taken" || s.state === "taken_early" || ((s.reached & REACHED_MISSED) !== 0 && s.fired >= firingsOf(a, s).length);
    if (finished) retire(st, s.id);
    return !finished;
  });
  return changed || before !== st.slots.length;
}

/** The rungs of a slot due at `due` that are at or before `now`: how many, and the last remote one's index (-1: none). */
export function passedRungs(firings: readonly Firing[], due: number, now: number): { count: number; lastRemote: number } {
  let count = 0;
  let lastRemote = -1;
  while (count < firings.length && due + firings[count].atMs <= now) {
    if (isRemote(firings[count].channel)) lastRemote = count;
    count++;
  }
  return { count, lastRemote };
}

/** A later remote firing of this slot is also already due. */
export function laterRemoteDue(s: Slot, firings: Firing[], now: number): boolean {
  for (let i = s.fired + 1; i < firings.length; i++) {
    if (s.due + firings[i].atMs > now) return false;
    if (isRemote(firings[i].channel)) return true;
  }
  return false;
}

function fire(d: EscalationDeps, s: Slot, f: Firing, index: number): void {
  if (isRemote(f.channel)) {
    s.remote = true;
    d.log(EV.RELAY_REQUEST, "dose", {
      key: `${d.deviceId}/${s.id}/${s.gen ? `g${s.gen}.` : ""}${f.step}.${f.rep}`,
      ch: f.channel,
      to: f.to ?? [],
      slot: s.id,
      comp: s.comp,
      step: index,
      state: s.state,
      due: isoUtc(s.due),
    });
  } else if ((s.reached & REACHED_MISSED) === 0) {
    const data: Record<string, unknown> = { slot: s.id, step: index, ch: f.channel };
    if (f.channel === "sound") {
      data.pattern = f.pattern;
      data.volume = f.volume;
    }
    d.log(EV.ESC_STEP, "info", data);
  }
}

export function nextDeadline(a: Active, st: StateRecord, now: number, capMs: number): number {
  let t = now + capMs;
  for (const s of st.slots) {
    if ((s.reached & REACHED_DUE) === 0) t = Math.min(t, s.due);
    if ((s.reached & REACHED_LATE) === 0) t = Math.min(t, s.late);
    if ((s.reached & REACHED_MISSED) === 0) t = Math.min(t, s.missed);
    const firings = firingsOf(a, s);
    if (s.fired < firings.length) t = Math.min(t, s.due + firings[s.fired].atMs);
  }
  for (const dose of a.cfg.doses) {
    const w = windowOf(a.cfg, dose);
    const occ = occurrencesBetween(dose, a.tz, now + w.earlyMin * MS_PER_MINUTE + 1, now + w.earlyMin * MS_PER_MINUTE + capMs + 1, 1);
    if (occ.length > 0) t = Math.min(t, occ[0].dueUtcMs - w.earlyMin * MS_PER_MINUTE);
  }
  if (st.silencedUntil > now) t = Math.min(t, st.silencedUntil);
  return t;
}
