/**
 * One incoming device message (dk/<id>/evt | status | tele), inside a commit unit: the topic and
 * JSON are checked (problems audited, the message then acknowledged: a poison message never
 * blocks the stream), liveness is updated, every event is recorded once by id, and the event
 * types the relay acts on go to their handler.
 */
import { EV } from "../../../firmware/core/protocol/events";
import { DEVICE_ID_RE } from "../../../firmware/core/protocol/ids";
import { isObj } from "../../../firmware/core/protocol/json";
import { parseTopic, VERB } from "../../../firmware/core/protocol/topics";
import type { RelayCtx, Tx } from "../context";
import { DEVICE_MESSAGE_MAX, DEVICE_MESSAGES_PER_MIN, type DeviceLiveness } from "./devices";
import { handleRefillMismatch, handleStockLow, handleWeigh } from "./refill";
import { handleFirmware } from "./firmware";
import { handleRequest } from "./request";
import { handleResolve } from "./resolve";

export async function onMessage(
  ctx: RelayCtx,
  live: DeviceLiveness,
  x: Tx,
  topic: string,
  payload: Buffer,
  now: number,
  retained = false,
): Promise<void> {
  if (ctx.life.dead) return;
  const t = parseTopic(topic);
  const device = t?.device ?? "";
  if (t === undefined || t.name !== "" || !DEVICE_ID_RE.test(device)) {
    await ctx.audit(x, "message.problem", null, "RELAY_TOPIC", { topic: topic.slice(0, 100) });
    return;
  }
  const verb = t.verb;
  // A device the relay does not serve (not in the contact book, no config) is refused: nothing of
  // it is stored and nobody is paged for it; audited once an hour per device id.
  if (ctx.book.devices[device] === undefined && ctx.schedules.get(device) === undefined) {
    if (live.unknownAllowed(device, now))
      await ctx.audit(x, "message.refused", device, "RELAY_UNKNOWN_DEVICE", { topic: topic.slice(0, 100) });
    return;
  }
  if (payload.length > DEVICE_MESSAGE_MAX) {
    const n = live.budget.drop(device + " too-big", now);
    if (n > 0) await ctx.audit(x, "message.refused", device, "RELAY_TOO_BIG", { topic, bytes: payload.length, count: n });
    return;
  }
  const within = live.budget.within(device, now);
  if (!within && verb !== VERB.evt && verb !== VERB.status) return limited(ctx, live, x, device, now);
  let msg: unknown;
  try {
    msg = JSON.parse(payload.toString("utf8"));
  } catch {
    if (!within) return limited(ctx, live, x, device, now);
    await ctx.audit(x, "message.problem", device, "RELAY_JSON", { topic, bytes: payload.length });
    if (verb === VERB.evt && !retained) await live.seen(x, device, now);
    return;
  }
  if (!isObj(msg) || msg.v !== 1) {
    await ctx.audit(x, "message.problem", device, isObj(msg) ? "RELAY_VERSION" : "RELAY_FIELD", { topic });
    return;
  }
  if (verb === VERB.status) {
    if (typeof msg.online !== "boolean") {
      await ctx.audit(x, "message.problem", device, "RELAY_FIELD", { topic, field: "online" });
      return;
    }
    if (retained) {
      // A replay at (re)subscription says nothing about now: never liveness. Only a device the
      // store knows nothing of gets its offline state recorded (a baseline for the dead-man).
      if (!msg.online && (await x.db.deviceState(device)) === null) await x.db.setOnline(device, false, now);
      return;
    }
    await x.db.setOnline(device, msg.online, now);
    if (msg.online) {
      live.forget(device);
      await live.seen(x, device, now);
    }
    return;
  }
  if (verb === VERB.tele) {
    if (!retained) await live.seen(x, device, now);
    // A state report, not liveness: a retained copy tells it too (once per config and compartment).
    const cfg = isObj(msg.cfg) && typeof msg.cfg.hash === "string" ? msg.cfg.hash.slice(0, 32) : undefined;
    if (cfg !== undefined && msg.weigh !== undefined) await handleWeigh(ctx, x, device, cfg, msg.weigh, now);
    return;
  }
  if (verb !== VERB.evt) return;
  if (!retained) await live.seen(x, device, now);
  if (!within && msg.type !== EV.RELAY_REQUEST && msg.type !== EV.RELAY_RESOLVE) return limited(ctx, live, x, device, now);
  if (typeof msg.id !== "string" || msg.id.length === 0 || msg.id.length > 64 || typeof msg.type !== "string" || !isObj(msg.data ?? {})) {
    await ctx.audit(x, "message.problem", device, "RELAY_FIELD", { topic, field: typeof msg.id !== "string" ? "id" : "type" });
    return;
  }
  const data = (msg.data ?? {}) as Record<string, unknown>;
  const tMs = typeof msg.t === "string" ? Date.parse(msg.t) : NaN;
  const fresh = await x.db.recordEvent({
    device,
    id: msg.id,
    seq: typeof msg.seq === "number" && Number.isSafeInteger(msg.seq) ? msg.seq : null,
    type: msg.type,
    tMs: Number.isFinite(tMs) ? tMs : null,
    slot: typeof data.slot === "string" ? data.slot.slice(0, 64) : null,
    data,
    receivedAt: now,
  });
  // A duplicate (redelivery, the live and the stream copy of one message, an outbox replay with
  // the same id) was handled in the transaction that recorded it: nothing more to do.
  if (!fresh) return;
  switch (msg.type) {
    case EV.RELAY_REQUEST:
      // The device's time of the request (never later than now) judges an acknowledgement's window.
      await handleRequest(ctx, x, device, msg.id, data, now, Number.isFinite(tMs) ? Math.min(tMs, now) : now);
      return;
    case EV.RELAY_RESOLVE:
      await handleResolve(ctx, x, device, data, now);
      return;
    case EV.REFILL_MISMATCH:
      await handleRefillMismatch(ctx, x, device, msg.id, data, now);
      return;
    case EV.STOCK_LOW:
      await handleStockLow(ctx, x, device, msg.id, data, now);
      return;
    case EV.SAFE_MODE:
    case EV.OTA_ROLLED_BACK:
      await handleFirmware(ctx, x, device, msg.id, msg.type, data, now);
      return;
  }
}

/** A message over the device's rate: dropped, counted, audited once a minute with the count. */
async function limited(ctx: RelayCtx, live: DeviceLiveness, x: Tx, device: string, now: number): Promise<void> {
  const n = live.budget.drop(device, now);
  if (n > 0) await ctx.audit(x, "message.limited", device, "RELAY_RATE", { dropped: n, perMinute: DEVICE_MESSAGES_PER_MIN });
}
