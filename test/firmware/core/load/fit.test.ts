import { describe, expect, it } from "vitest";
import { expNeg, fitPills } from "../../../../firmware/core/load/fit";

describe("expNeg", () => {
  it("matches Math.exp closely", () => {
    for (const x of [0, 0.001, 0.5, 1, 3, 10, 30, 100]) {
      expect(Math.abs(expNeg(x) - Math.exp(-x)) / Math.exp(-x)).toBeLessThan(1e-5);
    }
    expect(expNeg(1000)).toBe(0);
  });
});

describe("fitPills", () => {
  const meds = [
    { name: "big", count: 1, unitMg: 800 },
    { name: "small", count: 2, unitMg: 150 },
  ];
  const opts = { sigmaGrams: 0.01, maxFactor: 2, overDosePenalty: 6 };
  it("finds the combination of the dose explaining the mass", () => {
    expect(fitPills(1.1, meds, opts).perMed).toEqual([1, 2]);
    expect(fitPills(1.1, meds, opts).pills).toBe(3);
    expect(fitPills(0.95, meds, opts).pills).toBe(2);
    expect(fitPills(0.3, meds, opts).pills).toBe(2);
    expect(fitPills(0.15, meds, opts).pills).toBe(1);
    expect(fitPills(0.01, meds, opts).pills).toBe(0);
  });
  it("confidence drops when the mass sits between two counts", () => {
    const m = [{ name: "x", count: 4, unitMg: 50 }];
    const clear = fitPills(0.1, m, { sigmaGrams: 0.006, maxFactor: 2, overDosePenalty: 6 });
    const amb = fitPills(0.075, m, { sigmaGrams: 0.006, maxFactor: 2, overDosePenalty: 6 });
    expect(clear.pills).toBe(2);
    expect(clear.confidence).toBeGreaterThan(0.99);
    expect(amb.confidence).toBeLessThan(0.7);
  });
  it("an unexplained mass has low confidence", () => {
    expect(fitPills(0.55, [{ name: "x", count: 2, unitMg: 1000 }], opts).confidence).toBeLessThan(0.01);
  });
});
