/**
 * Stock and refill events (docs/relay.md, "Stock"): refill.mismatch tells the pharmacist (push);
 * stock.low (once per episode on the device) tells the pharmacist and the caregivers — the
 * contact book's `stock` references for the device, else the remote recipients of the ladders of
 * that compartment's doses. Once per event id; low priority (quiet hours defer it). Telemetry's
 * `weigh` (a compartment the weight cannot confirm) tells the pharmacist, once per config.
 */
import type { RelayCtx, Tx } from "../context";
import { PHARMACIST_REF } from "../context";
import { pharmacistOf, pickChannel, resolveRecipient } from "../contacts";
import { claimRelayKey, jobFor } from "../jobs/plan";
import { ladderRecipients } from "../schedules";
import type { NewJob } from "../types";
import { ITEM_ID_RE as COMP_RE } from "../../../firmware/core/protocol/ids";

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

/** Who hears of a compartment running low. */
function stockRefs(ctx: RelayCtx, device: string, comp: string | undefined): string[] {
  const explicit = ctx.book.devices[device]?.stock;
  if (explicit !== undefined && explicit.length > 0) return explicit;
  const cfg = ctx.schedules.get(device)?.config;
  if (cfg === undefined) return [];
  const out: string[] = [];
  for (const d of cfg.doses) if (d.compartment === comp) for (const r of ladderRecipients(cfg, d)) if (!out.includes(r)) out.push(r);
  return out;
}

export async function handleStockLow(
  ctx: RelayCtx,
  x: Tx,
  device: string,
  evtId: string,
  data: Record<string, unknown>,
  now: number,
): Promise<void> {
  const key = `${device}/evt/${evtId}`;
  const comp = typeof data.comp === "string" ? data.comp : undefined;
  const n = {
    kind: "low-stock" as const,
    key,
    device,
    ...(comp !== undefined ? { comp } : {}),
    ...(typeof data.doses === "number" ? { doses: data.doses } : {}),
    ...(typeof data.days === "number" ? { days: data.days } : {}),
  };
  const jobs: NewJob[] = [];
  const seen = new Set<string>();
  const ph = pharmacistOf(ctx.book, device);
  const phCh = ph && pickChannel(ph, "push");
  if (ph && phCh) {
    jobs.push(jobFor(ctx, device, key, null, PHARMACIST_REF, ph, phCh, n, now, false));
    seen.add(ph.id);
  }
  for (const ref of stockRefs(ctx, device, comp)) {
    const p = resolveRecipient(ctx.book, device, ref);
    const ch = p && pickChannel(p, "push");
    if (!p || !ch || seen.has(p.id)) continue;
    seen.add(p.id);
    jobs.push(jobFor(ctx, device, key, null, ref, p, ch, n, now, false));
  }
  if (jobs.length === 0) {
    await ctx.audit(x, "stock.unnotified", device, "RELAY_NO_RECIPIENT", { key, comp: comp ?? null });
    return;
  }
  await claimRelayKey(ctx, x, device, key, null, jobs, now);
}

/**
 * Telemetry says the weight cannot confirm a compartment's pills (tele `weigh`, `sure: false`,
 * docs/load-cells.md "Detectability"): tell the pharmacist once per device, config and
 * compartment (low priority), so they know before its doses escalate as unconfirmed.
 */
export async function handleWeigh(ctx: RelayCtx, x: Tx, device: string, cfgHash: string, weigh: unknown, now: number): Promise<void> {
  if (!Array.isArray(weigh)) return;
  const ph = pharmacistOf(ctx.book, device);
  const ch = ph && pickChannel(ph, "push");
  for (const w of weigh.slice(0, 16)) {
    if (typeof w !== "object" || w === null) continue;
    const { comp, z, sure } = w as { comp?: unknown; z?: unknown; sure?: unknown };
    if (sure !== false || typeof comp !== "string" || !COMP_RE.test(comp)) continue;
    const key = `${device}/weigh/${cfgHash}/${comp}`;
    if (!ph || !ch) {
      await ctx.audit(x, "weigh.unnotified", device, "RELAY_NO_RECIPIENT", { comp });
      continue;
    }
    const n = { kind: "weigh" as const, key, device, comp, ...(typeof z === "number" && Number.isFinite(z) ? { z } : {}) };
    await claimRelayKey(ctx, x, device, key, null, [jobFor(ctx, device, key, null, PHARMACIST_REF, ph, ch, n, now, false)], now);
  }
}
