/**
 * Virtual time for the simulator: one ordered queue of callbacks keyed by (time, insertion order),
 * so a run is deterministic on every engine. Device timers belong to a group that a power cut
 * cancels at once.
 */
import type { TimerId, Timers } from "../../../firmware/core/ports";
import { TimerHeap } from "./timer-heap";

interface Entry {
  readonly at: number;
  readonly order: number;
  readonly id: number;
  readonly group: number;
  readonly cb: () => void;
}

/** What a simulated device needs of a scheduler: the virtual one below, or the live simulator's warpable one. */
export interface SchedulerLike {
  readonly now: number;
  at(t: number, cb: () => void, group?: number): number;
  cancel(id: number): void;
  cancelGroup(group: number): void;
  timers(group: number): Timers;
  /** A timer group no one else has (one per device boot: a power cut cancels only its own timers). */
  newGroup(): number;
}

export class Scheduler implements SchedulerLike {
  private readonly heap = new TimerHeap<Entry>();
  private order = 0;
  private nextId = 1;
  private lastGroup = 0;
  /** Ids still pending (cancelling removes them; entries of removed ids are skipped when popped). */
  private readonly pending = new Map<number, number>();
  private readonly groups = new Map<number, Set<number>>();
  /**
   * Groups cancelled for good (a boot that lost power): anything scheduled into one later — a
   * broker's late callback to a dead incarnation's socket — never runs. One entry per boot.
   */
  private readonly dead = new Set<number>();
  /** Repeating timers re-arm under a new id: public id → pending id of the series and its group. */
  private readonly alias = new Map<number, { current: number; group: number }>();
  /** Callbacks run so far. */
  executed = 0;
  /** Current virtual time (UTC ms). */
  now: number;

  constructor(start: number) {
    this.now = start;
  }

  at(t: number, cb: () => void, group = 0): number {
    const id = this.nextId++;
    if (group !== 0 && this.dead.has(group)) return id;
    this.heap.push({ at: Math.max(t, this.now), order: this.order++, id, group, cb });
    this.pending.set(id, group);
    if (group !== 0) {
      let g = this.groups.get(group);
      if (g === undefined) this.groups.set(group, (g = new Set()));
      g.add(id);
    }
    return id;
  }

  /** Cancel a pending callback; an unknown or already-run id is ignored (nothing is remembered). */
  cancel(id: number): void {
    const group = this.pending.get(id);
    if (group === undefined) return;
    this.pending.delete(id);
    if (group !== 0) this.groups.get(group)?.delete(id);
  }

  newGroup(): number {
    return ++this.lastGroup;
  }

  /** Cancel every pending callback of a group (power cut). */
  cancelGroup(group: number): void {
    if (group !== 0) this.dead.add(group);
    const g = this.groups.get(group);
    if (g === undefined) return;
    for (const id of g) this.pending.delete(id);
    this.groups.delete(group);
    for (const [id, a] of this.alias) if (a.group === group) this.alias.delete(id);
  }

  /** Callbacks still pending. */
  get pendingCount(): number {
    return this.pending.size;
  }

  /** Instant of the next pending callback (undefined when none). */
  nextAt(): number | undefined {
    for (;;) {
      const top = this.heap.peek();
      if (top === undefined) return undefined;
      if (this.pending.has(top.id)) return top.at;
      this.heap.pop();
    }
  }

  /**
   * Run callbacks in order until `end` (inclusive); `onError` decides what a throw means.
   * `yieldNow`, checked every 64 callbacks, may stop the run early (a real-time driver keeping
   * its event loop responsive): then it returns false and `now` is the last instant processed.
   */
  runUntil(end: number, onError: (e: unknown, group: number) => void, yieldNow?: () => boolean): boolean {
    let n = 0;
    for (;;) {
      const top = this.heap.peek();
      if (top === undefined || top.at > end) break;
      this.heap.pop();
      if (!this.pending.delete(top.id)) continue;
      if (top.group !== 0) this.groups.get(top.group)?.delete(top.id);
      this.now = top.at;
      this.executed++;
      try {
        top.cb();
      } catch (e) {
        onError(e, top.group);
      }
      if (yieldNow !== undefined && (++n & 63) === 0 && yieldNow()) {
        const next = this.nextAt();
        if (next !== undefined && next <= end) return false;
      }
    }
    if (end > this.now) this.now = end;
    return true;
  }

  /** A Timers port whose callbacks belong to `group`. Delays are integers (ms). */
  timers(group: number): Timers {
    const alias = this.alias;
    return {
      once: (ms: number, cb: () => void): TimerId => this.at(this.now + Math.max(0, Math.ceil(ms)), cb, group),
      repeat: (ms: number, cb: () => void): TimerId => {
        const period = Math.max(1, Math.ceil(ms));
        // The id of the first run stands for the whole series; later runs map to it.
        const run = (): void => {
          const a = alias.get(first);
          if (a !== undefined) a.current = this.at(this.now + period, run, group);
          cb();
        };
        const first = this.at(this.now + period, run, group);
        alias.set(first, { current: first, group });
        return first;
      },
      cancel: (id: TimerId): void => {
        const a = alias.get(id);
        if (a !== undefined) {
          this.cancel(a.current);
          alias.delete(id);
        }
        this.cancel(id);
      },
    };
  }
}
