/**
 * Every scenario under test/scenarios runs in virtual time on Node and must reproduce its expected
 * timeline byte for byte (regenerate deliberately with `npm run scenarios:update`, then review the diff).
 * Beyond the golden files, invariants that must hold for any scenario are checked here.
 */
import fs from "node:fs";
import { describe, expect, it } from "vitest";
import { runNode, suite } from "./suite";

interface Line {
  t: string;
  k: string;
  seq?: number;
  id?: string;
  type?: string;
  data?: Record<string, unknown>;
}

const entries = suite();

describe("scenario suite (Node)", () => {
  it("has at least 15 scenarios", () => {
    expect(entries.length).toBeGreaterThanOrEqual(15);
  });

  for (const e of entries) {
    describe(e.name, () => {
      const timeline = runNode(e.text);
      const lines: Line[] = timeline
        .trimEnd()
        .split("\n")
        .map((l) => JSON.parse(l) as Line);

      it("matches the expected timeline", () => {
        expect(timeline.startsWith("ERROR")).toBe(false);
        const expected = fs.existsSync(e.expectedFile) ? fs.readFileSync(e.expectedFile, "utf8") : "(missing expected file)";
        expect(timeline).toBe(expected);
      });

      it("keeps the event log invariants", () => {
        const evs = lines.filter((l) => l.k === "ev");
        // Sequence numbers strictly increase across reboots and power cuts (a decommission erases
        // the log on purpose: numbering starts again, under a new id epoch); ids are unique.
        for (let i = 1; i < evs.length; i++) if (evs[i - 1].type !== "decommission") expect(evs[i].seq!).toBeGreaterThan(evs[i - 1].seq!);
        expect(new Set(evs.map((l) => l.id)).size).toBe(evs.length);
        // Time never goes backwards in the timeline.
        for (let i = 1; i < lines.length; i++) expect(lines[i].t >= lines[i - 1].t).toBe(true);
        // A slot is resolved at most once and never both taken and missed.
        const outcome = new Map<string, string>();
        for (const l of evs) {
          if (l.type === "dose.taken" || l.type === "dose.taken_early" || l.type === "dose.missed") {
            const slot = String(l.data!.slot);
            const prev = outcome.get(slot);
            if (prev !== undefined) expect(l.type === "dose.taken" && prev === "dose.missed" && l.data!.afterMissed === true).toBe(true);
            outcome.set(slot, l.type);
          }
        }
        // Relay requests carry a unique dedupe key and recipient references only.
        const keys = evs.filter((l) => l.type === "relay.request").map((l) => String(l.data!.key));
        expect(new Set(keys).size).toBe(keys.length);
        for (const l of evs.filter((x) => x.type === "relay.request")) {
          for (const r of l.data!.to as string[]) expect(r).toMatch(/^[a-z0-9_:-]+$/i);
        }
      });

      it("delivers every event it logged once the network allows it", () => {
        const end = lines[lines.length - 1];
        expect(end.k).toBe("end");
        const evs = lines.filter((l) => l.k === "ev").map((l) => l.id);
        const tx = new Set(lines.filter((l) => l.k === "tx").map((l) => l.id));
        const undelivered = evs.filter((id) => !tx.has(id));
        // Only events logged in the last moments (or after a final network loss) may still wait.
        expect(undelivered.length).toBeLessThanOrEqual((end as unknown as { outbox: number }).outbox ?? 0);
      });
    });
  }
});
