/**
 * The XS lane: the whole scenario suite runs inside the real XS engine (xsnap-worker, built from
 * source by @agoric/xsnap at install) and every timeline must be byte-identical to the Node run.
 * If they differ, the firmware code is wrong, not this test.
 */
import { describe, expect, it } from "vitest";
import { runInXs, type XsResult } from "../../../host-sim/xs/run-in-xs";
import { runNode, suite } from "../../scenarios/suite";

const entries = suite();

describe("XS lane", () => {
  let results: XsResult[] = [];

  it("runs the scenario suite inside XS", async () => {
    results = await runInXs(entries.map((e) => ({ name: e.name, text: e.text })));
    expect(results.length).toBe(entries.length);
    expect(results.length).toBeGreaterThanOrEqual(15);
  }, 600_000);

  for (const e of entries) {
    it(`${e.name}: XS timeline is byte-identical to Node`, () => {
      const r = results.find((x) => x.name === e.name);
      expect(r, "XS run missing").toBeDefined();
      expect(r!.error).toBeUndefined();
      const node = runNode(e.text);
      expect(r!.timeline).toBe(node);
    });
  }
});
