import { describe, expect, it } from "vitest";
import { HX711, SharedClock, type DigitalClass } from "../../../../firmware/drivers/hx711/hx711";
import { createLoadCells } from "../../../../firmware/platform/loadcells";
import { Bench } from "./bench";

function setup(rate: 10 | 80) {
  const b = new Bench();
  b.wire("sck");
  const clock = new SharedClock({ pin: "sck", timers: b.timers, io: b.Digital as unknown as DigitalClass });
  const chips = [0, 1, 2].map((i) => {
    b.chip("d" + i, "sck", { rate, startUs: -1_000_000, signal: () => 1000 * (i + 1) });
    return new HX711({ dout: "d" + i, clock, rate });
  });
  return { b, chips };
}

describe("LoadCells port over HX711", () => {
  it("maps channel i to chip i; NaN until a fresh reading exists", () => {
    const { b, chips } = setup(80);
    const cells = createLoadCells({ chips, sps: 80 });
    expect(cells.channels).toBe(3);
    expect(cells.sps).toBe(80);
    expect([0, 1, 2].map((c) => cells.read(c))).toEqual([NaN, NaN, NaN]);
    b.run(200);
    expect([0, 1, 2].map((c) => cells.read(c))).toEqual([1000, 2000, 3000]);
    chips[1].powerDown(); // shared PD_SCK: the whole line powers down
    expect([0, 1, 2].map((c) => cells.read(c))).toEqual([NaN, NaN, NaN]);
    chips[1].powerUp();
    b.run(200);
    expect(cells.read(2)).toBe(3000);
    chips[2].close();
    expect(cells.read(2)).toBeNaN();
  });

  it("validates channels and rates", () => {
    const { chips } = setup(10);
    const cells = createLoadCells({ chips, sps: 10 });
    expect(() => cells.read(3)).toThrow(RangeError);
    expect(() => cells.read(-1)).toThrow(RangeError);
    expect(() => cells.read(0.5)).toThrow(RangeError);
    expect(() => createLoadCells({ chips, sps: 80 })).toThrow(RangeError);
    expect(() => createLoadCells({ chips: [], sps: 10 })).toThrow(RangeError);
  });
});
