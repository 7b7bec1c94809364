/**
 * The outbox pump: offers persisted events to the uplink in log order, at most INFLIGHT_MAX
 * unacknowledged at a time; an event leaves the log only when the uplink confirms it (acked).
 * After a reconnect everything unacknowledged is offered again (at least once; the relay
 * deduplicates by event id).
 */
import type { Uplink } from "../device-api";
import type { EventLog } from "./eventlog";

export const INFLIGHT_MAX = 8;

export class Outbox {
  private readonly inflight: number[] = [];

  constructor(
    private readonly log: EventLog,
    private readonly uplink: Uplink | undefined,
    private readonly running: () => boolean,
  ) {}

  pump(): void {
    const up = this.uplink;
    const inflight = this.inflight;
    if (!this.running() || up === undefined || !up.ready()) return;
    if (inflight.length >= INFLIGHT_MAX) return;
    const batch = this.log.pending(INFLIGHT_MAX + inflight.length);
    for (const ev of batch) {
      if (inflight.length >= INFLIGHT_MAX) break;
      if (inflight.indexOf(ev.seq) >= 0) continue;
      if (!up.send(ev)) break;
      inflight.push(ev.seq);
    }
  }

  /** The uplink delivered event `seq`. */
  acked(seq: number): void {
    const i = this.inflight.indexOf(seq);
    if (i >= 0) this.inflight.splice(i, 1);
    this.log.ack(seq);
    this.pump();
  }

  /** The uplink (re)connected: offer everything pending again. */
  ready(): void {
    this.inflight.length = 0;
    this.pump();
  }
}
