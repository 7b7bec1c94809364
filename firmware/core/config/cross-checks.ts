/**
 * Checks across sections of a config: references between them, conflicts (a PRN compartment
 * is dedicated; fixed-dose windows on one compartment never overlap), and safety (missed-dose
 * escalation can never be disabled).
 */
import type { DoseWindow, Ladder } from "./types";
import { REMOTE_CHANNELS as REMOTE } from "../protocol/channels";
import { type Ctx, isPlainObject, type Obj, own, type Slot } from "./fields";
import { DEFAULT_LADDER_ID, MISSED_ESCALATION_GRACE_MIN, WEEKDAYS } from "./limits";
import type { DoseDraft } from "./sections";

export interface PrnDraft {
  id: string | undefined;
  compartment: string | undefined;
  index: number;
}

/** What checkRoot parsed, for the cross-checks. */
export interface ParsedSections {
  compItems: Slot[] | undefined;
  compIds: string[];
  drafts: DoseDraft[];
  doseIdx: number[];
  prnDrafts: PrnDraft[];
  ladderItems: Slot[] | undefined;
  ladderIds: string[];
  ladderOk: boolean[];
  ladders: Ladder[];
  defaults: { window: DoseWindow } | undefined;
}

const WEEK_MIN = 7 * 1440;

/** True when two doses' windows [due - earlyMin, due + missedMin) share a minute of the week. */
export function windowsOverlap(a: DoseDraft, wa: DoseWindow, b: DoseDraft, wb: DoseWindow): string | undefined {
  // Disjoint date ranges never overlap.
  if (a.end !== undefined && b.start !== undefined && a.end < b.start) return undefined;
  if (b.end !== undefined && a.start !== undefined && b.end < a.start) return undefined;
  for (const da of a.days!) {
    const ka = WEEKDAYS.indexOf(da);
    const a0 = ka * 1440 + a.minute! - wa.earlyMin;
    const a1 = ka * 1440 + a.minute! + wa.missedMin;
    for (const db of b.days!) {
      const kb = WEEKDAYS.indexOf(db);
      for (let shift = -WEEK_MIN; shift <= WEEK_MIN; shift += WEEK_MIN) {
        const b0 = kb * 1440 + b.minute! - wb.earlyMin + shift;
        const b1 = kb * 1440 + b.minute! + wb.missedMin + shift;
        if (a0 < b1 && b0 < a1) return da;
      }
    }
  }
  return undefined;
}

export function crossCheck(ctx: Ctx, p: ParsedSections): void {
  const { compItems, compIds, drafts, doseIdx, prnDrafts, ladderItems, ladderIds, ladderOk, ladders, defaults } = p;
  // --- references
  if (compItems !== undefined) {
    for (let k = 0; k < drafts.length; k++) {
      const d = drafts[k]!;
      if (d.compartment !== undefined && compIds.indexOf(d.compartment) < 0) {
        ctx.add("CFG_REFERENCE", `doses[${doseIdx[k]}].compartment`, `no compartment with id ${JSON.stringify(d.compartment)}`);
      }
    }
    for (const r of prnDrafts) {
      if (r.compartment !== undefined && compIds.indexOf(r.compartment) < 0) {
        ctx.add("CFG_REFERENCE", `prn[${r.index}].compartment`, `no compartment with id ${JSON.stringify(r.compartment)}`);
      }
    }
  }
  if (ladderItems !== undefined) {
    for (let k = 0; k < drafts.length; k++) {
      const d = drafts[k]!;
      if (d.ladderGiven && d.ladder !== undefined && ladderIds.indexOf(d.ladder) < 0) {
        ctx.add("CFG_REFERENCE", `doses[${doseIdx[k]}].ladder`, `no ladder with id ${JSON.stringify(d.ladder)}`);
      }
    }
  }

  // --- conflicts: a PRN compartment is dedicated; fixed-dose windows on one compartment never overlap
  for (let a = 0; a < prnDrafts.length; a++) {
    const r = prnDrafts[a]!;
    if (r.compartment === undefined) continue;
    let other: string | undefined;
    for (let k = 0; k < drafts.length && other === undefined; k++) {
      if (drafts[k]!.compartment === r.compartment) other = `doses[${doseIdx[k]}]`;
    }
    for (let b = 0; b < a && other === undefined; b++) {
      if (prnDrafts[b]!.compartment === r.compartment) other = `prn[${prnDrafts[b]!.index}]`;
    }
    if (other !== undefined) {
      ctx.add(
        "CFG_CONFLICT",
        `prn[${r.index}].compartment`,
        `compartment ${JSON.stringify(r.compartment)} is also used by ${other}; a PRN compartment must be dedicated`,
      );
    }
  }
  const effWindow = (d: DoseDraft): DoseWindow | undefined => (d.windowGiven ? d.window : defaults?.window);
  for (let b = 0; b < drafts.length && !ctx.full; b++) {
    const db = drafts[b]!;
    const wb = effWindow(db);
    if (db.compartment === undefined || db.minute === undefined || db.days === undefined || wb === undefined) continue;
    for (let a = 0; a < b; a++) {
      const da = drafts[a]!;
      const wa = effWindow(da);
      if (da.compartment !== db.compartment || da.minute === undefined || da.days === undefined || wa === undefined) continue;
      const day = windowsOverlap(da, wa, db, wb);
      if (day !== undefined) {
        ctx.add(
          "CFG_CONFLICT",
          `doses[${doseIdx[b]}].at`,
          `window of this dose overlaps the window of doses[${doseIdx[a]}] on compartment ${JSON.stringify(db.compartment)} (${day}): a removal could not be attributed`,
        );
        break;
      }
    }
  }

  // --- safety: missed-dose escalation can never be disabled
  if (ladderItems !== undefined) {
    const reported: boolean[] = [];
    for (let k = 0; k < drafts.length && !ctx.full; k++) {
      const d = drafts[k]!;
      const p = `doses[${doseIdx[k]}]`;
      if (d.ladder === undefined) continue;
      const li = ladderIds.indexOf(d.ladder);
      if (li < 0) {
        if (!d.ladderGiven) {
          ctx.add(
            "CFG_NO_MISSED_ESCALATION",
            `${p}.ladder`,
            `ladder omitted means ${JSON.stringify(DEFAULT_LADDER_ID)}, and there is no ladder with that id`,
          );
        }
        continue; // explicit unknown ladder: CFG_REFERENCE above
      }
      if (!ladderOk[li]) continue; // the ladder has its own errors
      const ladder = ladders.find((l) => l.id === d.ladder)!;
      let first: number | undefined;
      for (const s of ladder.steps) {
        if (
          (REMOTE as readonly string[]).indexOf(s.channel) >= 0 &&
          s.to !== undefined &&
          s.to.length > 0 &&
          (first === undefined || s.afterMin < first)
        )
          first = s.afterMin;
      }
      if (first === undefined) {
        if (!reported[li]) {
          const lp = `ladders[${ladderItems.findIndex((x) => isPlainObject(x) && own(x as Obj, "id") === d.ladder)}]`;
          ctx.add(
            "CFG_NO_MISSED_ESCALATION",
            lp,
            `ladder ${JSON.stringify(d.ladder)} is used by a fixed dose but has no push, sms or call step`,
          );
          reported[li] = true;
        }
        continue;
      }
      const w = effWindow(d);
      if (w === undefined) continue;
      const limit = w.missedMin + MISSED_ESCALATION_GRACE_MIN;
      if (first > limit) {
        ctx.add(
          "CFG_NO_MISSED_ESCALATION",
          `${p}.ladder`,
          `first remote step of ladder ${JSON.stringify(d.ladder)} is at ${first} min, later than missedMin + ${MISSED_ESCALATION_GRACE_MIN} = ${limit}`,
        );
      }
    }
  }
}
