/** Types shared by the live fleet and its transports (kept apart so neither imports the other). */
import type { SimDevice } from "../kernel/device/sim-device";
import type { StepFields } from "../kernel/scenario/steps";

export interface LoggedEv {
  readonly seq: number;
  readonly type: string;
  readonly data: Record<string, unknown>;
}

/** What a transport needs of a fleet device to push it a config. */
export interface PushTarget {
  readonly id: string;
  readonly sim: SimDevice;
  /** Bring the device's virtual time up to the warp clock. */
  sync(): void;
  now(): number;
  /** Events the device logs while `fn` runs. */
  capture(fn: () => void): LoggedEv[];
}

export const DEFAULT_CHANNELS = 4;
export const DEFAULT_LEDS = 4;

export interface TimelineLine {
  /** Line number within the device (monotonic, for incremental UI updates). */
  readonly n: number;
  /** Virtual UTC ms. */
  readonly t: number;
  readonly k: string;
  readonly d: Record<string, unknown>;
}

/** A dashboard action: a device step of the scenario vocabulary (kernel/scenario/steps, DEVICE_STEPS). */
export type Action = StepFields;
