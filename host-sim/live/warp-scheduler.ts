/**
 * Virtual time over real time for the live simulator (Node only).
 *
 * Virtual time runs `warp` times faster than real time (0 = paused). Changing the warp re-anchors
 * the mapping at the current virtual instant, so virtual time never jumps. A real-time pump runs
 * every due virtual timer in order, in batches with a CPU budget per batch: when the devices ask
 * for more work than fits (thousands of load-cell samples per real second at 3600×), virtual time
 * slips behind the ideal mapping instead of freezing the event loop (`lagMs` says by how much).
 *
 * The queue is the kernel Scheduler itself (same ordering: time, then insertion; timer groups
 * that die at a power cut); this class only drives it from the real clock.
 * `advanceTo(t)` runs everything up to t as fast as the CPU allows (tests, "jump to next dose")
 * and is deterministic: the same timers run in the same order at the same virtual instants.
 */
import type { Timers } from "../../firmware/core/ports";
import type { SchedulerLike } from "../kernel/device/sim-device";
import { Scheduler } from "../kernel/time/scheduler";

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
  private readonly q: Scheduler;
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
  /** How far virtual time slipped behind the ideal mapping at the last batch (virtual ms). */
  lagMs = 0;
  /** Called after each batch that ran at least one callback or moved time (for UI throttling). */
  onBatch: (() => void) | undefined;

  constructor(o: WarpSchedulerOptions) {
    this.q = new Scheduler(o.start);
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

  // ------------------------------------------------------------------ SchedulerLike (the kernel queue)

  /** Virtual time as seen by callbacks: the instant of the running callback, else the last processed instant. */
  get now(): number {
    return this.q.now;
  }

  at(t: number, cb: () => void, group = 0): number {
    return this.q.at(t, cb, group);
  }

  cancel(id: number): void {
    this.q.cancel(id);
  }

  newGroup(): number {
    return this.q.newGroup();
  }

  cancelGroup(group: number): void {
    this.q.cancelGroup(group);
  }

  timers(group: number): Timers {
    return this.q.timers(group);
  }

  /** Callbacks run so far. */
  get executed(): number {
    return this.q.executed;
  }

  /** Pending callbacks. */
  get pending(): number {
    return this.q.pendingCount;
  }

  /** Instant of the next pending callback (undefined when none). */
  nextAt(): number | undefined {
    return this.q.nextAt();
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
    // The real clock is read every 64 callbacks only: performance.now() is not free.
    return this.q.runUntil(end, (e, g) => this.onError(e, g), budgetMs === Infinity ? undefined : () => this.realNow() - t0 > budgetMs);
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
}

function clampWarp(w: number): number {
  if (!Number.isFinite(w) || w <= 0) return 0;
  return Math.min(w, MAX_WARP);
}
