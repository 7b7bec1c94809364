/** relay.resolve: a slot was taken (or cancelled): every pending job of it is cancelled, its keys finalised. */
import type { RelayCtx, Tx } from "../context";
import { finalize } from "../jobs/receipts";

export async function handleResolve(ctx: RelayCtx, x: Tx, device: string, data: Record<string, unknown>, now: number): Promise<void> {
  if (typeof data.slot !== "string" || data.slot.length > 64) {
    await ctx.audit(x, "resolve.problem", device, "RELAY_FIELD", { field: "slot" });
    return;
  }
  const outcome = typeof data.outcome === "string" ? data.outcome : "?";
  const keys = await x.db.resolveSlot(device, data.slot, outcome, now);
  if (keys.length > 0) await ctx.audit(x, "resolve.cancelled", device, null, { slot: data.slot, outcome, keys });
  for (const k of keys) await finalize(ctx, x, k);
}
