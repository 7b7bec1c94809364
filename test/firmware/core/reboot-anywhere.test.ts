/**
 * "After a reboot at any instant the ladder resumes at the step it should be at — never
 * restarting from the first step, never forgetting." Property test over the missed-dose scenario:
 * a watchdog reset or a power cut that tears a storage write, at many instants across the whole
 * escalation, must leave exactly the same set of relay requests (each dedupe key once) and exactly
 * one missed outcome, as the run without any reset.
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
  data?: Record<string, unknown>;
}

const base = JSON.parse(loadScenarioText(path.join(SCENARIO_DIR, "03-missed.json"))) as Record<string, unknown>;

function run(steps: unknown[]): Line[] {
  const text = runScenarioText(JSON.stringify({ ...base, steps }));
  expect(text.startsWith("ERROR")).toBe(false);
  return text
    .trimEnd()
    .split("\n")
    .map((l) => JSON.parse(l) as Line);
}

function relayKeys(lines: Line[]): string[] {
  return lines.filter((l) => l.k === "ev" && l.type === "relay.request").map((l) => String(l.data!.key));
}

const OUTCOMES = ["dose.missed", "dose.taken", "dose.taken_early"];
function outcomes(lines: Line[]): string[] {
  return lines.filter((l) => l.k === "ev" && OUTCOMES.includes(String(l.type))).map((l) => `${l.type}:${l.data!.slot}`);
}

/** Events logged twice: the same id twice, or one slot's dose event under two ids. */
function doubled(lines: Line[]): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const l of lines) {
    if (l.k !== "ev") continue;
    const slot = l.data?.slot;
    const keys = [String((l as { id?: string }).id)];
    if (l.type === "relay.request") keys.push(`${l.type}:${l.data?.key}`);
    else if (l.type === "esc.step" || l.type === "esc.skipped") keys.push(`${l.type}:${slot}:${l.data?.step}`);
    else if (typeof slot === "string") keys.push(`${l.type}:${slot}`);
    for (const k of keys) {
      if (seen.has(k)) out.push(k);
      seen.add(k);
    }
  }
  return out;
}

const baseline = run([]);
const keys = relayKeys(baseline);

// Due at 07:00Z, push at 07:30, sms at 08:00, missed at 08:30, call at 08:40.
const instants: string[] = [];
for (let m = -3; m <= 105; m += 6) {
  const t = new Date(Date.UTC(2026, 2, 10, 7, 0, 0) + m * 60_000 + 17_000);
  instants.push(t.toISOString().replace(".000Z", "Z"));
}

describe("reboot at any instant", () => {
  it("baseline escalates through every remote step once", () => {
    expect(keys.length).toBe(3);
    expect(outcomes(baseline)).toEqual(["dose.missed:am@2026-03-10"]);
  });

  for (const at of instants) {
    it(`watchdog reset at ${at}: same relay requests, one outcome`, () => {
      const lines = run([{ at, do: "reboot", reason: "watchdog" }]);
      expect(relayKeys(lines)).toEqual(keys);
      expect(outcomes(lines)).toEqual(outcomes(baseline));
    });
  }

  for (const [i, at] of instants.entries()) {
    const tear = i % 2 === 0 ? "lost" : "truncated";
    it(`power cut tearing a write (${tear}) from ${at}: nothing forgotten, nothing logged twice`, () => {
      const lines = run([{ at, do: "power-cut", tear, afterWrites: i % 3, offMs: 30_000 }]);
      // The state and the events of one change are journalled together (core/log/journal):
      // whatever write the cut tears, each request is logged once, under one id.
      expect(relayKeys(lines)).toEqual(keys);
      expect(outcomes(lines)).toEqual(outcomes(baseline));
      expect(doubled(lines)).toEqual([]);
    });
  }
});

describe("power cut with the dose taken in the dark, at any instant", () => {
  // A 10-minute cut anywhere from before the window opens to just before it closes; the pills
  // leave the tray 5 minutes into it. The box must credit the dose (while off), once.
  for (let m = -25; m <= 80; m += 15) {
    const cut = Date.UTC(2026, 2, 10, 7, 0, 0) + m * 60_000;
    const iso = (t: number) => new Date(t).toISOString().replace(".000Z", "Z");
    it(`cut at ${iso(cut)}, removal 5 min later: taken once, nothing asked after`, () => {
      const lines = run([
        { at: iso(cut), do: "power-cut", offMs: 600_000 },
        { at: iso(cut + 300_000), do: "remove", compartment: "morning", doses: 1 },
      ]);
      const taken = lines.filter((l) => l.k === "ev" && l.type === "dose.taken");
      const o = outcomes(lines);
      expect(o.length).toBe(1);
      expect(["dose.taken:am@2026-03-10", "dose.taken_early:am@2026-03-10"]).toContain(o[0]);
      expect(taken.concat(lines.filter((l) => l.type === "dose.taken_early"))[0].data!.while).toBe("off");
      expect(doubled(lines)).toEqual([]);
      // Only requests the baseline had sent before the box went dark.
      const before = baseline.filter((l) => Date.parse(l.t) < cut);
      expect(relayKeys(lines)).toEqual(relayKeys(before));
    });
  }
});

describe("clock steps of any size and direction, at any instant", () => {
  const deltas = [-13 * 3600_000, -3 * 3600_000, -600_000, 600_000, 3 * 3600_000, 13 * 3600_000];
  for (const deltaMs of deltas) {
    for (const m of [-25, -10, 15, 50, 85]) {
      const at = new Date(Date.UTC(2026, 2, 10, 7, 0, 0) + m * 60_000).toISOString().replace(".000Z", "Z");
      it(`clock steps ${deltaMs / 60_000} min at ${at}: the dose is closed once and someone is told`, () => {
        const lines = run([{ at, do: "clock-step", deltaMs }]);
        const am = outcomes(lines).filter((o) => o.endsWith(":am@2026-03-10"));
        expect(am.length).toBeLessThanOrEqual(1);
        expect(doubled(lines)).toEqual([]);
        // Never silently: the slot is closed and a remote request went out, or it is still open at the end.
        const end = lines[lines.length - 1] as Line & { slots?: [string, string][] };
        const open = (end.slots ?? []).some(([id]) => id === "am@2026-03-10");
        if (am.length === 1) expect(relayKeys(lines).some((k) => k.includes("am@2026-03-10"))).toBe(true);
        else expect(open).toBe(true);
      });
    }
  }
});
