/**
 * A caregiver acknowledges an escalation (docs/relay.md, "Acknowledgement"): by SMS reply, by a
 * key press on the call, or by the push notification's action. The newest unresolved slot whose
 * notification reached that person is acknowledged:
 *  - its pending jobs are cancelled and, until `until` (the device's ackRefireMin, default 30 min),
 *    every new request of the slot sends nothing (audited request.acked, receipt cancelled ACKED);
 *  - the device is told on dk/<id>/rcpt ({status:"acked", by, ch, until}; stored and republished
 *    until the broker acknowledges it, like every receipt);
 *  - a refire job at `until` tells the same person again if the dose is still not taken (the
 *    slot's relay.resolve cancels it like any pending job of the slot), and the chain re-opens.
 * Everything is audited (escalation.acked, ack.refused).
 */
import type { RelayCtx } from "../context";
import { ACK_REFIRE_MIN_DEFAULT, pickChannel } from "../contacts";
import { claimRelayKey, jobFor } from "../jobs/plan";
import { finalize, publishReceipt } from "../jobs/receipts";
import type { RemoteChannel, SentJob } from "../types";

export type AckVia = "sms-reply" | "voice-key" | "push-action" | "console";

export interface AckInput {
  /** Person id (resolved from the caller's phone, the call's callback or the push token). */
  readonly person: string;
  readonly via: AckVia;
  /** The notification's key, when the callback names it (call, push); else the newest one sent to the person. */
  readonly key?: string;
  readonly ch?: RemoteChannel;
}

export type AckOutcome =
  | { ok: true; device: string; slot: string; until: number; refireMin: number; renewed: boolean }
  | { ok: false; code: "ACK_NO_OPEN_ALERT" | "ACK_RESOLVED" };

/** How far back a reply may refer to a notification. */
const ACK_WINDOW_MS = 24 * 3_600_000;

export async function acknowledge(ctx: RelayCtx, a: AckInput): Promise<AckOutcome> {
  let out: AckOutcome = { ok: false, code: "ACK_NO_OPEN_ALERT" };
  await ctx.unit(async (x) => {
    const now = ctx.clock();
    const sent = await x.db.sentJobs(a.person, {
      ...(a.key !== undefined ? { key: a.key } : {}),
      ...(a.ch ? { ch: a.ch } : {}),
      since: now - ACK_WINDOW_MS,
    });
    let job: SentJob | undefined;
    for (const j of sent) {
      if (!(await x.db.isResolved(j.device, j.slot))) {
        job = j;
        break;
      }
    }
    if (job === undefined) {
      out = { ok: false, code: sent.length > 0 ? "ACK_RESOLVED" : "ACK_NO_OPEN_ALERT" };
      await ctx.audit(x, "ack.refused", sent[0]?.device ?? null, out.code, { person: a.person, via: a.via, key: a.key ?? null });
      return;
    }
    const min = ctx.book.devices[job.device]?.ackRefireMin ?? ACK_REFIRE_MIN_DEFAULT;
    const until = now + min * 60_000;
    const r = await x.db.ackSlot({
      device: job.device,
      slot: job.slot,
      person: a.person,
      ref: job.ref,
      ch: job.ch,
      via: a.via,
      t: now,
      until,
    });
    await ctx.audit(x, "escalation.acked", job.device, null, {
      slot: job.slot,
      by: job.ref,
      ch: job.ch,
      via: a.via,
      until: new Date(until).toISOString(),
      cancelled: r.keys,
    });
    for (const k of r.keys) await finalize(ctx, x, k);
    // The re-fire: the same person, the same channel when it can, at `until`.
    const p = ctx.book.people[a.person];
    const ch = p && pickChannel(p, job.ch as RemoteChannel);
    if (p && ch) {
      const key = `${job.device}/${job.slot}/refire.${now}`;
      const j = jobFor(
        ctx,
        job.device,
        key,
        job.slot,
        job.ref,
        p,
        ch,
        { kind: "refire", key, device: job.device, slot: job.slot, ackedMin: min },
        now,
        false,
      );
      await claimRelayKey(ctx, x, job.device, key, job.slot, [{ ...j, nextAt: until }], now);
    }
    // The device hears of it as a receipt (stored, republished until acknowledged by the broker).
    const ackKey = `${job.device}/${job.slot}/ack.${now}`;
    const json = JSON.stringify({
      v: 1,
      key: ackKey,
      status: "acked",
      ch: job.ch,
      by: job.ref,
      until: new Date(until).toISOString(),
      t: new Date(now).toISOString(),
    });
    await x.db.claimRequest(
      { key: ackKey, device: job.device, slot: job.slot, evtId: "-", ch: job.ch, receivedAt: now, wantsReceipt: true },
      [],
    );
    if (await x.db.setReceipt(ackKey, "acked", null, now, json)) {
      const device = job.device;
      x.after(() => publishReceipt(ctx, ackKey, device, json));
    }
    out = { ok: true, device: job.device, slot: job.slot, until, refireMin: min, renewed: !r.first };
  });
  return out;
}
