/**
 * Group commit: units of store work (an incoming message, a finished job, a receipt's PUBACK)
 * queue here and commit together, one transaction (one WAL write) for everything that arrived
 * while the previous one was being written. A unit's `after` actions (kick the worker, publish
 * a receipt, acknowledge the message) run only once its transaction committed. When a batch
 * fails, nothing of it was committed: its units are retried one by one so that one bad unit
 * fails alone.
 */
import type { Tx, Unit } from "../context";
import type { RelayDb } from "../types";

export interface CommitOptions {
  /** Units per transaction (1 = no grouping). */
  readonly maxItems: number;
  /** Wait this long for more units before committing a partial batch (0: commit when idle). */
  readonly maxWaitMs: number;
}

export class CommitQueue {
  private readonly units: { fn: Unit; settle(err: { e: unknown } | null): void }[] = [];
  private committing = false;
  private flushArmed = false;
  private readonly done = new Set<() => void>();

  constructor(
    private readonly db: RelayDb,
    private readonly o: CommitOptions,
    private readonly log: (line: string) => void,
    private readonly dead: () => boolean,
  ) {}

  /** Units waiting for their commit. */
  get length(): number {
    return this.units.length;
  }

  unit(fn: Unit): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.units.push({ fn, settle: (err) => (err === null ? resolve() : reject(err.e)) });
      if (this.committing || this.flushArmed) return; // the running flush takes it, or the armed one will
      this.flushArmed = true;
      if (this.o.maxWaitMs > 0 && this.units.length < this.o.maxItems) setTimeout(() => void this.flush(), this.o.maxWaitMs);
      else setImmediate(() => void this.flush());
    });
  }

  /** Resolves once no unit is queued or committing. */
  async drain(): Promise<void> {
    while (this.committing || this.flushArmed || this.units.length > 0) {
      await new Promise<void>((r) => {
        this.done.add(r);
        setTimeout(() => {
          this.done.delete(r);
          r();
        }, 5);
      });
    }
  }

  private async flush(): Promise<void> {
    this.flushArmed = false;
    if (this.committing) return;
    this.committing = true;
    try {
      while (this.units.length > 0) await this.commit(this.units.splice(0, this.o.maxItems));
    } finally {
      this.committing = false;
      for (const f of this.done) f();
    }
  }

  private runAfter(fs: (() => void)[]): void {
    for (const f of fs) {
      try {
        f();
      } catch (e) {
        this.log(`after-commit ${String(e)}`);
      }
    }
  }

  private async commit(items: { fn: Unit; settle(err: { e: unknown } | null): void }[]): Promise<void> {
    if (this.dead()) {
      for (const it of items) it.settle({ e: new Error("relay aborted") });
      return;
    }
    const db = this.db;
    if (items.length > 1 && db.batch !== undefined) {
      const after: (() => void)[] = [];
      try {
        await db.batch(items.map((it) => (t: RelayDb) => it.fn({ db: t, after: (f) => after.push(f) })));
        this.runAfter(after);
        for (const it of items) it.settle(null);
        return;
      } catch (e) {
        this.log(`batch of ${items.length} rolled back (${String(e)}): committing one by one`);
      }
    }
    for (const it of items) {
      const after: (() => void)[] = [];
      const tx = (t: RelayDb): Tx => ({ db: t, after: (f) => after.push(f) });
      try {
        if (db.batch !== undefined) await db.batch([(t) => it.fn(tx(t))]);
        else await it.fn(tx(db));
      } catch (e) {
        it.settle({ e });
        continue;
      }
      this.runAfter(after);
      it.settle(null);
    }
  }
}
