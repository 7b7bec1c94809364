/**
 * Device liveness: every message from a device (not a retained replay) touches its last-seen
 * time; a device seen again after a dead-man alert gets a "back online" notice, once.
 */
import { type RelayCtx, type Tx, WindowLimit } from "../context";
import { claimRelayKey, deadmanRefs, planJobs, type Problem } from "../jobs/plan";

/** At most one event a period per key (device id), for at most `maxKeys` keys at a time. */
export class PerKeyLimit {
  private readonly last = new Map<string, number>();
  constructor(
    private readonly everyMs: number,
    private readonly maxKeys: number,
  ) {}
  allow(key: string, now: number): boolean {
    const prev = this.last.get(key);
    if (prev !== undefined && now - prev < this.everyMs && now >= prev) return false;
    if (this.last.size >= this.maxKeys) this.last.clear();
    this.last.set(key, now);
    return true;
  }
}

/**
 * Bounded ingest per device (docs/relay.md, "Bounded ingest"): a message larger than
 * DEVICE_MESSAGE_MAX bytes is refused unread; beyond DEVICE_MESSAGES_PER_MIN messages a minute a
 * device's telemetry and non-escalation events are dropped (counted, audited once a minute), so a
 * flooding device costs the store little and never costs another device an event. Escalation
 * requests and resolutions are never dropped.
 */
export const DEVICE_MESSAGE_MAX = 16_384;
export const DEVICE_MESSAGES_PER_MIN = 600;

export class DeviceBudget {
  private readonly rate = new WindowLimit(DEVICE_MESSAGES_PER_MIN, 60_000);
  private readonly report = new PerKeyLimit(60_000, 10_000);
  private readonly dropped = new Map<string, number>();

  /** Whether the device is within its rate (counts this message). */
  within(device: string, now: number): boolean {
    return this.rate.allow(device, now);
  }

  /** Counts a dropped message; returns the count to audit when a report is due, else 0. */
  drop(device: string, now: number): number {
    const n = (this.dropped.get(device) ?? 0) + 1;
    if (this.dropped.size >= 10_000) this.dropped.clear();
    if (!this.report.allow(device, now)) {
      this.dropped.set(device, n);
      return 0;
    }
    this.dropped.delete(device);
    return n;
  }
}

export class DeviceLiveness {
  readonly budget = new DeviceBudget();

  /** Last touch written per device: at most one write a second per device. */
  private readonly lastTouch = new Map<string, number>();

  /** Audit rows about unknown device ids: one an hour per id. */
  private readonly unknown = new PerKeyLimit(3_600_000, 1000);

  constructor(private readonly ctx: RelayCtx) {}

  unknownAllowed(device: string, now: number): boolean {
    return this.unknown.allow(device, now);
  }

  /** The device said it is online: its next touch is written at once. */
  forget(device: string): void {
    this.lastTouch.delete(device);
  }

  async seen(x: Tx, device: string, now: number): Promise<void> {
    const prev = this.lastTouch.get(device);
    if (prev !== undefined && now - prev < 1000 && now >= prev) return;
    if (this.lastTouch.size > 100_000) this.lastTouch.clear();
    this.lastTouch.set(device, now);
    await x.db.touchDevice(device, now);
    const slots = await x.db.closeDeadman(device, now);
    if (slots.length > 0) await this.backOnline(x, device, slots, now);
  }

  private async backOnline(x: Tx, device: string, slots: string[], now: number): Promise<void> {
    const ctx = this.ctx;
    const refs = deadmanRefs(ctx, device, slots[0]);
    const key = `${device}/${slots[0]}/back`;
    const problems: Problem[] = [];
    const jobs = planJobs(
      ctx,
      device,
      key,
      null,
      refs,
      undefined,
      { kind: "back-online", key, device, slot: slots.join(",") },
      now,
      problems,
    );
    if (await claimRelayKey(ctx, x, device, key, null, jobs, now)) {
      await ctx.audit(x, "deadman.back", device, null, { slots, key });
      for (const p of problems) await ctx.audit(x, "deadman.problem", device, p.code, p.detail);
    }
  }
}
