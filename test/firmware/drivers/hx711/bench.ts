/**
 * Test bench: virtual microsecond clock + Timers port + HX711 emulators + SimDigital.
 * Every Digital read/write costs `costUs` of virtual time (models XS on an ESP32).
 */
import type { Timers } from "../../../../firmware/core/ports";
import {
  Hx711Chip,
  SimWire,
  createSimDigital,
  type Hx711ChipOptions,
  type SimDigitalOptions,
  type SimPin,
} from "../../../../host-sim/kernel/hw/hx711-chip";

interface Timer {
  id: number;
  due: number;
  every: number;
  cb: () => void;
}

export interface BenchOptions {
  /** Cost of one Digital read/write in us, or a function (default 3 us). */
  cost?: SimDigitalOptions["cost"];
}

export class Bench {
  us = 0;
  readonly now = (): number => this.us;
  readonly wires = new Map<number | string, SimPin>();
  readonly chips: Hx711Chip[] = [];
  #timers: Timer[] = [];
  #nextId = 1;
  readonly timers: Timers;
  readonly Digital;
  /** Pin operations done through Digital. */
  ops = 0;

  constructor(o: BenchOptions = {}) {
    const cost = o.cost === undefined ? 3 : o.cost;
    this.timers = {
      once: (ms, cb) => this.#add(ms, 0, cb),
      repeat: (ms, cb) => this.#add(ms, Math.max(1, ms), cb),
      cancel: (id) => {
        const i = this.#timers.findIndex((t) => t.id === id);
        if (i >= 0) this.#timers.splice(i, 1);
      },
    };
    this.Digital = createSimDigital({
      resolve: (pin) => this.wires.get(pin),
      advance: (us) => {
        this.us += us;
      },
      cost: (op, pin, value) => {
        this.ops++;
        return typeof cost === "number" ? cost : cost(op, pin, value);
      },
      defer: (cb) => {
        this.timers.once(0, cb);
      },
    });
  }

  #add(ms: number, every: number, cb: () => void): number {
    const id = this.#nextId++;
    this.#timers.push({ id, due: this.us + ms * 1000, every: every * 1000, cb });
    return id;
  }

  wire(name: number | string, initial: 0 | 1 = 0): SimWire {
    const w = new SimWire(initial);
    this.wires.set(name, w);
    return w;
  }

  /** Add a chip whose DOUT is pin `dout` and which watches wire `sck`. */
  chip(dout: number | string, sck: number | string, o: Omit<Hx711ChipOptions, "now" | "pdSck">): Hx711Chip {
    const w = this.wires.get(sck);
    if (!w) throw new Error("no wire " + sck);
    const c = new Hx711Chip({ now: this.now, pdSck: w, ...o });
    this.wires.set(dout, c.dout);
    this.chips.push(c);
    return c;
  }

  /** Run virtual time forward by `ms`, firing chip events and timers in order. */
  run(ms: number): void {
    this.runUntil(this.us + ms * 1000);
  }

  runUntil(endUs: number): void {
    let guard = 0;
    for (;;) {
      if (++guard > 5_000_000) throw new Error("bench: runaway");
      let tNext = Infinity;
      let chip: Hx711Chip | undefined;
      for (const c of this.chips) {
        const e = c.nextEventUs();
        if (e < tNext) {
          tNext = e;
          chip = c;
        }
      }
      let timer: Timer | undefined;
      for (const t of this.#timers) if (!timer || t.due < timer.due || (t.due === timer.due && t.id < timer.id)) timer = t;
      // Ties: chip events first (a DOUT edge at t is visible to a timer at t).
      if (timer && timer.due < tNext) {
        chip = undefined;
        tNext = timer.due;
      } else timer = undefined;
      if (tNext > endUs) break;
      if (tNext > this.us) this.us = tNext;
      if (chip) {
        chip.sync();
      } else if (timer) {
        if (timer.every > 0) timer.due += timer.every;
        else this.timers.cancel(timer.id);
        timer.cb();
      }
    }
    if (endUs > this.us) this.us = endUs;
  }
}
