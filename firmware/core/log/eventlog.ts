/**
 * The event log, which is also the outbox (docs/event-log.md).
 *
 * Every event is persisted before append() returns, so nothing is offered to the network
 * that is not durable; the uplink sends pending() and calls ack() on each PUBACK.
 *
 * Layout: events are packed into P page records ("evp0".."evp<P-1>", each an A/B record of
 * core/store, at most pageBytes of JSON events) plus a meta record ("evmeta"). Order is by
 * seq, not by page, so any page with room takes a new event: append() rewrites exactly one
 * page (the least filled that fits), ack() rewrites the page of the acked event. Every page
 * write also carries the epoch and the counters (next seq, dropped), so seq survives any
 * power cut without a separate counter write; the meta record only changes on first boot,
 * erase() and a refused event. A record write is atomic (store A/B + CRC), and each
 * operation is one record write (two only when it must first drop a victim or coalesce
 * across pages), so a torn write loses at most the event in flight.
 *
 * Heap: the RAM index is four typed arrays of `capacity` entries (seq, class, page, size);
 * event bodies stay in flash and are parsed page by page.
 */

import type { Store } from "./store";
import { EventIndex } from "./event-index";
import {
  CLS,
  DOSE,
  type EventClass,
  isCount,
  META,
  type MetaRec,
  type PageRec,
  pageFill,
  pageName,
  type Rec,
  recBytes,
  validRec,
} from "./records";

export type { EventClass };

export interface LoggedEvent {
  seq: number;
  id: string;
  mono: number;
  wall: number | null;
  type: string;
  cls: EventClass;
  data: Record<string, unknown>;
}

export interface EventLogOptions {
  deviceId: string;
  /** Events the log holds (RAM index size), e.g. 256. */
  capacity: number;
  onFault?: (code: string, detail: string) => void;
  /** Page records (1..255); default max(2, ceil(capacity / 8)). */
  pages?: number;
  /** JSON bytes of events per page (256..3800); default 3000. */
  pageBytes?: number;
  /** Larger events have their data replaced by { _truncated: true, bytes } (64..pageBytes); default 1000. */
  maxEventBytes?: number;
}

/** Stored event: [seq, mono, wall, type, class (0 dose, 1 alert, 2 info), data, coalesced?]. */
export class EventLog {
  private readonly store: Store;
  private readonly deviceId: string;
  private readonly cap: number;
  private readonly nPages: number;
  private readonly pageBytes: number;
  private readonly maxEventBytes: number;
  private readonly onFault: ((code: string, detail: string) => void) | undefined;

  private epoch = 1;
  private n = 1;
  private d = 0;
  /** RAM index, ascending seq. */
  private readonly ix: EventIndex;
  /** Per page: sum of (event bytes + 1). */
  private readonly fill: Uint16Array;

  private busy = 0;
  private faults: { code: string; detail: string }[] = [];

  constructor(store: Store, opts: EventLogOptions) {
    const cap = opts.capacity;
    if (!Number.isInteger(cap) || cap < 1 || cap > 65535) throw new RangeError("EVENTLOG_CAPACITY " + String(cap));
    const pages = opts.pages ?? Math.min(255, Math.max(2, Math.ceil(cap / 8)));
    const pageBytes = opts.pageBytes ?? 3000;
    const maxEv = opts.maxEventBytes ?? Math.min(1000, pageBytes);
    if (!Number.isInteger(pages) || pages < 1 || pages > 255) throw new RangeError("EVENTLOG_PAGES " + String(pages));
    if (!Number.isInteger(pageBytes) || pageBytes < 256 || pageBytes > 3800)
      throw new RangeError("EVENTLOG_PAGE_BYTES " + String(pageBytes));
    if (!Number.isInteger(maxEv) || maxEv < 64 || maxEv > pageBytes) throw new RangeError("EVENTLOG_MAX_EVENT_BYTES " + String(maxEv));
    this.store = store;
    this.deviceId = opts.deviceId;
    this.cap = cap;
    this.nPages = pages;
    this.pageBytes = pageBytes;
    this.maxEventBytes = maxEv;
    this.onFault = opts.onFault;
    this.ix = new EventIndex(cap);
    this.fill = new Uint16Array(pages);
    this.run(() => this.boot());
  }

  /**
   * Persist an event, then return it with its seq and id. When the log is full the overflow
   * policy applies (docs/event-log.md): an info event that cannot be stored is refused and
   * returned with seq 0 and id "" (counted in dropped()).
   */
  append(type: string, cls: EventClass, data: Record<string, unknown>, mono: number, wall: number | null): LoggedEvent {
    return this.run(() => this.doAppend(type, cls, data, mono, wall));
  }

  /** Up to `max` not-yet-acknowledged events, oldest (lowest seq) first. */
  pending(max: number): LoggedEvent[] {
    return this.run(() => {
      const k = Math.min(Math.max(0, Math.floor(max)), this.ix.count);
      const out: LoggedEvent[] = [];
      const pages = new Map<number, Map<number, Rec>>();
      for (let i = 0; i < k; i++) {
        const p = this.ix.pg[i];
        let m = pages.get(p);
        if (m === undefined) {
          m = new Map<number, Rec>();
          for (const r of this.readPage(p)) m.set(r[0], r);
          pages.set(p, m);
        }
        const r = m.get(this.ix.seqs[i]);
        if (r !== undefined) out.push(this.toEvent(r));
        else this.fault("EVENTLOG_INDEX", `seq ${this.ix.seqs[i]} not in page ${p}`);
      }
      return out;
    });
  }

  /** The event `seq` was delivered: remove it from the outbox (persisted). Unknown seqs are ignored. */
  ack(seq: number): void {
    this.run(() => {
      const i = this.ix.find(seq);
      if (i < 0) return;
      const p = this.ix.pg[i];
      this.writePage(
        p,
        this.readPage(p).filter((r) => r[0] !== seq),
        this.n,
        this.d,
        this.fill[p] - this.ix.sz[i] - 1,
      );
      this.ix.removeAt(i);
    });
  }

  /** Events waiting for delivery. */
  depth(): number {
    return this.ix.count;
  }

  /** Events lost to the overflow policy since the last erase (dropped victims + refused events). */
  dropped(): number {
    return this.d;
  }

  /** The seq the next event will get. */
  nextSeq(): number {
    return this.n;
  }

  /** Decommission: delete every event, reset seq and dropped; the epoch moves on so ids stay unique. */
  erase(): void {
    this.run(() => {
      this.store.save(META, { ep: this.epoch + 1, n: 1, d: 0 } satisfies MetaRec); // commit point
      this.epoch++;
      this.n = 1;
      this.d = 0;
      this.ix.count = 0;
      this.fill.fill(0);
      for (let p = 0; p < this.nPages; p++) this.store.remove(pageName(p));
    });
  }

  // ------------------------------------------------------------------ internals

  private run<T>(fn: () => T): T {
    this.busy++;
    let ok = false;
    let r: T | undefined;
    try {
      r = this.store.hold(fn);
      ok = true;
    } finally {
      this.busy--;
      if (!ok && this.busy === 0) this.faults = [];
    }
    while (this.busy === 0 && this.faults.length > 0) {
      const f = this.faults.shift() as { code: string; detail: string };
      if (this.onFault) this.onFault(f.code, f.detail);
    }
    return r as T;
  }

  private fault(code: string, detail: string): void {
    if (this.onFault !== undefined && this.faults.length < 16) this.faults.push({ code, detail });
  }

  private boot(): void {
    const meta = this.store.load<MetaRec>(META);
    const metaOk = meta !== undefined && meta !== null && isCount(meta.ep) && isCount(meta.n) && isCount(meta.d);
    if (meta !== undefined && !metaOk) this.fault("EVENTLOG_CORRUPT", "meta");
    let ep = metaOk ? meta.ep : 0;
    let n = metaOk ? meta.n : 1;
    let d = metaOk ? meta.d : 0;
    if (!metaOk) {
      // Meta lost: the newest epoch any page carries is the current one.
      for (let p = 0; p < this.nPages; p++) {
        const v = this.store.load<PageRec>(pageName(p));
        if (v && isCount(v.ep)) ep = Math.max(ep, v.ep);
      }
    }
    ep = Math.max(ep, 1);
    this.epoch = ep;
    const found: Rec[] = [];
    const where: number[] = [];
    for (let p = 0; p < this.nPages; p++) {
      const v = this.store.load<PageRec>(pageName(p));
      if (v === undefined) continue;
      if (v === null || !isCount(v.ep) || !isCount(v.n) || !isCount(v.d) || !Array.isArray(v.e)) {
        this.fault("EVENTLOG_CORRUPT", pageName(p));
        continue;
      }
      if (v.ep !== ep) {
        this.store.remove(pageName(p)); // left over from an interrupted erase()
        continue;
      }
      n = Math.max(n, v.n);
      d = Math.max(d, v.d);
      const ok = v.e.filter(validRec);
      if (ok.length !== v.e.length) this.fault("EVENTLOG_CORRUPT", pageName(p) + " record");
      for (const r of ok) {
        n = Math.max(n, r[0] + 1);
        found.push(r);
        where.push(p);
      }
      this.fill[p] = Math.min(pageFill(ok), 0xffff);
    }
    const order = found.map((_, i) => i).sort((a, b) => found[a][0] - found[b][0]);
    if (order.length > this.cap) this.ix.grow(order.length);
    let last = 0;
    for (const i of order) {
      const r = found[i];
      if (r[0] === last) {
        this.fault("EVENTLOG_CORRUPT", `duplicate seq ${r[0]}`);
        continue;
      }
      last = r[0];
      this.ix.push(r[0], r[4], where[i], recBytes(r));
    }
    this.n = n;
    this.d = d;
    if (!metaOk || meta.ep !== ep) this.store.save(META, { ep, n, d } satisfies MetaRec);
  }

  private doAppend(type: string, cls: EventClass, data: Record<string, unknown>, mono: number, wall: number | null): LoggedEvent {
    const c = CLS.indexOf(cls);
    if (c < 0) throw new RangeError("EVENTLOG_CLASS " + String(cls));
    if (typeof type !== "string") throw new RangeError("EVENTLOG_TYPE");
    const m = typeof mono === "number" && Number.isFinite(mono) ? mono : 0;
    const w = typeof wall === "number" && Number.isFinite(wall) ? wall : null;
    const seq = this.n;
    let rec: Rec = [seq, m, w, type, c, data !== null && typeof data === "object" ? data : {}];
    let bytes = recBytes(rec);
    if (bytes > this.maxEventBytes) {
      this.fault("EVENTLOG_TRUNCATED", `${type}: ${bytes} bytes`);
      rec = [seq, m, w, type, c, { _truncated: true, bytes }];
      bytes = recBytes(rec);
    }
    const limit = this.ix.count + 2;
    for (let guard = 0; guard <= limit; guard++) {
      if (this.ix.count < this.cap) {
        const p = this.pick(bytes, -1);
        if (p >= 0) {
          const e = this.readPage(p);
          e.push(rec);
          this.writePage(p, e, seq + 1, this.d, this.fill[p] + bytes + 1);
          this.n = seq + 1;
          this.ix.push(seq, c, p, bytes);
          return this.toEvent(rec);
        }
      }
      // Full (count or bytes): make room by the overflow policy.
      const v = this.ix.victim(c);
      if (v >= 0) {
        this.drop(v);
        continue;
      }
      if (c !== DOSE) {
        this.store.save(META, { ep: this.epoch, n: this.n, d: this.d + 1 } satisfies MetaRec);
        this.d++;
        return { seq: 0, id: "", mono: m, wall: w, type, cls, data: rec[5] };
      }
      const ev = this.coalesce(rec);
      if (ev !== undefined) return ev;
      // Flash budget exhausted by dose events alone: the oldest must go.
      this.fault("EVENTLOG_DOSE_DROPPED", `seq ${this.ix.seqs[0]}`);
      this.drop(0);
    }
    throw new RangeError("EVENTLOG_NO_ROOM");
  }

  /** Remove the event at index `i` by policy (counted in dropped, with any events coalesced in it). */
  private drop(i: number): void {
    const seq = this.ix.seqs[i];
    const p = this.ix.pg[i];
    const e = this.readPage(p);
    const k = e.findIndex((r) => r[0] === seq);
    const lost = k < 0 ? 1 : 1 + (e[k][6]?.length ?? 0);
    if (k >= 0) e.splice(k, 1);
    this.writePage(p, e, this.n, this.d + lost, this.fill[p] - this.ix.sz[i] - 1);
    this.d += lost;
    this.ix.removeAt(i);
  }

  /**
   * A new dose event when only dose events are stored: it absorbs the oldest dose event
   * (kept whole, with its own seq, in data._coalesced). One write when the composite fits
   * in the victim's page; otherwise the composite is written first and the victim removed
   * after, so a power cut in between duplicates (never loses) the victim.
   */
  private coalesce(rec: Rec): LoggedEvent | undefined {
    if (this.ix.count === 0) return undefined;
    const vseq = this.ix.seqs[0];
    const vp = this.ix.pg[0];
    const vpage = this.readPage(vp);
    const vi = vpage.findIndex((r) => r[0] === vseq);
    if (vi < 0) {
      this.fault("EVENTLOG_INDEX", `seq ${vseq} not in page ${vp}`);
      this.ix.removeAt(0);
      return undefined;
    }
    const v = vpage[vi];
    const co: Rec[] = [...(v[6] ?? []), [v[0], v[1], v[2], v[3], v[4], v[5]]];
    co.sort((a, b) => a[0] - b[0]);
    const comp: Rec = [rec[0], rec[1], rec[2], rec[3], rec[4], rec[5], co];
    const cb = recBytes(comp);
    if (cb > this.pageBytes) return undefined;
    const seq = rec[0];
    vpage.splice(vi, 1);
    const vfill = this.fill[vp] - this.ix.sz[0] - 1;
    if (vfill + cb + 1 <= this.pageBytes) {
      vpage.push(comp);
      this.writePage(vp, vpage, seq + 1, this.d, vfill + cb + 1);
      this.n = seq + 1;
      this.ix.removeAt(0);
      this.ix.push(seq, DOSE, vp, cb);
      return this.toEvent(comp);
    }
    const p = this.pick(cb, vp);
    if (p < 0) return undefined;
    const e = this.readPage(p);
    e.push(comp);
    this.writePage(p, e, seq + 1, this.d, this.fill[p] + cb + 1);
    this.n = seq + 1;
    this.ix.removeAt(0);
    this.ix.push(seq, DOSE, p, cb);
    this.writePage(vp, vpage, this.n, this.d, vfill);
    return this.toEvent(comp);
  }

  /** Least-filled page (other than `not`) with room for `bytes`, or -1. */
  private pick(bytes: number, not: number): number {
    let best = -1;
    for (let p = 0; p < this.nPages; p++) {
      if (p === not || this.fill[p] + bytes + 1 > this.pageBytes) continue;
      if (best < 0 || this.fill[p] < this.fill[best]) best = p;
    }
    return best;
  }

  private readPage(p: number): Rec[] {
    const v = this.store.load<PageRec>(pageName(p));
    if (v === undefined || v === null || v.ep !== this.epoch || !Array.isArray(v.e)) return [];
    return v.e.filter(validRec);
  }

  /** Save page `p` holding `e` (whose fill is `fill`) with the counters n and d. */
  private writePage(p: number, e: Rec[], n: number, d: number, fill: number): void {
    this.store.save(pageName(p), { ep: this.epoch, n, d, e } satisfies PageRec);
    this.fill[p] = Math.max(0, Math.min(fill, 0xffff));
  }

  private idOf(seq: number): string {
    return `${this.deviceId}-${this.epoch.toString(36)}-${seq.toString(36)}`;
  }

  private toEvent(r: Rec): LoggedEvent {
    const co = r[6];
    const data = co === undefined ? r[5] : { ...r[5], _coalesced: co.map((x) => this.toEvent(x)) };
    return { seq: r[0], id: this.idOf(r[0]), mono: r[1], wall: r[2], type: r[3], cls: CLS[r[4]], data };
  }
}
