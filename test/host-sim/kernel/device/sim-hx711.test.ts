/**
 * The HX711 at pin level in the whole-board simulation: the real driver and SharedClock clock
 * four chip emulators without a datasheet violation, and a scenario gives the same timeline at
 * pin level (43) as at sample level (41).
 */
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { HX711, SharedClock } from "../../../../firmware/drivers/hx711/hx711";
import { BOARD } from "../../../../firmware/platform/board";
import { createLoadCells } from "../../../../firmware/platform/loadcells";
import { pinLoadCells } from "../../../../host-sim/kernel/device/sim-hx711";
import { createSimDigital } from "../../../../host-sim/kernel/hw/sim-digital";
import { Scheduler } from "../../../../host-sim/kernel/time/scheduler";

const dir = path.resolve(__dirname, "../../../scenarios");

describe("HX711 at pin level in the board simulation", () => {
  it("the driver reads every channel's counts with no timing violation", () => {
    const sched = new Scheduler(Date.UTC(2026, 2, 10));
    const g = sched.newGroup();
    const timers = sched.timers(g);
    const other = createSimDigital({ resolve: () => undefined });
    const hx = pinLoadCells(sched, g, timers, (ch) => 100_000 + 1_000 * ch, other);
    const sck = new SharedClock({ pin: BOARD.hx711Sck, timers, io: hx.Digital });
    const chips = BOARD.hx711Dout.map((dout) => new HX711({ dout, clock: sck, rate: BOARD.hx711Sps }));
    const cells = createLoadCells({ chips, sps: BOARD.hx711Sps });
    sched.runUntil(sched.now + 10_000, (e) => {
      throw e;
    });
    expect([0, 1, 2, 3].map((ch) => cells.read(ch))).toEqual([100_000, 101_000, 102_000, 103_000]);
    expect(hx.violations()).toBe(0);
  });

  it("a scenario's timeline is the same at pin level as at sample level", () => {
    const lines = (f: string) => fs.readFileSync(path.join(dir, f), "utf8").trim().split("\n").slice(1);
    const samples = lines("41-board-whole.expected.jsonl");
    const pins = lines("43-board-hx711-pins.expected.jsonl");
    expect(samples.length).toBeGreaterThan(40);
    expect(pins).toEqual(samples);
  });
});
