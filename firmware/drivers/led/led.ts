/**
 * Compartment LEDs: one per compartment, either on GPIO pins (embedded:io/digital outputs)
 * or on an addressable strip behind a PixelWriter.
 *
 * Implements the Leds port: set(index, on) lights the LED in the "due" colour.
 * setColor(index, color) chooses the colour ("due" amber, "fault" red). GPIO LEDs are
 * single-colour: any colour other than "off" lights them (show a fault by blinking from
 * the caller if needed).
 *
 * On the device the strip is Moddable's `neopixel` module wrapped by
 * firmware/platform/neopixel.ts; in tests and the simulator any PixelWriter will do.
 */
import type { Leds } from "../../core/ports";

export type LedColor = "off" | "due" | "fault";

/** Colours as 0xRRGGBB. */
export const DEFAULT_COLORS: Readonly<Record<LedColor, number>> = Object.freeze({
  off: 0x000000,
  due: 0xffa000, // amber
  fault: 0xff0000, // red
});

/** What the GPIO variant needs from an embedded:io/digital output. */
export interface DigitalOutput {
  write(value: 0 | 1): void;
  close(): void;
}
export interface DigitalOutputClass {
  new (options: { pin: number; mode: number; initialValue?: 0 | 1 }): DigitalOutput;
  readonly Output: number;
}

/** An addressable strip. `set` takes 0xRRGGBB; nothing shows until update(). */
export interface PixelWriter {
  readonly length: number;
  set(index: number, rgb: number): void;
  update(): void;
  close?(): void;
}

export type CompartmentLedsOptions =
  | {
      /** embedded:io/digital (or the host emulator). */
      io: DigitalOutputClass;
      /** One GPIO per compartment, in compartment-LED order. */
      pins: readonly number[];
      /** true: the pin sinks the LED current (LED on = pin low). Default false. */
      activeLow?: boolean;
    }
  | {
      strip: PixelWriter;
      /** Pixels used, starting at `first` (default: the whole strip). */
      count?: number;
      first?: number;
      colors?: Partial<Record<LedColor, number>>;
    };

const MAX_LEDS = 32;

export class CompartmentLeds implements Leds {
  readonly count: number;
  #outs: DigitalOutput[] | undefined;
  #activeLow = false;
  #strip: PixelWriter | undefined;
  #first = 0;
  #colors: Record<LedColor, number>;
  #state: LedColor[];

  constructor(options: CompartmentLedsOptions) {
    this.#colors = { ...DEFAULT_COLORS };
    if ("pins" in options) {
      const n = options.pins.length;
      if (n < 1 || n > MAX_LEDS) throw new RangeError("LED_COUNT");
      this.#activeLow = !!options.activeLow;
      const off = this.#level(false);
      const outs: DigitalOutput[] = [];
      try {
        for (const pin of options.pins) outs.push(new options.io({ pin, mode: options.io.Output, initialValue: off }));
      } catch (e) {
        for (const o of outs) o.close();
        throw e;
      }
      this.#outs = outs;
      this.count = n;
    } else {
      const strip = options.strip;
      const first = options.first ?? 0;
      const n = options.count ?? strip.length - first;
      if (!Number.isInteger(first) || first < 0 || !Number.isInteger(n) || n < 1 || n > MAX_LEDS || first + n > strip.length)
        throw new RangeError("LED_COUNT");
      this.#strip = strip;
      this.#first = first;
      this.count = n;
      if (options.colors) Object.assign(this.#colors, options.colors);
      for (let i = 0; i < n; i++) strip.set(first + i, this.#colors.off);
      strip.update();
    }
    this.#state = new Array<LedColor>(this.count).fill("off");
  }

  /** Leds port: on = "due" colour. */
  set(index: number, on: boolean): void {
    this.setColor(index, on ? "due" : "off");
  }

  setColor(index: number, color: LedColor): void {
    this.#check(index);
    if (!(color in this.#colors)) throw new RangeError("LED_COLOR");
    if (this.#state[index] === color) return;
    this.#state[index] = color;
    if (this.#outs) {
      this.#outs[index].write(this.#level(color !== "off"));
    } else if (this.#strip) {
      this.#strip.set(this.#first + index, this.#colors[color]);
      this.#strip.update();
    }
  }

  /** Current colour of one LED. */
  sample(index: number): LedColor {
    this.#check(index);
    return this.#state[index];
  }

  /** Turn everything off and release the pins (the strip is closed if it can be). */
  close(): void {
    if (this.#outs) {
      for (const o of this.#outs) {
        o.write(this.#level(false));
        o.close();
      }
      this.#outs = undefined;
    }
    if (this.#strip) {
      for (let i = 0; i < this.count; i++) this.#strip.set(this.#first + i, this.#colors.off);
      this.#strip.update();
      this.#strip.close?.();
      this.#strip = undefined;
    }
    this.#state.fill("off");
  }

  #level(on: boolean): 0 | 1 {
    return on !== this.#activeLow ? 1 : 0;
  }
  #check(index: number): void {
    if (!Number.isInteger(index) || index < 0 || index >= this.count) throw new RangeError("LED_INDEX");
    if (!this.#outs && !this.#strip) throw new Error("LED_CLOSED");
  }
}
