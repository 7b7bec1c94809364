/**
 * Virtual time for the simulator: one ordered queue of callbacks keyed by (time, insertion order),
 * so a run is deterministic on every engine. Device timers belong to a group that a power cut
 * cancels at once.
 */
import type { TimerId, Timers } from "../../firmware/core/ports";

interface Entry {
  readonly at: number;
  readonly order: number;
  readonly id: number;
  readonly group: number;
  readonly cb: () => void;
}

export class Scheduler {
  private heap: Entry[] = [];
  private order = 0;
  private nextId = 1;
  private readonly cancelled = new Set<number>();
  private readonly groups = new Map<number, Set<number>>();
  /** Repeating timers re-arm under a new id: public id → pending id. */
  private readonly alias = new Map<number, number>();
  /** Current virtual time (UTC ms). */
  now: number;

  constructor(start: number) {
    this.now = start;
  }

  at(t: number, cb: () => void, group = 0): number {
    const id = this.nextId++;
    this.push({ at: Math.max(t, this.now), order: this.order++, id, group, cb });
    if (group !== 0) {
      let g = this.groups.get(group);
      if (g === undefined) this.groups.set(group, (g = new Set()));
      g.add(id);
    }
    return id;
  }

  cancel(id: number): void {
    this.cancelled.add(id);
  }

  /** Cancel every pending callback of a group (power cut). */
  cancelGroup(group: number): void {
    const g = this.groups.get(group);
    if (g === undefined) return;
    for (const id of g) this.cancelled.add(id);
    this.groups.delete(group);
  }

  /** Run callbacks in order until `end` (inclusive); `onError` decides what a throw means. */
  runUntil(end: number, onError: (e: unknown, group: number) => void): void {
    for (;;) {
      const top = this.heap[0];
      if (top === undefined || top.at > end) break;
      this.pop();
      if (this.cancelled.has(top.id)) {
        this.cancelled.delete(top.id);
        continue;
      }
      this.groups.get(top.group)?.delete(top.id);
      this.now = top.at;
      try {
        top.cb();
      } catch (e) {
        onError(e, top.group);
      }
    }
    this.now = end;
  }

  /** A Timers port whose callbacks belong to `group`. Delays are integers (ms). */
  timers(group: number): Timers {
    const alias = this.alias;
    return {
      once: (ms: number, cb: () => void): TimerId => this.at(this.now + Math.max(0, Math.ceil(ms)), cb, group),
      repeat: (ms: number, cb: () => void): TimerId => {
        const period = Math.max(1, Math.ceil(ms));
        // The id of the first run stands for the whole series; later runs map to it.
        let current = 0;
        const run = (): void => {
          current = this.at(this.now + period, run, group);
          alias.set(first, current);
          cb();
        };
        const first = this.at(this.now + period, run, group);
        current = first;
        alias.set(first, current);
        return first;
      },
      cancel: (id: TimerId): void => {
        const cur = alias.get(id);
        if (cur !== undefined) {
          this.cancel(cur);
          alias.delete(id);
        }
        this.cancel(id);
      },
    };
  }

  private push(e: Entry): void {
    const h = this.heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (less(h[p], h[i])) break;
      [h[p], h[i]] = [h[i], h[p]];
      i = p;
    }
  }

  private pop(): void {
    const h = this.heap;
    const last = h.pop();
    if (last === undefined || h.length === 0) return;
    h[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && less(h[l], h[m])) m = l;
      if (r < h.length && less(h[r], h[m])) m = r;
      if (m === i) break;
      [h[m], h[i]] = [h[i], h[m]];
      i = m;
    }
  }
}

function less(a: Entry, b: Entry): boolean {
  return a.at < b.at || (a.at === b.at && a.order < b.order);
}
