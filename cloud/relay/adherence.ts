/**
 * Adherence history from stored dose events: one outcome per slot, counted per local day
 * (the local date is part of the slot id, "am@2026-03-10").
 */
import type { DeviceSchedule } from "./schedules";
import { doseOfSlot, dueSlots, windowOf } from "./schedules";
import type { StoredEvent } from "./types";

export type SlotOutcome = "onTime" | "late" | "missed" | "partial" | "unreported";

export interface SlotRecord {
  slot: string;
  date: string;
  doseId: string;
  comp: string | null;
  outcome: SlotOutcome;
  /** When it happened (device time, else reception time), or the due time for unreported slots. */
  tMs: number;
  pills: number | null;
  expected: number | null;
  lateMin: number | null;
  /** Taken after the slot was reported missed. */
  afterMissed: boolean;
}

export interface DayCounts {
  date: string;
  onTime: number;
  late: number;
  missed: number;
  partial: number;
  /** Slots the schedule says were due, whose window closed, with no outcome reported (box off or offline). */
  unreported: number;
}

export const DOSE_EVENT_TYPES = ["dose.taken", "dose.taken_early", "dose.partial", "dose.missed", "dose.late", "slot.cancelled"] as const;
const DATE_RE = /^\d{4}-\d{2}-\d{2}$/;
const RANK: Record<SlotOutcome, number> = { unreported: 0, missed: 1, partial: 2, late: 3, onTime: 4 };

const num = (v: unknown): number | null => (typeof v === "number" && Number.isFinite(v) ? v : null);

/** One record per slot with local date in [from, to] (inclusive "YYYY-MM-DD"). */
export function slotRecords(
  events: readonly StoredEvent[],
  s: DeviceSchedule | undefined,
  from: string,
  to: string,
  nowMs: number,
): SlotRecord[] {
  const bySlot = new Map<string, StoredEvent[]>();
  for (const e of events) {
    if (e.slot === null || !(DOSE_EVENT_TYPES as readonly string[]).includes(e.type)) continue;
    const at = e.slot.indexOf("@");
    const date = at < 0 ? "" : e.slot.slice(at + 1);
    if (!DATE_RE.test(date) || date < from || date > to) continue;
    const l = bySlot.get(e.slot);
    if (l) l.push(e);
    else bySlot.set(e.slot, [e]);
  }
  const out: SlotRecord[] = [];
  for (const [slot, evs] of bySlot) {
    if (evs.some((e) => e.type === "slot.cancelled")) continue;
    const doseId = slot.slice(0, slot.indexOf("@"));
    const date = slot.slice(slot.indexOf("@") + 1);
    const wentLate = evs.some((e) => e.type === "dose.late");
    const dose = s && doseOfSlot(s.config, slot);
    const lateLimit = s && dose ? windowOf(s.config, dose).lateMin : undefined;
    let best: SlotRecord | undefined;
    for (const e of evs) {
      const base = {
        slot,
        date,
        doseId,
        comp: typeof e.data.comp === "string" ? e.data.comp : null,
        tMs: e.tMs ?? e.receivedAt,
        pills: num(e.data.pills),
        expected: num(e.data.expected),
        lateMin: num(e.data.lateMin),
        afterMissed: e.data.afterMissed === true,
      };
      let outcome: SlotOutcome | undefined;
      if (e.type === "dose.taken_early") outcome = "onTime";
      else if (e.type === "dose.taken") {
        const lm = num(e.data.lateMin) ?? 0;
        outcome = e.data.afterMissed === true || (lateLimit !== undefined ? lm >= lateLimit : wentLate) ? "late" : "onTime";
      } else if (e.type === "dose.partial") outcome = "partial";
      else if (e.type === "dose.missed") outcome = "missed";
      if (outcome !== undefined && (best === undefined || RANK[outcome] > RANK[best.outcome])) best = { ...base, outcome };
    }
    if (best) out.push(best);
  }
  if (s) {
    const seen = new Set(out.map((r) => r.slot).concat([...bySlot.keys()]));
    const fromMs = Date.parse(from + "T00:00:00Z") - 86_400_000;
    const toMs = Math.min(nowMs, Date.parse(to + "T00:00:00Z") + 2 * 86_400_000);
    if (Number.isFinite(fromMs) && Number.isFinite(toMs) && toMs > fromMs) {
      for (const d of dueSlots(s, fromMs, toMs, 1024)) {
        const date = d.slot.slice(d.slot.indexOf("@") + 1);
        if (date < from || date > to || seen.has(d.slot) || d.dueMs + d.window.missedMin * 60_000 > nowMs) continue;
        out.push({
          slot: d.slot,
          date,
          doseId: d.dose.id,
          comp: d.dose.compartment,
          outcome: "unreported",
          tMs: d.dueMs,
          pills: null,
          expected: null,
          lateMin: null,
          afterMissed: false,
        });
      }
    }
  }
  return out.sort((a, b) => (a.date < b.date ? -1 : a.date > b.date ? 1 : a.tMs - b.tMs));
}

/** Per local day counts, one entry per day in [from, to] that has at least one slot. */
export function adherenceByDay(records: readonly SlotRecord[]): DayCounts[] {
  const days = new Map<string, DayCounts>();
  for (const r of records) {
    let d = days.get(r.date);
    if (!d) {
      d = { date: r.date, onTime: 0, late: 0, missed: 0, partial: 0, unreported: 0 };
      days.set(r.date, d);
    }
    d[r.outcome]++;
  }
  return [...days.values()].sort((a, b) => (a.date < b.date ? -1 : 1));
}
