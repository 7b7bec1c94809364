/**
 * The push button on an embedded:io/digital input. Implements the Button port.
 *
 * Wiring: by default the button closes the pin to ground and the internal pull-up holds
 * it high when open (activeLow, pullUp). Edge-driven: onReadable fires on both edges; each
 * edge (re)starts a debounce timer and the level is only trusted once it has been quiet
 * for `debounceMs` (default 30 ms). Bounces shorter than that are ignored.
 *
 * A transition is dated at the first edge of its burst, so durations are not skewed by
 * the debounce delay. A press is reported:
 *   - "long" as soon as it has been held for `longMs` (default 1500 ms), so the patient
 *     gets immediate feedback; nothing more is reported at its release. If an edge burst
 *     is under way at that instant the decision waits for it to settle (it may be the
 *     release, dated at its first edge);
 *   - "short" at release when it was held less than `longMs`.
 * Callbacks run from timer callbacks (the event loop), never from inside onPress().
 */
import type { Button, PressKind, TimerId, Timers } from "../../core/ports";

export interface DigitalInput {
  read(): number;
  close(): void;
}
export interface DigitalInputClass {
  new (options: { pin: number; mode: number; edge: number; onReadable: () => void }): DigitalInput;
  readonly Input: number;
  readonly InputPullUp: number;
  readonly InputPullDown: number;
  readonly Rising: number;
  readonly Falling: number;
}

export interface PushButtonOptions {
  /** embedded:io/digital (or the host emulator). */
  io: DigitalInputClass;
  pin: number;
  timers: Timers;
  clock: { monoMs(): number };
  /** Pressed = low (default true). */
  activeLow?: boolean;
  /** Use the internal pull resistor toward the released level (default true). */
  pull?: boolean;
  debounceMs?: number;
  longMs?: number;
}

const MAX_LISTENERS = 4;

export class PushButton implements Button {
  readonly #timers: Timers;
  readonly #clock: { monoMs(): number };
  readonly #activeLow: boolean;
  readonly #debounceMs: number;
  readonly #longMs: number;
  #input: DigitalInput | undefined;
  #listeners: Array<(kind: PressKind) => void> = [];
  #pressed = false;
  #burstAt: number | undefined;
  #pressedAt = 0;
  #longSent = false;
  #debounce: TimerId | undefined;
  #long: TimerId | undefined;

  constructor(o: PushButtonOptions) {
    this.#timers = o.timers;
    this.#clock = o.clock;
    this.#activeLow = o.activeLow ?? true;
    this.#debounceMs = o.debounceMs ?? 30;
    this.#longMs = o.longMs ?? 1500;
    if (!(this.#debounceMs >= 1) || !(this.#longMs > this.#debounceMs)) throw new RangeError("BUTTON_TIMING");
    const pull = o.pull ?? true;
    const mode = !pull ? o.io.Input : this.#activeLow ? o.io.InputPullUp : o.io.InputPullDown;
    this.#input = new o.io({
      pin: o.pin,
      mode,
      edge: o.io.Rising | o.io.Falling,
      onReadable: () => this.#edge(),
    });
    this.#pressed = this.#isDown(); // a button held at boot counts as pressed, not as a press
    this.#pressedAt = this.#clock.monoMs();
    this.#longSent = this.#pressed; // ... and is never reported
  }

  onPress(cb: (kind: PressKind) => void): void {
    if (this.#listeners.length >= MAX_LISTENERS) throw new RangeError("BUTTON_LISTENERS");
    this.#listeners.push(cb);
  }

  /** Debounced state: true while the button is held. */
  sample(): boolean {
    return this.#pressed;
  }

  close(): void {
    if (!this.#input) return;
    this.#cancel();
    this.#input.close();
    this.#input = undefined;
    this.#listeners = [];
  }

  #edge(): void {
    if (!this.#input) return;
    if (this.#burstAt === undefined) this.#burstAt = this.#clock.monoMs();
    if (this.#debounce !== undefined) this.#timers.cancel(this.#debounce);
    this.#debounce = this.#timers.once(this.#debounceMs, () => this.#settle());
  }

  #settle(): void {
    this.#debounce = undefined;
    const at = this.#burstAt ?? this.#clock.monoMs();
    this.#burstAt = undefined;
    if (!this.#input) return;
    const down = this.#isDown();
    if (down === this.#pressed) {
      // bounced back: nothing happened, except a long press that was held back (below)
      if (down && !this.#longSent && this.#clock.monoMs() - this.#pressedAt >= this.#longMs) this.#sendLong();
      return;
    }
    this.#pressed = down;
    if (down) {
      this.#pressedAt = at;
      this.#longSent = false;
      const wait = Math.max(0, at + this.#longMs - this.#clock.monoMs());
      this.#long = this.#timers.once(wait, () => {
        this.#long = undefined;
        // An edge burst in progress may be the release: let #settle decide.
        if (this.#pressed && !this.#longSent && this.#burstAt === undefined) this.#sendLong();
      });
    } else {
      if (this.#long !== undefined) this.#timers.cancel(this.#long);
      this.#long = undefined;
      if (this.#longSent) return;
      this.#longSent = true;
      this.#emit(at - this.#pressedAt >= this.#longMs ? "long" : "short");
    }
  }

  #sendLong(): void {
    this.#longSent = true;
    this.#emit("long");
  }

  #isDown(): boolean {
    const level = this.#input ? this.#input.read() : this.#activeLow ? 1 : 0;
    return this.#activeLow ? level === 0 : level === 1;
  }

  #emit(kind: PressKind): void {
    for (const cb of this.#listeners) cb(kind);
  }

  #cancel(): void {
    if (this.#debounce !== undefined) this.#timers.cancel(this.#debounce);
    if (this.#long !== undefined) this.#timers.cancel(this.#long);
    this.#debounce = this.#long = undefined;
  }
}
