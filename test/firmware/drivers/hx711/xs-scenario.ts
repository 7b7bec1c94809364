/**
 * A driver + emulator scenario that must give the same result under Node and inside the
 * XS engine (xsnap). Only ES2022 built-ins: no console, timers or Node APIs.
 */
import { HX711, SharedClock, type DigitalClass } from "../../../../firmware/drivers/hx711/hx711";
import { createLoadCells } from "../../../../firmware/platform/loadcells";
import { Bench } from "./bench";

export function runScenario(): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  // 1. one chip, gain 64, values across the range
  {
    let sck0 = 0;
    let stallAt = -1;
    const b = new Bench({
      cost: (op, pin, value) => {
        if (op === "write" && pin === "sck" && value === 0 && ++sck0 === stallAt) return 100;
        return 3;
      },
    });
    b.wire("sck");
    let x = 0;
    const chip = b.chip("d0", "sck", { rate: 80, startUs: -1_000_000, signal: () => x });
    const clock = new SharedClock({ pin: "sck", timers: b.timers, io: b.Digital as unknown as DigitalClass, usClock: b.now });
    const hx = new HX711({ dout: "d0", clock, rate: 80, gain: 64 });
    const cells = createLoadCells({ chips: [hx], sps: 80 });
    const values: number[] = [];
    b.run(100);
    for (const v of [0, 2, -2, 1000, -1000, 0xaaaaaa, -0xaaaaaa, 0xfffffc, 1e9, -1e9]) {
      x = v;
      b.run(30);
      values.push(cells.read(0));
    }
    out.values = values;
    x = 4242;
    stallAt = sck0 + 7;
    b.run(200);
    out.afterStall = cells.read(0);
    out.violations = chip.violations.map((v) => v.kind).filter((k, i, a) => a.indexOf(k) === i);
    out.disturbed = clock.disturbed;
    chip.connected = false;
    b.run(100);
    out.disconnected = [hx.status.state, cells.read(0)];
  }
  // 2. three chips sharing PD_SCK
  {
    const b = new Bench();
    b.wire("sck");
    const chips = [0, 1, 2].map((i) =>
      b.chip("d" + i, "sck", { rate: 10, startUs: -2_000_000 - i * 7_777, signal: () => (i - 1) * 123_457 }),
    );
    const clock = new SharedClock({ pin: "sck", timers: b.timers, io: b.Digital as unknown as DigitalClass });
    const hs = chips.map((_c, i) => new HX711({ dout: "d" + i, clock, rate: 10, ready: i === 1 ? "poll" : "edge" }));
    b.run(3000);
    out.shared = hs.map((h) => h.sample());
    out.sharedSamples = hs.map((h) => h.status.samples);
    out.sharedTrains = clock.trains;
    out.sharedViolations = chips.map((c) => c.violationCount());
    out.us = b.us;
  }
  return out;
}

/** The entry called inside XS (host-sim/xs): the scenario's result as JSON text. */
export function runScenarioJson(): string {
  return JSON.stringify(runScenario());
}
