/**
 * Wall-clock sync with the SDK's `sntp` module. Call start() when the network is up.
 * On success: setTime(seconds) (Time.set), then onSynced() (clock.markSynced() and
 * the dispenser's clockChanged()), and a re-sync after `resyncMs` (default 6 h) to
 * bound drift. On failure it fails over through `hosts`, then retries after `retryMs`.
 * Until the first success the Clock port reports wallMs() === undefined.
 */
import type { TimerId, Timers } from "../core/ports";

export type SntpClass = new (options: { host: string }, cb: (message: number, value?: number | string) => string | void) => unknown;

export interface SntpOptions {
  SNTP: SntpClass;
  hosts: readonly string[];
  timers: Timers;
  setTime(seconds: number): void;
  onSynced(): void;
  resyncMs?: number;
  retryMs?: number;
}

export interface SntpSync {
  start(): void;
  stop(): void;
}

export function createSntp(o: SntpOptions): SntpSync {
  if (o.hosts.length === 0) throw new RangeError("SNTP: no host");
  let timer: TimerId | undefined;
  let running = false;
  let busy = false;
  const later = (ms: number): void => {
    if (timer !== undefined) o.timers.cancel(timer);
    timer = o.timers.once(ms, () => {
      timer = undefined;
      run();
    });
  };
  const run = (): void => {
    if (!running || busy) return;
    busy = true;
    let next = 1;
    try {
      new o.SNTP({ host: o.hosts[0] }, (message, value) => {
        if (message === 1 && typeof value === "number") {
          busy = false;
          if (!running) return;
          o.setTime(value);
          o.onSynced();
          later(o.resyncMs ?? 6 * 3_600_000);
        } else if (message === -1) {
          if (next < o.hosts.length) return o.hosts[next++]; // fail over
          busy = false;
          if (running) later(o.retryMs ?? 60_000);
        }
      });
    } catch {
      busy = false;
      later(o.retryMs ?? 60_000);
    }
  };
  return {
    start(): void {
      if (running) return;
      running = true;
      later(0);
    },
    stop(): void {
      running = false;
      if (timer !== undefined) o.timers.cancel(timer);
      timer = undefined;
    },
  };
}
