/**
 * civil.ts, tz.ts and schedule.ts give byte-identical results in the real XS engine (xsnap) and in V8.
 */
import { describe, expect, it } from "vitest";
import { callEntryInXs } from "../../../../host-sim/xs/run-in-xs";
import { xsnapAvailable } from "../../../support/xs";
import { digest } from "./xs-digest";

const haveXs = xsnapAvailable("test/firmware/core/schedule/xs-parity.test.ts");

describe("XS parity", () => {
  it.skipIf(!haveXs)(
    "digest of civil/tz/schedule results is byte-identical in XS and V8",
    async () => {
      const v8 = digest();
      const xs = await callEntryInXs({ file: "test/firmware/core/schedule/xs-digest.ts" }, "TZX", "digest");
      expect(v8.split("\n").length).toBeGreaterThan(6000);
      expect(xs).toBe(v8);
    },
    120_000,
  );
});
