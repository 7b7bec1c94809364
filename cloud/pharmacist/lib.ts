/**
 * Pharmacist library (Node): sign and push configurations and commands to dispensers over MQTT,
 * read their status and events, and keep an audit log. The CLI (cli.ts) is a thin layer on top.
 * Protocol: docs/protocol.md; signing: docs/signing.md; usage: docs/pharmacist.md.
 */
import { createHash, randomBytes } from "node:crypto";
import * as fs from "node:fs";
import mqtt, { type IClientOptions, type MqttClient } from "mqtt";
import { validateConfig, type ConfigError, type HardwareLimits } from "../../firmware/core/config/validate";
import { canonicalJson } from "../../firmware/core/config/canonical";
import { configHash } from "../../firmware/core/config/hash";
import { MAX_PAYLOAD_BYTES } from "../../firmware/core/crypto/signed";
import { kidOf, publicKeyB64FromPrivatePem, signEnvelope } from "../signing";
import { appendAudit, osUser, type AuditRecord } from "./audit";

/** Local validation limits: larger than any dispenser, so only the device judges its hardware. */
export const GENEROUS_HW: HardwareLimits = { channels: 16, leds: 64 };
export { DEVICE_ID_RE } from "../../firmware/core/protocol/ids";
export const COMMANDS = ["tare", "calibrate", "identify", "silence", "decommission"] as const;

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

type Stat = Record<string, unknown>;

/** Subscribe to the device's stat topic, then run `send`; resolve with the first stat `match` accepts, or undefined after `timeoutMs`. */
async function awaitStat(
  c: MqttClient,
  device: string,
  match: (s: Stat) => boolean,
  send: () => Promise<void>,
  timeoutMs: number,
): Promise<Stat | undefined> {
  const topic = `dk/${device}/stat`;
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

function audit(file: string | undefined, rec: Omit<AuditRecord, "time">): void {
  if (file !== undefined) appendAudit(file, { time: new Date().toISOString(), ...rec });
}

export async function pushConfig(o: PushConfigOptions): Promise<PushConfigResult> {
  const now = o.now ?? Date.now;
  const who = { kid: o.key.kid, user: osUser() };
  const cfg = o.config as Record<string, unknown>;
  const version = typeof cfg?.version === "number" ? cfg.version : undefined;
  const invalid = (errors: { code: string; path: string; message?: string }[]): PushConfigResult => {
    audit(o.audit, {
      action: "config.push",
      who,
      device: o.device,
      version,
      outcome: "invalid",
      errors: errors.slice(0, 20).map((e) => ({ code: e.code, path: e.path })),
      broker: o.broker.url,
    });
    return { outcome: "invalid", version, errors };
  };
  let hash: string | undefined;
  if (!o.noValidate) {
    const v = validateConfig(o.config, GENEROUS_HW);
    if (!v.ok) return invalid(v.errors.map((e: ConfigError) => ({ code: e.code, path: e.path, message: e.message })));
    hash = configHash(canonicalJson(v.config));
  }
  if (typeof cfg !== "object" || cfg === null || cfg.device !== o.device) {
    return invalid([{ code: "CFG_WRONG_DEVICE", path: "device", message: `the file is for ${String(cfg?.device)}, not ${o.device}` }]);
  }
  const t = now();
  const body = {
    type: "config",
    device: o.device,
    version,
    issuedAt: new Date(t).toISOString(),
    expires: new Date(t + (o.expiresMs ?? 86_400_000)).toISOString(),
    config: o.config,
  };
  const text = JSON.stringify(signEnvelope(body, o.key.privateKeyPem, o.key.kid));
  const payloadBytes = Math.ceil((JSON.parse(text).payload as string).length / 4) * 3;
  if (payloadBytes > MAX_PAYLOAD_BYTES)
    return invalid([{ code: "SIG_PAYLOAD", path: "", message: `signed body larger than ${MAX_PAYLOAD_BYTES} bytes` }]);
  const env = envRef(text);
  let c: MqttClient | undefined;
  try {
    c = await connectBroker(o.broker);
    const client = c;
    const stat = await awaitStat(
      client,
      o.device,
      (s) => s.ref === "config" && s.env === env,
      async () => {
        await client.publishAsync(`dk/${o.device}/cmnd/config`, text, { qos: 1, retain: true });
      },
      o.timeoutMs ?? 30_000,
    );
    let res: PushConfigResult;
    if (stat === undefined) res = { outcome: "timeout", version, hash, env, errors: [] };
    else if (stat.ok === true)
      res = { outcome: "ack", version, hash: typeof stat.hash === "string" ? stat.hash : hash, env, errors: [], stat };
    else {
      res = {
        outcome: "refused",
        version,
        hash,
        env,
        code: String(stat.code),
        errors: Array.isArray(stat.errors) ? (stat.errors as { code: string; path: string }[]) : [],
        stat,
      };
      // A refused config must not stay retained: it would be refused again at every session loss.
      await client.publishAsync(`dk/${o.device}/cmnd/config`, "", { qos: 1, retain: true });
    }
    audit(o.audit, {
      action: "config.push",
      who,
      device: o.device,
      version,
      hash: res.hash,
      env,
      outcome: res.outcome,
      code: res.code,
      errors: res.errors.length ? res.errors.map((e) => ({ code: e.code, path: e.path })) : undefined,
      broker: o.broker.url,
    });
    return res;
  } catch (e) {
    audit(o.audit, {
      action: "config.push",
      who,
      device: o.device,
      version,
      hash,
      env,
      outcome: "error",
      code: (e as Error).message,
      broker: o.broker.url,
    });
    throw e;
  } finally {
    if (c) await c.endAsync();
  }
}

export interface CommandOptions {
  device: string;
  name: string;
  args?: Record<string, unknown>;
  key: SigningKey;
  broker: BrokerOptions;
  timeoutMs?: number;
  /** Validity of the signed command (≤ 1 h, the device refuses longer). Default 10 min. */
  expiresMs?: number;
  audit?: string;
  now?: () => number;
}

export interface CommandResult {
  outcome: Exclude<Outcome, "invalid">;
  id: string;
  env: string;
  code?: string;
  stat?: Stat;
}

export async function sendCommand(o: CommandOptions): Promise<CommandResult> {
  const now = o.now ?? Date.now;
  const who = { kid: o.key.kid, user: osUser() };
  const id = randomBytes(6).toString("hex");
  const t = now();
  const body = {
    type: "cmd",
    name: o.name,
    device: o.device,
    id,
    issuedAt: new Date(t).toISOString(),
    expires: new Date(t + (o.expiresMs ?? 600_000)).toISOString(),
    args: o.args ?? {},
  };
  const text = JSON.stringify(signEnvelope(body, o.key.privateKeyPem, o.key.kid));
  const env = envRef(text);
  const ref = `cmd:${o.name}:${id}`;
  let c: MqttClient | undefined;
  try {
    c = await connectBroker(o.broker);
    const client = c;
    const stat = await awaitStat(
      client,
      o.device,
      (s) => s.ref === ref,
      async () => {
        await client.publishAsync(`dk/${o.device}/cmnd/${o.name}`, text, { qos: 1 });
      },
      o.timeoutMs ?? 30_000,
    );
    const res: CommandResult =
      stat === undefined
        ? { outcome: "timeout", id, env }
        : stat.ok === true
          ? { outcome: "ack", id, env, stat }
          : { outcome: "refused", id, env, code: String(stat.code), stat };
    if (o.name === "decommission" && res.outcome === "ack") {
      // The device is wiped: clear its retained config so a re-provisioned device starts clean.
      await client.publishAsync(`dk/${o.device}/cmnd/config`, "", { qos: 1, retain: true });
    }
    audit(o.audit, {
      action: "command",
      who,
      device: o.device,
      name: o.name,
      id,
      env,
      outcome: res.outcome,
      code: res.code,
      broker: o.broker.url,
    });
    return res;
  } catch (e) {
    audit(o.audit, {
      action: "command",
      who,
      device: o.device,
      name: o.name,
      id,
      env,
      outcome: "error",
      code: (e as Error).message,
      broker: o.broker.url,
    });
    throw e;
  } finally {
    if (c) await c.endAsync();
  }
}

export interface DeviceStatus {
  status?: Record<string, unknown>;
  tele?: Record<string, unknown>;
}

/** Retained status and telemetry of a device (waits up to `waitMs` for them). */
export async function readStatus(device: string, broker: BrokerOptions, waitMs = 2000): Promise<DeviceStatus> {
  const c = await connectBroker(broker);
  const out: DeviceStatus = {};
  try {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, waitMs);
      c.on("message", (t, payload) => {
        try {
          const v = JSON.parse(payload.toString("utf8")) as Record<string, unknown>;
          if (t.endsWith("/status")) out.status = v;
          if (t.endsWith("/tele")) out.tele = v;
        } catch {
          // ignore
        }
        if (out.status && out.tele) {
          clearTimeout(timer);
          resolve();
        }
      });
      c.subscribeAsync([`dk/${device}/status`, `dk/${device}/tele`], { qos: 1 }).catch(() => resolve());
    });
  } finally {
    await c.endAsync();
  }
  return out;
}

/** Events published by the device while listening (`forMs`), oldest first, deduplicated by id. */
export async function listenHistory(
  device: string,
  broker: BrokerOptions,
  forMs: number,
  sinceMs?: number,
  onEvent?: (e: Record<string, unknown>) => void,
): Promise<Record<string, unknown>[]> {
  const c = await connectBroker(broker);
  const seen = new Set<string>();
  const out: Record<string, unknown>[] = [];
  try {
    c.on("message", (_t, payload) => {
      try {
        const e = JSON.parse(payload.toString("utf8")) as Record<string, unknown>;
        const id = String(e.id);
        if (seen.has(id)) return;
        if (sinceMs !== undefined && typeof e.t === "string" && Date.parse(e.t) < sinceMs) return;
        seen.add(id);
        out.push(e);
        if (onEvent) onEvent(e);
      } catch {
        // ignore
      }
    });
    await c.subscribeAsync(`dk/${device}/evt`, { qos: 1 });
    await new Promise((r) => setTimeout(r, forMs));
  } finally {
    await c.endAsync();
  }
  return out;
}

/** Events from a relay HTTP API: GET <api>/devices/<id>/events?since=<iso> → JSON array (or {events: [...]}). */
export async function fetchHistory(api: string, device: string, sinceMs?: number): Promise<Record<string, unknown>[]> {
  const url = new URL(`devices/${encodeURIComponent(device)}/events`, api.endsWith("/") ? api : api + "/");
  if (sinceMs !== undefined) url.searchParams.set("since", new Date(sinceMs).toISOString());
  const res = await fetch(url);
  if (!res.ok) throw new Error(`GET ${url.href}: HTTP ${res.status}`);
  const j = (await res.json()) as unknown;
  if (Array.isArray(j)) return j as Record<string, unknown>[];
  if (j && typeof j === "object" && Array.isArray((j as { events?: unknown }).events))
    return (j as { events: Record<string, unknown>[] }).events;
  throw new Error("unexpected relay API answer");
}
