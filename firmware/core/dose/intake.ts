/**
 * A removal seen by a load cell, recorded against the dose it belongs to: credited to its slot
 * (taken, early, partial, excess; a resolve to the relay when it was asked), a PRN intake
 * checked against its limits, a wrong compartment, or an unscheduled removal. The caller then
 * persists the state and drives the outputs according to the outcome.
 */
import type { Active, StateRecord } from "../config/active";
import type { PrnDose } from "../config/types";
import type { EscalationDeps } from "../escalation/escalator";
import { EV } from "../protocol/events";
import { isoUtc } from "../schedule/civil";
import { attributeRemoval, checkPrn, creditSlot } from "./removal";
import { doseSize, isCalling } from "./slots";

export type IntakeOutcome = "slot" | "wrong" | "mismatch" | "prn" | "prn-limit" | "unscheduled";

export function recordRemoval(
  d: EscalationDeps,
  a: Active,
  st: StateRecord,
  compId: string,
  pills: number,
  mg: number,
  now: number,
  perMed?: readonly number[],
  tag?: Readonly<Record<string, unknown>>,
): IntakeOutcome {
  const size = doseSize(a.cfg, compId);
  const expected = size.pills;
  const where = attributeRemoval(st.slots, compId, now, a.prnByComp.get(compId));
  switch (where.kind) {
    case "slot": {
      const target = where.slot;
      const meds = medCounts(a, compId);
      if (perMed !== undefined && !isDosePortion(perMed, meds)) {
        // Pills that are not the dose's (another medication, or one in place of another): never
        // credited; the slot keeps calling (docs/scenarios.md, "Wrong pills").
        d.log(EV.DOSE_MISMATCH, "dose", { slot: target.id, comp: compId, pills, mg, expectedMg: size.mg, perMed: perMed.slice() });
        return "mismatch";
      }
      const c = creditSlot(target, pills, mg, expected, now);
      d.log(c.type, "dose", tag === undefined ? c.data : { ...c.data, ...tag });
      if (c.resolved) {
        if (c.excess > 0) d.log(EV.DOSE_EXCESS, "alert", { slot: target.id, pills: target.pills, expected });
        if (target.remote) d.log(EV.RELAY_RESOLVE, "dose", { slot: target.id, outcome: target.state });
        if (st.silencedUntil !== 0 && !st.slots.some((s) => s !== target && isCalling(s))) st.silencedUntil = 0;
      }
      return "slot";
    }
    case "prn":
      return recordPrn(d, st, where.prn, pills, mg, expected, now);
    case "wrong":
      for (const s of where.calling) {
        s.state = "wrong_compartment";
        s.wrong = compId;
        d.log(EV.DOSE_WRONG_COMPARTMENT, "dose", { slot: s.id, expectedComp: s.comp, from: compId, pills, mg });
      }
      return "wrong";
    case "unscheduled":
      d.log(EV.REMOVAL_UNSCHEDULED, "dose", { comp: compId, pills, mg });
      return "unscheduled";
  }
}

function recordPrn(
  d: EscalationDeps,
  st: StateRecord,
  prn: PrnDose,
  pills: number,
  mg: number,
  expected: number,
  now: number,
): IntakeOutcome {
  const doses = Math.max(1, Math.round(pills / Math.max(1, expected)));
  const verdict = checkPrn(st.prn[prn.id] ?? [], prn, doses, now);
  st.prn[prn.id] = verdict.history;
  const count24h = verdict.history.length;
  const reason = verdict.reason;
  if (reason === undefined) {
    d.log(EV.PRN_TAKEN, "dose", { prn: prn.id, comp: prn.compartment, pills, mg, count24h });
  } else {
    d.log(EV.PRN_LIMIT, "dose", { prn: prn.id, comp: prn.compartment, pills, mg, count24h, reason });
    d.log(EV.RELAY_REQUEST, "dose", {
      key: `${d.deviceId}/${prn.id}@${isoUtc(now)}/limit`,
      ch: "push",
      to: prn.alert,
      prn: prn.id,
      reason,
    });
  }
  return reason === undefined ? "prn" : "prn-limit";
}

/** The dose's count of each medication of a compartment, in the compartment's order. */
function medCounts(a: Active, compId: string): number[] {
  const out: number[] = [];
  for (const c of a.cfg.compartments) if (c.id === compId) for (const m of c.meds) out.push(m.count);
  return out;
}

/**
 * Whether a removal's medication counts are a portion of the dose (each medication at most its
 * count: the whole dose or part of it) or whole doses (k times every count: an excess). Anything
 * else — more of one medication than the dose holds while another is short — is not this dose.
 */
export function isDosePortion(perMed: readonly number[], counts: readonly number[]): boolean {
  if (perMed.length !== counts.length || counts.length < 2) return true; // one medication: any count is a count of it
  let within = true;
  for (let i = 0; i < counts.length; i++) if (perMed[i] > counts[i]) within = false;
  if (within) return true;
  const k = counts[0] > 0 ? perMed[0] / counts[0] : 0;
  if (!(k >= 1) || Math.floor(k) !== k) return false;
  for (let i = 0; i < counts.length; i++) if (perMed[i] !== k * counts[i]) return false;
  return true;
}
