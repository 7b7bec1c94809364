/**
 * The client's subscription registry: what the application wants subscribed and where each
 * filter stands with the broker (to subscribe, pending, active, to unsubscribe, pending), so
 * that a reconnect resubscribes exactly what the broker no longer holds.
 */
import type { Subscription } from "./packets";

const SUB_WANT = 0; // needs SUBSCRIBE
const SUB_PENDING = 1; // SUBSCRIBE sent, waiting SUBACK
const SUB_ACTIVE = 2; // SUBACK received
const SUB_UNWANT = 3; // needs UNSUBSCRIBE
const SUB_UNPENDING = 4; // UNSUBSCRIBE sent, waiting UNSUBACK

interface SubEntry {
  topic: string;
  qos: 0 | 1;
  st: number;
  pid: number;
}

/** Filters per SUBSCRIBE / UNSUBSCRIBE packet when flushing the registry. */
const FILTERS_PER_PACKET = 8;

export interface SubackOutcome {
  readonly topic: string;
  /** Granted QoS, or 0x80 (refused: the filter is dropped from the registry). */
  readonly granted: number;
}

export class Subscriptions {
  private readonly subs: SubEntry[] = [];

  constructor(private readonly max: number) {}

  /** Wants `filter` at `qos`; false when the registry is full. */
  want(filter: string, qos: 0 | 1): boolean {
    let e = this.find(filter);
    if (e) {
      if (e.st === SUB_UNWANT || e.st === SUB_UNPENDING || e.qos !== qos) e.st = SUB_WANT;
      e.qos = qos;
      return true;
    }
    if (this.subs.length >= this.max) return false;
    e = { topic: filter, qos, st: SUB_WANT, pid: 0 };
    this.subs.push(e);
    return true;
  }

  /** No longer wants `filter`; false when it was not registered. */
  unwant(filter: string): boolean {
    const e = this.find(filter);
    if (!e) return false;
    if (e.st !== SUB_UNPENDING) e.st = SUB_UNWANT;
    return true;
  }

  /** A packet id is in use by a pending SUBSCRIBE or UNSUBSCRIBE. */
  usesId(id: number): boolean {
    for (const s of this.subs) if (s.pid === id && (s.st === SUB_PENDING || s.st === SUB_UNPENDING)) return true;
    return false;
  }

  /** After CONNACK: what the broker may still hold depends on sessionPresent. */
  onSession(sessionPresent: boolean): void {
    for (let i = this.subs.length - 1; i >= 0; i--) {
      const e = this.subs[i];
      if (!sessionPresent) {
        if (e.st === SUB_UNWANT || e.st === SUB_UNPENDING) this.subs.splice(i, 1);
        else e.st = SUB_WANT;
      } else if (e.st === SUB_PENDING) {
        e.st = SUB_WANT;
      } else if (e.st === SUB_UNPENDING) {
        e.st = SUB_UNWANT;
      }
    }
  }

  /**
   * Sends SUBSCRIBE / UNSUBSCRIBE packets for everything not yet asked, FILTERS_PER_PACKET
   * filters each; stops when no packet id is free (allocId returns 0).
   */
  flush(
    allocId: () => number,
    subscribe: (id: number, subs: Subscription[]) => void,
    unsubscribe: (id: number, topics: string[]) => void,
  ): void {
    const want: Subscription[] = [];
    const wantE: SubEntry[] = [];
    const unwant: string[] = [];
    const unwantE: SubEntry[] = [];
    for (const e of this.subs) {
      if (e.st === SUB_WANT) {
        want.push({ topic: e.topic, qos: e.qos });
        wantE.push(e);
      } else if (e.st === SUB_UNWANT) {
        unwant.push(e.topic);
        unwantE.push(e);
      }
    }
    for (let i = 0; i < want.length; i += FILTERS_PER_PACKET) {
      const id = allocId();
      if (id === 0) return;
      const part = want.slice(i, i + FILTERS_PER_PACKET);
      for (let k = i; k < i + part.length; k++) {
        wantE[k].st = SUB_PENDING;
        wantE[k].pid = id;
      }
      subscribe(id, part);
    }
    for (let i = 0; i < unwant.length; i += FILTERS_PER_PACKET) {
      const id = allocId();
      if (id === 0) return;
      const part = unwant.slice(i, i + FILTERS_PER_PACKET);
      for (let k = i; k < i + part.length; k++) {
        unwantE[k].st = SUB_UNPENDING;
        unwantE[k].pid = id;
      }
      unsubscribe(id, part);
    }
  }

  /**
   * A SUBACK: the outcome per filter of that packet, in order; undefined for an unknown id;
   * a string when the count of codes does not match (a protocol error).
   */
  onSuback(packetId: number, granted: readonly number[]): SubackOutcome[] | undefined | string {
    const batch: SubEntry[] = [];
    for (const e of this.subs) if (e.st === SUB_PENDING && e.pid === packetId) batch.push(e);
    if (batch.length === 0) return undefined;
    if (batch.length !== granted.length) return "SUBACK has " + granted.length + " codes for " + batch.length + " filters";
    const out: SubackOutcome[] = [];
    for (let i = 0; i < batch.length; i++) {
      const e = batch[i];
      const gq = granted[i];
      if (gq === 0x80) this.subs.splice(this.subs.indexOf(e), 1);
      else e.st = SUB_ACTIVE;
      out.push({ topic: e.topic, granted: gq });
    }
    return out;
  }

  onUnsuback(packetId: number): void {
    for (let i = this.subs.length - 1; i >= 0; i--) {
      const e = this.subs[i];
      if (e.st === SUB_UNPENDING && e.pid === packetId) this.subs.splice(i, 1);
    }
  }

  private find(filter: string): SubEntry | undefined {
    for (const e of this.subs) if (e.topic === filter) return e;
    return undefined;
  }
}
