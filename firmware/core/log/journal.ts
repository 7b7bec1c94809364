/**
 * One event, one id, across any power cut (docs/event-log.md, "State and events together").
 *
 * A change of the dose state and the events it produces are two record writes (the state
 * record and an event-log page). Logged first, a cut before the state write makes the boot
 * redo the change and log its events again under new ids (a second `dose.due`); saved first,
 * a cut before the log write would lose the events. The journal does neither: inside tx() the
 * events are collected, the state record is saved carrying them with the seq each will get
 * (the write-ahead list), and only then are they appended. At boot, recover() appends the
 * entries of that list the log does not hold yet (seq ≥ the log's next seq) — they get the
 * same seq, hence the same id, and the same clock readings as when they happened.
 *
 * Bounded: a change producing more than WAL_MAX events (a catch-up after a long power-off is
 * capped at 32 slots) is logged first and saved after, as before: a cut in between can then
 * repeat events under new ids, which the relay sees as distinct (documented).
 */
import type { EventClass, EventLog, LoggedEvent } from "./eventlog";
import { CLS } from "./records";

export const WAL_MAX = 80;

/** [seq, type, class index, data, mono, wall] */
export type WalEntry = [number, string, number, Record<string, unknown>, number, number | null];

interface Held {
  type: string;
  cls: EventClass;
  data: Record<string, unknown>;
  mono: number;
  wall: number | null;
}

export class Journal {
  private readonly log: EventLog;
  private readonly emit: (ev: LoggedEvent) => void;
  private held: Held[] | undefined;
  private dirty = false;

  /** `emit` is called with every event once it is in the log (delivery, observers). */
  constructor(log: EventLog, emit: (ev: LoggedEvent) => void) {
    this.log = log;
    this.emit = emit;
  }

  /**
   * Log an event now, or — inside tx() — when the transaction commits. In a transaction the
   * returned event is provisional (seq 0, id "").
   */
  append(type: string, cls: EventClass, data: Record<string, unknown>, mono: number, wall: number | null): LoggedEvent {
    if (this.held !== undefined) {
      this.held.push({ type, cls, data, mono, wall });
      return { seq: 0, id: "", mono, wall, type, cls, data };
    }
    return this.put(type, cls, data, mono, wall);
  }

  /**
   * Run `fn`, which changes the state and logs through append(); it returns whether the state
   * changed. Then `save(wal)` persists the state with the write-ahead list, and the events are
   * appended. Nested calls join the outer transaction.
   */
  tx(fn: () => boolean, save: (wal: WalEntry[]) => void): void {
    if (this.held !== undefined) {
      if (fn()) this.dirty = true;
      return;
    }
    this.held = [];
    this.dirty = false;
    let changed = false;
    let done = false;
    try {
      changed = fn();
      done = true;
    } finally {
      const held = this.held;
      this.held = undefined;
      if (!done) for (const h of held) this.put(h.type, h.cls, h.data, h.mono, h.wall);
      else this.commit(held, changed || this.dirty, save);
    }
  }

  /** At boot, before anything else is logged: append what the last saved state announced and the log lacks. */
  recover(wal: readonly WalEntry[] | undefined): number {
    let n = 0;
    if (!Array.isArray(wal)) return n;
    for (const w of wal) {
      if (!validEntry(w) || w[0] < this.log.nextSeq()) continue;
      this.put(w[1], CLS[w[2]], w[3], w[4], w[5]);
      n++;
    }
    return n;
  }

  private commit(held: Held[], changed: boolean, save: (wal: WalEntry[]) => void): void {
    if (held.length === 0) {
      if (changed) save([]);
      return;
    }
    if (held.length > WAL_MAX) {
      for (const h of held) this.put(h.type, h.cls, h.data, h.mono, h.wall);
      save([]);
      return;
    }
    const base = this.log.nextSeq();
    save(held.map((h, i): WalEntry => [base + i, h.type, CLS.indexOf(h.cls), h.data, h.mono, h.wall]));
    let exact = true;
    for (const [i, h] of held.entries()) if (this.put(h.type, h.cls, h.data, h.mono, h.wall).seq !== base + i) exact = false;
    // An info event refused by a full log shifts the seqs after it: the list is no longer a true
    // forecast, and everything in it is logged now, so it is cleared.
    if (!exact) save([]);
  }

  private put(type: string, cls: EventClass, data: Record<string, unknown>, mono: number, wall: number | null): LoggedEvent {
    const ev = this.log.append(type, cls, data, mono, wall);
    this.emit(ev);
    return ev;
  }
}

function validEntry(w: unknown): w is WalEntry {
  if (!Array.isArray(w) || w.length !== 6) return false;
  return (
    typeof w[0] === "number" &&
    typeof w[1] === "string" &&
    typeof w[2] === "number" &&
    CLS[w[2]] !== undefined &&
    w[3] !== null &&
    typeof w[3] === "object" &&
    typeof w[4] === "number" &&
    (w[5] === null || typeof w[5] === "number")
  );
}
