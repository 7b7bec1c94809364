/**
 * Differential test of firmware/core/tz.ts against Node's Intl (ICU tzdata), part B.
 * Every UTC hour: offset. Every local hour, and every local minute within 2 h of each change:
 * localToUtc against the gap/fold policy. Exact transition instants (to the second).
 */
import { describe, expect, it } from "vitest";
import { compareZone, END_YEAR } from "./intl-ref";
import { ZONES_B } from "./zones";

describe("tz vs Intl (ZONES_B)", () => {
  for (const z of ZONES_B) {
    it(`${z.iana} = "${z.posix}" ${z.from}..${END_YEAR}`, () => {
      const t = performance.now();
      const r = compareZone(z);
      expect(r.utcHours).toBeGreaterThan(8760 * (END_YEAR - z.from));
      if (process.env.TZ_DIFF_VERBOSE) {
        process.stdout.write(`${z.iana}: ${JSON.stringify(r)} ${Math.round(performance.now() - t)} ms\n`);
      }
    });
  }
});
