/**
 * A taken dose stops every step at once and emits a resolve: for a removal at many instants of the
 * escalation, nothing of that slot fires afterwards, the LED and the buzzer go off at the instant
 * the dose is confirmed, and a relay.resolve follows exactly when a relay request went out before.
 */
import { describe, expect, it } from "vitest";
import path from "node:path";
import { loadScenarioText } from "../../../host-sim/scenario-file";
import { runScenarioText } from "../../../host-sim/kernel/xs-entry";
import { SCENARIO_DIR } from "../../scenarios/suite";

interface Line {
  t: string;
  k: string;
  type?: string;
  on?: boolean;
  data?: Record<string, unknown>;
}

const base = JSON.parse(loadScenarioText(path.join(SCENARIO_DIR, "03-missed.json"))) as Record<string, unknown>;

describe("a taken dose stops the escalation at once", () => {
  for (let m = 1; m <= 85; m += 7) {
    const at = new Date(Date.UTC(2026, 2, 10, 7, m, 30)).toISOString().replace(".000Z", "Z");
    it(`removal at ${at}`, () => {
      const text = runScenarioText(JSON.stringify({ ...base, steps: [{ at, do: "remove", compartment: "morning", doses: 1 }] }));
      const lines = text
        .trimEnd()
        .split("\n")
        .map((l) => JSON.parse(l) as Line);
      const taken = lines.findIndex((l) => l.k === "ev" && l.type === "dose.taken");
      expect(taken).toBeGreaterThan(0);
      const t = lines[taken].t;
      const before = lines.slice(0, taken);
      const after = lines.slice(taken + 1);
      // Nothing of the ladder fires after the dose is confirmed.
      expect(
        after.some(
          (l) =>
            l.k === "ev" && (l.type === "relay.request" || l.type === "esc.step" || l.type === "dose.missed" || l.type === "dose.late"),
        ),
      ).toBe(false);
      // Outputs go dark at the very instant.
      const ledOff = after.find((l) => l.k === "led" && l.on === false);
      const buzzOff = after.find((l) => l.k === "buzzer" && l.on === false);
      expect(ledOff?.t).toBe(t);
      expect(buzzOff?.t).toBe(t);
      expect(after.some((l) => (l.k === "led" || l.k === "buzzer") && l.on === true)).toBe(false);
      // A resolve follows iff the relay was asked before.
      const asked = before.some((l) => l.k === "ev" && l.type === "relay.request");
      const resolve = after.filter((l) => l.k === "ev" && l.type === "relay.resolve");
      expect(resolve.length).toBe(asked ? 1 : 0);
      if (asked) expect(resolve[0].t).toBe(t);
    });
  }
});
