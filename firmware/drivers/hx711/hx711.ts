/**
 * HX711 24-bit load-cell ADC driver (ECMA-419 style) for the Moddable XS engine.
 *
 * Chip facts this driver relies on (Avia HX711 datasheet):
 * - DOUT high = conversion in progress; DOUT falls when a result is ready.
 * - The result is 24-bit two's complement, shifted out MSB first, one bit per PD_SCK
 *   rising edge (bit valid <= 0.1 us after the edge; we sample after the falling edge).
 * - 25 / 26 / 27 pulses in total select the input and gain of the NEXT conversion:
 *   A x128 / B x32 / A x64. Power-up and reset select A x128.
 * - PD_SCK high for more than 60 us powers the chip down (a read in progress is lost);
 *   PD_SCK low again resets it (A x128) and the output settles in ~4 conversion periods.
 * - Out-of-range inputs saturate at 0x7FFFFF / 0x800000 (returned as-is, flagged in status).
 *
 * Several HX711 may share one PD_SCK line (one DOUT each). Every chip on the line sees
 * every pulse, so the line is owned by a SharedClock which runs one bit train at a time and
 * shifts in the DOUT of every ready chip during the same train. Consequence: all chips on a
 * line use the same gain (checked) and are powered down/up together.
 *
 * Timing (see docs/load-cells.md): a train is one synchronous loop of Digital writes/reads,
 * never split across event-loop turns; each PD_SCK high phase is exactly two consecutive
 * write() calls with nothing in between; no allocation happens inside the loop. The driver
 * never waits for DOUT: it only clocks a chip whose DOUT is already low.
 */

import type { TimerId, Timers } from "../../core/ports";

/** ECMA-419 pin specifier. */
export type PinSpecifier = number | string;

/** The subset of an ECMA-419 Digital instance the driver uses. */
export interface DigitalPort {
  read(): number;
  write(value: number): void;
  close(): void;
}

/** Constructor options of an ECMA-419 Digital. */
export interface DigitalOptions {
  pin: PinSpecifier;
  mode: number;
  edge?: number;
  onReadable?: () => void;
}

/** The subset of the ECMA-419 Digital class (device.io.Digital) the driver uses. */
export interface DigitalClass {
  new (options: DigitalOptions): DigitalPort;
  readonly Input: number;
  readonly InputPullUp?: number;
  readonly Output: number;
  readonly Rising: number;
  readonly Falling: number;
}

/** Pin options for one line: the pin and optionally an explicit Digital mode. */
export interface PinOptions {
  pin: PinSpecifier;
  mode?: number;
}

export type Hx711Gain = 128 | 64 | 32;
export type Hx711Rate = 10 | 80;
/** How a driver learns that DOUT fell: a falling-edge interrupt or a polling timer. */
export type Hx711ReadyMode = "edge" | "poll";

export const HX711_MAX = 0x7fffff;
export const HX711_MIN = -0x800000;
/** Conversion periods of settling after power-up / reset / gain change (datasheet). */
export const HX711_SETTLE_PERIODS = 4;
/** Conversion periods without DOUT low before a channel is declared disconnected. */
export const HX711_TIMEOUT_PERIODS = 4;
/** Most chips one SharedClock serves (bounded heap). */
export const SHARED_CLOCK_MAX_CHIPS = 8;

/** Total PD_SCK pulses of a train for a gain: 25 = A x128, 26 = B x32, 27 = A x64. */
export function gainPulses(gain: Hx711Gain): 25 | 26 | 27 {
  if (gain === 128) return 25;
  if (gain === 32) return 26;
  if (gain === 64) return 27;
  throw new RangeError("HX711 gain must be 128, 64 or 32");
}

/** Conversion period in microseconds. */
export function conversionPeriodUs(rate: Hx711Rate): number {
  if (rate === 10) return 100000;
  if (rate === 80) return 12500;
  throw new RangeError("HX711 rate must be 10 or 80");
}

/** Sign-extend a 24-bit two's complement pattern. */
export function decode24(raw: number): number {
  return ((raw & 0xffffff) << 8) >> 8;
}

function resolveDigital(io: DigitalClass | undefined): DigitalClass {
  if (io) return io;
  const g = globalThis as unknown as { device?: { io?: { Digital?: DigitalClass } } };
  const d = g.device && g.device.io ? g.device.io.Digital : undefined;
  if (!d) throw new TypeError("HX711: no Digital class (pass options.io or provide device.io.Digital)");
  return d;
}

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

export type Hx711State = "settling" | "ok" | "saturated" | "disconnected" | "powered-down" | "closed";

/**
 * Why the channel is in its state:
 * "starting" (no reading yet), "ok", "wrong-gain" (reading discarded: converted at a gain
 * other than the configured one, after power-up/reset), "disturbed" (train over budget,
 * reading discarded), "gap" (reading after a silent gap discarded: the chip may have reset),
 * "saturated-high" / "saturated-low", "dout-timeout", "powered-down", "closed".
 */
export type Hx711Reason =
  | "starting"
  | "ok"
  | "wrong-gain"
  | "disturbed"
  | "gap"
  | "saturated-high"
  | "saturated-low"
  | "dout-timeout"
  | "powered-down"
  | "closed";

export interface Hx711Status {
  readonly state: Hx711State;
  readonly reason: Hx711Reason;
  /** Readings accepted since construction. */
  readonly samples: number;
  /** Readings read but thrown away (wrong gain, disturbed train, gap). */
  readonly discarded: number;
  /** Watchdog ticks (one per conversion period, rounded up to ms) since DOUT was last seen low. */
  readonly periodsWithoutData: number;
  /** The newest accepted reading is saturated (0x7FFFFF or -0x800000). */
  readonly saturated: boolean;
}

export interface Hx711Options {
  dout: PinSpecifier | PinOptions;
  clock: SharedClock;
  rate: Hx711Rate;
  gain?: Hx711Gain;
  /** Called (from the event loop, after the train) when a new reading is available. */
  onReadable?: () => void;
  /** Digital class; default: the clock's, else device.io.Digital. */
  io?: DigitalClass;
  /** Timers for the watchdog; default: the clock's. */
  timers?: Timers;
  /** "edge" (default): DOUT falling-edge callback; "poll": the clock polls every period/2. */
  ready?: Hx711ReadyMode;
}

export class HX711 {
  readonly gain: Hx711Gain;
  readonly rate: Hx711Rate;
  #clock: SharedClock;
  #timers: Timers;
  #member: ClockMember | undefined;
  #dout: DigitalPort | undefined;
  #watchdog: TimerId | undefined;
  #onReadable: (() => void) | undefined;
  /** Gain the chip converts at now; undefined = unknown (boot, after a disturbance). */
  #chipGain: Hx711Gain | undefined = undefined;
  #value = 0;
  #have = false;
  #samples = 0;
  #discarded = 0;
  #ticksSinceReady = 0;
  #ticksSinceSample = 0;
  #limit: number;
  #down = false;
  #timedOut = false;
  #reason: Hx711Reason = "starting";

  constructor(options: Hx711Options) {
    if (!options || !options.clock) throw new TypeError("HX711: clock required");
    const gain = options.gain === undefined ? 128 : options.gain;
    const pulses = gainPulses(gain);
    const periodUs = conversionPeriodUs(options.rate);
    this.gain = gain;
    this.rate = options.rate;
    this.#clock = options.clock;
    this.#timers = options.timers ? options.timers : options.clock.timers;
    this.#onReadable = options.onReadable;
    const io = options.io ? options.io : options.clock.io;
    const polled = options.ready === "poll";
    if (options.ready !== undefined && options.ready !== "edge" && !polled) throw new RangeError("HX711: ready must be 'edge' or 'poll'");
    const p = typeof options.dout === "object" ? options.dout : { pin: options.dout };
    const mode = p.mode !== undefined ? p.mode : io.InputPullUp !== undefined ? io.InputPullUp : io.Input;
    const clock = options.clock;
    this.#dout = polled
      ? new io({ pin: p.pin, mode })
      : new io({ pin: p.pin, mode, edge: io.Falling, onReadable: () => clock.service(false) });
    const periodMs = periodUs / 1000;
    // Watchdog granularity: one tick per period (ms, rounded up). Timeout after
    // TIMEOUT+1 ticks without DOUT low, i.e. between TIMEOUT and TIMEOUT+1 periods
    // (SETTLE more while starting or after power-up).
    this.#limit = this.#startLimit();
    const dout = this.#dout;
    const member: ClockMember = {
      dout,
      pulses,
      periodMs,
      polled,
      lagging: false,
      raw: 0,
      deliver: (raw, suspect) => this.#deliver(raw, suspect),
      power: (down) => this.#power(down),
    };
    this.#member = member;
    try {
      clock.attach(member);
    } catch (e) {
      this.#dout.close();
      this.#dout = undefined;
      this.#member = undefined;
      throw e;
    }
    this.#down = clock.poweredDown;
    this.#watchdog = this.#timers.repeat(Math.ceil(periodMs), () => this.#tick());
    // DOUT may already be low (no falling edge will come): look once on the next turn.
    this.#timers.once(0, () => clock.service(false));
  }

  /** The newest signed reading, or undefined when the channel has none fresh. */
  sample(): number | undefined {
    if (!this.#have || !this.#dout || this.#down || this.#timedOut) return undefined;
    if (this.#ticksSinceSample >= this.#limit) return undefined;
    return this.#value;
  }

  get status(): Hx711Status {
    let state: Hx711State;
    let reason = this.#reason;
    if (!this.#dout) {
      state = "closed";
      reason = "closed";
    } else if (this.#down) {
      state = "powered-down";
      reason = "powered-down";
    } else if (this.#timedOut) {
      state = "disconnected";
      reason = "dout-timeout";
    } else if (!this.#have || this.#ticksSinceSample >= this.#limit) state = "settling";
    else if (this.#value === HX711_MAX || this.#value === HX711_MIN) state = "saturated";
    else state = "ok";
    return {
      state,
      reason,
      samples: this.#samples,
      discarded: this.#discarded,
      periodsWithoutData: this.#ticksSinceReady,
      saturated: this.#have && (this.#value === HX711_MAX || this.#value === HX711_MIN),
    };
  }

  /** Power down every chip on this chip's PD_SCK line. */
  powerDown(): void {
    if (this.#dout) this.#clock.powerDown();
  }

  /** Power the line up again: chips reset to A x128 and settle; the gain is re-sent on the first train. */
  powerUp(): void {
    if (this.#dout) this.#clock.powerUp();
  }

  close(): void {
    if (!this.#dout) return;
    if (this.#watchdog !== undefined) this.#timers.cancel(this.#watchdog);
    this.#watchdog = undefined;
    if (this.#member) this.#clock.detach(this.#member);
    this.#member = undefined;
    this.#dout.close();
    this.#dout = undefined;
    this.#have = false;
  }

  /** Allowance after (re)start: settling plus the normal timeout. */
  #startLimit(): number {
    return HX711_SETTLE_PERIODS + HX711_TIMEOUT_PERIODS + 1;
  }

  #tick(): void {
    if (this.#down || !this.#dout) return;
    this.#ticksSinceReady++;
    this.#ticksSinceSample++;
    if (this.#ticksSinceReady >= this.#limit && !this.#timedOut) {
      this.#timedOut = true;
      this.#have = false;
      // The chip may come back reset (A x128): re-learn its gain.
      this.#chipGain = undefined;
    }
  }

  #power(down: boolean): void {
    this.#down = down;
    this.#have = false;
    this.#ticksSinceReady = 0;
    this.#ticksSinceSample = 0;
    this.#timedOut = false;
    this.#limit = this.#startLimit();
    // Power-up resets the chip to A x128 (datasheet).
    if (!down) {
      this.#chipGain = 128;
      this.#reason = "starting";
    }
  }

  #deliver(raw: number, suspect: boolean): void {
    const gap = this.#ticksSinceReady >= 3;
    this.#ticksSinceReady = 0;
    this.#timedOut = false;
    const converted = this.#chipGain;
    // After this train the chip converts at the configured gain, unless the train was
    // disturbed (it may have powered down and reset to A x128): then it is unknown.
    // (A reset selects A x128, so with gain 128 the gain is known either way.)
    this.#chipGain = suspect && this.gain !== 128 ? undefined : this.gain;
    let reason: Hx711Reason | undefined;
    if (suspect) reason = "disturbed";
    else if (converted !== this.gain) reason = "wrong-gain";
    // A silent gap of >= 3 periods may hide a power-down/reset (PD_SCK held high by an
    // interrupt): the chip would have converted this reading at A x128.
    else if (gap && this.gain !== 128) reason = "gap";
    if (reason !== undefined) {
      this.#discarded++;
      this.#reason = reason;
      return;
    }
    const v = decode24(raw);
    this.#value = v;
    this.#have = true;
    this.#samples++;
    this.#ticksSinceSample = 0;
    this.#limit = HX711_TIMEOUT_PERIODS + 1;
    this.#reason = v === HX711_MAX ? "saturated-high" : v === HX711_MIN ? "saturated-low" : "ok";
    if (this.#onReadable) this.#onReadable();
  }
}
