/**
 * HX711 facts and the ECMA-419 pin types the driver uses: gains, rates, limits, timing (docs/load-cells.md).
 */
/** ECMA-419 pin specifier. */
export type PinSpecifier = number | string;

/** The subset of an ECMA-419 Digital instance the driver uses. */
export interface DigitalPort {
  read(): number;
  write(value: number): void;
  close(): void;
}

/** Constructor options of an ECMA-419 Digital. */
export interface DigitalOptions {
  pin: PinSpecifier;
  mode: number;
  edge?: number;
  onReadable?: () => void;
}

/** The subset of the ECMA-419 Digital class (device.io.Digital) the driver uses. */
export interface DigitalClass {
  new (options: DigitalOptions): DigitalPort;
  readonly Input: number;
  readonly InputPullUp?: number;
  readonly Output: number;
  readonly Rising: number;
  readonly Falling: number;
}

/** Pin options for one line: the pin and optionally an explicit Digital mode. */
export interface PinOptions {
  pin: PinSpecifier;
  mode?: number;
}

export type Hx711Gain = 128 | 64 | 32;
export type Hx711Rate = 10 | 80;
/** How a driver learns that DOUT fell: a falling-edge interrupt or a polling timer. */
export type Hx711ReadyMode = "edge" | "poll";

export const HX711_MAX = 0x7fffff;
export const HX711_MIN = -0x800000;
/** Conversion periods of settling after power-up / reset / gain change (datasheet). */
export const HX711_SETTLE_PERIODS = 4;
/** Conversion periods without DOUT low before a channel is declared disconnected. */
export const HX711_TIMEOUT_PERIODS = 4;
/** Most chips one SharedClock serves (bounded heap). */
export const SHARED_CLOCK_MAX_CHIPS = 8;

/** Total PD_SCK pulses of a train for a gain: 25 = A x128, 26 = B x32, 27 = A x64. */
export function gainPulses(gain: Hx711Gain): 25 | 26 | 27 {
  if (gain === 128) return 25;
  if (gain === 32) return 26;
  if (gain === 64) return 27;
  throw new RangeError("HX711 gain must be 128, 64 or 32");
}

/** Conversion period in microseconds. */
export function conversionPeriodUs(rate: Hx711Rate): number {
  if (rate === 10) return 100000;
  if (rate === 80) return 12500;
  throw new RangeError("HX711 rate must be 10 or 80");
}

/** Sign-extend a 24-bit two's complement pattern. */
export function decode24(raw: number): number {
  return ((raw & 0xffffff) << 8) >> 8;
}

export function resolveDigital(io: DigitalClass | undefined): DigitalClass {
  if (io) return io;
  const g = globalThis as unknown as { device?: { io?: { Digital?: DigitalClass } } };
  const d = g.device && g.device.io ? g.device.io.Digital : undefined;
  if (!d) throw new TypeError("HX711: no Digital class (pass options.io or provide device.io.Digital)");
  return d;
}
