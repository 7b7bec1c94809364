/**
 * An ECMA-419 Digital class over simulated wires, for the HX711 driver at pin level.
 */
import type { SimPin } from "./wire";

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
