import { describe, expect, it } from "vitest";
import { PiezoBuzzer } from "../../../firmware/drivers/buzzer/buzzer";
import { ManualTime, PinBoard } from "../../../host-sim/kernel/hw/pins";
import { createPWMClass } from "../../../host-sim/kernel/hw/pwm";
import { rig } from "./helpers";

const PIN = 25;

/** What the pin emits, [t, hz, duty], at each instant its output ends up different (from the pin log). */
function tones(board: PinBoard) {
  const atT = new Map<number, [number, number]>();
  let hz = 0;
  let duty = 0;
  for (const e of board.entries(PIN)) {
    if (e.kind === "pwm-hz") hz = e.value;
    if (e.kind === "pwm-duty") duty = e.value;
    if (e.kind === "close") duty = 0;
    atT.set(e.t, [hz, duty]);
  }
  const out: Array<[number, number, number]> = [];
  for (const [t, [h, d]] of atT) {
    const prev = out.at(-1);
    if (!prev || prev[1] !== h || prev[2] !== d) out.push([t, h, d]);
  }
  return out;
}

describe("PiezoBuzzer", () => {
  it("plays a looping pattern with the exact step timings at the pin", () => {
    const { time, board, PWM } = rig();
    const bz = new PiezoBuzzer({ io: PWM, pin: PIN, timers: time });
    board.clearLog();
    bz.play(
      [
        { hz: 2000, ms: 100 },
        { hz: 0, ms: 50 },
        { hz: 2500, ms: 100 },
      ],
      100,
    );
    time.advance(520);
    // volume 100 -> 50 % of 1023 = 512 (rounded)
    expect(tones(board)).toEqual([
      [0, 2000, 512],
      [100, 2000, 0],
      [150, 2500, 512],
      [250, 2000, 512],
      [350, 2000, 0],
      [400, 2500, 512],
      [500, 2000, 512],
    ]);
    // hz changed => the PWM was closed and re-created (hz is fixed per instance)
    expect(board.entries(PIN, "close").length).toBe(5);
    expect(bz.sample()).toBe(true);
  });

  it("maps volume 0..100 to 0..50 % duty", () => {
    const { time, board, PWM } = rig();
    const bz = new PiezoBuzzer({ io: PWM, pin: PIN, timers: time });
    const duty = (v: number) => {
      board.clearLog();
      bz.play([{ hz: 1000, ms: 10 }], v);
      const d = board.entries(PIN, "pwm-duty").at(-1)!;
      return d.frac ?? 0;
    };
    expect(duty(100)).toBeCloseTo(0.5, 3);
    expect(duty(50)).toBeCloseTo(0.25, 2);
    expect(duty(10)).toBeCloseTo(0.05, 2);
    expect(duty(250)).toBeCloseTo(0.5, 3); // clamped
    board.clearLog();
    bz.play([{ hz: 1000, ms: 10 }], 0); // volume 0 is silence, not a pattern
    expect(bz.sample()).toBe(false);
    expect(board.entries(PIN, "pwm-duty").every((e) => e.value === 0)).toBe(true);
  });

  it("uses the full scale of another resolution", () => {
    const time = new ManualTime();
    const board = new PinBoard({ time, timers: time });
    const bz = new PiezoBuzzer({ io: createPWMClass(board), pin: PIN, timers: time, resolution: 8 });
    bz.play([{ hz: 4000, ms: 10 }], 100);
    expect(board.entries(PIN, "pwm-duty").at(-1)!.value).toBe(128); // round(255 / 2)
  });

  it("stops cleanly: silent pin, no timers left, play() replaces the pattern", () => {
    const { time, board, PWM } = rig();
    const bz = new PiezoBuzzer({ io: PWM, pin: PIN, timers: time });
    bz.play(
      [
        { hz: 3000, ms: 40 },
        { hz: 0, ms: 40 },
      ],
      80,
    );
    time.advance(50);
    bz.stop();
    expect(time.pending).toBe(0);
    expect(board.entries(PIN, "pwm-duty").at(-1)!.value).toBe(0);
    const n = board.log.length;
    time.advance(1000);
    expect(board.log.length).toBe(n);
    bz.play([{ hz: 1500, ms: 30 }], 100);
    bz.play([{ hz: 1500, ms: 70 }], 100);
    expect(time.pending).toBe(1);
    bz.close();
    expect(board.isClaimed(PIN)).toBe(false);
    expect(() => bz.play([{ hz: 1500, ms: 70 }], 100)).toThrow(/BUZZER_CLOSED/);
    bz.stop(); // harmless after close
  });

  it("rejects malformed patterns without disturbing the current one", () => {
    const { time, PWM } = rig();
    const bz = new PiezoBuzzer({ io: PWM, pin: PIN, timers: time });
    bz.play([{ hz: 2000, ms: 100 }], 50);
    expect(() => bz.play([{ hz: 2000, ms: 0 }], 50)).toThrow(RangeError);
    expect(() => bz.play([{ hz: 20, ms: 10 }], 50)).toThrow(RangeError);
    expect(() => bz.play([{ hz: NaN, ms: 10 }], 50)).toThrow(RangeError);
    expect(() => bz.play(new Array(33).fill({ hz: 2000, ms: 10 }), 50)).toThrow(RangeError);
    expect(bz.sample()).toBe(true);
  });

  it("fails at construction when the pin is taken, and keeps timing if a re-create fails", () => {
    const { time, PWM: P, Digital } = rig();
    const other = new Digital({ pin: PIN, mode: Digital.Output });
    expect(() => new PiezoBuzzer({ io: P, pin: PIN, timers: time })).toThrow(/in use/);
    other.close();
    // all 4 LEDC timers busy, the buzzer's 1000 Hz one shared with another output
    const board = new PinBoard({ time, timers: time, pwmChannels: 8 });
    const PWM = createPWMClass(board);
    const hogs = [new PWM({ pin: 2, hz: 1000 }), new PWM({ pin: 4, hz: 600 }), new PWM({ pin: 5, hz: 700 }), new PWM({ pin: 12, hz: 800 })];
    const bz = new PiezoBuzzer({ io: PWM, pin: PIN, timers: time });
    bz.play(
      [
        { hz: 1000, ms: 10 },
        { hz: 3000, ms: 10 },
      ],
      100,
    ); // 3000 Hz would need a 5th timer
    time.advance(25);
    expect(bz.faults).toBeGreaterThan(0);
    expect(bz.sample()).toBe(true);
    hogs[3].close();
    time.advance(40);
    expect(board.entries(PIN, "pwm-hz").map((e) => e.value)).toContain(3000);
  });
});
