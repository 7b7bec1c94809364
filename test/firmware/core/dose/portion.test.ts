/** Which fitted medication counts are this dose (docs/scenarios.md, "Wrong pills"). */
import { describe, expect, it } from "vitest";
import { isDosePortion } from "../../../../firmware/core/dose/intake";

describe("isDosePortion", () => {
  it("all or part of the dose, or whole doses: yes; one medication in place of another: no", () => {
    const counts = [1, 1]; // Metformine + Ramipril
    expect(isDosePortion([1, 1], counts)).toBe(true); // the dose
    expect(isDosePortion([1, 0], counts)).toBe(true); // part of it
    expect(isDosePortion([2, 2], counts)).toBe(true); // two doses (an excess)
    expect(isDosePortion([2, 0], counts)).toBe(false); // two Metformine, no Ramipril
    expect(isDosePortion([0, 2], counts)).toBe(false);
    expect(isDosePortion([2, 1], counts)).toBe(false);
    expect(isDosePortion([3], [1])).toBe(true); // one medication: the count is all the weight says
    expect(isDosePortion([2, 4], [1, 2])).toBe(true);
    expect(isDosePortion([1, 3], [1, 2])).toBe(false);
  });
});
