/**
 * HX711 datasheet figures the chip emulator enforces (T1..T4, power-down, settling), its inputs
 * and the violations it reports.
 */
import type { Bit, SimPin } from "./wire";

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

export const KINDS: readonly Hx711ViolationKind[] = [
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
