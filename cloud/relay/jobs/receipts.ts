/**
 * Receipts: once every job of a request key is final, its outcome (delivered, failed, cancelled)
 * is stored once across instances and published to the device on dk/<id>/rcpt (QoS 1) after the
 * commit; a receipt whose publish is not acknowledged is republished by any instance.
 */
import type { RelayCtx, Tx } from "../context";

/** `quietCode`: the key got no job on purpose (ACKED: a caregiver acknowledged the slot): a cancelled receipt with that code. */
export async function finalize(ctx: RelayCtx, x: Tx, key: string, quietCode?: string): Promise<void> {
  const s = await x.db.keySummary(key);
  if (s === null || !s.wantsReceipt || s.jobs.some((j) => j.state === "pending")) return;
  const primary = s.jobs.filter((j) => !j.isFallback);
  const fb = s.jobs.filter((j) => j.isFallback);
  let status: "delivered" | "failed" | "cancelled";
  let code: string | null = null;
  if (quietCode !== undefined && s.jobs.length === 0) {
    status = "cancelled";
    code = quietCode;
  } else if (primary.some((j) => j.state === "sent")) status = "delivered";
  else if (primary.length > 0 && primary.every((j) => j.state === "cancelled")) status = "cancelled";
  else if (s.jobs.length === 0 && (await x.db.isResolved(s.device, key.split("/")[1] ?? ""))) status = "cancelled";
  else {
    status = "failed";
    code = primary.find((j) => j.state === "failed")?.code ?? (primary.length === 0 ? "RELAY_NO_RECIPIENT" : "RELAY_CANCELLED");
  }
  const now = ctx.clock();
  const to: Record<string, string> = {};
  for (const j of primary) to[j.ref] = j.state === "sent" ? "delivered" : j.state;
  const rcpt = {
    v: 1,
    key,
    status,
    ch: s.ch,
    t: new Date(now).toISOString(),
    ...(code ? { code } : {}),
    to,
    ...(fb.length ? { fallback: fb[0].state === "sent" ? "delivered" : fb[0].state } : {}),
  };
  const json = JSON.stringify(rcpt);
  if (!(await x.db.setReceipt(key, status, code, now, json))) return;
  // Published once the receipt is committed (a rolled-back receipt is never seen by the device).
  x.after(() => publishReceipt(ctx, key, s.device, json));
  await ctx.audit(x, "receipt", s.device, code, rcpt);
}

/** QoS 1 publish; marked published on PUBACK. Unacknowledged receipts are republished (at least once). */
export function publishReceipt(ctx: RelayCtx, key: string, device: string, json: string): void {
  if (ctx.life.dead) return;
  ctx.publishReceipt(device, json, (err) => {
    if (err || ctx.life.dead) return;
    const at = ctx.clock();
    ctx.unit((x) => x.db.receiptPublished(key, at)).catch(() => undefined);
  });
}

export async function republishReceipts(ctx: RelayCtx, retryMs: number): Promise<void> {
  if (ctx.life.dead || !ctx.connected()) return;
  const now = ctx.clock();
  for (const r of await ctx.db.claimUnpublishedReceipts(now - retryMs, now, 100)) publishReceipt(ctx, r.key, r.device, r.json);
}
