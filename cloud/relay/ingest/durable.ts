/**
 * Storing an incoming message before it is acknowledged, whatever the store does:
 * - a store error (database locked, full, restarting) is retried with capped backoff, the
 *   acknowledgement held (so the broker keeps the message) and the relay reports `degraded`
 *   until a store succeeds again;
 * - a message that keeps failing with an error that is not a store fault (db/faults.ts) while
 *   the store itself works (a probe write succeeds) is a poison message: it is stored as a coded problem (audit RELAY_POISON) and then acknowledged,
 *   so it never blocks the stream;
 * - nothing is acknowledged when the relay is aborted mid-way (the broker redelivers).
 */
import type { RelayCtx } from "../context";
import { isStoreFault } from "../db/faults";

export interface Health {
  readonly state: "ok" | "degraded";
  /** Since when the store has been failing (ms), or null. */
  readonly since: number | null;
  readonly lastError: string | null;
  /** Messages waiting for a successful store. */
  readonly waiting: number;
}

/** Failed attempts of one message before the store is probed for a poison message. */
export const POISON_AFTER = 3;
const BACKOFF_MIN_MS = 50;
const BACKOFF_MAX_MS = 2_000;

export class DurableIngest {
  private failingSince: number | null = null;
  private lastError: string | null = null;
  private waiting = 0;

  constructor(
    private readonly ctx: RelayCtx,
    private readonly storeOnce: (topic: string, payload: Buffer, at: number, retained: boolean) => Promise<void>,
  ) {}

  health(): Health {
    return {
      state: this.failingSince === null ? "ok" : "degraded",
      since: this.failingSince,
      lastError: this.lastError,
      waiting: this.waiting,
    };
  }

  /** Resolves true once the message (or its poison record) is committed; false when aborted (do not acknowledge). */
  async store(topic: string, payload: Buffer, at: number, retained: boolean): Promise<boolean> {
    const ctx = this.ctx;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.storeOnce(topic, payload, at, retained);
        if (attempt > 1) this.waiting--;
        this.ok();
        return true;
      } catch (e) {
        if (ctx.life.dead) return false;
        if (attempt === 1) this.waiting++;
        this.fail(e);
        // Poison only when the message fails right after the store was shown to work (a probe
        // write committed) and the error is not the store's: a failure during an outage, or on a
        // disk so full that a small write still fits where the message does not, is not.
        if (attempt >= POISON_AFTER && !isStoreFault(e) && (await this.probe())) {
          try {
            await this.storeOnce(topic, payload, at, retained);
            this.waiting--;
            this.ok();
            return true;
          } catch (again) {
            if (ctx.life.dead) return false;
            if (!isStoreFault(again) && (await this.poison(topic, payload, again))) {
              this.waiting--;
              this.ok(); // the store works: only that message did not
              return true;
            }
          }
        }
        await new Promise((r) => setTimeout(r, Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** (attempt - 1))));
        if (ctx.life.dead) return false;
      }
    }
  }

  /** A store succeeded: the relay is healthy again once no message is left failing. */
  private ok(): void {
    if (this.failingSince !== null && this.waiting === 0) {
      this.ctx.log(`[${this.ctx.instanceId}] store recovered after ${this.ctx.clock() - this.failingSince} ms`);
      this.failingSince = null;
    }
  }

  private fail(e: unknown): void {
    this.lastError = e instanceof Error ? e.message : String(e);
    if (this.failingSince === null) {
      this.failingSince = this.ctx.clock();
      this.ctx.log(`[${this.ctx.instanceId}] store failing (${this.lastError}): holding acknowledgements, retrying`);
    }
  }

  /** Whether the store commits a unit now. */
  private async probe(): Promise<boolean> {
    try {
      await this.ctx.unit(() => Promise.resolve());
      return true;
    } catch {
      return false;
    }
  }

  /** Records the message as a coded problem when the store works; false when the store is down. */
  private async poison(topic: string, payload: Buffer, e: unknown): Promise<boolean> {
    const ctx = this.ctx;
    try {
      await ctx.unit((x) =>
        x.db.audit({
          t: ctx.clock(),
          actor: "relay:" + ctx.instanceId,
          action: "message.problem",
          device: null,
          code: "RELAY_POISON",
          detail: JSON.stringify({ topic: topic.slice(0, 100), bytes: payload.length, error: String(e).slice(0, 200) }),
        }),
      );
      return true;
    } catch {
      return false;
    }
  }
}
