/**
 * Virtual time over real time for the live simulator (Node only).
 *
 * Virtual time runs `warp` times faster than real time (0 = paused). Changing the warp re-anchors
 * the mapping at the current virtual instant, so virtual time never jumps. A real-time pump runs
 * every due virtual timer in order, in batches with a CPU budget per batch: when the devices ask
 * for more work than fits (thousands of load-cell samples per real second at 3600×), virtual time
 * slips behind the ideal mapping instead of freezing the event loop (`lagMs` says by how much).
 *
 * Ordering is the kernel Scheduler's: (time, insertion order); timer groups die at a power cut.
 * `advanceTo(t)` runs everything up to t as fast as the CPU allows (tests, "jump to next dose")
 * and is deterministic: the same timers run in the same order at the same virtual instants.
 */
import type { TimerId, Timers } from "../../firmware/core/ports";
import type { SchedulerLike } from "../kernel/sim-device";
import { TimerHeap } from "../kernel/timer-heap";

interface Entry {
  readonly at: number;
  readonly order: number;
  readonly id: number;
  readonly group: number;
  readonly cb: () => void;
  dead: boolean;
}

export interface WarpSchedulerOptions {
  /** Virtual start instant (UTC ms). */
  readonly start: number;
  /** Initial warp factor (0 = paused). Default 60. */
  readonly warp?: number;
  /** Error hook for a throwing callback (e.g. a simulated PowerCut); default rethrows asynchronously. */
  readonly onError?: (e: unknown, group: number) => void;
  /** Real milliseconds between pump batches. Default 20. */
  readonly tickMs?: number;
  /** CPU budget of one batch (real ms). Default 30. */
  readonly budgetMs?: number;
  /** Real clock (ms, monotonic); injectable for tests. Default performance.now. */
  readonly realNow?: () => number;
}

export const MAX_WARP = 100_000;

export class WarpScheduler implements SchedulerLike {
  private readonly heap = new TimerHeap<Entry>();
  private readonly live = new Map<number, Entry>();
  private readonly groups = new Map<number, Set<number>>();
  /** Repeating series: public id → id of the pending run. */
  private readonly series = new Map<number, { current: number; group: number }>();
  private order = 0;
  private nextId = 1;
  private warpFactor: number;
  private anchorVirtual: number;
  private anchorReal: number;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private running = false;
  private advancing = false;
  private readonly realNow: () => number;
  private readonly tickMs: number;
  private readonly budgetMs: number;
  onError: (e: unknown, group: number) => void;
  /** Virtual time as seen by callbacks: the instant of the running callback, else the last processed instant. */
  now: number;
  /** How far virtual time slipped behind the ideal mapping at the last batch (virtual ms). */
  lagMs = 0;
  /** Callbacks run so far. */
  executed = 0;
  /** Called after each batch that ran at least one callback or moved time (for UI throttling). */
  onBatch: (() => void) | undefined;

  constructor(o: WarpSchedulerOptions) {
    this.now = o.start;
    this.anchorVirtual = o.start;
    this.realNow = o.realNow ?? (() => performance.now());
    this.anchorReal = this.realNow();
    this.warpFactor = clampWarp(o.warp ?? 60);
    this.tickMs = o.tickMs ?? 20;
    this.budgetMs = o.budgetMs ?? 30;
    this.onError =
      o.onError ??
      ((e) => {
        throw e;
      });
  }

  // ------------------------------------------------------------------ SchedulerLike

  at(t: number, cb: () => void, group = 0): number {
    const id = this.nextId++;
    const e: Entry = { at: Math.max(t, this.now), order: this.order++, id, group, cb, dead: false };
    this.heap.push(e);
    this.live.set(id, e);
    if (group !== 0) {
      let g = this.groups.get(group);
      if (g === undefined) this.groups.set(group, (g = new Set()));
      g.add(id);
    }
    return id;
  }

  cancel(id: number): void {
    const s = this.series.get(id);
    if (s !== undefined) {
      this.series.delete(id);
      this.kill(s.current);
    }
    this.kill(id);
  }

  cancelGroup(group: number): void {
    const g = this.groups.get(group);
    if (g !== undefined) {
      for (const id of g) this.kill(id);
      this.groups.delete(group);
    }
    for (const [id, s] of this.series) if (s.group === group) this.series.delete(id);
  }

  timers(group: number): Timers {
    return {
      once: (ms: number, cb: () => void): TimerId => this.at(this.now + Math.max(0, Math.ceil(ms)), cb, group),
      repeat: (ms: number, cb: () => void): TimerId => {
        const period = Math.max(1, Math.ceil(ms));
        const run = (): void => {
          const s = this.series.get(first);
          if (s !== undefined) s.current = this.at(this.now + period, run, group);
          cb();
        };
        const first = this.at(this.now + period, run, group);
        this.series.set(first, { current: first, group });
        return first;
      },
      cancel: (id: TimerId): void => this.cancel(id),
    };
  }

  // ------------------------------------------------------------------ warp

  get warp(): number {
    return this.warpFactor;
  }

  /** Change the speed; virtual time continues from where it is (no jump). */
  setWarp(w: number): void {
    this.reanchor(this.now);
    this.warpFactor = clampWarp(w);
  }

  /** Where virtual time should be now according to the real clock. */
  ideal(): number {
    return this.anchorVirtual + (this.realNow() - this.anchorReal) * this.warpFactor;
  }

  /** Instant of the next pending callback (undefined when none). */
  nextAt(): number | undefined {
    this.dropDeadTop();
    return this.heap.peek()?.at;
  }

  /** Pending callbacks. */
  get pending(): number {
    return this.live.size;
  }

  // ------------------------------------------------------------------ running

  /** Start the real-time pump. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.reanchor(this.now);
    this.schedule();
  }

  stop(): void {
    this.running = false;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /**
   * Run every callback up to `end` (inclusive) within `budgetMs` of real time.
   * Returns true when `end` was reached; otherwise `now` is the last instant processed.
   */
  runUntil(end: number, budgetMs = Infinity): boolean {
    const t0 = this.realNow();
    let n = 0;
    for (;;) {
      const top = this.heap.peek();
      if (top === undefined || top.at > end) break;
      this.heap.pop();
      if (top.dead) continue;
      this.live.delete(top.id);
      if (top.group !== 0) this.groups.get(top.group)?.delete(top.id);
      this.now = top.at;
      this.executed++;
      try {
        top.cb();
      } catch (e) {
        this.onError(e, top.group);
      }
      // Check the clock every 64 callbacks only: performance.now() is not free.
      if ((++n & 63) === 0 && this.realNow() - t0 > budgetMs) {
        const next = this.heap.peek();
        if (next !== undefined && next.at <= end) return false;
      }
    }
    if (end > this.now) this.now = end;
    return true;
  }

  /**
   * Bring virtual time to `t` as fast as possible (never backwards), yielding to the event loop
   * between batches so that servers stay responsive; afterwards real-time pacing resumes from t.
   */
  async advanceTo(t: number): Promise<void> {
    if (t <= this.now) return;
    this.advancing = true;
    try {
      while (!this.runUntil(t, this.budgetMs)) {
        this.onBatch?.();
        await new Promise<void>((r) => setImmediate(r));
      }
      this.reanchor(this.now);
    } finally {
      this.advancing = false;
    }
    this.onBatch?.();
  }

  /** Catch up with the real-time mapping now (before applying a user action). */
  sync(): void {
    if (this.advancing || this.warpFactor === 0) return;
    const target = Math.floor(this.ideal());
    if (target > this.now) this.runUntil(target, this.budgetMs);
  }

  private schedule(): void {
    if (!this.running) return;
    this.timer = setTimeout(() => this.tick(), this.tickMs);
  }

  private tick(): void {
    this.timer = undefined;
    if (!this.running) return;
    if (!this.advancing && this.warpFactor > 0) {
      const target = Math.floor(this.ideal());
      const before = this.executed;
      const moved = target > this.now;
      const done = target > this.now ? this.runUntil(target, this.budgetMs) : true;
      if (!done) {
        // Too much work for real time: let virtual time slip instead of blocking the loop.
        this.lagMs = target - this.now;
        this.reanchor(this.now);
      } else this.lagMs = 0;
      if (moved || this.executed !== before) this.onBatch?.();
    }
    this.schedule();
  }

  private reanchor(v: number): void {
    this.anchorVirtual = v;
    this.anchorReal = this.realNow();
  }

  private kill(id: number): void {
    const e = this.live.get(id);
    if (e === undefined) return;
    e.dead = true;
    this.live.delete(id);
    if (e.group !== 0) this.groups.get(e.group)?.delete(id);
  }

  private dropDeadTop(): void {
    while (this.heap.peek()?.dead === true) this.heap.pop();
  }
}

function clampWarp(w: number): number {
  if (!Number.isFinite(w) || w <= 0) return 0;
  return Math.min(w, MAX_WARP);
}

