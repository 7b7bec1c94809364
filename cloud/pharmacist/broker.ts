/**
 * What every pharmacist tool shares: broker connection, signing keys, durations, the wait for a
 * device's answer on its stat topic, outcomes and the audit hook.
 */
import { createHash, randomBytes } from "node:crypto";
import * as fs from "node:fs";
import mqtt, { type IClientOptions, type MqttClient } from "mqtt";
import type { HardwareLimits } from "../../firmware/core/config/validate";
import { kidOf, publicKeyB64FromPrivatePem } from "../signing";
import { appendAudit, type AuditRecord } from "./audit";
import { deviceTopic, VERB } from "../../firmware/core/protocol/topics";
import { redactUrl } from "../redact";

/** Local validation limits: larger than any dispenser, so only the device judges its hardware. */
export const GENEROUS_HW: HardwareLimits = { channels: 16, leds: 64 };
export { DEVICE_ID_RE } from "../../firmware/core/protocol/ids";
export const COMMANDS = ["tare", "calibrate", "identify", "silence", "refill", "keys", "decommission"] as const;

export interface BrokerOptions {
  /** mqtt://host:port or mqtts://host:port */
  url: string;
  username?: string;
  password?: string;
  /** PEM CA certificate(s) for mqtts:// */
  ca?: string;
  /** Connect deadline. Default 10 s. */
  connectTimeoutMs?: number;
}

export interface SigningKey {
  kid: string;
  privateKeyPem: string;
}

export function loadKey(file: string): SigningKey {
  const pem = fs.readFileSync(file, "utf8");
  const pub = publicKeyB64FromPrivatePem(pem);
  return { kid: kidOf(Buffer.from(pub, "base64")), privateKeyPem: pem };
}

/** "30s", "24h", "10m", "500ms", "7d", or a bare number of seconds. */
export function parseDuration(s: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(s.trim());
  if (!m) return undefined;
  const n = Number(m[1]);
  const unit = m[2] ?? "s";
  const mult = unit === "ms" ? 1 : unit === "s" ? 1000 : unit === "m" ? 60_000 : unit === "h" ? 3_600_000 : 86_400_000;
  const v = Math.round(n * mult);
  return v > 0 ? v : undefined;
}

/** sha-256 prefix (16 hex) of the published bytes; the device echoes it as `env` on stat. */
export function envRef(text: string): string {
  return createHash("sha256").update(Buffer.from(text, "utf8")).digest().subarray(0, 8).toString("hex");
}

export function connectBroker(b: BrokerOptions): Promise<MqttClient> {
  const opts: IClientOptions = {
    protocolVersion: 4,
    clean: true,
    reconnectPeriod: 0,
    connectTimeout: b.connectTimeoutMs ?? 10_000,
    clientId: "dk-pharmacist-" + randomBytes(4).toString("hex"),
    username: b.username,
    password: b.password,
  };
  if (b.ca !== undefined) opts.ca = b.ca;
  return new Promise((resolve, reject) => {
    const c = mqtt.connect(b.url, opts);
    const fail = (e: Error): void => {
      c.end(true);
      reject(new Error("broker " + b.url + ": " + e.message));
    };
    c.once("connect", () => {
      c.removeListener("error", fail);
      c.on("error", () => {});
      resolve(c);
    });
    c.once("error", fail);
    c.once("close", () => fail(new Error("connection closed")));
  });
}

export type Stat = Record<string, unknown>;

/** Subscribe to the device's stat topic, then run `send`; resolve with the first stat `match` accepts, or undefined after `timeoutMs`. */
export async function awaitStat(
  c: MqttClient,
  device: string,
  match: (s: Stat) => boolean,
  send: () => Promise<void>,
  timeoutMs: number,
): Promise<Stat | undefined> {
  const topic = deviceTopic(device, VERB.stat);
  let done: (s: Stat | undefined) => void = () => {};
  const result = new Promise<Stat | undefined>((r) => (done = r));
  const onMsg = (t: string, payload: Buffer): void => {
    if (t !== topic) return;
    try {
      const s = JSON.parse(payload.toString("utf8")) as Stat;
      if (s && typeof s === "object" && match(s)) done(s);
    } catch {
      // not ours
    }
  };
  c.on("message", onMsg);
  await c.subscribeAsync(topic, { qos: 1 });
  await send();
  const timer = setTimeout(() => done(undefined), timeoutMs);
  const s = await result;
  clearTimeout(timer);
  c.removeListener("message", onMsg);
  return s;
}

export type Outcome = "ack" | "refused" | "timeout" | "invalid";

export interface PushConfigOptions {
  device: string;
  config: unknown;
  key: SigningKey;
  broker: BrokerOptions;
  timeoutMs?: number;
  /** Validity of the signed body. Default 24 h. */
  expiresMs?: number;
  /** Skip local validation (let the device judge). */
  noValidate?: boolean;
  /** Append to this audit file. */
  audit?: string;
  now?: () => number;
}

export interface PushConfigResult {
  outcome: Outcome;
  version?: number;
  hash?: string;
  env?: string;
  /** Local validation errors (outcome "invalid") or the device's refusal errors. */
  errors: { code: string; path: string; message?: string }[];
  code?: string;
  stat?: Stat;
}

export function audit(file: string | undefined, rec: Omit<AuditRecord, "time">): void {
  if (file !== undefined)
    appendAudit(file, { time: new Date().toISOString(), ...rec, ...(rec.broker !== undefined ? { broker: redactUrl(rec.broker) } : {}) });
}
