/**
 * Emulated embedded:io/pwm over a PinBoard, with the ESP32 LEDC limits (timers, resolution,
 * lowest frequency per resolution).
 */
import type { PinBoard } from "./pins";
import { CLOSED } from "./digital";

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
export const MIN_HZ = [65, 33, 17, 9, 5, 3, 2];
export const LEDC_CLOCK_HZ = 80_000_000; // APB clock
export const LEDC_TIMER_BIT_MAX = 20;
export const LEDC_TIMERS = 4;

export function toInteger(v: unknown): number {
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
