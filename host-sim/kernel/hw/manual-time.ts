/**
 * A small manual clock with Timers, for pin-level tests and emulators that need time.
 */
import type { TimerId, Timers } from "../../../firmware/core/ports";

// ---------------------------------------------------------------------------------------
// Virtual time

export interface TimeSource {
  now(): number;
}

export interface PendingTimer {
  id: number;
  at: number;
  every: number; // 0 = one shot
  seq: number;
  cb: () => void;
}

/**
 * A tiny deterministic virtual clock + Timers. Nothing runs until advance()/advanceTo().
 * Timers due at the same instant run in scheduling order. Capacity: `maxTimers`
 * (default 256) pending timers; scheduling more throws RangeError("TIMERS_FULL").
 */
export class ManualTime implements TimeSource, Timers {
  #now: number;
  #seq = 0;
  #nextId = 1;
  #pending: PendingTimer[] = [];
  readonly #max: number;

  constructor(startMs = 0, maxTimers = 256) {
    this.#now = startMs;
    this.#max = maxTimers;
  }
  now(): number {
    return this.#now;
  }
  once(ms: number, cb: () => void): TimerId {
    return this.#add(ms, 0, cb);
  }
  repeat(ms: number, cb: () => void): TimerId {
    if (!(ms >= 1)) throw new RangeError("repeat ms must be >= 1");
    return this.#add(ms, ms, cb);
  }
  cancel(id: TimerId): void {
    const i = this.#pending.findIndex((t) => t.id === id);
    if (i >= 0) this.#pending.splice(i, 1);
  }
  /** Number of pending timers. */
  get pending(): number {
    return this.#pending.length;
  }
  /** Run every timer due up to now + ms, advancing the clock to each due time in turn. */
  advance(ms: number): void {
    this.advanceTo(this.#now + ms);
  }
  advanceTo(target: number): void {
    if (target < this.#now) throw new RangeError("time cannot go backwards");
    for (;;) {
      const next = this.#earliest();
      if (!next || next.at > target) break;
      this.#now = next.at;
      if (next.every > 0) {
        next.at += next.every;
        next.seq = this.#seq++;
      } else {
        this.#pending.splice(this.#pending.indexOf(next), 1);
      }
      next.cb();
    }
    this.#now = target;
  }
  #earliest(): PendingTimer | undefined {
    let best: PendingTimer | undefined;
    for (const t of this.#pending) {
      if (!best || t.at < best.at || (t.at === best.at && t.seq < best.seq)) best = t;
    }
    return best;
  }
  #add(ms: number, every: number, cb: () => void): TimerId {
    if (this.#pending.length >= this.#max) throw new RangeError("TIMERS_FULL");
    const delay = ms > 0 ? ms : 0;
    const id = this.#nextId++;
    this.#pending.push({ id, at: this.#now + delay, every, seq: this.#seq++, cb });
    return id;
  }
}
