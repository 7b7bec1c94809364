import { describe, expect, it } from "vitest";
import { PushButton } from "../../../firmware/drivers/button/button";
import type { PressKind } from "../../../firmware/core/ports";
import { rig } from "./helpers";

const PIN = 27;

function setup(opts: { debounceMs?: number; longMs?: number } = {}) {
  const r = rig();
  const btn = new PushButton({ io: r.Digital, pin: PIN, timers: r.time, clock: r.clock, ...opts });
  const presses: Array<[number, PressKind]> = [];
  btn.onPress((k) => presses.push([r.time.now(), k]));
  return { ...r, btn, presses };
}

describe("PushButton", () => {
  it("uses a pull-up: idle reads released", () => {
    const { btn, board } = setup();
    expect(board.level(PIN)).toBe(1);
    expect(btn.sample()).toBe(false);
  });

  it("reports a clean short press at release", () => {
    const { time, board, presses } = setup();
    board.drive(PIN, 0);
    time.advance(200);
    board.drive(PIN, -1);
    time.advance(100);
    expect(presses).toEqual([[230, "short"]]);
  });

  it("ignores contact bounce shorter than the debounce time", () => {
    const { time, board, presses, btn } = setup();
    // press with 4 ms of chatter, release 300 ms later with 6 ms of chatter
    board.bounce(PIN, 0, [1, 2, 3, 4], 10);
    board.bounce(PIN, -1, [2, 3, 5, 6], 310, 0);
    time.advance(100);
    expect(btn.sample()).toBe(true);
    time.advance(400);
    expect(presses.map((p) => p[1])).toEqual(["short"]);
    expect(presses[0][0]).toBe(346); // settles 30 ms after the last bounce edge (316)
  });

  it("ignores a glitch shorter than the debounce time", () => {
    const { time, board, presses, btn } = setup();
    board.drive(PIN, 0);
    time.advance(5);
    board.drive(PIN, -1);
    time.advance(500);
    expect(presses).toEqual([]);
    expect(btn.sample()).toBe(false);
  });

  it("reports a long press as soon as it is held long enough, once", () => {
    const { time, board, presses } = setup();
    board.bounce(PIN, 0, [2, 4], 100);
    time.advance(2000);
    expect(presses).toEqual([[1600, "long"]]); // dated from the first edge at 100
    board.drive(PIN, -1);
    time.advance(100);
    expect(presses.length).toBe(1);
  });

  it("classifies around the 1500 ms threshold and honours custom timings", () => {
    const a = setup();
    a.board.drive(PIN, 0);
    a.time.advance(1499);
    a.board.drive(PIN, -1);
    a.time.advance(100);
    expect(a.presses.map((p) => p[1])).toEqual(["short"]);
    const b = setup({ debounceMs: 10, longMs: 400 });
    b.board.drive(PIN, 0);
    b.time.advance(405);
    expect(b.presses).toEqual([[400, "long"]]);
  });

  it("a new press during the release bounce merges into one continuous press", () => {
    const { time, board, presses } = setup();
    board.drive(PIN, 0);
    time.advance(300);
    board.drive(PIN, -1); // release starts...
    time.advance(10);
    board.drive(PIN, 0); // ...pressed again within the debounce window
    time.advance(300);
    expect(presses).toEqual([]); // still held: no short press yet
    board.drive(PIN, -1);
    time.advance(50);
    expect(presses).toEqual([[640, "short"]]);
  });

  it("two distinct presses separated by more than the debounce are two presses", () => {
    const { time, board, presses } = setup();
    for (const at of [0, 400]) {
      board.bounce(PIN, 0, [1, 3], at);
      board.bounce(PIN, -1, [1, 3], at + 150, 0);
    }
    time.advance(1000);
    expect(presses.map((p) => p[1])).toEqual(["short", "short"]);
  });

  it("a button held at boot is not a press; close releases the pin and stops callbacks", () => {
    const r = rig();
    r.board.drive(PIN, 0);
    const btn = new PushButton({ io: r.Digital, pin: PIN, timers: r.time, clock: r.clock });
    const presses: PressKind[] = [];
    btn.onPress((k) => presses.push(k));
    expect(btn.sample()).toBe(true);
    r.time.advance(3000);
    r.board.drive(PIN, -1);
    r.time.advance(100);
    expect(presses).toEqual([]);
    r.board.drive(PIN, 0);
    r.time.advance(10);
    btn.close();
    r.time.advance(3000);
    expect(presses).toEqual([]);
    expect(r.board.isClaimed(PIN)).toBe(false);
    expect(r.time.pending).toBe(0);
  });

  it("rejects inconsistent timings", () => {
    const r = rig();
    expect(() => new PushButton({ io: r.Digital, pin: PIN, timers: r.time, clock: r.clock, debounceMs: 50, longMs: 40 })).toThrow(
      RangeError,
    );
    expect(r.board.isClaimed(PIN)).toBe(false);
  });
});
