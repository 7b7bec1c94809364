import { describe, expect, it } from "vitest";
import { HX711, SharedClock, type DigitalClass } from "../../../../firmware/drivers/hx711/hx711";
import {
  HX711_T1_MIN_US,
  HX711_T3_MAX_US,
  HX711_T3_MIN_US,
  HX711_T4_MIN_US,
  type Hx711TraceEntry,
} from "../../../../host-sim/kernel/hw/hx711-chip";
import { Bench } from "./bench";

interface Timing {
  trains: number;
  t1Min: number;
  highMin: number;
  highMax: number;
  lowMin: number;
  pulsesPerTrain: number[];
  trainUsMax: number;
}

/** Measure T1, T3 (high), T4 (low) from a chip's edge trace. A train = pulses < 1 ms apart. */
function measure(trace: Hx711TraceEntry[]): Timing {
  const r: Timing = { trains: 0, t1Min: Infinity, highMin: Infinity, highMax: 0, lowMin: Infinity, pulsesPerTrain: [], trainUsMax: 0 };
  let lastDoutFall = -Infinity;
  let lastFall = -Infinity;
  let lastRise = -Infinity;
  let trainStart = 0;
  let pulses = 0;
  for (const e of trace) {
    if (e.line === "dout") {
      if (e.level === 0 && pulses === 0) lastDoutFall = e.tUs;
      continue;
    }
    if (e.level === 1) {
      if (e.tUs - lastFall > 1000) {
        if (pulses > 0) r.pulsesPerTrain.push(pulses);
        pulses = 0;
        r.trains++;
        trainStart = e.tUs;
        r.t1Min = Math.min(r.t1Min, e.tUs - lastDoutFall);
      } else r.lowMin = Math.min(r.lowMin, e.tUs - lastFall);
      pulses++;
      lastRise = e.tUs;
    } else {
      r.highMin = Math.min(r.highMin, e.tUs - lastRise);
      r.highMax = Math.max(r.highMax, e.tUs - lastRise);
      r.trainUsMax = Math.max(r.trainUsMax, e.tUs - trainStart);
      lastFall = e.tUs;
    }
  }
  if (pulses > 0) r.pulsesPerTrain.push(pulses);
  // the dout trace also holds bit edges: only the fall before the first pulse is "ready"
  return r;
}

function run(costUs: number, chips: number, gain: 128 | 64 | 32 = 128) {
  const b = new Bench({ cost: costUs });
  b.wire("sck");
  const cs = [];
  const hs = [];
  for (let i = 0; i < chips; i++)
    cs.push(b.chip("d" + i, "sck", { rate: 80, startUs: -1_000_000 - i * 3_000, signal: () => 0x2aaaaa - i, traceCapacity: 20_000 }));
  const clock = new SharedClock({ pin: "sck", timers: b.timers, io: b.Digital as unknown as DigitalClass });
  for (let i = 0; i < chips; i++) hs.push(new HX711({ dout: "d" + i, clock, rate: 80, gain }));
  b.run(1000);
  return { b, cs, hs, clock, timing: measure(cs[0].trace()) };
}

describe("driver bit train vs. HX711 datasheet timing", () => {
  it("meets T1 >= 0.1 us, T3 in [0.2, 50] us, T4 >= 0.2 us at 3 us per GPIO call (XS-like)", () => {
    for (const [chips, gain, pulses] of [
      [1, 128, 25],
      [1, 64, 27],
      [3, 32, 26],
    ] as const) {
      const { cs, hs, timing } = run(3, chips, gain);
      expect(timing.trains).toBeGreaterThan(60);
      expect(timing.t1Min).toBeGreaterThanOrEqual(HX711_T1_MIN_US);
      expect(timing.highMin).toBeGreaterThanOrEqual(HX711_T3_MIN_US);
      expect(timing.highMax).toBeLessThanOrEqual(HX711_T3_MAX_US);
      expect(timing.lowMin).toBeGreaterThanOrEqual(HX711_T4_MIN_US);
      expect(new Set(timing.pulsesPerTrain)).toEqual(new Set([pulses]));
      // one write per high phase: 3 us; train = 2 writes per pulse + one read per chip per bit
      expect(timing.highMax).toBe(3);
      expect(timing.trainUsMax).toBeCloseTo(3 * (2 * pulses - 1 + 24 * chips), 6);
      for (const c of cs) expect(c.violationCount()).toBe(0);
      for (const h of hs) expect(h.status.state).toBe("ok");
    }
  });

  it("the emulator catches a GPIO path too fast for the chip (0.1 us per call: T3 / T4 minimums)", () => {
    const { cs } = run(0.1, 1);
    expect(cs[0].violationCount("T3min")).toBeGreaterThan(0);
    // gain pulses have no read in their low phase: 0.1 us low
    expect(cs[0].violationCount("T4min")).toBeGreaterThan(0);
  });
});
