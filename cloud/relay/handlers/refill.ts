/** refill.mismatch: the pharmacist is told (push), once per event. */
import type { RelayCtx, Tx } from "../context";
import { PHARMACIST_REF } from "../context";
import { pharmacistOf, pickChannel } from "../contacts";
import { claimRelayKey, jobFor } from "../jobs/plan";

export async function handleRefillMismatch(
  ctx: RelayCtx,
  x: Tx,
  device: string,
  evtId: string,
  data: Record<string, unknown>,
  now: number,
): Promise<void> {
  const ph = pharmacistOf(ctx.book, device);
  const key = `${device}/evt/${evtId}`;
  const ch = ph && pickChannel(ph, "push");
  if (!ph || !ch) return;
  const n = { kind: "refill" as const, key, device, ...(typeof data.comp === "string" ? { comp: data.comp } : {}) };
  await claimRelayKey(ctx, x, device, key, null, [jobFor(ctx, device, key, null, PHARMACIST_REF, ph, ch, n, now, false)], now);
}
