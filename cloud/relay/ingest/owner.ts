/**
 * One ingest owner at a time, on a broker without a distributed consumer (Mosquitto): the instance
 * holding the database lease `ingest:<group>` runs the one persistent MQTT session that receives
 * the devices' messages (client id `<group>-ingest`, plain subscription); the other instances only
 * publish and work the jobs. When the owner dies its lease expires and another instance resumes
 * the SAME broker session: the messages the broker queued meanwhile, and those the dead owner had
 * not acknowledged, are delivered to it. Nothing sits in a dead instance's session.
 *
 * Fencing: the owner renews the lease every tick; it drops the session as soon as it cannot show
 * a renewal younger than 80 % of the lease (or sees another holder), and reconnects only after a
 * renewal, so two instances never hold the session for long; if they overlap, the broker keeps
 * the newest connection and the claims dedupe what both saw. docs/relay.md, "Ingest owner".
 */
import type { RelayDb } from "../types";
import type { MqttIngest } from "./mqtt";

export interface IngestOwnerOptions {
  readonly db: RelayDb;
  /** Lease name (`ingest:<group>`). */
  readonly lease: string;
  readonly holder: string;
  readonly leaseMs: number;
  readonly clock: () => number;
  readonly log: (line: string) => void;
  /** Opens the ingest session (connected, subscribing, gate open). */
  readonly connect: () => Promise<MqttIngest>;
}

export class IngestOwner {
  private ingest: MqttIngest | undefined;
  private renewedAt = -Infinity;
  private timer: ReturnType<typeof setInterval> | undefined;
  private busy = false;
  private stopped = false;

  constructor(private readonly o: IngestOwnerOptions) {}

  /** Whether this instance holds the lease and its ingest session is connected. */
  get owning(): boolean {
    return this.ingest !== undefined && this.ingest.client.connected;
  }

  start(): void {
    const every = Math.max(50, Math.min(1000, Math.floor(this.o.leaseMs / 4)));
    this.timer = setInterval(() => void this.tick(), every);
    void this.tick();
  }

  /** One lease round: renew or take it, then open, keep or drop the session accordingly. */
  async tick(): Promise<void> {
    if (this.busy || this.stopped) return;
    this.busy = true;
    try {
      const o = this.o;
      const now = o.clock();
      let mine: boolean | undefined;
      try {
        mine = await o.db.claimLease(o.lease, o.holder, now, o.leaseMs);
        if (mine) this.renewedAt = now;
      } catch (e) {
        mine = undefined; // the store is down: nobody can take the lease over until it expires
        if (this.ingest) o.log(`[${o.holder}] ingest lease renewal failed: ${String(e)}`);
      }
      const fresh = o.clock() - this.renewedAt < o.leaseMs * 0.8;
      if (mine === false || !fresh) {
        if (this.ingest) {
          o.log(`[${o.holder}] ingest lease ${mine === false ? "held by another instance" : "not renewed in time"}: session dropped`);
          await this.drop();
        }
        return;
      }
      if (this.stopped) return;
      if (this.ingest === undefined) {
        o.log(`[${o.holder}] ingest lease taken: resuming the ingest session`);
        this.ingest = await o.connect();
      } else if (!this.ingest.client.connected && !this.ingest.client.reconnecting) {
        this.ingest.client.reconnect();
      }
    } catch (e) {
      this.o.log(`[${this.o.holder}] ingest owner: ${String(e)}`);
    } finally {
      this.busy = false;
    }
  }

  private async drop(): Promise<void> {
    const i = this.ingest;
    this.ingest = undefined;
    if (i) await i.client.endAsync(true).catch(() => undefined);
  }

  /** Graceful: closes the session (unacknowledged messages stay with the broker) and frees the lease at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    while (this.busy) await new Promise((r) => setTimeout(r, 10));
    const had = this.ingest !== undefined;
    if (this.ingest) await this.ingest.client.endAsync().catch(() => undefined);
    this.ingest = undefined;
    if (had) await this.o.db.releaseLease(this.o.lease, this.o.holder).catch(() => undefined);
  }

  /** Crash-like (tests): the connection goes, the lease stays until it expires. */
  async abort(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.drop();
  }
}
