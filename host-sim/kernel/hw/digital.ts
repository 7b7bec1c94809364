/**
 * Emulated embedded:io/digital over a PinBoard, as the Moddable ESP32 implementation behaves
 * (modules/io/digital/esp32): same errors for misuse, closed instances refused.
 */
import type { TimerId } from "../../../firmware/core/ports";
import { MODE, EDGE, type PinBoard, type PinState } from "./pins";

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

export const CLOSED = "invalid host data (closed)";

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
