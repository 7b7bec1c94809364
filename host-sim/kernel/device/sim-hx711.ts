/**
 * The reference board's HX711s at pin level, for the whole-board simulation: one datasheet-
 * enforcing chip emulator (../hw/hx711-chip) per BOARD.hx711Dout pin on a shared PD_SCK wire,
 * fed by the bay physics, read by the real HX711 driver and SharedClock through an emulated
 * Digital class. Virtual time is the scheduler's milliseconds plus the microseconds the GPIO
 * calls cost (GPIO_US each, as an XS call on the ESP32), and a pump wakes the chips at their next
 * DOUT edge. The Digital class given to the board routes these pins here and every other pin to
 * the ESP32 pin board. XS-clean.
 */
import type { Timers } from "../../../firmware/core/ports";
import { BOARD } from "../../../firmware/platform/board";
import { Hx711Chip, type SimDigitalClass, type SimPin, SimWire, createSimDigital } from "../hw/hx711-chip";
import type { SchedulerLike } from "../time/scheduler";

/** Cost of one GPIO read or write from XS on the ESP32, microseconds. */
export const GPIO_US = 2;

export interface PinLoadCells {
  /** The Digital class for the board: HX711 pins here, the rest to `other`. */
  readonly Digital: SimDigitalClass;
  /** Timing violations the chips saw (0 when the driver keeps the datasheet). */
  violations(): number;
}

export function pinLoadCells(
  sched: SchedulerLike,
  group: number,
  timers: Timers,
  raw: (channel: number, tMs: number) => number,
  other: SimDigitalClass,
): PinLoadCells {
  let cur = 0;
  const nowUs = (): number => {
    const base = sched.now * 1000;
    if (base > cur) cur = base;
    return cur;
  };
  const sck = new SimWire(0);
  const chips = BOARD.hx711Dout.map(
    (_pin, ch) => new Hx711Chip({ now: nowUs, pdSck: sck, rate: BOARD.hx711Sps, signal: (tUs) => raw(ch, Math.floor(tUs / 1000)) }),
  );
  const pins = new Map<number | string, SimPin>();
  pins.set(BOARD.hx711Sck, sck);
  BOARD.hx711Dout.forEach((pin, ch) => pins.set(pin, chips[ch].dout));
  const Sim = createSimDigital({
    resolve: (p) => pins.get(p),
    advance: (us) => {
      cur = nowUs() + us;
    },
    cost: GPIO_US,
    defer: (cb) => void timers.once(0, cb),
  });
  // Wake the chips at their next DOUT edge (ms resolution: the driver is told on the next turn anyway).
  const pump = (): void => {
    let next = Infinity;
    for (const c of chips) {
      c.sync();
      next = Math.min(next, c.nextEventUs());
    }
    if (next === Infinity) return;
    sched.at(Math.max(sched.now + 1, Math.ceil(next / 1000)), pump, group);
  };
  pump();
  class Digital {
    static readonly Input = 0;
    static readonly InputPullUp = 1;
    static readonly InputPullDown = 2;
    static readonly InputPullUpDown = 3;
    static readonly Output = 8;
    static readonly OutputOpenDrain = 9;
    static readonly Rising = 1;
    static readonly Falling = 2;
    readonly #inner: { read(): number; write(v: number): void; close(): void };
    constructor(o: ConstructorParameters<SimDigitalClass>[0]) {
      this.#inner = pins.has(o.pin) ? new Sim(o) : new other(o); // whichever owns the pin
    }
    read(): number {
      return this.#inner.read();
    }
    write(value: number): void {
      this.#inner.write(value);
    }
    close(): void {
      this.#inner.close();
    }
  }
  return {
    Digital: Digital as unknown as SimDigitalClass,
    violations: () => chips.reduce((n, c) => n + c.violations.length, 0),
  };
}
