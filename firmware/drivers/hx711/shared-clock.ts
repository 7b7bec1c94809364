/**
 * One PD_SCK line shared by several HX711: one bit train at a time, shifting in the DOUT of every
 * ready chip during the same train (same gain for all; powered down and up together).
 */
import type { TimerId, Timers } from "../../core/ports";
import {
  SHARED_CLOCK_MAX_CHIPS,
  resolveDigital,
  type PinSpecifier,
  type DigitalPort,
  type DigitalClass,
  type PinOptions,
} from "./hx711-types";

/**
 * What a SharedClock needs from each chip. Created by HX711; exported only so the
 * two classes can talk. Fields are scratch state of the clock's scheduler.
 */
export interface ClockMember {
  readonly dout: DigitalPort;
  readonly pulses: number;
  readonly periodMs: number;
  readonly polled: boolean;
  /** Not ready at the start of the last train: the scheduler does not wait for it. */
  lagging: boolean;
  /** Bits shifted in during the current train. */
  raw: number;
  /** A train read this chip; `suspect` = the train may have been disturbed. */
  deliver(raw: number, suspect: boolean): void;
  /** The line changed power state (all chips on it follow). */
  power(down: boolean): void;
}

export interface SharedClockOptions {
  /** The PD_SCK pin (driven as an output, idles low). */
  pin: PinSpecifier | PinOptions;
  timers: Timers;
  io?: DigitalClass;
  /**
   * Optional microsecond clock (e.g. Time.microseconds where the platform has it).
   * When given, each train is timed; a train that is too slow is treated as disturbed:
   * an interrupt may have held PD_SCK high > 60 us and powered the chips down, so its
   * data is discarded and the gain is re-learned. Too slow = longer than maxTrainUs if
   * given, else longer than the fastest train seen (same number of chips) + stallUs, or
   * more than 50 us per GPIO call on average (a high phase lasts one call).
   */
  usClock?: () => number;
  /** Fixed budget of one train in microseconds (default: adaptive, see usClock). */
  maxTrainUs?: number;
  /** Adaptive budget: extra time over the fastest train that marks a stall (default 50 us = T3 max). */
  stallUs?: number;
}

/**
 * One PD_SCK line shared by up to SHARED_CLOCK_MAX_CHIPS HX711.
 * Runs at most one bit train at a time; a train starts when every chip it waits for has
 * DOUT low (chips read together), or when the slowest one is more than 1.5 periods late
 * (that one is then marked lagging and not waited for until it is seen ready again).
 */
export class SharedClock {
  readonly timers: Timers;
  readonly io: DigitalClass;
  #clk: DigitalPort | undefined;
  #members: ClockMember[] = [];
  #ready: ClockMember[] = [];
  #pulses = 0;
  #busy = false;
  #again = false;
  #down = false;
  #trains = 0;
  #disturbed = 0;
  #patience: TimerId | undefined;
  #poll: TimerId | undefined;
  #pollMs = 0;
  #usClock: (() => number) | undefined;
  #maxTrainUs: number | undefined;
  #stallUs: number;
  /** Fastest train seen, by number of chips read (index 1..MAX). */
  #bestUs: number[] = [];

  constructor(options: SharedClockOptions) {
    if (!options || !options.timers) throw new TypeError("SharedClock: timers required");
    this.timers = options.timers;
    this.io = resolveDigital(options.io);
    const p = typeof options.pin === "object" ? options.pin : { pin: options.pin };
    this.#clk = new this.io({ pin: p.pin, mode: p.mode === undefined ? this.io.Output : p.mode });
    this.#clk.write(0);
    this.#usClock = options.usClock;
    this.#maxTrainUs = options.maxTrainUs;
    this.#stallUs = options.stallUs === undefined ? 50 : options.stallUs;
    for (let i = 0; i <= SHARED_CLOCK_MAX_CHIPS; i++) this.#bestUs.push(Infinity);
  }

  /** Chips attached. */
  get chips(): number {
    return this.#members.length;
  }
  /** Trains run so far. */
  get trains(): number {
    return this.#trains;
  }
  /** Trains discarded as disturbed (usClock over budget). */
  get disturbed(): number {
    return this.#disturbed;
  }
  get poweredDown(): boolean {
    return this.#down;
  }

  /** @internal used by HX711. */
  attach(m: ClockMember): void {
    if (!this.#clk) throw new Error("SharedClock closed");
    if (this.#members.length >= SHARED_CLOCK_MAX_CHIPS) throw new RangeError("SharedClock: too many chips");
    if (this.#members.length > 0 && m.pulses !== this.#pulses) throw new RangeError("HX711 on one shared PD_SCK must use the same gain");
    this.#pulses = m.pulses;
    this.#members.push(m);
    if (m.polled) {
      const ms = Math.max(1, Math.floor(m.periodMs / 2));
      if (this.#poll === undefined || ms < this.#pollMs) {
        if (this.#poll !== undefined) this.timers.cancel(this.#poll);
        this.#pollMs = ms;
        this.#poll = this.timers.repeat(ms, () => this.service(false));
      }
    }
  }

  /** @internal used by HX711.close(). */
  detach(m: ClockMember): void {
    const i = this.#members.indexOf(m);
    if (i >= 0) this.#members.splice(i, 1);
    let polled = false;
    for (let k = 0; k < this.#members.length; k++) if (this.#members[k].polled) polled = true;
    if (!polled && this.#poll !== undefined) {
      this.timers.cancel(this.#poll);
      this.#poll = undefined;
    }
    if (this.#members.length === 0 && this.#patience !== undefined) {
      this.timers.cancel(this.#patience);
      this.#patience = undefined;
    }
  }

  /** Hold PD_SCK high: every chip on the line powers down after 60 us. */
  powerDown(): void {
    if (!this.#clk || this.#down) return;
    this.#down = true;
    this.#clk.write(1);
    for (let i = 0; i < this.#members.length; i++) this.#members[i].power(true);
  }

  /** PD_SCK low: every chip resets to A x128 and settles (~4 periods). */
  powerUp(): void {
    if (!this.#clk || !this.#down) return;
    this.#down = false;
    this.#clk.write(0);
    for (let i = 0; i < this.#members.length; i++) this.#members[i].power(false);
  }

  close(): void {
    if (!this.#clk) return;
    if (this.#poll !== undefined) this.timers.cancel(this.#poll);
    if (this.#patience !== undefined) this.timers.cancel(this.#patience);
    this.#poll = this.#patience = undefined;
    this.#members.length = 0;
    this.#clk.close();
    this.#clk = undefined;
  }

  /**
   * Look at every DOUT and run a train if the chips are ready.
   * Called from DOUT falling-edge callbacks, the poll timer and the patience timer.
   * @internal
   */
  service(force: boolean): void {
    const clk = this.#clk;
    if (!clk || this.#down) return;
    if (this.#busy) {
      this.#again = true;
      return;
    }
    const members = this.#members;
    const ready = this.#ready;
    ready.length = 0;
    let waiting = false;
    for (let i = 0; i < members.length; i++) {
      const m = members[i];
      if (m.dout.read() === 0) ready.push(m);
      else if (!m.lagging) waiting = true;
    }
    if (ready.length === 0) return;
    if (waiting && !force) {
      if (this.#patience === undefined) {
        let slowest = 0;
        for (let i = 0; i < members.length; i++) if (members[i].periodMs > slowest) slowest = members[i].periodMs;
        this.#patience = this.timers.once(Math.ceil(slowest * 1.5), () => {
          this.#patience = undefined;
          this.service(true);
        });
      }
      return;
    }
    if (this.#patience !== undefined) {
      this.timers.cancel(this.#patience);
      this.#patience = undefined;
    }
    for (let i = 0; i < members.length; i++) members[i].lagging = ready.indexOf(members[i]) < 0;
    this.#busy = true;
    try {
      const suspect = this.#train(clk, ready);
      this.#trains++;
      if (suspect) this.#disturbed++;
      // Deliver after the train. Still "busy": a callback that calls back into the clock
      // (service) is postponed to a later turn instead of reusing the ready list.
      const n = ready.length;
      for (let i = 0; i < n; i++) ready[i].deliver(ready[i].raw, suspect);
    } finally {
      ready.length = 0;
      this.#busy = false;
    }
    if (this.#again) {
      this.#again = false;
      this.timers.once(0, () => this.service(false));
    }
  }

  /**
   * The bit train: 24 data bits then the gain pulses, in one uninterrupted loop.
   * PD_SCK high lasts exactly one write() call; DOUT is sampled while PD_SCK is low
   * (after T2), so each low phase holds one read per ready chip.
   */
  #train(clk: DigitalPort, ready: ClockMember[]): boolean {
    const n = ready.length;
    const us = this.#usClock;
    const t0 = us ? us() : 0;
    for (let i = 0; i < n; i++) ready[i].raw = 0;
    if (n === 1) {
      const dout = ready[0].dout;
      let v = 0;
      for (let bit = 0; bit < 24; bit++) {
        clk.write(1);
        clk.write(0);
        v = (v << 1) | (dout.read() & 1);
      }
      ready[0].raw = v;
    } else {
      for (let bit = 0; bit < 24; bit++) {
        clk.write(1);
        clk.write(0);
        for (let i = 0; i < n; i++) {
          const m = ready[i];
          m.raw = (m.raw << 1) | (m.dout.read() & 1);
        }
      }
    }
    for (let p = 24; p < this.#pulses; p++) {
      clk.write(1);
      clk.write(0);
    }
    if (!us) return false;
    const dt = us() - t0;
    if (this.#maxTrainUs !== undefined) return dt > this.#maxTrainUs;
    // Uniformly slow I/O: the average GPIO call (one call = one high phase) exceeds T3 max.
    if (dt > (2 * this.#pulses + 24 * n) * 50) return true;
    const best = this.#bestUs[n];
    if (dt < best) this.#bestUs[n] = dt;
    return dt > best + this.#stallUs;
  }
}
