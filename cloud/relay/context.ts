/**
 * What the relay's handlers and jobs share: the store, the clock and log, the contact book and
 * the devices' schedules as last loaded, the audit, the group-commit queue and the worker.
 */
import type { ContactBook } from "./contacts";
import type { ScheduleBook } from "./schedules";
import type { Providers, RelayDb } from "./types";

/** A unit of database work: every call goes to `db` (the open transaction); `after` runs once it committed. */
export interface Tx {
  readonly db: RelayDb;
  after(f: () => void): void;
}

export type Unit = (x: Tx) => Promise<void>;

export interface RelayCtx {
  readonly db: RelayDb;
  readonly clock: () => number;
  readonly log: (line: string) => void;
  readonly instanceId: string;
  readonly providers: Providers;
  readonly schedules: ScheduleBook;
  /** Contacts as last loaded from the store (replaced by reload()). */
  book: ContactBook;
  /** stopped: no new work; dead: aborted (tests' crash), nothing more touches the store. */
  readonly life: { stopped: boolean; dead: boolean };
  /** Queue a unit of store work for the next group commit; resolves once committed. */
  unit(fn: Unit): Promise<void>;
  /** Wake the worker (due jobs). */
  kick(): void;
  /** Whether the broker connection is up (receipts are republished only then). */
  connected(): boolean;
  /** Publish a receipt to a device (QoS 1); `done` after the broker acknowledged it. */
  publishReceipt(device: string, json: string, done: (err?: Error) => void): void;
  audit(x: Tx, action: string, device: string | null, code: string | null, detail: unknown): Promise<void>;
  /** Whether one more fallback page (to the pharmacist / on-call) may go out for `device` now. */
  allowFallback(device: string, now: number): boolean;
}

/** At most `max` events per `windowMs` per key (fixed windows), for at most 10,000 keys at a time. */
export class WindowLimit {
  private readonly w = new Map<string, { start: number; n: number }>();
  constructor(
    private readonly max: number,
    private readonly windowMs: number,
  ) {}
  allow(key: string, now: number): boolean {
    let e = this.w.get(key);
    if (e === undefined || now - e.start >= this.windowMs || now < e.start) {
      if (this.w.size >= 10_000) this.w.clear();
      e = { start: now, n: 0 };
      this.w.set(key, e);
    }
    if (e.n >= this.max) return false;
    e.n++;
    return true;
  }
}

/** Fallback pages per device per hour: enough for every dose of a busy day, not for a flood. */
export const FALLBACKS_PER_HOUR = 12;

/** Recipient reference of a device's pharmacist (fallbacks, refill alerts). */
export const PHARMACIST_REF = "@pharmacist";

/** Outside any batch (start-up, dead-man reads, republishing): calls go to the store directly. */
export function direct(db: RelayDb): Tx {
  return { db, after: (f) => f() };
}
