/**
 * Firmware events the pharmacist must hear of (docs/ota.md): `boot.safe_mode` (a crash loop: the
 * box runs safe, its doses cannot be confirmed by weight and will escalate in full; high priority)
 * and `ota.rolled_back` (an update failed its trial and the previous image is back; low priority).
 * Once per event id, to the pharmacist of the device (push, else their preferred channel).
 * Versions reach the text only when they look like versions (no device text in a notice).
 */
import type { RelayCtx, Tx } from "../context";
import { PHARMACIST_REF } from "../context";
import { pharmacistOf, pickChannel } from "../contacts";
import { claimRelayKey, jobFor } from "../jobs/plan";
import { EV } from "../../../firmware/core/protocol/events";

const VERSION_RE = /^[0-9]{1,4}\.[0-9]{1,4}\.[0-9]{1,4}(?:-[a-z0-9.]{1,16})?$/;
const REASONS = ["OTA_SELFTEST", "OTA_TRIAL_RESET"];

export async function handleFirmware(
  ctx: RelayCtx,
  x: Tx,
  device: string,
  evtId: string,
  type: string,
  data: Record<string, unknown>,
  now: number,
): Promise<void> {
  const ph = pharmacistOf(ctx.book, device);
  const ch = ph && pickChannel(ph, "push");
  if (!ph || !ch) {
    await ctx.audit(x, "firmware.unnotified", device, "RELAY_NO_RECIPIENT", { type });
    return;
  }
  const key = `${device}/evt/${evtId}`;
  const version = (v: unknown): string | undefined => (typeof v === "string" && VERSION_RE.test(v) ? v : undefined);
  const n =
    type === EV.SAFE_MODE
      ? {
          kind: "safe-mode" as const,
          key,
          device,
          ...(typeof data.crashes === "number" && Number.isInteger(data.crashes) ? { doses: Math.min(data.crashes, 999) } : {}),
        }
      : {
          kind: "rollback" as const,
          key,
          device,
          ...(version(data.tried) !== undefined ? { tried: version(data.tried) } : {}),
          ...(version(data.running) !== undefined ? { running: version(data.running) } : {}),
          ...(typeof data.reason === "string" && REASONS.includes(data.reason) ? { reason: data.reason } : {}),
        };
  await claimRelayKey(ctx, x, device, key, null, [jobFor(ctx, device, key, null, PHARMACIST_REF, ph, ch, n, now, false)], now);
}
