import { describe, expect, it } from "vitest";
import { CompartmentLeds, DEFAULT_COLORS, type PixelWriter } from "../../../firmware/drivers/led/led";
import { rig } from "./helpers";

class FakeStrip implements PixelWriter {
  pixels: number[];
  shown: number[];
  updates = 0;
  closed = false;
  constructor(readonly length: number) {
    this.pixels = new Array(length).fill(0x123456);
    this.shown = this.pixels.slice();
  }
  set(i: number, rgb: number) {
    if (i < 0 || i >= this.length) throw new RangeError("pixel");
    this.pixels[i] = rgb;
  }
  update() {
    this.shown = this.pixels.slice();
    this.updates++;
  }
  close() {
    this.closed = true;
  }
}

describe("CompartmentLeds over GPIO", () => {
  const pins = [16, 17, 18, 19];

  it("starts dark and lights one pin per compartment (active-high)", () => {
    const { board, Digital } = rig();
    const leds = new CompartmentLeds({ io: Digital, pins });
    expect(leds.count).toBe(4);
    expect(pins.map((p) => board.level(p))).toEqual([0, 0, 0, 0]);
    leds.set(2, true);
    expect(pins.map((p) => board.level(p))).toEqual([0, 0, 1, 0]);
    leds.setColor(1, "fault");
    expect(pins.map((p) => board.level(p))).toEqual([0, 1, 1, 0]);
    leds.set(2, false);
    expect(pins.map((p) => board.level(p))).toEqual([0, 1, 0, 0]);
    expect(leds.sample(1)).toBe("fault");
  });

  it("inverts for active-low wiring without a glitch at start", () => {
    const { board, Digital } = rig();
    const leds = new CompartmentLeds({ io: Digital, pins, activeLow: true });
    for (const p of pins) expect(board.entries(p, "level").map((e) => e.value)).toEqual([1]);
    leds.set(0, true);
    expect(board.level(16)).toBe(0);
    leds.close();
    expect(board.isClaimed(16)).toBe(false);
  });

  it("rejects bad indices and releases pins on construction failure", () => {
    const { board, Digital } = rig();
    expect(() => new CompartmentLeds({ io: Digital, pins: [16, 17, 34] })).toThrow(/input only/);
    expect(board.isClaimed(16)).toBe(false);
    const leds = new CompartmentLeds({ io: Digital, pins });
    expect(() => leds.set(4, true)).toThrow(RangeError);
    expect(() => leds.set(-1, true)).toThrow(RangeError);
    leds.close();
    expect(() => leds.set(0, true)).toThrow(/LED_CLOSED/);
  });
});

describe("CompartmentLeds over a strip", () => {
  it("writes amber for due and red for fault, clearing its window at start", () => {
    const strip = new FakeStrip(6);
    const leds = new CompartmentLeds({ strip, first: 1, count: 4 });
    expect(strip.shown).toEqual([0x123456, 0, 0, 0, 0, 0x123456]);
    leds.set(0, true);
    leds.setColor(3, "fault");
    expect(strip.shown).toEqual([0x123456, DEFAULT_COLORS.due, 0, 0, DEFAULT_COLORS.fault, 0x123456]);
    const before = strip.updates;
    leds.set(0, true); // no change, no update
    expect(strip.updates).toBe(before);
    leds.close();
    expect(strip.shown.slice(1, 5)).toEqual([0, 0, 0, 0]);
    expect(strip.closed).toBe(true);
  });

  it("accepts custom colours and refuses a window outside the strip", () => {
    const strip = new FakeStrip(4);
    const leds = new CompartmentLeds({ strip, colors: { due: 0x00ff00 } });
    leds.set(3, true);
    expect(strip.shown[3]).toBe(0x00ff00);
    expect(() => new CompartmentLeds({ strip, first: 2, count: 3 })).toThrow(RangeError);
  });
});
