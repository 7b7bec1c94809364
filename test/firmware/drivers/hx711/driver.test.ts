import { describe, expect, it } from "vitest";
import { HX711, SharedClock, type Hx711Gain, type Hx711Rate, type DigitalClass } from "../../../../firmware/drivers/hx711/hx711";
import { createLoadCells } from "../../../../firmware/platform/loadcells";
import { Bench, type BenchOptions } from "./bench";

interface RigOptions extends BenchOptions {
  rate?: Hx711Rate;
  gain?: Hx711Gain;
  ready?: "edge" | "poll";
  usClock?: boolean;
  trace?: number;
}

/** One chip, already powered and settled, on PD_SCK "sck", DOUT "d0". */
function rig(o: RigOptions = {}) {
  const b = new Bench(o);
  b.wire("sck");
  const sig = { a: 0, b: 0 };
  const chip = b.chip("d0", "sck", {
    rate: o.rate ?? 10,
    startUs: -5_000_000,
    signal: () => sig.a,
    signalB: () => sig.b,
    traceCapacity: o.trace ?? 0,
  });
  const clock = new SharedClock({
    pin: "sck",
    timers: b.timers,
    io: b.Digital as unknown as DigitalClass,
    usClock: o.usClock ? b.now : undefined,
  });
  let readable = 0;
  const hx = new HX711({ dout: "d0", clock, rate: o.rate ?? 10, gain: o.gain, ready: o.ready, onReadable: () => readable++ });
  return { b, chip, clock, hx, sig, readable: () => readable };
}

describe("HX711 driver against the emulated chip", () => {
  it("reads signed 24-bit values across the whole range, including negatives", () => {
    const r = rig();
    const values = [0, 1, -1, 2, -2, 1000, -1000, 0x123456, -0x123456, 0x400000, -0x400000, 0x7ffffe, -0x7fffff, 0x555555, -0x2aaaab];
    for (const v of values) {
      r.sig.a = v;
      r.b.run(250);
      expect(r.hx.sample()).toBe(v);
      expect(r.hx.status.state).toBe("ok");
    }
    expect(r.chip.violationCount()).toBe(0);
    expect(r.hx.status.discarded).toBe(1); // first reading: gain of the chip unknown at boot
  });

  it("selects gain and channel by pulse count (25 = A128, 27 = A64, 26 = B32)", () => {
    const cases: [Hx711Gain, string, (a: number, b: number) => number][] = [
      [128, "A128", (a) => a],
      [64, "A64", (a) => Math.round(a / 2)],
      [32, "B32", (_a, b) => Math.round(b / 4)],
    ];
    for (const [gain, input, expected] of cases) {
      const r = rig({ gain });
      r.sig.a = 300_001;
      r.sig.b = -200_003;
      r.b.run(1000); // first read + 4 periods of settling after the gain change
      expect(r.chip.input).toBe(input);
      expect(r.hx.sample()).toBe(expected(r.sig.a, r.sig.b));
      // never delivered a reading converted at another gain
      expect(r.hx.status.samples).toBeGreaterThan(0);
      expect(r.chip.violationCount()).toBe(0);
    }
  });

  it("never lets a reading converted at the wrong gain through after power-up (gain 64)", () => {
    const r = rig({ gain: 64 });
    r.sig.a = 1_000_000;
    const seen: number[] = [];
    const b = r.b;
    b.run(1000);
    r.hx.powerDown();
    b.run(10);
    r.hx.powerUp();
    for (let i = 0; i < 150; i++) {
      b.run(10);
      const s = r.hx.sample();
      if (s !== undefined) seen.push(s);
    }
    expect(seen.length).toBeGreaterThan(0);
    expect(new Set(seen)).toEqual(new Set([500_000]));
    expect(r.chip.input).toBe("A64");
  });

  it("two chips sharing PD_SCK are read in the same trains, each with its own value", () => {
    const b = new Bench();
    b.wire("sck");
    const c0 = b.chip("d0", "sck", { rate: 80, startUs: -3_000_000, signal: () => 111_111 });
    // different phase and a 0.5 % slower oscillator
    const c1 = b.chip("d1", "sck", { rate: 80, startUs: -3_004_321, periodScale: 1.005, signal: () => -222_222 });
    const clock = new SharedClock({ pin: "sck", timers: b.timers, io: b.Digital as unknown as DigitalClass });
    const h0 = new HX711({ dout: "d0", clock, rate: 80 });
    const h1 = new HX711({ dout: "d1", clock, rate: 80 });
    b.run(2000);
    expect(h0.sample()).toBe(111_111);
    expect(h1.sample()).toBe(-222_222);
    // ~80 readings per second per chip, both from the same trains
    expect(h0.status.samples).toBeGreaterThan(150);
    expect(h1.status.samples).toBeGreaterThan(150);
    expect(clock.trains).toBeLessThanOrEqual(Math.max(h0.status.samples, h1.status.samples) + 3);
    for (const c of [c0, c1]) {
      expect(c.violationCount("clock-while-busy")).toBe(0);
      expect(c.violationCount("T3max")).toBe(0);
      expect(c.violationCount("pulse-count")).toBe(0);
    }
    // a read may straddle the next conversion of the chip that was ready first: rare
    expect(c0.violationCount("overrun") + c1.violationCount("overrun")).toBeLessThan(10);
  });

  it("rejects chips with different gains on one PD_SCK", () => {
    const b = new Bench();
    b.wire("sck");
    b.chip("d0", "sck", { signal: () => 0 });
    b.chip("d1", "sck", { signal: () => 0 });
    const clock = new SharedClock({ pin: "sck", timers: b.timers, io: b.Digital as unknown as DigitalClass });
    new HX711({ dout: "d0", clock, rate: 10, gain: 128 });
    expect(() => new HX711({ dout: "d1", clock, rate: 10, gain: 64 })).toThrow(RangeError);
    expect(clock.chips).toBe(1);
  });

  it("a chip on a shared clock that disconnects does not stop the other one", () => {
    const b = new Bench();
    b.wire("sck");
    b.chip("d0", "sck", { rate: 10, startUs: -1_000_000, signal: () => 42 });
    const c1 = b.chip("d1", "sck", { rate: 10, startUs: -1_050_000, signal: () => 43 });
    const clock = new SharedClock({ pin: "sck", timers: b.timers, io: b.Digital as unknown as DigitalClass });
    const h0 = new HX711({ dout: "d0", clock, rate: 10 });
    const h1 = new HX711({ dout: "d1", clock, rate: 10 });
    b.run(600);
    expect([h0.sample(), h1.sample()]).toEqual([42, 43]);
    c1.connected = false;
    const n0 = h0.status.samples;
    b.run(2000);
    expect(h1.status.state).toBe("disconnected");
    expect(h1.sample()).toBeUndefined();
    expect(h0.sample()).toBe(42);
    expect(h0.status.samples - n0).toBeGreaterThanOrEqual(17); // ~20 in 2 s at 10 SPS
    c1.connected = true; // power-on reset, settles, rejoins
    b.run(1500);
    expect(h1.sample()).toBe(43);
    expect(h1.status.state).toBe("ok");
  });

  it("a PD_SCK high phase > 60 us (stalled clock) loses the reading, is recorded, and the driver recovers", () => {
    let writesToSck = 0;
    let stallAt = -1;
    const r = rig({
      gain: 64,
      usClock: true,
      cost: (op, pin, value) => {
        if (op === "write" && pin === "sck" && value === 0) {
          writesToSck++;
          if (writesToSck === stallAt) return 100; // an interrupt between write(1) and write(0)
        }
        return 3;
      },
    });
    r.sig.a = 600_000;
    r.b.run(1000);
    expect(r.hx.sample()).toBe(300_000);
    expect(r.chip.violationCount()).toBe(0);
    const lostBefore = r.chip.lost;
    stallAt = writesToSck + 5; // 5th bit of the next train
    r.b.run(100);
    expect(r.chip.violationCount("powerdown-mid-read")).toBe(1);
    expect(r.chip.violationCount("T3max")).toBe(1);
    expect(r.chip.lost).toBe(lostBefore + 1);
    expect(r.clock.disturbed).toBe(1);
    expect(r.hx.status.reason).toBe("disturbed");
    // the chip reset to A x128; the driver re-sends the gain and never reports an A x128 reading
    const seen = new Set<number>();
    for (let i = 0; i < 150; i++) {
      r.b.run(10);
      const s = r.hx.sample();
      if (s !== undefined) seen.add(s);
    }
    expect([...seen]).toEqual([300_000]);
    expect(r.chip.input).toBe("A64");
    expect(r.hx.status.state).toBe("ok");
  });

  it("a uniformly slow clock (70 us per GPIO call) is recorded as violations and yields no readings", () => {
    const r = rig({ cost: 70, usClock: true });
    r.sig.a = 5;
    r.b.run(1500);
    expect(r.chip.violationCount("powerdown-mid-read")).toBeGreaterThan(0);
    expect(r.chip.violationCount("T3max")).toBeGreaterThan(0);
    expect(r.hx.sample()).toBeUndefined();
    expect(r.hx.status.samples).toBe(0);
  });

  it("powerDown / powerUp: no samples while down, first reading ~4 periods after power-up", () => {
    for (const rate of [10, 80] as const) {
      const r = rig({ rate });
      const period = rate === 10 ? 100 : 12.5;
      r.sig.a = -77;
      r.b.run(period * 8);
      expect(r.hx.sample()).toBe(-77);
      r.hx.powerDown();
      r.b.run(period * 10);
      expect(r.chip.poweredDown).toBe(true);
      expect(r.hx.sample()).toBeUndefined();
      expect(r.hx.status.state).toBe("powered-down");
      const n = r.hx.status.samples;
      const upAt = r.b.us;
      r.hx.powerUp();
      expect(r.chip.input).toBe("A128");
      let firstAt = -1;
      for (let i = 0; i < 800 && firstAt < 0; i++) {
        r.b.run(period / 20);
        if (r.hx.status.samples > n) firstAt = r.b.us;
      }
      const settleMs = (firstAt - upAt) / 1000;
      expect(settleMs).toBeGreaterThanOrEqual(period * 4);
      expect(settleMs).toBeLessThan(period * 4 + 2);
      expect(r.hx.sample()).toBe(-77);
      expect(r.chip.violationCount()).toBe(0);
    }
  });

  it("DOUT never low → 'disconnected' within the timeout (4–5 periods), NaN on the port", () => {
    for (const rate of [10, 80] as const) {
      const r = rig({ rate });
      const period = rate === 10 ? 100 : 12.5;
      const cells = createLoadCells({ chips: [r.hx], sps: rate });
      r.sig.a = 9;
      r.b.run(period * 8);
      expect(cells.read(0)).toBe(9);
      r.chip.connected = false;
      const t0 = r.b.us;
      let at = -1;
      for (let i = 0; i < 2000 && at < 0; i++) {
        r.b.run(1);
        if (r.hx.status.state === "disconnected") at = r.b.us;
      }
      const ms = (at - t0) / 1000;
      expect(ms).toBeGreaterThanOrEqual(period * 4);
      expect(ms).toBeLessThanOrEqual(period * 5 + 6);
      expect(r.hx.status.reason).toBe("dout-timeout");
      expect(r.hx.sample()).toBeUndefined();
      expect(cells.read(0)).toBeNaN();
    }
  });

  it("a DOUT that is never low from boot is reported disconnected (settling allowance)", () => {
    const b = new Bench();
    b.wire("sck");
    b.wire("d0", 1); // pulled-up line, no chip
    const clock = new SharedClock({ pin: "sck", timers: b.timers, io: b.Digital as unknown as DigitalClass });
    const hx = new HX711({ dout: "d0", clock, rate: 10 });
    b.run(850);
    expect(hx.status.state).toBe("settling");
    b.run(200);
    expect(hx.status.state).toBe("disconnected");
    expect(clock.trains).toBe(0);
  });

  it("saturation codes are returned as-is and flagged", () => {
    const r = rig();
    r.sig.a = 1e9;
    r.b.run(300);
    expect(r.hx.sample()).toBe(0x7fffff);
    expect(r.hx.status).toMatchObject({ state: "saturated", reason: "saturated-high", saturated: true });
    r.sig.a = -1e9;
    r.b.run(200);
    expect(r.hx.sample()).toBe(-0x800000);
    expect(r.hx.status).toMatchObject({ state: "saturated", reason: "saturated-low", saturated: true });
    r.sig.a = 12;
    r.b.run(200);
    expect(r.hx.status).toMatchObject({ state: "ok", saturated: false });
  });

  it("10 vs 80 SPS: reading rate follows the RATE pin (edge and poll modes)", () => {
    const counts: Record<string, number> = {};
    for (const rate of [10, 80] as const)
      for (const ready of ["edge", "poll"] as const) {
        const r = rig({ rate, ready });
        r.sig.a = 1;
        r.b.run(1000); // settle / first discard
        const n0 = r.readable();
        r.b.run(5000);
        counts[`${rate}-${ready}`] = r.readable() - n0;
        expect(r.chip.violationCount()).toBe(0);
      }
    expect(counts["10-edge"]).toBeGreaterThanOrEqual(49);
    expect(counts["10-edge"]).toBeLessThanOrEqual(51);
    expect(counts["80-edge"]).toBeGreaterThanOrEqual(398);
    expect(counts["80-edge"]).toBeLessThanOrEqual(401);
    expect(counts["10-poll"]).toBeGreaterThanOrEqual(49);
    expect(counts["80-poll"]).toBeGreaterThanOrEqual(390);
  });

  it("a throwing onReadable callback does not wedge the shared clock", () => {
    const b = new Bench();
    b.wire("sck");
    b.chip("d0", "sck", { rate: 80, startUs: -1_000_000, signal: () => 31 });
    const clock = new SharedClock({ pin: "sck", timers: b.timers, io: b.Digital as unknown as DigitalClass });
    let boom = true;
    const hx = new HX711({
      dout: "d0",
      clock,
      rate: 80,
      onReadable: () => {
        if (boom) throw new Error("boom");
      },
    });
    expect(() => b.run(200)).toThrow("boom");
    boom = false;
    const n = hx.status.samples;
    b.run(200);
    expect(hx.status.samples).toBeGreaterThan(n + 10);
    expect(hx.sample()).toBe(31);
  });

  it("close() releases the pins and timers", () => {
    const r = rig();
    r.b.run(500);
    r.hx.close();
    expect(r.hx.sample()).toBeUndefined();
    expect(r.hx.status.state).toBe("closed");
    expect(r.clock.chips).toBe(0);
    const trains = r.clock.trains;
    r.b.run(500);
    expect(r.clock.trains).toBe(trains);
    r.clock.close();
  });
});
