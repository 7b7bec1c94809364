/**
 * Piezo buzzer on an embedded:io/pwm pin. Implements the Buzzer port.
 *
 * ECMA-419 PWM fixes `hz` when the instance is created (it is a read-only property), so a
 * step with a new frequency closes the PWM and creates a new one on the same pin (the
 * IO class pattern's "close and re-create to change the configuration"). Silence steps
 * (hz 0) and repeats of the same frequency only write the duty.
 *
 * Volume 0..100 maps linearly to 0..50 % duty (a piezo is loudest at a square wave):
 * duty = round(volume / 100 * (2^resolution - 1) / 2).
 *
 * Timing goes through the injected Timers port, one timer at a time.
 */
import type { Buzzer, TimerId, Timers, ToneStep } from "../../core/ports";

export interface PwmOutput {
  readonly hz: number;
  readonly resolution: number;
  write(value: number): void;
  close(): void;
}
export type PwmClass = new (options: { pin: number; hz?: number; resolution?: number }) => PwmOutput;

export interface PiezoBuzzerOptions {
  /** embedded:io/pwm (or the host emulator). */
  io: PwmClass;
  pin: number;
  timers: Timers;
  /** PWM resolution in bits (default 10). */
  resolution?: number;
  /** Accepted tone range (defaults 100..10000 Hz). */
  minHz?: number;
  maxHz?: number;
}

/** Longest pattern accepted (steps are copied, so the heap use is bounded). */
export const MAX_STEPS = 32;

export class PiezoBuzzer implements Buzzer {
  readonly #io: PwmClass;
  readonly #pin: number;
  readonly #timers: Timers;
  readonly #res: number;
  readonly #minHz: number;
  readonly #maxHz: number;
  #pwm: PwmOutput | undefined;
  #pwmHz = 0;
  #steps: ToneStep[] = [];
  #index = 0;
  #duty = 0;
  #timer: TimerId | undefined;
  #closed = false;
  #faults = 0;

  constructor(o: PiezoBuzzerOptions) {
    this.#io = o.io;
    this.#pin = o.pin;
    this.#timers = o.timers;
    this.#res = o.resolution ?? 10;
    this.#minHz = o.minHz ?? 100;
    this.#maxHz = o.maxHz ?? 10_000;
    // Claim the pin now (fails early on a wiring/config error), silent.
    this.#open(Math.max(this.#minHz, 1000));
  }

  /** Play `steps` in a loop; replaces whatever was playing. An empty pattern or volume 0 is silence. */
  play(steps: readonly ToneStep[], volume: number): void {
    this.#live();
    if (steps.length > MAX_STEPS) throw new RangeError("BUZZER_STEPS");
    const copy: ToneStep[] = [];
    for (const s of steps) {
      const hz = s.hz;
      if (!Number.isFinite(s.ms) || s.ms < 1) throw new RangeError("BUZZER_STEP_MS");
      if (!(hz === 0 || (Number.isFinite(hz) && hz >= this.#minHz && hz <= this.#maxHz))) throw new RangeError("BUZZER_STEP_HZ");
      copy.push({ hz: Math.round(hz), ms: s.ms });
    }
    this.#halt();
    const v = Number.isFinite(volume) ? Math.min(100, Math.max(0, volume)) : 0;
    this.#duty = Math.round(((v / 100) * (2 ** this.#res - 1)) / 2);
    if (copy.length === 0 || this.#duty === 0) return;
    this.#steps = copy;
    this.#index = 0;
    this.#step();
  }

  stop(): void {
    if (this.#closed) return;
    this.#halt();
  }

  /** True while a pattern is playing. */
  sample(): boolean {
    return this.#timer !== undefined;
  }

  /** PWM re-creations that failed (the step played silent). */
  get faults(): number {
    return this.#faults;
  }

  close(): void {
    if (this.#closed) return;
    this.#halt();
    this.#pwm?.close();
    this.#pwm = undefined;
    this.#closed = true;
  }

  #step(): void {
    const s = this.#steps[this.#index];
    if (s.hz === 0) {
      this.#pwm?.write(0);
    } else {
      if (s.hz !== this.#pwmHz || !this.#pwm) {
        try {
          this.#open(s.hz);
        } catch {
          this.#faults++; // e.g. no LEDC timer free: this step stays silent, timing goes on
        }
      }
      this.#pwm?.write(this.#duty);
    }
    this.#timer = this.#timers.once(s.ms, () => {
      this.#timer = undefined;
      this.#index = (this.#index + 1) % this.#steps.length;
      this.#step();
    });
  }

  #halt(): void {
    if (this.#timer !== undefined) this.#timers.cancel(this.#timer);
    this.#timer = undefined;
    this.#steps = [];
    this.#pwm?.write(0);
  }

  #open(hz: number): void {
    this.#pwm?.close();
    this.#pwm = undefined;
    this.#pwmHz = 0;
    this.#pwm = new this.#io({ pin: this.#pin, hz, resolution: this.#res });
    this.#pwmHz = hz;
  }

  #live(): void {
    if (this.#closed) throw new Error("BUZZER_CLOSED");
  }
}
