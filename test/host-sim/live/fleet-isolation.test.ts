/**
 * Fleet isolation: the devices of the live simulator share one scheduler, and a power cut,
 * reboot or network drop on one of them never touches the others' timers (each boot has a
 * timer group of its own, issued by the scheduler).
 */
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { Fleet, type FleetDevice } from "../../../host-sim/live/fleet";
import { StandInTransport } from "../../../host-sim/live/stand-in-transport";
import { Scheduler } from "../../../host-sim/kernel/time/scheduler";

const ROOT = path.resolve(__dirname, "../../..");
const config = JSON.parse(readFileSync(path.join(ROOT, "test/scenarios/configs/home.json"), "utf8")) as Record<string, unknown>;
const START = Date.parse("2026-03-10T06:30:00Z");

function events(d: FleetDevice, after: number): { t: number; type: string }[] {
  return d
    .linesAfter(0)
    .filter((l) => l.k === "ev" && l.t > after)
    .map((l) => ({ t: l.t, type: String(l.d.type) }));
}

describe("fleet isolation", () => {
  it("the scheduler issues a distinct timer group per boot", () => {
    const s = new Scheduler(0);
    const a = s.newGroup();
    const b = s.newGroup();
    expect(a).not.toBe(b);
    let fired = 0;
    s.at(10, () => fired++, a);
    s.at(10, () => fired++, b);
    s.cancelGroup(a);
    s.runUntil(20, (e) => {
      throw e;
    });
    expect(fired).toBe(1);
  });

  it("a power cut, a reboot and a network drop on one of 3 devices leave the other two running", async () => {
    const fleet = new Fleet({ start: START, warp: 0, devices: 3, baseConfig: config, transport: new StandInTransport() });
    try {
      const [d1, d2, d3] = ["dk-sim-1", "dk-sim-2", "dk-sim-3"].map((id) => fleet.get(id)!);
      await fleet.jumpTo(START + 10 * 60_000);
      const cutAt = fleet.sched.now;
      expect(d2.act({ do: "power-cut", offMs: 20 * 60_000 }).ok).toBe(true);
      await fleet.jumpTo(cutAt + 30 * 60_000);
      expect(d2.act({ do: "reboot" }).ok).toBe(true);
      expect(d2.act({ do: "network", up: false }).ok).toBe(true);
      await fleet.jumpTo(Date.parse("2026-03-10T10:00:00Z"));
      for (const d of [d1, d3]) {
        const st = d.sim.status();
        expect(st.alive).toBe(true);
        // The morning dose went due and escalated on both untouched devices after the cut.
        const types = events(d, cutAt).map((e) => e.type);
        expect(types).toContain("dose.due");
        expect(types).toContain("dose.late");
        expect(types).toContain("relay.request");
      }
      // The device that lost power came back and runs its own schedule too.
      expect(d2.sim.status().alive).toBe(true);
      expect(events(d2, cutAt).map((e) => e.type)).toContain("boot");
    } finally {
      fleet.stop();
    }
  });
});
