/**
 * relay.request: a device asks for a remote escalation step. Checked field by field (problems are
 * audited, never fatal), planned into jobs and claimed once across instances with its key; a
 * request whose slot is already resolved (an outbox replay) sends nothing.
 */
import { RECIPIENT_RE as REF_RE } from "../../../firmware/core/protocol/ids";
import type { RelayCtx, Tx } from "../context";
import { planJobs, type Problem } from "../jobs/plan";
import { finalize } from "../jobs/receipts";
import type { NoticeInput } from "../notices";
import { REMOTE_CHANNELS, type RemoteChannel } from "../types";

export async function handleRequest(
  ctx: RelayCtx,
  x: Tx,
  device: string,
  evtId: string,
  data: Record<string, unknown>,
  now: number,
  /** When the device made the request (its event time, at most now). */
  madeAt: number = now,
): Promise<void> {
  const problems: Problem[] = [];
  let key = typeof data.key === "string" && data.key.length <= 200 && data.key.startsWith(device + "/") ? data.key : undefined;
  if (key === undefined) {
    problems.push({ code: "RELAY_FIELD", detail: { field: "key", evt: evtId } });
    key = `${device}/evt/${evtId}`;
  }
  const ch = (REMOTE_CHANNELS as readonly unknown[]).includes(data.ch) ? (data.ch as RemoteChannel) : undefined;
  if (ch === undefined) problems.push({ code: "RELAY_FIELD", detail: { field: "ch", key } });
  const rawTo = Array.isArray(data.to) ? data.to : [];
  const refs = rawTo.filter((r): r is string => typeof r === "string" && REF_RE.test(r)).slice(0, 5);
  if (!Array.isArray(data.to) || refs.length !== rawTo.length || refs.length === 0)
    problems.push({ code: "RELAY_FIELD", detail: { field: "to", key } });
  const slot = typeof data.slot === "string" && data.slot.length <= 64 ? data.slot : null;
  const prn = typeof data.prn === "string" ? data.prn : undefined;
  const help = data.help === true;
  if (slot === null && prn === undefined && !help) problems.push({ code: "RELAY_FIELD", detail: { field: "slot", key } });
  if (ctx.book.devices[device] === undefined) problems.push({ code: "RELAY_UNKNOWN_DEVICE", detail: { key } });
  // The dose's due time, or for a help request the time of the press.
  const dueMs = typeof data.due === "string" ? Date.parse(data.due) : typeof data.at === "string" ? Date.parse(data.at) : NaN;
  const n: NoticeInput = {
    kind: help && slot === null ? "help" : prn !== undefined && slot === null ? "prn" : "escalation",
    key,
    device,
    ...(slot !== null ? { slot } : {}),
    ...(typeof data.comp === "string" ? { comp: data.comp } : {}),
    ...(typeof data.state === "string" ? { state: data.state } : {}),
    ...(Number.isFinite(dueMs) ? { dueMs } : {}),
    ...(prn !== undefined ? { prn } : {}),
    ...(typeof data.reason === "string" ? { reason: data.reason } : {}),
    ...(typeof data.others === "number" && Number.isInteger(data.others) && data.others > 0 && data.others < 100
      ? { others: data.others }
      : {}),
  };
  const resolved = slot !== null && (await x.db.isResolved(device, slot));
  // A caregiver acknowledged this slot's escalation: its chain stays quiet until the ack's end.
  const ack = slot !== null && !resolved ? await x.db.ackOf(device, slot) : null;
  const quiet = ack !== null && ack.until > madeAt;
  // A request that arrives after its slot was resolved (outbox replay) is stale: nothing to send.
  const jobs = resolved || quiet ? [] : planJobs(ctx, device, key, slot, refs, ch, n, now, problems);
  const claimed = await x.db.claimRequest({ key, device, slot, evtId, ch: ch ?? "?", receivedAt: now, wantsReceipt: true }, jobs);
  if (!claimed) return;
  for (const p of problems) await ctx.audit(x, "request.problem", device, p.code, p.detail);
  if (resolved) await ctx.audit(x, "request.stale", device, "RELAY_RESOLVED", { key, slot });
  if (quiet)
    await ctx.audit(x, "request.acked", device, "RELAY_ACKED", { key, slot, by: ack.ref, until: new Date(ack.until).toISOString() });
  if (jobs.length === 0) await finalize(ctx, x, key, quiet ? "ACKED" : undefined);
  else x.after(() => ctx.kick());
}
