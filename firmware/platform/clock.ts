/**
 * Clock port on Moddable's `time` module.
 *
 * monoMs: Time.ticks is a signed 32-bit millisecond counter on the ESP32 and wraps after
 * ~24.8 days, so it is accumulated with the wrap-safe Time.delta. Any call within 24 days
 * of the previous one keeps it exact; `keepAlive` installs an hourly call to guarantee it.
 *
 * wallMs: undefined ("unset") until markSynced() is called after a successful SNTP
 * exchange (firmware/platform/sntp.ts). Before that, Date.now() on the ESP32 counts
 * from 1970 at boot and must not be used as UTC. A reboot makes it unset again: the
 * ESP32 has no battery-backed clock on the reference board.
 */
import type { Clock, Timers } from "../core/ports";

export interface DeviceClock extends Clock {
  /** Call once Time.set() received a real UTC time. */
  markSynced(): void;
  readonly synced: boolean;
  /** Keep monoMs exact across tick wrap-around even if nobody reads it for weeks. */
  keepAlive(timers: Timers): void;
}

/** Earliest plausible UTC (2024-01-01): guards against a bogus SNTP answer. */
const MIN_PLAUSIBLE_UTC = 1_704_067_200_000;

/** What the clock needs of Moddable's "time" module (ticks: ms, wrapping; delta handles the wrap). */
export interface TimeModule {
  readonly ticks: number;
  delta(start: number, end: number): number;
}

/** `now`: the wall clock Time.set() sets (Date.now on the device). */
export function createClock(Time: TimeModule, now: () => number = () => Date.now()): DeviceClock {
  let last = Time.ticks;
  let mono = 0;
  let synced = false;
  return {
    monoMs(): number {
      const now = Time.ticks;
      const d = Time.delta(last, now);
      if (d > 0) mono += d;
      last = now;
      return mono;
    },
    wallMs(): number | undefined {
      if (!synced) return undefined;
      const t = now();
      return t >= MIN_PLAUSIBLE_UTC ? t : undefined;
    },
    markSynced(): void {
      synced = true;
    },
    get synced(): boolean {
      return synced;
    },
    keepAlive(timers: Timers): void {
      timers.repeat(3_600_000, () => void this.monoMs());
    },
  };
}
