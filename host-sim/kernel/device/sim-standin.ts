/**
 * The scenario runner's built-in uplink ("stand-in" transport): a broker stand-in that
 * acknowledges every event ACK_MS after it is sent, once a connection came up LINK_UP_MS after
 * the network did. A power cut or a network loss drops the connection and every ack in flight.
 * XS-clean.
 */
import type { Dispenser, Uplink } from "../../../firmware/core/dispenser";
import type { LoggedEvent } from "../../../firmware/core/log/eventlog";
import type { SchedulerLike } from "../time/scheduler";

/** Connection set-up after the network comes up, and broker round trip. */
export const LINK_UP_MS = 1_000;
export const ACK_MS = 40;

export interface StandInHost {
  readonly sched: SchedulerLike;
  alive(): boolean;
  /** The running boot's timer group. */
  group(): number;
  core(): Dispenser | undefined;
  networkUp(): boolean;
  emit(kind: string, body: string): void;
}

export class StandInUplink implements Uplink {
  private up = false;
  private epoch = 0;

  constructor(private readonly h: StandInHost) {}

  ready(): boolean {
    return this.h.alive() && this.up;
  }

  send(ev: LoggedEvent): boolean {
    const h = this.h;
    if (!h.alive() || !this.up) return false;
    const epoch = this.epoch;
    const d = h.core();
    h.sched.at(
      h.sched.now + ACK_MS,
      () => {
        if (!h.alive() || epoch !== this.epoch || d !== h.core() || d === undefined) return;
        h.emit("tx", `"seq":${ev.seq},"id":${JSON.stringify(ev.id)}`);
        d.acked(ev.seq);
      },
      h.group(),
    );
    return true;
  }

  /** The network is usable: the connection comes up LINK_UP_MS later (if it still is). */
  connect(): void {
    const h = this.h;
    if (this.up) return;
    const g = h.group();
    h.sched.at(
      h.sched.now + LINK_UP_MS,
      () => {
        if (!h.alive() || !h.networkUp() || g !== h.group()) return;
        this.up = true;
        this.epoch++;
        h.core()?.uplinkReady();
      },
      g,
    );
  }

  /** Connection gone (power, network): acks in flight are lost. */
  drop(): void {
    this.up = false;
    this.epoch++;
  }
}
