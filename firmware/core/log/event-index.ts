/**
 * The event log's RAM index: one entry per stored event in ascending seq, with its class, page
 * and size (typed arrays, a few bytes per event), and the overflow policy's choice of victim.
 */
import { ALERT, DOSE, INFO } from "./records";

export class EventIndex {
  /** Entries [0, count). */
  count = 0;
  seqs: Float64Array;
  cls: Uint8Array;
  pg: Uint8Array;
  sz: Uint16Array;

  constructor(capacity: number) {
    this.seqs = new Float64Array(capacity);
    this.cls = new Uint8Array(capacity);
    this.pg = new Uint8Array(capacity);
    this.sz = new Uint16Array(capacity);
  }

  grow(size: number): void {
    const s = new Float64Array(size);
    const c = new Uint8Array(size);
    const p = new Uint8Array(size);
    const z = new Uint16Array(size);
    s.set(this.seqs);
    c.set(this.cls);
    p.set(this.pg);
    z.set(this.sz);
    this.seqs = s;
    this.cls = c;
    this.pg = p;
    this.sz = z;
  }

  find(seq: number): number {
    let lo = 0;
    let hi = this.count - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const s = this.seqs[mid];
      if (s === seq) return mid;
      if (s < seq) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  push(seq: number, c: number, p: number, bytes: number): void {
    if (this.count >= this.seqs.length) this.grow(this.count + 1);
    const i = this.count++;
    this.seqs[i] = seq;
    this.cls[i] = c;
    this.pg[i] = p;
    this.sz[i] = Math.min(bytes, 0xffff);
  }

  removeAt(i: number): void {
    this.seqs.copyWithin(i, i + 1, this.count);
    this.cls.copyWithin(i, i + 1, this.count);
    this.pg.copyWithin(i, i + 1, this.count);
    this.sz.copyWithin(i, i + 1, this.count);
    this.count--;
  }

  /** Index of the oldest event an incoming event of class `c` may evict, or -1. */
  victim(c: number): number {
    if (c === DOSE || c === ALERT || c === INFO) {
      for (let i = 0; i < this.count; i++) if (this.cls[i] === INFO) return i;
    }
    if (c === DOSE || c === ALERT) {
      for (let i = 0; i < this.count; i++) if (this.cls[i] === ALERT) return i;
    }
    return -1;
  }
}
