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
import type { Timers } from "../../../firmware/core/ports";
import type { TimeSource } from "./manual-time";
export * from "./manual-time";

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
  /** Told of every log entry as it is made (the simulator watches LED and buzzer pins). */
  observe?: (e: PinLogEntry) => void;
}

export const ESP32_VALID = [
  0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 21, 22, 23, 25, 26, 27, 32, 33, 34, 35, 36, 37, 38, 39,
];
export const ESP32_INPUT_ONLY = [34, 35, 36, 37, 38, 39];

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

export interface PinState {
  owner: "digital-in" | "digital-out" | "pwm" | undefined;
  mode: number;
  out: 0 | 1; // level driven by an output
  ext: 0 | 1 | -1; // external drive, -1 = not driven
  listener: ((level: 0 | 1) => void) | undefined; // input edge hook
}

/** Electrical level of a pin as a reader sees it. Floating inputs read 0 (deterministic). */
export function wireLevel(s: PinState): 0 | 1 {
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
  readonly #observe: ((e: PinLogEntry) => void) | undefined;
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
    this.#observe = o.observe;
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
    const e: PinLogEntry = frac === undefined ? { t: this.time.now(), pin, kind, value } : { t: this.time.now(), pin, kind, value, frac };
    this.#log.push(e);
    this.#observe?.(e);
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
