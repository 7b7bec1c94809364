/**
 * Planning notifications: who is told, on which channel, with which notice. Unknown or
 * unreachable recipients go to the device's pharmacist (once per key); a key's jobs are claimed
 * together with the key, so every (key, recipient, channel) is sent once across instances.
 */
import type { RelayCtx, Tx } from "../context";
import { PHARMACIST_REF } from "../context";
import { pharmacistOf, pickChannel, resolveRecipient } from "../contacts";
import { buildNotice, type NoticeInput } from "../notices";
import { doseOfSlot, ladderRecipients } from "../schedules";
import type { NewJob, Person, RemoteChannel } from "../types";

export interface Problem {
  code: string;
  detail: unknown;
}

export function jobFor(
  ctx: RelayCtx,
  device: string,
  key: string,
  slot: string | null,
  ref: string,
  p: Person,
  ch: RemoteChannel,
  n: NoticeInput,
  now: number,
  isFallback: boolean,
): NewJob {
  const notice = buildNotice(n, p.lang, ctx.schedules.get(device));
  return { key, device, slot, ref, person: p.id, ch, kind: n.kind, priority: notice.priority, notice, nextAt: now, isFallback };
}

/** Jobs for recipient references; unknown/unreachable ones go to the pharmacist (once per key). */
export function planJobs(
  ctx: RelayCtx,
  device: string,
  key: string,
  slot: string | null,
  refs: string[],
  wanted: RemoteChannel | undefined,
  n: NoticeInput,
  now: number,
  problems: Problem[],
): NewJob[] {
  const book = ctx.book;
  const jobs: NewJob[] = [];
  let needFallback = false;
  for (const ref of refs) {
    const p = resolveRecipient(book, device, ref);
    if (p === undefined) {
      problems.push({ code: "RELAY_UNKNOWN_RECIPIENT", detail: { key, ref } });
      needFallback = true;
      continue;
    }
    const ch = pickChannel(p, wanted ?? p.channels[0] ?? "push");
    if (ch === undefined) {
      problems.push({
        code: p.phone === undefined && wanted !== "push" ? "RELAY_BAD_PHONE" : "RELAY_UNREACHABLE",
        detail: { key, ref, ch: wanted },
      });
      needFallback = true;
      continue;
    }
    if (wanted !== undefined && ch !== wanted) problems.push({ code: "RELAY_CHANNEL_SUBSTITUTED", detail: { key, ref, wanted, used: ch } });
    jobs.push(jobFor(ctx, device, key, slot, ref, p, ch, n, now, false));
  }
  if ((needFallback || refs.length === 0) && !ctx.allowFallback(device, now)) {
    problems.push({ code: "RELAY_FALLBACK_LIMITED", detail: { key } });
  } else if (needFallback || refs.length === 0) {
    const ph = pharmacistOf(book, device);
    const ch = ph && pickChannel(ph, "sms");
    if (ph && ch)
      jobs.push(
        jobFor(
          ctx,
          device,
          key,
          slot,
          PHARMACIST_REF,
          ph,
          ch,
          {
            ...n,
            kind: "fallback",
            failedRef: refs.join(","),
            failedCh: wanted ?? "?",
            code: problems[problems.length - 1]?.code ?? "RELAY_FIELD",
          },
          now,
          true,
        ),
      );
    else problems.push({ code: "RELAY_NO_FALLBACK", detail: { key } });
  }
  return jobs;
}

/** Claims a relay-made key (dead-man, back online, refill) with its jobs; true when this instance made it. */
export async function claimRelayKey(
  ctx: RelayCtx,
  x: Tx,
  device: string,
  key: string,
  slot: string | null,
  jobs: NewJob[],
  now: number,
): Promise<boolean> {
  const ok = await x.db.claimRequest({ key, device, slot, evtId: "-", ch: "relay", receivedAt: now, wantsReceipt: false }, jobs);
  if (ok) x.after(() => ctx.kick());
  return ok;
}

/** Who hears about a device going silent: the contact book's dead-man list, else the slot's ladder recipients. */
export function deadmanRefs(ctx: RelayCtx, device: string, slot: string): string[] {
  const explicit = ctx.book.devices[device]?.deadman;
  if (explicit !== undefined && explicit.length > 0) return explicit;
  const s = ctx.schedules.get(device);
  if (s === undefined) return [];
  // An outage outside dose windows (slot "outage:<since>"): everyone on any of the device's ladders.
  if (slot.startsWith(OUTAGE_SLOT)) return [...new Set(s.config.doses.flatMap((d) => ladderRecipients(s.config, d)))];
  const dose = doseOfSlot(s.config, slot);
  return dose ? ladderRecipients(s.config, dose) : [];
}

/** Dead-man claims of outages (not of a dose slot) are named "outage:<last seen ms>". */
export const OUTAGE_SLOT = "outage:";
