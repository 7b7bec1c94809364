import { describe, expect, it } from "vitest";
import { ManualTime, PinBoard } from "../../../../host-sim/kernel/hw/pins";
import { createPWMClass } from "../../../../host-sim/kernel/hw/pwm";
import { rig } from "../../../firmware/drivers/helpers";

describe("emulated embedded:io/digital", () => {
  it("drives outputs and logs levels with virtual timestamps", () => {
    const { time, board, Digital } = rig();
    const out = new Digital({ pin: 4, mode: Digital.Output });
    expect(board.level(4)).toBe(0);
    time.advance(10);
    out.write(1);
    expect(board.level(4)).toBe(1);
    expect(board.entries(4, "level").map((e) => [e.t, e.value])).toEqual([
      [0, 0],
      [10, 1],
    ]);
  });

  it("honours activeLow and initialValue", () => {
    const { board, Digital } = rig();
    const out = new Digital({ pin: 5, mode: Digital.Output, activeLow: true, initialValue: 0 });
    expect(board.level(5)).toBe(1);
    out.write(1);
    expect(board.level(5)).toBe(0);
  });

  it("throws where the ESP32 class throws", () => {
    const { Digital } = rig();
    const out = new Digital({ pin: 4, mode: Digital.Output });
    expect(() => out.read()).toThrow(/can't read output/);
    expect(() => new Digital({ pin: 4, mode: Digital.Input })).toThrow(/in use/);
    expect(() => new Digital({ pin: 20, mode: Digital.Input })).toThrow(/invalid pin/);
    expect(() => new Digital({ pin: 12, mode: 5 })).toThrow(RangeError);
    expect(() => new Digital({ pin: 34, mode: Digital.Output })).toThrow(/input only/);
    expect(() => new Digital({ pin: 13, mode: Digital.InputPullUp, onReadable() {} })).toThrow(/invalid edges/);
    const inp = new Digital({ pin: 14, mode: Digital.InputPullUp });
    expect(() => inp.write(1)).toThrow(/can't write input/);
    out.close();
    out.close(); // idempotent
    expect(() => out.write(1)).toThrow(SyntaxError);
    expect(() => new Digital({ pin: 4, mode: Digital.Input })).not.toThrow(); // pin released
  });

  it("reads pull-ups and external drive, and coalesces edges into one onReadable on a later turn", () => {
    const { time, board, Digital } = rig();
    let calls = 0;
    const inp = new Digital({
      pin: 27,
      mode: Digital.InputPullUp,
      edge: Digital.Rising | Digital.Falling,
      onReadable() {
        calls++;
      },
    });
    expect(inp.read()).toBe(1);
    board.drive(27, 0);
    board.drive(27, -1);
    board.drive(27, 0);
    expect(calls).toBe(0); // not re-entrant
    time.advance(0);
    expect(calls).toBe(1);
    expect(inp.read()).toBe(0);
    const falling = new Digital({
      pin: 26,
      mode: Digital.InputPullUp,
      edge: Digital.Falling,
      onReadable() {
        calls++;
      },
    });
    board.drive(26, 0);
    time.advance(1);
    board.drive(26, -1); // rising: ignored
    time.advance(1);
    expect(calls).toBe(2);
    falling.close();
    board.drive(26, 0);
    time.advance(1);
    expect(calls).toBe(2);
  });
});

describe("emulated embedded:io/pwm", () => {
  it("checks hz, resolution and duty like the ESP32 LEDC implementation", () => {
    const { board, PWM } = rig();
    const p = new PWM({ pin: 25 });
    expect(p.hz).toBe(1024);
    expect(p.resolution).toBe(10);
    p.write(1023);
    expect(() => p.write(1024)).toThrow(RangeError);
    expect(() => p.write(-1)).toThrow(RangeError);
    expect(() => new PWM({ pin: 25 })).toThrow(/in use/);
    expect(() => new PWM({ pin: 26, hz: 0 })).toThrow(/invalid hz/);
    expect(() => new PWM({ pin: 26, hz: 10, resolution: 10 })).toThrow(/invalid combination/);
    expect(() => new PWM({ pin: 26, hz: 100_000, resolution: 10 })).toThrow(/configure ledc timer failed/);
    expect(() => new PWM({ pin: 26, resolution: 20 })).toThrow(/invalid resolution/);
    p.close();
    expect(() => p.write(0)).toThrow(SyntaxError);
    expect(() => p.hz).toThrow(SyntaxError);
    expect(board.entries(25, "pwm-duty").map((e) => e.value)).toEqual([0, 1023]);
  });

  it("limits channels and LEDC timers", () => {
    const { PWM } = rig();
    const a = [new PWM({ pin: 2, hz: 1000 }), new PWM({ pin: 4, hz: 2000 }), new PWM({ pin: 5, hz: 3000 }), new PWM({ pin: 12, hz: 4000 })];
    expect(() => new PWM({ pin: 13, hz: 1000 })).toThrow(/no ledc channel/);
    a[0].close();
    expect(() => new PWM({ pin: 13, hz: 5000 })).not.toThrow();
  });

  it("counts LEDC timers by distinct (hz, resolution)", () => {
    const time = new ManualTime();
    const board = new PinBoard({ time, timers: time, pwmChannels: 8 });
    const PWM = createPWMClass(board);
    new PWM({ pin: 2, hz: 1000 });
    new PWM({ pin: 4, hz: 2000 });
    new PWM({ pin: 5, hz: 3000 });
    new PWM({ pin: 12, hz: 3000 }); // shares the third timer
    const fourth = new PWM({ pin: 13, hz: 4000 });
    expect(() => new PWM({ pin: 14, hz: 5000 })).toThrow(/no timer/);
    fourth.close();
    expect(() => new PWM({ pin: 14, hz: 5000 })).not.toThrow();
  });
});
