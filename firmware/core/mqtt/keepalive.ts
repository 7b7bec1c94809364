/**
 * MQTT keep-alive (3.1.2.10): a PINGREQ when nothing was sent for keepAliveMs, and a deadline
 * for its PINGRESP. Owns its two timers; stop() cancels both (the connection ended).
 */
import type { Clock, TimerId, Timers } from "../ports";

const NO_TIMER = -1;

export interface KeepAliveDeps {
  readonly timers: Timers;
  readonly clock: Clock;
  readonly keepAliveMs: number;
  readonly pingTimeoutMs: number;
  /** Send a PINGREQ. */
  ping(): void;
  /** No PINGRESP in time: the connection is dead. */
  timedOut(): void;
}

export class KeepAlive {
  private lastSentMs = 0;
  private tPing: TimerId = NO_TIMER;
  private tPingResp: TimerId = NO_TIMER;

  constructor(private readonly d: KeepAliveDeps) {}

  /** Something was written to the connection. */
  sent(): void {
    this.lastSentMs = this.d.clock.monoMs();
  }

  /** A PINGRESP arrived. */
  pong(): void {
    if (this.tPingResp !== NO_TIMER) this.d.timers.cancel(this.tPingResp);
    this.tPingResp = NO_TIMER;
  }

  stop(): void {
    if (this.tPing !== NO_TIMER) this.d.timers.cancel(this.tPing);
    this.pong();
    this.tPing = NO_TIMER;
  }

  /** Arm the next check (after CONNACK, and after each check); `alive` says the connection is still the same. */
  schedule(alive: () => boolean): void {
    const d = this.d;
    if (d.keepAliveMs === 0) return;
    if (this.tPing !== NO_TIMER) d.timers.cancel(this.tPing);
    let wait = this.lastSentMs + d.keepAliveMs - d.clock.monoMs();
    if (wait < 0) wait = 0;
    this.tPing = d.timers.once(wait, () => {
      this.tPing = NO_TIMER;
      if (!alive()) return;
      if (d.clock.monoMs() - this.lastSentMs >= d.keepAliveMs) {
        d.ping();
        if (this.tPingResp === NO_TIMER) {
          this.tPingResp = d.timers.once(d.pingTimeoutMs, () => {
            this.tPingResp = NO_TIMER;
            if (alive()) d.timedOut();
          });
        }
      }
      if (alive()) this.schedule(alive);
    });
  }
}
