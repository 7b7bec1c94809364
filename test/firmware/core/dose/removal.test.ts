import { describe, expect, it } from "vitest";
import { attributeRemoval, checkPrn, creditSlot, PRN_HISTORY } from "../../../../firmware/core/dose/removal";
import { makeSlot, REACHED_DUE, REACHED_MISSED, type Slot } from "../../../../firmware/core/dose/slots";
import type { FixedDose, PrnDose } from "../../../../firmware/core/config/types";

const MIN = 60_000;
const W = { earlyMin: 60, lateMin: 30, missedMin: 90 };
const T0 = Date.UTC(2026, 2, 10, 7, 0, 0);

function slot(id: string, comp: string, due: number): Slot {
  const dose: FixedDose = { id: id.split("@")[0], compartment: comp, at: "08:00" };
  return makeSlot(id, dose, due, W);
}
const prn: PrnDose = { id: "para", compartment: "pain", maxPer24h: 3, minIntervalMin: 240, maxPerIntake: 1, alert: ["caregiver-1"] };

describe("attributeRemoval", () => {
  it("credits the oldest open slot of the compartment", () => {
    const a = slot("am@2026-03-09", "morning", T0 - 86_400_000);
    a.reached = REACHED_DUE; // still open (not missed)
    const b = slot("am@2026-03-10", "morning", T0);
    const r = attributeRemoval([b, a], "morning", T0 + 5 * MIN, undefined);
    expect(r.kind === "slot" && r.slot.id).toBe("am@2026-03-09");
  });
  it("ignores a slot whose window has not opened", () => {
    const b = slot("am@2026-03-10", "morning", T0);
    expect(attributeRemoval([b], "morning", T0 - 61 * MIN, undefined).kind).toBe("unscheduled");
    expect(attributeRemoval([b], "morning", T0 - 59 * MIN, undefined).kind).toBe("slot");
  });
  it("falls back to a missed slot, then PRN, then wrong compartment, then unscheduled", () => {
    const m = slot("am@2026-03-10", "morning", T0);
    m.reached = REACHED_DUE | REACHED_MISSED;
    m.state = "missed";
    expect(attributeRemoval([m], "morning", T0 + 100 * MIN, undefined).kind).toBe("slot");
    const e = slot("pm@2026-03-10", "evening", T0);
    expect(attributeRemoval([e], "pain", T0, prn).kind).toBe("prn");
    const w = attributeRemoval([e], "morning", T0 + MIN, undefined);
    expect(w.kind === "wrong" && w.calling.map((s) => s.id)).toEqual(["pm@2026-03-10"]);
    expect(attributeRemoval([], "morning", T0, undefined).kind).toBe("unscheduled");
  });
});

describe("creditSlot", () => {
  it("partial then taken, with the late minutes", () => {
    const s = slot("am@2026-03-10", "morning", T0);
    s.reached = REACHED_DUE;
    s.state = "due";
    const c1 = creditSlot(s, 1, 1010, 2, T0 + 4 * MIN);
    expect(c1.type).toBe("dose.partial");
    expect(s.state).toBe("partial");
    const c2 = creditSlot(s, 1, 120, 2, T0 + 12 * MIN);
    expect(c2).toMatchObject({ type: "dose.taken", resolved: true, excess: 0 });
    expect(c2.data).toMatchObject({ pills: 2, mg: 1130, lateMin: 12 });
  });
  it("early and double doses are flagged", () => {
    const s = slot("am@2026-03-10", "morning", T0);
    const c = creditSlot(s, 4, 2260, 2, T0 - 25 * MIN);
    expect(c).toMatchObject({ type: "dose.taken_early", excess: 2 });
    expect(c.data).toMatchObject({ earlyMin: 25, excess: 2 });
  });
  it("a dose taken after it was declared missed says so", () => {
    const s = slot("am@2026-03-10", "morning", T0);
    s.reached = REACHED_DUE | REACHED_MISSED;
    s.state = "missed";
    expect(creditSlot(s, 2, 1130, 2, T0 + 95 * MIN).data).toMatchObject({ afterMissed: true, lateMin: 95 });
  });
});

describe("checkPrn", () => {
  it("enforces the minimum interval and the rolling 24 h maximum", () => {
    let h: number[] = [];
    const at = (hours: number): number => T0 + hours * 3_600_000;
    let r = checkPrn(h, prn, 1, at(0));
    expect(r.reason).toBeUndefined();
    h = r.history;
    r = checkPrn(h, prn, 1, at(2));
    expect(r.reason).toBe("interval");
    h = r.history;
    r = checkPrn(h, prn, 1, at(7));
    expect(r.reason).toBeUndefined();
    h = r.history;
    r = checkPrn(h, prn, 1, at(12));
    expect(r.reason).toBe("max24h");
    // 24 h after the first intake it leaves the window.
    r = checkPrn(r.history, prn, 1, at(24.5));
    expect(r.reason).toBe("max24h");
    r = checkPrn(r.history, prn, 1, at(31.5));
    expect(r.reason).toBeUndefined();
  });
  it("more at once than maxPerIntake is per_intake (two tablets against one), checked after the 24 h maximum", () => {
    const at = (h: number) => T0 + h * 3_600_000;
    expect(checkPrn([], prn, 2, at(0)).reason).toBe("per_intake");
    expect(checkPrn([], { ...prn, maxPerIntake: 2 }, 2, at(0)).reason).toBeUndefined();
    expect(checkPrn([at(-1), at(-2)], prn, 2, at(0)).reason).toBe("max24h");
    expect(checkPrn([], prn, 2, at(0)).history.length).toBe(2); // both counted
  });
  it("keeps a bounded history", () => {
    let h: number[] = [];
    for (let i = 0; i < 40; i++) h = checkPrn(h, { ...prn, maxPer24h: 12, minIntervalMin: 0 }, 1, T0 + i * MIN).history;
    expect(h.length).toBe(PRN_HISTORY);
  });
});
