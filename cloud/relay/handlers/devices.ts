/**
 * Device liveness: every message from a device (not a retained replay) touches its last-seen
 * time; a device seen again after a dead-man alert gets a "back online" notice, once.
 */
import type { RelayCtx, Tx } from "../context";
import { claimRelayKey, deadmanRefs, planJobs, type Problem } from "../jobs/plan";

export class DeviceLiveness {
  /** Last touch written per device: at most one write a second per device. */
  private readonly lastTouch = new Map<string, number>();

  constructor(private readonly ctx: RelayCtx) {}

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
