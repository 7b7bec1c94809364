/**
 * Cloud-side dead-man: a device silent for `silentMs` (or offline by its last will for
 * `offlineMs`) while one of its doses is open gets an alert to its recipients, once per slot
 * across instances (claimed in the store); "back online" follows when it is seen again.
 * Outside dose windows too: silent or offline for `outageMs` (default 30 min) at any hour, one
 * outage alert per outage to everyone on the device's ladders (claimed as "outage:<last seen>").
 */
import { CLOSING_EVENTS } from "../../../firmware/core/protocol/events";
import type { RelayCtx } from "../context";
import { dueSlots } from "../schedules";
import type { DeviceState } from "../types";
import { claimRelayKey, deadmanRefs, OUTAGE_SLOT, planJobs, type Problem } from "./plan";

export interface DeadmanSettings {
  readonly silentMs: number;
  readonly offlineMs: number;
  readonly checkMs: number;
  /** Silent or offline this long, at any hour: an outage alert (0: none). */
  readonly outageMs: number;
}

const CLOSING_TYPES: readonly string[] = CLOSING_EVENTS;

export async function deadmanCheck(ctx: RelayCtx, dm: DeadmanSettings, reload: () => Promise<void>): Promise<void> {
  const { db, schedules } = ctx;
  const now = ctx.clock();
  await reload();
  for (const device of schedules.devices()) {
    const st = await db.deviceState(device);
    if (st === null || st.lastSeen === null) continue; // never seen: no baseline
    const down =
      now - st.lastSeen >= dm.silentMs || (st.online === false && st.offlineSince !== null && now - st.offlineSince >= dm.offlineMs);
    if (!down) continue;
    const s = schedules.get(device);
    if (s === undefined) continue;
    await outageCheck(ctx, dm, device, st, now);
    const maxWindow = Math.max(...s.config.doses.map((d) => (d.window ?? s.config.defaults.window).missedMin), 1) * 60_000;
    let closed: Set<string> | undefined;
    const open = dueSlots(s, now - maxWindow, now + 1);
    const days = open.map((d) => d.slot.slice(d.slot.indexOf("@") + 1)).sort();
    for (const due of open) {
      if (now >= due.dueMs + due.window.missedMin * 60_000) continue;
      if (await db.isResolved(device, due.slot)) continue;
      closed ??= new Set((await db.eventsOf(device, CLOSING_TYPES, { from: days[0], to: days[days.length - 1] })).map((e) => e.slot ?? ""));
      if (closed.has(due.slot)) continue;
      const lastSeen = st.lastSeen;
      // The claim, the alert's jobs and its audit commit together.
      await ctx.unit(async (x) => {
        if (!(await x.db.claimDeadman(device, due.slot, now))) return;
        const key = `${device}/${due.slot}/deadman`;
        const problems: Problem[] = [];
        const n = {
          kind: "deadman" as const,
          key,
          device,
          slot: due.slot,
          comp: due.dose.compartment,
          dueMs: due.dueMs,
          lastSeenMs: lastSeen,
        };
        const jobs = planJobs(ctx, device, key, due.slot, deadmanRefs(ctx, device, due.slot), undefined, n, now, problems);
        await claimRelayKey(ctx, x, device, key, due.slot, jobs, now);
        await ctx.audit(x, "deadman.alert", device, null, {
          slot: due.slot,
          due: new Date(due.dueMs).toISOString(),
          lastSeen: new Date(lastSeen).toISOString(),
          online: st.online,
          key,
        });
        for (const p of problems) await ctx.audit(x, "deadman.problem", device, p.code, p.detail);
      });
    }
  }
}

async function outageCheck(ctx: RelayCtx, dm: DeadmanSettings, device: string, st: DeviceState, now: number): Promise<void> {
  if (dm.outageMs <= 0 || st.lastSeen === null) return;
  const since = st.online === false && st.offlineSince !== null ? Math.min(st.offlineSince, now) : st.lastSeen;
  if (now - st.lastSeen < dm.outageMs && (st.online !== false || st.offlineSince === null || now - st.offlineSince < dm.outageMs)) return;
  const slot = OUTAGE_SLOT + st.lastSeen;
  await ctx.unit(async (x) => {
    if (!(await x.db.claimDeadman(device, slot, now))) return;
    const key = `${device}/${slot}`;
    const problems: Problem[] = [];
    const jobs = planJobs(
      ctx,
      device,
      key,
      null,
      deadmanRefs(ctx, device, slot),
      undefined,
      { kind: "outage", key, device, lastSeenMs: st.lastSeen ?? since },
      now,
      problems,
    );
    await claimRelayKey(ctx, x, device, key, null, jobs, now);
    await ctx.audit(x, "deadman.outage", device, null, {
      lastSeen: new Date(st.lastSeen ?? since).toISOString(),
      online: st.online,
      minutes: Math.round((now - since) / 60_000),
      key,
    });
    for (const p of problems) await ctx.audit(x, "deadman.problem", device, p.code, p.detail);
  });
}
