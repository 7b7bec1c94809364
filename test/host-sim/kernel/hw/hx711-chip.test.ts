import { describe, expect, it } from "vitest";
import { type Hx711Chip, SimWire, createSimDigital, hx711Counts, type Bit } from "../../../../host-sim/kernel/hw/hx711-chip";
import { Bench } from "../../../firmware/drivers/hx711/bench";

/** A cold chip (power-on now) on wire "sck", DOUT "d". */
function cold(rate: 10 | 80 = 10, signal: (t: number) => number = () => 0, signalB?: (t: number) => number) {
  const b = new Bench();
  const sck = b.wire("sck");
  const chip = b.chip("d", "sck", { rate, signal, signalB });
  const falls: number[] = [];
  chip.dout.onChange((v) => {
    if (v === 0) falls.push(b.us);
  });
  return { b, sck, chip, falls };
}

/** One PD_SCK pulse driven by hand; returns DOUT read after the falling edge. */
function pulse(b: Bench, sck: SimWire, chip: Hx711Chip, highUs = 1, lowUs = 1): Bit {
  sck.write(1);
  b.us += highUs;
  sck.write(0);
  b.us += lowUs / 2;
  const v = chip.dout.read();
  b.us += lowUs / 2;
  return v;
}

/** Read a full train by hand: 24 bits then (pulses - 24) extra pulses. */
function readTrain(b: Bench, sck: SimWire, chip: Hx711Chip, pulses = 25, highUs = 1, lowUs = 1): number {
  b.us += 1; // T1
  let v = 0;
  for (let i = 0; i < 24; i++) v = (v << 1) | pulse(b, sck, chip, highUs, lowUs);
  for (let i = 24; i < pulses; i++) pulse(b, sck, chip, highUs, lowUs);
  return (v << 8) >> 8;
}

describe("HX711 chip emulator (datasheet behaviour)", () => {
  it("converts at 10 / 80 SPS after 4 periods of power-on settling", () => {
    for (const [rate, period] of [
      [10, 100_000],
      [80, 12_500],
    ] as const) {
      const { b, chip, falls } = cold(rate, () => 5);
      b.run(1000);
      // first result at 4 periods, then one per period (unread results keep DOUT low: one edge)
      expect(falls[0]).toBe(4 * period);
      expect(chip.delivered).toBe(Math.floor(1_000_000 / period) - 3);
      expect(chip.ready).toBe(true);
      expect(chip.latched).toBe(5);
    }
  });

  it("shifts 24-bit two's complement MSB first; the 25th pulse sets DOUT high", () => {
    let x = 0;
    const { b, sck, chip } = cold(10, () => x);
    b.run(400);
    for (const v of [0, 1, -1, -2, 0x7fffff, -0x800000, 0x123456, -0x654321]) {
      x = v;
      b.run(100);
      expect(chip.ready).toBe(true);
      expect(chip.dout.read()).toBe(0);
      expect(readTrain(b, sck, chip)).toBe(v);
      expect(chip.dout.read()).toBe(1);
    }
    expect(chip.violationCount()).toBe(0);
  });

  it("25 / 26 / 27 pulses select A128 / B32 / A64 for the next conversion, with 4 periods of settling", () => {
    const { b, sck, chip, falls } = cold(
      10,
      () => 400_000,
      () => -80_000,
    );
    b.run(400);
    for (const [pulses, input, value] of [
      [27, "A64", 200_000],
      [26, "B32", -20_000],
      [25, "A128", 400_000],
    ] as const) {
      b.run(100);
      expect(chip.ready).toBe(true);
      readTrain(b, sck, chip, pulses);
      const t = b.us;
      falls.length = 0;
      b.run(600);
      expect(chip.input).toBe(input);
      // the boundary that closes the train and 3 more are withheld: the first result is the
      // 4th conversion at the new setting, 4..5 periods after the train
      expect(falls[0] - t).toBeGreaterThan(4 * 100_000);
      expect(falls[0] - t).toBeLessThanOrEqual(5 * 100_000);
      expect(readTrain(b, sck, chip, pulses)).toBe(value);
    }
    // same count again: no settling, next result within one period
    const t = b.us;
    falls.length = 0;
    b.run(150);
    expect(falls[0] - t).toBeLessThanOrEqual(100_000);
    expect(chip.violationCount()).toBe(0);
  });

  it("other pulse counts: > 27 keeps the gain (pulse-count); < 25 is an overrun then an abandoned train", () => {
    const { b, sck, chip } = cold(10, () => 1000);
    b.run(400);
    readTrain(b, sck, chip, 28);
    b.run(100);
    expect(chip.violationCount("pulse-count")).toBe(1);
    expect(chip.input).toBe("A128");
    expect(chip.ready).toBe(true); // gain unchanged: no settling
    // stop after 10 bits
    b.us += 1;
    for (let i = 0; i < 10; i++) pulse(b, sck, chip);
    b.run(100);
    expect(chip.violationCount("overrun")).toBe(1);
    expect(chip.ready).toBe(false);
    b.run(100);
    expect(chip.violationCount("pulse-count")).toBe(2);
    expect(chip.ready).toBe(true);
    expect(readTrain(b, sck, chip)).toBe(1000);
  });

  it("detects T1, T2, T3 min, T4 min and T3 max violations", () => {
    const { b, sck, chip } = cold(10, () => 0x5a5a5);
    b.run(400); // DOUT fell exactly now
    sck.write(1); // T1 = 0
    expect(chip.violationCount("T1")).toBe(1);
    b.us += 0.05;
    chip.dout.read(); // T2: 0.05 us after the rising edge
    expect(chip.violationCount("T2")).toBe(1);
    sck.write(0); // high 0.05 us: T3 min
    expect(chip.violationCount("T3min")).toBe(1);
    b.us += 0.1;
    sck.write(1); // low 0.1 us: T4 min
    expect(chip.violationCount("T4min")).toBe(1);
    b.us += 55; // > 50 us (T3 max) but < 60 us: no power-down
    sck.write(0);
    expect(chip.violationCount("T3max")).toBe(1);
    expect(chip.poweredDown).toBe(false);
    const kinds = chip.violations.map((v) => v.kind);
    expect(kinds).toEqual(["T1", "T2", "T3min", "T4min", "T3max"]);
  });

  it("T2: a read too early returns the previous bit, not the new one", () => {
    const { b, sck, chip } = cold(10, () => 0x400000); // bit 23 = 0, bit 22 = 1
    b.run(400);
    b.us += 1;
    pulse(b, sck, chip); // bit 23 = 0 on DOUT
    sck.write(1); // bit 22 = 1 comes out
    b.us += 0.05;
    expect(chip.dout.read()).toBe(0); // stale
    b.us += 0.1;
    expect(chip.dout.read()).toBe(1);
  });

  it("PD_SCK high > 60 us during a read: power-down, the reading is lost, reset to A128 on PD_SCK low", () => {
    const { b, sck, chip, falls } = cold(10, () => 77);
    b.run(400);
    readTrain(b, sck, chip, 27); // select A64
    b.run(600);
    expect(chip.input).toBe("A64");
    b.us += 1;
    pulse(b, sck, chip);
    sck.write(1);
    b.run(0.061);
    expect(chip.poweredDown).toBe(true);
    expect(chip.dout.read()).toBe(1);
    expect(chip.violationCount("powerdown-mid-read")).toBe(1);
    expect(chip.violationCount("T3max")).toBe(1);
    expect(chip.lost).toBe(1);
    b.run(5);
    sck.write(0);
    const up = b.us;
    falls.length = 0;
    expect(chip.input).toBe("A128");
    b.run(500);
    expect(falls[0] - up).toBe(400_000);
    expect(readTrain(b, sck, chip)).toBe(77);
  });

  it("intentional power-down (no read open) is not a violation", () => {
    const { b, sck, chip } = cold(80, () => 1);
    b.run(100);
    readTrain(b, sck, chip);
    sck.write(1);
    b.run(10);
    expect(chip.poweredDown).toBe(true);
    sck.write(0);
    b.run(100);
    expect(chip.violationCount()).toBe(0);
    expect(chip.ready).toBe(true);
  });

  it("pulses while converting (DOUT high) are ignored and recorded", () => {
    const { b, sck, chip } = cold(10, () => 3);
    b.run(100);
    pulse(b, sck, chip);
    expect(chip.violationCount("clock-while-busy")).toBe(1);
    b.run(400);
    expect(readTrain(b, sck, chip)).toBe(3);
  });

  it("saturates at 0x7FFFFF / 0x800000 and scales by gain", () => {
    expect(hx711Counts("A128", 1e12)).toBe(0x7fffff);
    expect(hx711Counts("A128", -1e12)).toBe(-0x800000);
    expect(hx711Counts("A64", 0x7fffff * 2 + 10)).toBe(0x7fffff);
    expect(hx711Counts("A64", 1001)).toBe(501);
    expect(hx711Counts("B32", -4000)).toBe(-1000);
    expect(hx711Counts("A128", NaN)).toBe(0);
    let x = 2 ** 30;
    const { b, sck, chip } = cold(80, () => x);
    b.run(60);
    expect(readTrain(b, sck, chip)).toBe(0x7fffff);
    x = -(2 ** 30);
    b.run(13);
    expect(readTrain(b, sck, chip)).toBe(-0x800000);
  });

  it("an unplugged chip floats DOUT high and ignores PD_SCK; plugging in is a power-on reset", () => {
    const { b, sck, chip } = cold(10, () => 9);
    b.run(400);
    chip.connected = false;
    expect(chip.dout.read()).toBe(1);
    pulse(b, sck, chip);
    expect(chip.violationCount()).toBe(0);
    chip.connected = true;
    b.run(399);
    expect(chip.ready).toBe(false);
    b.run(2);
    expect(chip.ready).toBe(true);
  });

  it("two chips on one PD_SCK shift in lockstep", () => {
    const b = new Bench();
    const sck = b.wire("sck");
    const c0 = b.chip("d0", "sck", { rate: 80, signal: () => 100 });
    const c1 = b.chip("d1", "sck", { rate: 80, signal: () => -100 });
    b.run(60);
    b.us += 1;
    let v0 = 0;
    let v1 = 0;
    for (let i = 0; i < 24; i++) {
      pulse(b, sck, c0);
      v0 = (v0 << 1) | c0.dout.read();
      v1 = (v1 << 1) | c1.dout.read();
    }
    pulse(b, sck, c0);
    expect([(v0 << 8) >> 8, (v1 << 8) >> 8]).toEqual([100, -100]);
  });

  it("violation list is bounded, counts are not", () => {
    const b = new Bench();
    const sck = b.wire("sck");
    const chip = b.chip("d", "sck", { signal: () => 0, maxViolations: 3 });
    for (let i = 0; i < 10; i++) pulse(b, sck, chip);
    expect(chip.violations.length).toBe(3);
    expect(chip.violationCount("clock-while-busy")).toBe(10);
    chip.clearViolations();
    expect(chip.violationCount()).toBe(0);
  });
});

describe("SimDigital adapter (ECMA-419 shape)", () => {
  it("defers and coalesces edge callbacks, charges virtual time, enforces direction", () => {
    let us = 0;
    const queue: (() => void)[] = [];
    const w = new SimWire(1);
    const Digital = createSimDigital({
      resolve: (p) => (p === 4 ? w : undefined),
      advance: (d) => {
        us += d;
      },
      cost: 2,
      defer: (cb) => queue.push(cb),
    });
    let calls = 0;
    let self: unknown;
    const input = new Digital({
      pin: 4,
      mode: Digital.InputPullUp,
      edge: Digital.Falling,
      onReadable(this: unknown) {
        calls++;
        self = this;
      },
    });
    w.write(0);
    w.write(1);
    w.write(0);
    expect(calls).toBe(0); // never re-entrant
    expect(queue.length).toBe(1); // coalesced
    queue.shift()!();
    expect(calls).toBe(1);
    expect(self).toBe(input);
    expect(input.read()).toBe(0);
    expect(us).toBe(2);
    expect(() => input.write(1)).toThrow();
    const out = new Digital({ pin: 4, mode: Digital.Output });
    out.write(1);
    expect(w.read()).toBe(1);
    expect(us).toBe(4);
    input.close();
    expect(() => input.read()).toThrow();
    expect(() => new Digital({ pin: 5, mode: Digital.Input })).toThrow(RangeError);
  });
});
