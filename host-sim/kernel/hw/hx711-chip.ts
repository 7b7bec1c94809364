/**
 * Datasheet-faithful emulation of the Avia HX711 24-bit load-cell ADC (XS-clean).
 *
 * The chip owns its DOUT line (`chip.dout`) and watches a PD_SCK line (a SimPin that
 * several chips may share). Time is virtual: `now()` in microseconds. Nothing happens by
 * itself: whoever drives virtual time calls `sync()` at `nextEventUs()` (and every pin
 * access syncs first), so DOUT edges fire at the right virtual instants.
 *
 * Behaviour (datasheet, plus the emulator's documented choices where it is silent):
 * - Conversions complete every 1/rate s (10 or 80 SPS, times `periodScale`). The result of
 *   a conversion is the input at its completion time: `signal(t)` for channel A,
 *   `signalB(t)` for channel B, both in counts at gain 128; A x64 gives half, B x32 a
 *   quarter. Out of range: saturates at 0x7FFFFF / 0x800000.
 * - A completed result is latched and DOUT falls. An unread result is replaced by the next
 *   one (DOUT stays low).
 * - Each PD_SCK rising edge shifts out the next bit, MSB first, valid T2 = 0.1 us after
 *   the edge (a DOUT read earlier returns the previous level and is a "T2" violation). The
 *   25th rising edge sets DOUT high. The train is closed at the next conversion boundary
 *   with PD_SCK low: 25 pulses = A x128, 26 = B x32, 27 = A x64 for the following
 *   conversions. Any other count ("pulse-count" violation; the datasheet only says it
 *   causes a serial communication error): the input/gain is left unchanged.
 * - A change of input/gain restarts the digital filter: that boundary's result and the next
 *   three are withheld (DOUT stays high), i.e. settling = 4 conversion periods.
 * - A conversion completing while bits are being shifted (1..24 pulses) is lost
 *   ("overrun"): the shift register keeps the old result. If the train is still short of
 *   25 pulses at the following boundary, it is taken as abandoned ("pulse-count").
 * - PD_SCK high for more than 60 us: power-down. A read in progress (1..24 pulses) is lost
 *   ("powerdown-mid-read", plus "T3max"). DOUT reads high while powered down. PD_SCK low
 *   again: reset to A x128, first result after 4 conversion periods. Holding PD_SCK high
 *   after a complete read (>= 25 pulses) or with no read open is a legitimate power-down.
 * - Timing checks (datasheet minimums/maximums): T1 DOUT falling -> first PD_SCK rising
 *   >= 0.1 us; T2 bit valid 0.1 us after rising; T3 PD_SCK high >= 0.2 us and <= 50 us
 *   within a read; T4 PD_SCK low >= 0.2 us within a train.
 * - Pulses while DOUT is high and no train is open ("clock-while-busy") are ignored.
 * - `connected = false` models an unplugged cable: the chip sees no PD_SCK, DOUT floats
 *   to `doutWhenDisconnected` (1, pulled up). Reconnecting is a power-on reset.
 *
 * Violations are recorded (bounded list, overflow: later entries are dropped but still
 * counted per kind) so tests can assert a driver's timing.
 */

export type Bit = 0 | 1;

/** The minimal pin the chip needs; the pins emulator can be adapted to this. */
export interface SimPin {
  read(): Bit;
  write(value: Bit): void;
  /** Register a change listener; returns a function that removes it. */
  onChange(cb: (value: Bit) => void): () => void;
}

const MAX_LISTENERS = 16;

function addListener(list: ((v: Bit) => void)[], cb: (v: Bit) => void): () => void {
  if (list.length >= MAX_LISTENERS) throw new RangeError("SimPin: too many listeners");
  list.push(cb);
  return () => {
    const i = list.indexOf(cb);
    if (i >= 0) list.splice(i, 1);
  };
}

function notifyAll(list: ((v: Bit) => void)[], v: Bit): void {
  const copy = list.slice();
  for (let i = 0; i < copy.length; i++) copy[i](v);
}

/** A plain wire (e.g. a shared PD_SCK net): last write wins, listeners on change. */
export class SimWire implements SimPin {
  #value: Bit;
  #listeners: ((v: Bit) => void)[] = [];
  constructor(initial: Bit = 0) {
    this.#value = initial;
  }
  read(): Bit {
    return this.#value;
  }
  write(value: Bit): void {
    const v: Bit = value ? 1 : 0;
    if (v === this.#value) return;
    this.#value = v;
    notifyAll(this.#listeners, v);
  }
  onChange(cb: (value: Bit) => void): () => void {
    return addListener(this.#listeners, cb);
  }
}

export type Hx711Input = "A128" | "B32" | "A64";

export type Hx711ViolationKind =
  | "T1"
  | "T2"
  | "T3min"
  | "T3max"
  | "T4min"
  | "powerdown-mid-read"
  | "overrun"
  | "pulse-count"
  | "clock-while-busy";

export interface Hx711Violation {
  readonly kind: Hx711ViolationKind;
  readonly atUs: number;
  readonly detail: string;
}

export interface Hx711TraceEntry {
  readonly tUs: number;
  readonly line: "sck" | "dout";
  readonly level: Bit;
}

export const HX711_T1_MIN_US = 0.1;
export const HX711_T2_MAX_US = 0.1;
export const HX711_T3_MIN_US = 0.2;
export const HX711_T3_MAX_US = 50;
export const HX711_T4_MIN_US = 0.2;
export const HX711_POWER_DOWN_US = 60;
export const HX711_SETTLE_CONVERSIONS = 4;
export const HX711_OUT_MAX = 0x7fffff;
export const HX711_OUT_MIN = -0x800000;

export interface Hx711ChipOptions {
  /** Virtual time in microseconds (monotonic). */
  now: () => number;
  /** The PD_SCK line (may be shared by several chips). */
  pdSck: SimPin;
  /** Channel A differential input, in counts at gain 128, at time tUs. */
  signal: (tUs: number) => number;
  /** Channel B differential input, in counts at gain 128 (x32 gives a quarter). Default: signal. */
  signalB?: (tUs: number) => number;
  /** RATE pin: 10 (low) or 80 (high) samples per second. Default 10. */
  rate?: 10 | 80;
  /** Power-on instant (us); earlier than now() for a chip already running. Default now(). */
  startUs?: number;
  /** Internal oscillator error: the period is multiplied by this (default 1). */
  periodScale?: number;
  /** Level DOUT reads when disconnected (pull-up = 1, default). */
  doutWhenDisconnected?: Bit;
  /** Capacity of the violation list (default 64). */
  maxViolations?: number;
  /** Capacity of the edge trace ring (default 0 = off). */
  traceCapacity?: number;
}

const KINDS: readonly Hx711ViolationKind[] = [
  "T1",
  "T2",
  "T3min",
  "T3max",
  "T4min",
  "powerdown-mid-read",
  "overrun",
  "pulse-count",
  "clock-while-busy",
];

/** Output code of the chip for an input (counts at gain 128) on a given input/gain. */
export function hx711Counts(input: Hx711Input, diff128: number): number {
  if (diff128 !== diff128) return 0;
  const scaled = input === "A128" ? diff128 : input === "A64" ? diff128 / 2 : diff128 / 4;
  if (scaled >= HX711_OUT_MAX) return HX711_OUT_MAX;
  if (scaled <= HX711_OUT_MIN) return HX711_OUT_MIN;
  return Math.round(scaled);
}

export class Hx711Chip {
  readonly rate: 10 | 80;
  readonly periodUs: number;
  readonly dout: SimPin;
  #now: () => number;
  #sckPin: SimPin;
  #signal: (t: number) => number;
  #signalB: (t: number) => number;
  #float: Bit;
  #unsubscribe: () => void;
  // power / conversion state
  #on = false;
  #connected = true;
  #input: Hx711Input = "A128";
  #nextConvUs = Infinity;
  #settleLeft = 0;
  #ready = false;
  #readyAtUs = 0;
  #data = 0;
  #pulses = 0;
  #overrunSeen = false;
  // PD_SCK as seen by the chip
  #sck: Bit = 0;
  #riseUs = -Infinity;
  #fallUs = -Infinity;
  #pdAtUs = Infinity;
  #levelBeforeRise: Bit = 1;
  // DOUT notifications
  #notified: Bit = 1;
  #listeners: ((v: Bit) => void)[] = [];
  // records
  #violations: Hx711Violation[] = [];
  #maxViolations: number;
  #counts: Record<Hx711ViolationKind, number>;
  #conversions = 0;
  #delivered = 0;
  #lost = 0;
  #traceCap: number;
  #traceT: number[] = [];
  #traceLine: ("sck" | "dout")[] = [];
  #traceLevel: Bit[] = [];
  #traceHead = 0;
  #traceLen = 0;

  constructor(options: Hx711ChipOptions) {
    const rate = options.rate === undefined ? 10 : options.rate;
    if (rate !== 10 && rate !== 80) throw new RangeError("Hx711Chip: rate must be 10 or 80");
    this.rate = rate;
    const scale = options.periodScale === undefined ? 1 : options.periodScale;
    if (!(scale > 0.5 && scale < 2)) throw new RangeError("Hx711Chip: periodScale out of range");
    this.periodUs = (rate === 10 ? 100000 : 12500) * scale;
    this.#now = options.now;
    this.#sckPin = options.pdSck;
    this.#signal = options.signal;
    this.#signalB = options.signalB ? options.signalB : options.signal;
    this.#float = options.doutWhenDisconnected === 0 ? 0 : 1;
    this.#maxViolations = options.maxViolations === undefined ? 64 : options.maxViolations;
    this.#traceCap = options.traceCapacity === undefined ? 0 : options.traceCapacity;
    const counts = {} as Record<Hx711ViolationKind, number>;
    for (let i = 0; i < KINDS.length; i++) counts[KINDS[i]] = 0;
    this.#counts = counts;
    const chip = this;
    this.dout = {
      read(): Bit {
        return chip.#readDout();
      },
      write(): void {
        throw new Error("HX711 DOUT is an output of the chip");
      },
      onChange(cb: (value: Bit) => void): () => void {
        return addListener(chip.#listeners, cb);
      },
    };
    const t = this.#now();
    const start = options.startUs === undefined ? t : options.startUs;
    this.#sck = this.#sckPin.read();
    this.#powerOn(start);
    if (this.#sck === 1) {
      this.#riseUs = start;
      this.#pdAtUs = start + HX711_POWER_DOWN_US;
    }
    this.#unsubscribe = this.#sckPin.onChange((v) => this.#onSck(v));
    this.sync();
  }

  /** Detach from PD_SCK. */
  close(): void {
    this.#unsubscribe();
    this.#listeners.length = 0;
  }

  /** Process every internal event up to now(); fires DOUT listeners. */
  sync(): void {
    const t = this.#now();
    for (;;) {
      const pd = this.#pdAtUs;
      const conv = this.#nextConvUs;
      if (pd <= conv) {
        if (pd > t) break;
        this.#powerDown(pd);
      } else {
        if (conv > t) break;
        this.#boundary(conv);
      }
    }
  }

  /** Virtual time (us) of the next internal event (conversion or power-down), or Infinity. */
  nextEventUs(): number {
    return Math.min(this.#pdAtUs, this.#nextConvUs);
  }

  get connected(): boolean {
    return this.#connected;
  }
  /** Plug/unplug the cable (DOUT floats, PD_SCK unseen); plugging in is a power-on reset. */
  set connected(value: boolean) {
    this.sync();
    if (value === this.#connected) return;
    const t = this.#now();
    this.#connected = value;
    if (!value) {
      this.#on = false;
      this.#ready = false;
      this.#pulses = 0;
      this.#nextConvUs = Infinity;
      this.#pdAtUs = Infinity;
    } else {
      this.#sck = this.#sckPin.read();
      this.#powerOn(t);
      if (this.#sck === 1) {
        this.#riseUs = t;
        this.#pdAtUs = t + HX711_POWER_DOWN_US;
      }
    }
    this.#notify(t);
  }

  get poweredDown(): boolean {
    this.sync();
    return this.#connected && !this.#on;
  }
  /** Input/gain the chip is converting with now. */
  get input(): Hx711Input {
    this.sync();
    return this.#input;
  }
  /** A result is latched and not yet being shifted (DOUT low). */
  get ready(): boolean {
    this.sync();
    return this.#ready && this.#pulses === 0;
  }
  /** The latched 24-bit result as a signed number. */
  get latched(): number {
    return (this.#data << 8) >> 8;
  }
  get conversions(): number {
    return this.#conversions;
  }
  /** Results presented on DOUT. */
  get delivered(): number {
    return this.#delivered;
  }
  /** Results or reads lost (overrun, power-down during a read). */
  get lost(): number {
    return this.#lost;
  }
  /** Recorded violations (first maxViolations). */
  get violations(): readonly Hx711Violation[] {
    return this.#violations;
  }
  /** Number of violations of a kind (or all kinds), including those beyond the list capacity. */
  violationCount(kind?: Hx711ViolationKind): number {
    if (kind !== undefined) return this.#counts[kind];
    let n = 0;
    for (let i = 0; i < KINDS.length; i++) n += this.#counts[KINDS[i]];
    return n;
  }
  clearViolations(): void {
    this.#violations.length = 0;
    for (let i = 0; i < KINDS.length; i++) this.#counts[KINDS[i]] = 0;
  }
  /** Edge trace, oldest first (empty unless traceCapacity > 0). */
  trace(): Hx711TraceEntry[] {
    const out: Hx711TraceEntry[] = [];
    const cap = this.#traceCap;
    const start = (this.#traceHead - this.#traceLen + cap) % (cap || 1);
    for (let i = 0; i < this.#traceLen; i++) {
      const k = (start + i) % cap;
      out.push({ tUs: this.#traceT[k], line: this.#traceLine[k], level: this.#traceLevel[k] });
    }
    return out;
  }
  clearTrace(): void {
    this.#traceLen = 0;
    this.#traceHead = 0;
  }

  // ---- internals ----

  #violate(kind: Hx711ViolationKind, atUs: number, detail: string): void {
    this.#counts[kind]++;
    if (this.#violations.length < this.#maxViolations) this.#violations.push({ kind, atUs, detail });
  }

  #trace(t: number, line: "sck" | "dout", level: Bit): void {
    const cap = this.#traceCap;
    if (cap <= 0) return;
    const k = this.#traceHead;
    this.#traceT[k] = t;
    this.#traceLine[k] = line;
    this.#traceLevel[k] = level;
    this.#traceHead = (k + 1) % cap;
    if (this.#traceLen < cap) this.#traceLen++;
  }

  #level(): Bit {
    if (!this.#connected) return this.#float;
    if (!this.#on) return 1;
    const p = this.#pulses;
    if (p >= 1 && p <= 24) return ((this.#data >> (24 - p)) & 1) as Bit;
    if (p >= 25) return 1;
    return this.#ready ? 0 : 1;
  }

  #notify(t: number): void {
    const l = this.#level();
    if (l === this.#notified) return;
    this.#notified = l;
    this.#trace(t, "dout", l);
    notifyAll(this.#listeners, l);
  }

  #readDout(): Bit {
    this.sync();
    const t = this.#now();
    const p = this.#pulses;
    if (this.#connected && this.#on && p >= 1 && p <= 24 && this.#sck === 1 && t - this.#riseUs < HX711_T2_MAX_US) {
      this.#violate("T2", t, "DOUT read " + (t - this.#riseUs) + " us after PD_SCK rising (bit not valid yet)");
      return this.#levelBeforeRise;
    }
    return this.#level();
  }

  #powerOn(t: number): void {
    this.#on = true;
    this.#input = "A128";
    this.#ready = false;
    this.#pulses = 0;
    this.#overrunSeen = false;
    this.#settleLeft = HX711_SETTLE_CONVERSIONS - 1;
    this.#nextConvUs = t + this.periodUs;
    this.#pdAtUs = Infinity;
  }

  #powerDown(t: number): void {
    const p = this.#pulses;
    if (p >= 1 && p <= 24) {
      this.#violate("T3max", t, "PD_SCK high > " + HX711_T3_MAX_US + " us during bit " + p);
      this.#violate("powerdown-mid-read", t, "PD_SCK high " + HX711_POWER_DOWN_US + " us after bit " + p + ": reading lost");
      this.#lost++;
    }
    this.#on = false;
    this.#ready = false;
    this.#pulses = 0;
    this.#nextConvUs = Infinity;
    this.#pdAtUs = Infinity;
    this.#notify(t);
  }

  #boundary(tc: number): void {
    this.#nextConvUs = tc + this.periodUs;
    this.#conversions++;
    const used = this.#input;
    let deliver = true;
    const p = this.#pulses;
    if (p >= 1 && p <= 24) {
      if (!this.#overrunSeen) {
        this.#overrunSeen = true;
        this.#violate("overrun", tc, "conversion completed during bit " + p + ": result lost");
        this.#lost++;
        deliver = false;
      } else {
        this.#violate("pulse-count", tc, "train abandoned after " + p + " pulses");
        this.#pulses = 0;
      }
    } else if (p >= 25) {
      if (this.#sck === 1) {
        // Still inside a gain pulse: close at the next boundary.
        deliver = false;
      } else {
        this.#pulses = 0;
        let next: Hx711Input = p === 25 ? "A128" : p === 26 ? "B32" : "A64";
        if (p > 27) {
          this.#violate("pulse-count", tc, p + " pulses (25..27 allowed): input/gain unchanged");
          next = this.#input;
        }
        if (next !== this.#input) {
          this.#input = next;
          this.#settleLeft = HX711_SETTLE_CONVERSIONS - 1;
          deliver = false;
        }
      }
    }
    if (deliver && this.#settleLeft > 0) {
      this.#settleLeft--;
      deliver = false;
    }
    if (deliver) {
      const diff = used === "B32" ? this.#signalB(tc) : this.#signal(tc);
      this.#data = hx711Counts(used, diff) & 0xffffff;
      if (!this.#ready) this.#readyAtUs = tc;
      this.#ready = true;
      this.#delivered++;
    }
    this.#notify(tc);
  }

  #onSck(v: Bit): void {
    this.sync();
    const t = this.#now();
    if (!this.#connected) {
      this.#sck = v;
      return;
    }
    this.#trace(t, "sck", v);
    this.#sck = v;
    if (v === 1) {
      this.#riseUs = t;
      if (!this.#on) return;
      this.#pdAtUs = t + HX711_POWER_DOWN_US;
      this.#levelBeforeRise = this.#level();
      if (this.#pulses === 0) {
        if (this.#ready) {
          if (t - this.#readyAtUs < HX711_T1_MIN_US)
            this.#violate("T1", t, "first PD_SCK rising " + (t - this.#readyAtUs) + " us after DOUT fell");
          this.#ready = false;
          this.#overrunSeen = false;
          this.#pulses = 1;
        } else {
          this.#violate("clock-while-busy", t, "PD_SCK pulse while DOUT high (no data)");
        }
      } else {
        if (t - this.#fallUs < HX711_T4_MIN_US)
          this.#violate("T4min", t, "PD_SCK low " + (t - this.#fallUs) + " us before pulse " + (this.#pulses + 1));
        this.#pulses++;
      }
      this.#notify(t);
    } else {
      this.#pdAtUs = Infinity;
      if (!this.#on) {
        // PD_SCK low after power-down: reset, A x128, settle.
        this.#powerOn(t);
        this.#fallUs = t;
        this.#notify(t);
        return;
      }
      const high = t - this.#riseUs;
      const p = this.#pulses;
      if (p >= 1) {
        if (high < HX711_T3_MIN_US) this.#violate("T3min", t, "PD_SCK high " + high + " us on pulse " + p);
        if (p <= 24 && high > HX711_T3_MAX_US) this.#violate("T3max", t, "PD_SCK high " + high + " us on bit " + p);
      }
      this.#fallUs = t;
    }
  }
}

// ---- ECMA-419 Digital adapter over SimPins ----

export type SimPinSpecifier = number | string;

export interface SimDigitalOptions {
  /** Map a pin specifier to its SimPin (undefined = no such pin: the constructor throws). */
  resolve: (pin: SimPinSpecifier) => SimPin | undefined;
  /** Advance virtual time by `us` (models the cost of a GPIO call in XS). */
  advance?: (us: number) => void;
  /** Cost of each read/write in us (number or function); default 0. */
  cost?: number | ((op: "read" | "write", pin: SimPinSpecifier, value: number) => number);
  /** Run a callback on a later event-loop turn (onReadable is never re-entrant). Default: synchronous. */
  defer?: (cb: () => void) => void;
}

export interface SimDigitalInit {
  pin: SimPinSpecifier;
  mode: number;
  edge?: number;
  onReadable?: () => void;
}

export interface SimDigitalInstance {
  read(): number;
  write(value: number): void;
  close(): void;
}

export interface SimDigitalClass {
  new (options: SimDigitalInit): SimDigitalInstance;
  readonly Input: number;
  readonly InputPullUp: number;
  readonly InputPullDown: number;
  readonly InputPullUpDown: number;
  readonly Output: number;
  readonly OutputOpenDrain: number;
  readonly Rising: number;
  readonly Falling: number;
}

/** Build a Digital class (device.io.Digital shape) whose pins are SimPins. */
export function createSimDigital(options: SimDigitalOptions): SimDigitalClass {
  const resolve = options.resolve;
  const advance = options.advance;
  const cost = options.cost;
  const defer = options.defer;
  function spend(op: "read" | "write", pin: SimPinSpecifier, value: number): void {
    if (!advance || cost === undefined) return;
    const us = typeof cost === "number" ? cost : cost(op, pin, value);
    if (us > 0) advance(us);
  }
  class SimDigital implements SimDigitalInstance {
    static readonly Input = 0;
    static readonly InputPullUp = 1;
    static readonly InputPullDown = 2;
    static readonly InputPullUpDown = 3;
    static readonly Output = 8;
    static readonly OutputOpenDrain = 9;
    static readonly Rising = 1;
    static readonly Falling = 2;
    #pin: SimPin | undefined;
    #spec: SimPinSpecifier;
    #output: boolean;
    #off: (() => void) | undefined;
    #pending = false;
    constructor(init: SimDigitalInit) {
      const pin = resolve(init.pin);
      if (!pin) throw new RangeError("SimDigital: no pin " + init.pin);
      this.#pin = pin;
      this.#spec = init.pin;
      this.#output = init.mode === SimDigital.Output || init.mode === SimDigital.OutputOpenDrain;
      const edge = init.edge === undefined ? 0 : init.edge;
      const cb = init.onReadable;
      if (cb && edge) {
        const fire = () => {
          this.#pending = false;
          if (this.#pin) cb.call(this);
        };
        this.#off = pin.onChange((v) => {
          const hit = (v === 1 && (edge & SimDigital.Rising) !== 0) || (v === 0 && (edge & SimDigital.Falling) !== 0);
          if (!hit || this.#pending) return;
          this.#pending = true;
          if (defer) defer(fire);
          else fire();
        });
      }
    }
    read(): number {
      const pin = this.#pin;
      if (!pin) throw new Error("SimDigital closed");
      spend("read", this.#spec, 0);
      return pin.read();
    }
    write(value: number): void {
      const pin = this.#pin;
      if (!pin) throw new Error("SimDigital closed");
      if (!this.#output) throw new Error("SimDigital: pin " + this.#spec + " is an input");
      spend("write", this.#spec, value);
      pin.write(value ? 1 : 0);
    }
    close(): void {
      if (this.#off) this.#off();
      this.#off = undefined;
      this.#pin = undefined;
    }
  }
  return SimDigital;
}
