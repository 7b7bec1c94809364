/**
 * Timers port on Moddable's `timer` module. One-shot timers clear themselves after
 * firing (Moddable does it too); ids are small integers that are never reused.
 * Capacity: MAX_TIMERS live timers; scheduling more throws RangeError("TIMERS_FULL")
 * rather than growing the heap without bound.
 */
import type { TimerId, Timers } from "../core/ports";

export const MAX_TIMERS = 128;

/** Works with our declarations and with the SDK's typings (mcconfig build). */
/** What the port needs of Moddable's "timer" module. */
export interface TimerModule {
  set(callback: () => void, interval: number, repeat?: number): unknown;
  clear(timer: unknown): void;
}
type TimerHandle = unknown;

export function createTimers(Timer: TimerModule): Timers {
  const live = new Map<TimerId, TimerHandle>();
  let next = 1;
  const add = (ms: number, every: number, cb: () => void): TimerId => {
    if (live.size >= MAX_TIMERS) throw new RangeError("TIMERS_FULL");
    const id = next++;
    const delay = ms > 0 ? ms : 0;
    const fire = (): void => {
      if (every === 0) live.delete(id);
      cb();
    };
    live.set(id, every === 0 ? Timer.set(fire, delay) : Timer.set(fire, delay, every));
    return id;
  };
  return {
    once: (ms, cb) => add(ms, 0, cb),
    repeat: (ms, cb) => {
      if (!(ms >= 1)) throw new RangeError("repeat ms must be >= 1");
      return add(ms, ms, cb);
    },
    cancel(id) {
      const t = live.get(id);
      if (t === undefined) return;
      live.delete(id);
      Timer.clear(t);
    },
  };
}
