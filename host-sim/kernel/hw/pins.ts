/**
 * Pin-level emulators of the ECMA-419 `embedded:io/digital` and `embedded:io/pwm` classes,
 * modelled on the Moddable SDK's ESP32 implementation (modules/io/digital/esp32,
 * modules/io/pwm/esp32). They throw where the real classes throw, with the same error
 * classes: Error ("in use", "can't read output", ...), RangeError ("invalid mode",
 * "invalid value", ...), and SyntaxError when a closed instance is used (XS reports a
 * closed host object as "invalid host data").
 *
 * Everything that happens on a pin is appended to a bounded log with virtual timestamps.
 * XS-clean: ES2022 only, no globals, no I/O. Time comes from an injected clock + Timers,
 * e.g. the small ManualTime below or the simulator's own virtual clock.
 */
import type { TimerId, Timers } from "../../../firmware/core/ports";

// ---------------------------------------------------------------------------------------
// Virtual time

export interface TimeSource {
  now(): number;
}

interface PendingTimer {
  id: number;
  at: number;
  every: number; // 0 = one shot
  seq: number;
  cb: () => void;
}

/**
 * A tiny deterministic virtual clock + Timers. Nothing runs until advance()/advanceTo().
 * Timers due at the same instant run in scheduling order. Capacity: `maxTimers`
 * (default 256) pending timers; scheduling more throws RangeError("TIMERS_FULL").
 */
export class ManualTime implements TimeSource, Timers {
  #now: number;
  #seq = 0;
  #nextId = 1;
  #pending: PendingTimer[] = [];
  readonly #max: number;

  constructor(startMs = 0, maxTimers = 256) {
    this.#now = startMs;
    this.#max = maxTimers;
  }
  now(): number {
    return this.#now;
  }
  once(ms: number, cb: () => void): TimerId {
    return this.#add(ms, 0, cb);
  }
  repeat(ms: number, cb: () => void): TimerId {
    if (!(ms >= 1)) throw new RangeError("repeat ms must be >= 1");
    return this.#add(ms, ms, cb);
  }
  cancel(id: TimerId): void {
    const i = this.#pending.findIndex((t) => t.id === id);
    if (i >= 0) this.#pending.splice(i, 1);
  }
  /** Number of pending timers. */
  get pending(): number {
    return this.#pending.length;
  }
  /** Run every timer due up to now + ms, advancing the clock to each due time in turn. */
  advance(ms: number): void {
    this.advanceTo(this.#now + ms);
  }
  advanceTo(target: number): void {
    if (target < this.#now) throw new RangeError("time cannot go backwards");
    for (;;) {
      const next = this.#earliest();
      if (!next || next.at > target) break;
      this.#now = next.at;
      if (next.every > 0) {
        next.at += next.every;
        next.seq = this.#seq++;
      } else {
        this.#pending.splice(this.#pending.indexOf(next), 1);
      }
      next.cb();
    }
    this.#now = target;
  }
  #earliest(): PendingTimer | undefined {
    let best: PendingTimer | undefined;
    for (const t of this.#pending) {
      if (!best || t.at < best.at || (t.at === best.at && t.seq < best.seq)) best = t;
    }
    return best;
  }
  #add(ms: number, every: number, cb: () => void): TimerId {
    if (this.#pending.length >= this.#max) throw new RangeError("TIMERS_FULL");
    const delay = ms > 0 ? ms : 0;
    const id = this.#nextId++;
    this.#pending.push({ id, at: this.#now + delay, every, seq: this.#seq++, cb });
    return id;
  }
}

// ---------------------------------------------------------------------------------------
// The board: pins, their electrical state and the log

export type PinLogKind =
  | "open" // a driver claimed the pin (value: mode code, or -1 for PWM)
  | "close"
  | "level" // digital level on the wire changed (value 0/1)
  | "pwm-hz" // PWM created at frequency `value`
  | "pwm-duty" // PWM duty written (value: raw count; `frac`: 0..1)
  | "drive" // external circuit drives the pin (value 0/1, or -1 = released)
  | "edge"; // onReadable delivered to the driver (value: level read at delivery)

export interface PinLogEntry {
  readonly t: number;
  readonly pin: number;
  readonly kind: PinLogKind;
  readonly value: number;
  readonly frac?: number;
}

export interface PinBoardOptions {
  time: TimeSource;
  timers: Timers;
  /** Valid GPIO numbers (default: ESP32 WROOM: 0-19, 21-23, 25-27, 32-39). */
  validPins?: readonly number[];
  /** Input-only GPIOs (default ESP32: 34-39). */
  inputOnlyPins?: readonly number[];
  /** Log capacity (default 2048 entries). On overflow the oldest entry is dropped and `dropped` counts it. */
  logCapacity?: number;
  /** PWM channels available (default 4: Moddable's default LEDC channel map 0xF0). */
  pwmChannels?: number;
}

const ESP32_VALID = [
  0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 21, 22, 23, 25, 26, 27, 32, 33, 34, 35, 36, 37, 38, 39,
];
const ESP32_INPUT_ONLY = [34, 35, 36, 37, 38, 39];

/** Digital mode codes, same values as Moddable's DigitalBank. */
export const MODE = {
  Input: 0,
  InputPullUp: 1,
  InputPullDown: 2,
  InputPullUpDown: 3,
  Output: 8,
  OutputOpenDrain: 9,
} as const;
export const EDGE = { Rising: 1, Falling: 2 } as const;

interface PinState {
  owner: "digital-in" | "digital-out" | "pwm" | undefined;
  mode: number;
  out: 0 | 1; // level driven by an output
  ext: 0 | 1 | -1; // external drive, -1 = not driven
  listener: ((level: 0 | 1) => void) | undefined; // input edge hook
}

/** Electrical level of a pin as a reader sees it. Floating inputs read 0 (deterministic). */
function wireLevel(s: PinState): 0 | 1 {
  if (s.owner === "digital-out") {
    if (s.mode === MODE.OutputOpenDrain) return s.out === 0 || s.ext === 0 ? 0 : 1;
    return s.out;
  }
  if (s.ext !== -1) return s.ext;
  if (s.mode === MODE.InputPullUp || s.mode === MODE.InputPullUpDown) return 1;
  return 0;
}

export class PinBoard {
  readonly time: TimeSource;
  readonly timers: Timers;
  readonly #pins = new Map<number, PinState>();
  readonly #valid: ReadonlySet<number>;
  readonly #inputOnly: ReadonlySet<number>;
  readonly #cap: number;
  readonly #log: PinLogEntry[] = [];
  #dropped = 0;
  readonly pwmChannels: number;
  pwmInUse = 0;
  /** PWM timer configurations in use: key "hz/res" -> users. ESP32 LEDC has 4 timers. */
  readonly pwmTimers = new Map<string, number>();

  constructor(o: PinBoardOptions) {
    this.time = o.time;
    this.timers = o.timers;
    this.#valid = new Set(o.validPins ?? ESP32_VALID);
    this.#inputOnly = new Set(o.inputOnlyPins ?? ESP32_INPUT_ONLY);
    this.#cap = o.logCapacity ?? 2048;
    this.pwmChannels = o.pwmChannels ?? 4;
  }

  // ---- inspection ----
  get log(): readonly PinLogEntry[] {
    return this.#log;
  }
  get dropped(): number {
    return this.#dropped;
  }
  clearLog(): void {
    this.#log.length = 0;
    this.#dropped = 0;
  }
  /** Entries for one pin and optionally one kind. */
  entries(pin: number, kind?: PinLogKind): PinLogEntry[] {
    return this.#log.filter((e) => e.pin === pin && (kind === undefined || e.kind === kind));
  }
  /** Current electrical level of a pin (0 when unused and undriven). */
  level(pin: number): 0 | 1 {
    return wireLevel(this.#state(pin));
  }
  isClaimed(pin: number): boolean {
    return this.#state(pin).owner !== undefined;
  }

  // ---- the outside world ----
  /** External circuit drives `pin` to `level` (e.g. a button closing to ground), or releases it (-1). */
  drive(pin: number, level: 0 | 1 | -1): void {
    const s = this.#state(pin);
    const before = wireLevel(s);
    s.ext = level;
    this.record(pin, "drive", level);
    const after = wireLevel(s);
    if (after !== before) this.#changed(pin, s, after);
  }
  /**
   * Schedule contact bounce on an externally driven pin: at `atMs` from now drive `level`,
   * then toggle between `other` (default -1: released to the pull resistor) and `level`
   * at each offset in `togglesMs` (ascending, relative to `atMs`). The count of toggles
   * must be even so the contact settles on `level`.
   */
  bounce(pin: number, level: 0 | 1 | -1, togglesMs: readonly number[], atMs = 0, other: 0 | 1 | -1 = -1): void {
    if (togglesMs.length % 2 !== 0) throw new RangeError("bounce needs an even number of toggles");
    const offsets = [0, ...togglesMs];
    for (let i = 0; i < offsets.length; i++) {
      const d = i % 2 === 0 ? level : other;
      this.timers.once(atMs + offsets[i], () => this.drive(pin, d));
    }
  }

  // ---- used by the emulated classes ----
  record(pin: number, kind: PinLogKind, value: number, frac?: number): void {
    if (this.#log.length >= this.#cap) {
      this.#log.shift();
      this.#dropped++;
    }
    this.#log.push(frac === undefined ? { t: this.time.now(), pin, kind, value } : { t: this.time.now(), pin, kind, value, frac });
  }
  checkPin(pin: unknown): number {
    if (typeof pin !== "number" || !Number.isInteger(pin) || !this.#valid.has(pin)) throw new Error("invalid pin");
    return pin;
  }
  isInputOnly(pin: number): boolean {
    return this.#inputOnly.has(pin);
  }
  claim(pin: number, owner: NonNullable<PinState["owner"]>, mode: number): PinState {
    const s = this.#state(pin);
    if (s.owner !== undefined) throw new Error("in use");
    s.owner = owner;
    s.mode = mode;
    s.listener = undefined;
    this.record(pin, "open", owner === "pwm" ? -1 : mode);
    return s;
  }
  release(pin: number): void {
    const s = this.#state(pin);
    const before = wireLevel(s);
    s.owner = undefined;
    s.mode = MODE.Input;
    s.out = 0;
    s.listener = undefined;
    this.record(pin, "close", 0);
    const after = wireLevel(s);
    if (after !== before) this.record(pin, "level", after);
  }
  setOutput(pin: number, s: PinState, level: 0 | 1): void {
    const before = wireLevel(s);
    s.out = level;
    const after = wireLevel(s);
    if (after !== before) this.#changed(pin, s, after);
  }
  readWire(pin: number): 0 | 1 {
    return wireLevel(this.#state(pin));
  }

  #changed(pin: number, s: PinState, level: 0 | 1): void {
    this.record(pin, "level", level);
    s.listener?.(level);
  }
  #state(pin: number): PinState {
    let s = this.#pins.get(pin);
    if (!s) {
      s = { owner: undefined, mode: MODE.Input, out: 0, ext: -1, listener: undefined };
      this.#pins.set(pin, s);
    }
    return s;
  }
}

// ---------------------------------------------------------------------------------------
// embedded:io/digital

export interface EmulatedDigitalOptions {
  pin: number;
  mode: number;
  edge?: number;
  activeLow?: boolean;
  initialValue?: 0 | 1;
  onReadable?: (this: EmulatedDigital) => void;
}

export interface EmulatedDigital {
  read(): 0 | 1;
  write(value: 0 | 1): void;
  close(): void;
}

export interface EmulatedDigitalClass {
  new (options: EmulatedDigitalOptions): EmulatedDigital;
  readonly Input: number;
  readonly InputPullUp: number;
  readonly InputPullDown: number;
  readonly InputPullUpDown: number;
  readonly Output: number;
  readonly OutputOpenDrain: number;
  readonly Rising: number;
  readonly Falling: number;
}

const CLOSED = "invalid host data (closed)";

/**
 * A Digital class bound to `board`. onReadable is delivered like on the device: the
 * interrupt only marks the instance as triggered and the callback runs on a later turn
 * of the event loop (a 0 ms timer); edges that arrive before it runs are coalesced.
 */
export function createDigitalClass(board: PinBoard): EmulatedDigitalClass {
  return class Digital implements EmulatedDigital {
    static readonly Input = MODE.Input;
    static readonly InputPullUp = MODE.InputPullUp;
    static readonly InputPullDown = MODE.InputPullDown;
    static readonly InputPullUpDown = MODE.InputPullUpDown;
    static readonly Output = MODE.Output;
    static readonly OutputOpenDrain = MODE.OutputOpenDrain;
    static readonly Rising = EDGE.Rising;
    static readonly Falling = EDGE.Falling;

    #pin: number;
    #input: boolean;
    #activeLow: boolean;
    #state: PinState | undefined;
    #timer: TimerId | undefined;

    constructor(o: EmulatedDigitalOptions) {
      if (o === null || typeof o !== "object" || o.pin === undefined) throw new Error("invalid");
      const pin = board.checkPin(o.pin);
      const mode = o.mode;
      const input = mode === MODE.Input || mode === MODE.InputPullUp || mode === MODE.InputPullDown || mode === MODE.InputPullUpDown;
      const output = mode === MODE.Output || mode === MODE.OutputOpenDrain;
      if (board.isClaimed(pin)) throw new Error("in use");
      if (!input && !output) throw new RangeError("invalid mode");
      const activeLow = !!o.activeLow;
      let rises = false;
      let falls = false;
      const onReadable = o.onReadable;
      if (input && typeof onReadable === "function") {
        const edge = o.edge ?? 0;
        rises = (edge & EDGE.Rising) !== 0;
        falls = (edge & EDGE.Falling) !== 0;
        if (!rises && !falls) throw new RangeError("invalid edges");
        if (activeLow) [rises, falls] = [falls, rises];
      }
      if (output && board.isInputOnly(pin)) throw new RangeError("input only");
      this.#pin = pin;
      this.#input = input;
      this.#activeLow = activeLow;
      const state = board.claim(pin, input ? "digital-in" : "digital-out", mode);
      this.#state = state;
      if (output) {
        state.out = ((o.initialValue ? 1 : 0) ^ (activeLow ? 1 : 0)) as 0 | 1;
        board.record(pin, "level", board.readWire(pin));
      } else if (onReadable) {
        state.listener = (level) => {
          if ((level === 1 && !rises) || (level === 0 && !falls)) return;
          if (this.#timer !== undefined) return; // coalesced with a pending notification
          this.#timer = board.timers.once(0, () => {
            this.#timer = undefined;
            if (!this.#state) return;
            board.record(pin, "edge", board.readWire(pin) ^ (this.#activeLow ? 1 : 0));
            onReadable.call(this);
          });
        };
      }
    }
    read(): 0 | 1 {
      this.#live();
      if (!this.#input) throw new Error("can't read output");
      return (board.readWire(this.#pin) ^ (this.#activeLow ? 1 : 0)) as 0 | 1;
    }
    write(value: 0 | 1): void {
      const s = this.#live();
      if (this.#input) throw new Error("can't write input");
      const v = (Number(value) ? 1 : 0) ^ (this.#activeLow ? 1 : 0);
      board.setOutput(this.#pin, s, v as 0 | 1);
    }
    close(): void {
      if (!this.#state) return; // closing twice is allowed
      if (this.#timer !== undefined) board.timers.cancel(this.#timer);
      this.#timer = undefined;
      this.#state = undefined;
      board.release(this.#pin);
    }
    #live(): PinState {
      if (!this.#state) throw new SyntaxError(CLOSED);
      return this.#state;
    }
  };
}

// ---------------------------------------------------------------------------------------
// embedded:io/pwm

export interface EmulatedPWMOptions {
  pin: number;
  hz?: number;
  resolution?: number;
}
export interface EmulatedPWM {
  readonly hz: number;
  readonly resolution: number;
  write(value: number): void;
  close(): void;
}
export type EmulatedPWMClass = new (options: EmulatedPWMOptions) => EmulatedPWM;

/** Lowest frequency the ESP32 LEDC reaches at 8..14 bits (Moddable's measured table). */
const MIN_HZ = [65, 33, 17, 9, 5, 3, 2];
const LEDC_CLOCK_HZ = 80_000_000; // APB clock
const LEDC_TIMER_BIT_MAX = 20;
const LEDC_TIMERS = 4;

function toInteger(v: unknown): number {
  const n = Math.trunc(Number(v));
  return Number.isFinite(n) ? n : 0;
}

/**
 * A PWM class bound to `board` with the ESP32 rules: hz and resolution are fixed at
 * construction (default 1024 Hz, 10 bits); write() takes an integer 0..2^resolution-1;
 * at most `pwmChannels` instances and 4 distinct (hz, resolution) timers at a time.
 * The `from` option of the SDK is not emulated: close and re-create instead.
 */
export function createPWMClass(board: PinBoard): EmulatedPWMClass {
  return class PWM implements EmulatedPWM {
    #pin: number;
    #hz: number;
    #res: number;
    #open = true;

    constructor(o: EmulatedPWMOptions) {
      const pin = board.checkPin(o.pin);
      if (board.isClaimed(pin)) throw new Error("in use");
      const hz = o.hz === undefined ? 1024 : toInteger(o.hz);
      if (hz <= 0) throw new RangeError("invalid hz");
      const res = o.resolution === undefined ? 10 : toInteger(o.resolution);
      if (res <= 0 || res >= LEDC_TIMER_BIT_MAX) throw new RangeError("invalid resolution");
      if (res >= 8 && res <= 14 && hz < MIN_HZ[res - 8]) throw new RangeError("invalid combination of hz and resolution");
      if (board.pwmInUse >= board.pwmChannels) throw new Error("no ledc channel");
      const key = `${hz}/${res}`;
      if (!board.pwmTimers.has(key) && board.pwmTimers.size >= LEDC_TIMERS) throw new RangeError("no timer");
      if (hz * 2 ** res > LEDC_CLOCK_HZ) throw new Error("configure ledc timer failed");
      if (board.isInputOnly(pin)) throw new Error("can't configure");
      this.#pin = pin;
      this.#hz = hz;
      this.#res = res;
      board.claim(pin, "pwm", -1);
      board.pwmInUse++;
      board.pwmTimers.set(key, (board.pwmTimers.get(key) ?? 0) + 1);
      board.record(pin, "pwm-hz", hz);
      board.record(pin, "pwm-duty", 0, 0);
    }
    get hz(): number {
      this.#live();
      return this.#hz;
    }
    get resolution(): number {
      this.#live();
      return this.#res;
    }
    write(value: number): void {
      this.#live();
      const max = 2 ** this.#res - 1;
      const v = toInteger(value);
      if (v < 0 || v > max) throw new RangeError("invalid value");
      board.record(this.#pin, "pwm-duty", v, v / max);
    }
    close(): void {
      if (!this.#open) return;
      this.#open = false;
      const key = `${this.#hz}/${this.#res}`;
      const users = (board.pwmTimers.get(key) ?? 1) - 1;
      if (users > 0) board.pwmTimers.set(key, users);
      else board.pwmTimers.delete(key);
      board.pwmInUse--;
      board.release(this.#pin);
    }
    #live(): void {
      if (!this.#open) throw new SyntaxError(CLOSED);
    }
  };
}
