/** Types shared by the live fleet and its transports (kept apart so neither imports the other). */
import type { SimDevice } from "../kernel/device/sim-device";

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
