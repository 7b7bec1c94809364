/**
 * Device liveness: every message from a device (not a retained replay) touches its last-seen
 * time; a device seen again after a dead-man alert gets a "back online" notice, once.
 */
import type { RelayCtx, Tx } from "../context";
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

export class DeviceLiveness {
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
