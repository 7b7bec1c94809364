/**
 * Sending a firmware update (docs/ota.md): sign the image header into an `ota` command, stream the
 * chunks on dk/<id>/cmnd/otadata one at a time (stop and wait on each answer, resend from the
 * device's `next` after a gap or a lost answer), then follow the device's events until the new
 * image is accepted (`ota.valid`) or the previous one is back (`ota.rejected` / `ota.rolled_back`).
 * Audited like every remote change.
 */
import { randomBytes } from "node:crypto";
import type { MqttClient } from "mqtt";
import { chunkMessages, imageArgs } from "../firmware-image";
import { signEnvelope } from "../signing";
import { osUser } from "./audit";
import { audit, awaitStat, type BrokerOptions, connectBroker, envRef, type SigningKey, type Stat } from "./broker";
import { commandTopic, deviceTopic, OTA_DATA_COMMAND, VERB } from "../../firmware/core/protocol/topics";
import { EV } from "../../firmware/core/protocol/events";

export interface UpdateOptions {
  device: string;
  image: Uint8Array;
  version: string;
  target: string;
  key: SigningKey;
  broker: BrokerOptions;
  chunkBytes?: number;
  /** Per answer (command, chunk). Default 30 s. */
  timeoutMs?: number;
  /** From staged to accepted or rolled back (restart, up to 3 min of trial). Default 6 min. */
  trialTimeoutMs?: number;
  expiresMs?: number;
  audit?: string;
  now?: () => number;
  /** Progress lines. */
  progress?: (line: string) => void;
}

export type UpdateOutcome = "valid" | "refused" | "failed" | "rolled_back" | "timeout";

export interface UpdateResult {
  outcome: UpdateOutcome;
  id: string;
  code?: string;
  /** The trial's failed checks, or the rollback's reason. */
  detail?: string;
  chunks: number;
  resent: number;
}

const ATTEMPTS = 5;

export async function sendUpdate(o: UpdateOptions): Promise<UpdateResult> {
  const now = o.now ?? Date.now;
  const say = o.progress ?? (() => {});
  const id = randomBytes(6).toString("hex");
  const args = imageArgs(o.image, o.version, o.target, o.key.privateKeyPem, o.key.kid);
  const img = args.sha256.substring(0, 16);
  const t = now();
  const body = {
    type: "cmd",
    name: "ota",
    device: o.device,
    id,
    issuedAt: new Date(t).toISOString(),
    expires: new Date(t + (o.expiresMs ?? 600_000)).toISOString(),
    args,
  };
  const text = JSON.stringify(signEnvelope(body, o.key.privateKeyPem, o.key.kid));
  const env = envRef(text);
  const chunks = chunkMessages(o.image, args.sha256, o.chunkBytes);
  const offsets = chunks.map((c) => (JSON.parse(c) as { off: number }).off);
  const timeout = o.timeoutMs ?? 30_000;
  const record = (res: UpdateResult): UpdateResult => {
    audit(o.audit, {
      action: "command",
      who: { kid: o.key.kid, user: osUser() },
      device: o.device,
      name: "ota",
      id,
      env,
      outcome: res.outcome,
      code: res.code ?? res.detail,
      broker: o.broker.url,
    });
    return res;
  };
  let c: MqttClient | undefined;
  let resent = 0;
  try {
    c = await connectBroker(o.broker);
    const client = c;
    const events = watchEvents(client, o.device);
    await client.subscribeAsync(deviceTopic(o.device, VERB.evt), { qos: 1 });
    const started = await awaitStat(
      client,
      o.device,
      (s) => s.ref === `cmd:ota:${id}` || s.env === env,
      async () => void (await client.publishAsync(commandTopic(o.device, "ota"), text, { qos: 1 })),
      timeout,
    );
    if (started === undefined) return record({ outcome: "timeout", id, chunks: chunks.length, resent });
    if (started.ok !== true) return record({ outcome: "refused", id, code: String(started.code), chunks: chunks.length, resent });
    let next = typeof started.next === "number" ? started.next : 0;
    say(`ota ${o.version} accepted by ${o.device}: ${o.image.length} bytes in ${chunks.length} chunks, from offset ${next}\n`);
    let misses = 0;
    while (next < o.image.length) {
      const i = offsets.indexOf(next);
      if (i < 0) return record({ outcome: "failed", id, code: "OTA_OFFSET", chunks: chunks.length, resent });
      const ans: Stat | undefined = await awaitStat(
        client,
        o.device,
        (s) => s.ref === "ota" && (s.img === img || s.img === undefined),
        async () => void (await client.publishAsync(commandTopic(o.device, OTA_DATA_COMMAND), chunks[i], { qos: 1 })),
        timeout,
      );
      if (ans === undefined || (ans.ok !== true && ans.code === "OTA_GAP")) {
        if (++misses > ATTEMPTS) return record({ outcome: "timeout", id, chunks: chunks.length, resent });
        resent++;
        if (ans !== undefined && typeof ans.next === "number") next = ans.next;
        continue;
      }
      if (ans.ok !== true) return record({ outcome: "failed", id, code: String(ans.code), chunks: chunks.length, resent });
      misses = 0;
      next = typeof ans.next === "number" ? ans.next : next;
    }
    say(`image staged on ${o.device}; it restarts into ${o.version} and runs its self-test\n`);
    const end = await events.until(
      (e) =>
        ((e.type === EV.OTA_VALID || e.type === EV.OTA_REJECTED) && e.data.version === o.version) ||
        (e.type === EV.OTA_ROLLED_BACK && e.data.tried === o.version),
      o.trialTimeoutMs ?? 360_000,
    );
    events.stop();
    if (end === undefined) return record({ outcome: "timeout", id, chunks: chunks.length, resent });
    if (end.type === EV.OTA_VALID) return record({ outcome: "valid", id, chunks: chunks.length, resent });
    const why = Array.isArray(end.data.failed) ? `failed: ${(end.data.failed as string[]).join(", ")}` : String(end.data.reason ?? "");
    return record({ outcome: "rolled_back", id, detail: why, chunks: chunks.length, resent });
  } catch (e) {
    record({ outcome: "failed", id, code: (e as Error).message, chunks: chunks.length, resent });
    throw e;
  } finally {
    if (c) await c.endAsync();
  }
}

interface DeviceEvent {
  type: string;
  data: Record<string, unknown>;
}

/** The device's events from now on (buffered, so none is missed between the stages). */
function watchEvents(c: MqttClient, device: string) {
  const topic = deviceTopic(device, VERB.evt);
  const seen: DeviceEvent[] = [];
  let wake: (() => void) | undefined;
  const onMsg = (t: string, payload: Buffer): void => {
    if (t !== topic) return;
    try {
      const e = JSON.parse(payload.toString("utf8")) as DeviceEvent;
      if (e && typeof e.type === "string" && typeof e.data === "object" && e.data !== null) seen.push(e);
      wake?.();
    } catch {
      // not an event
    }
  };
  c.on("message", onMsg);
  return {
    async until(match: (e: DeviceEvent) => boolean, ms: number): Promise<DeviceEvent | undefined> {
      const deadline = Date.now() + ms;
      for (;;) {
        const hit = seen.find(match);
        if (hit !== undefined) return hit;
        const left = deadline - Date.now();
        if (left <= 0) return undefined;
        await new Promise<void>((r) => {
          const timer = setTimeout(r, left);
          wake = () => {
            clearTimeout(timer);
            r();
          };
        });
        wake = undefined;
      }
    },
    stop: () => c.removeListener("message", onMsg),
  };
}
