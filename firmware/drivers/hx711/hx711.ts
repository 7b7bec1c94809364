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
import {
  HX711_MAX,
  HX711_MIN,
  HX711_SETTLE_PERIODS,
  HX711_TIMEOUT_PERIODS,
  gainPulses,
  conversionPeriodUs,
  decode24,
  type PinSpecifier,
  type DigitalPort,
  type DigitalClass,
  type PinOptions,
  type Hx711Gain,
  type Hx711Rate,
  type Hx711ReadyMode,
} from "./hx711-types";
import type { SharedClock, ClockMember } from "./shared-clock";
export * from "./hx711-types";
export * from "./shared-clock";

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
