/**
 * Chaos harness for the relay tier: relay instances as real processes (the CLI, so kill -9 is
 * real), ≥ 50 simulated dispensers (mqtt.js, persistent sessions, QoS 1, resending what was not
 * acknowledged after a reconnect, as the firmware does), a strict mock SMS provider (Twilio form,
 * Basic auth checked) that counts every notification by (phone, slot reference). Each case sends
 * a bounded stream of escalation requests while a fault is injected, then waits until every one
 * has reached the provider, and reports delivered / lost / duplicated and delays.
 */
import { type ChildProcess, spawn } from "node:child_process";
import * as http from "node:http";
import type * as net from "node:net";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import mqtt, { type IClientOptions, type MqttClient } from "mqtt";
import { expect } from "vitest";
import { sleep, waitFor } from "../../../support/net";

const ROOT = fileURLToPath(new URL("../../../..", import.meta.url));

export interface Engine {
  readonly name: string;
  /** Broker addresses device i may use (failover order). */
  deviceServers(i: number): { host: string; port: number }[];
  /** Credentials of a device. */
  deviceAuth(id: string): { username?: string; password?: string };
  /** Relay CLI arguments (broker, ingest mode) for an instance. */
  relayArgs(instance: string): string[];
  /** Relay environment (credentials) for an instance. */
  relayEnv(instance: string): Record<string, string>;
}

export const deviceId = (i: number): string => "dk-c" + String(i).padStart(3, "0");
export const phoneOf = (i: number): string => "+3361000" + String(i).padStart(4, "0");

/** Contacts: device i pages person i (SMS) as "caregiver-1". */
export function chaosContacts(devices: number): Record<string, unknown> {
  const people: Record<string, unknown> = { oncall: { name: "On-call", phone: "+33155555555", channels: ["sms"] } };
  const devs: Record<string, unknown> = {};
  for (let i = 0; i < devices; i++) {
    people["p" + i] = { name: "Person " + i, phone: phoneOf(i), channels: ["sms"], lang: "en" };
    devs[deviceId(i)] = { recipients: { "caregiver-1": "p" + i } };
  }
  return { fallback: "oncall", people, devices: devs };
}

export const SMS_SID = "ACchaos";
export const SMS_TOKEN = "chaos-token-0123456789";

/** A strict Twilio-compatible SMS mock: Basic auth required; counts (To, ref) deliveries. */
export async function startSmsMock(): Promise<{
  url: string;
  deliveries: Map<string, number[]>;
  refused: number;
  close(): Promise<void>;
}> {
  const deliveries = new Map<string, number[]>();
  const state = { url: "", deliveries, refused: 0, close: async () => undefined as void };
  const auth = "Basic " + Buffer.from(`${SMS_SID}:${SMS_TOKEN}`).toString("base64");
  let n = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      if (req.headers.authorization !== auth || req.url !== `/2010-04-01/Accounts/${SMS_SID}/Messages.json`) {
        state.refused++;
        res.writeHead(401, { "content-type": "application/json" }).end('{"code":20003,"message":"Authenticate"}');
        return;
      }
      const q = new URLSearchParams(Buffer.concat(chunks).toString());
      const ref = /\(ref ([^)]+)\)/.exec(q.get("Body") ?? "")?.[1] ?? "?";
      const k = `${q.get("To")}|${ref}`;
      const list = deliveries.get(k) ?? [];
      list.push(Date.now());
      deliveries.set(k, list);
      res.writeHead(201, { "content-type": "application/json" }).end(JSON.stringify({ sid: "SM" + String(++n).padStart(32, "0") }));
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  state.url = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  state.close = () =>
    new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    });
  return state;
}

export interface RelayProc {
  readonly id: string;
  p: ChildProcess;
  log: string[];
}

/** Starts a relay instance (CLI) and waits for "ready". */
export async function startRelayProc(engine: Engine, id: string, db: string, contactsFile: string, smsUrl: string): Promise<RelayProc> {
  const p = spawn(
    process.execPath,
    [
      "--import",
      "tsx",
      "cloud/relay/cli.ts",
      ...engine.relayArgs(id),
      "--db",
      db,
      "--contacts",
      contactsFile,
      "--instance",
      id,
      "--lease-ms",
      "10000",
      "--poll-ms",
      "50",
      "--retry-base-ms",
      "200",
      "--no-deadman",
      "--receipt-retry-ms",
      "2000",
    ],
    {
      cwd: ROOT,
      stdio: ["ignore", "ignore", "pipe"],
      env: {
        ...process.env,
        TWILIO_BASE_URL: smsUrl,
        TWILIO_ACCOUNT_SID: SMS_SID,
        TWILIO_AUTH_TOKEN: SMS_TOKEN,
        TWILIO_FROM: "+15550001111",
        ...engine.relayEnv(id),
      },
    },
  );
  const r: RelayProc = { id, p, log: [] };
  p.stderr?.on("data", (c: Buffer) => {
    r.log.push(...c.toString().split("\n").filter(Boolean));
    if (r.log.length > 500) r.log.splice(0, 250);
  });
  await waitFor(id + " ready", () => r.log.some((l) => l.includes("] ready")) || p.exitCode !== null, 30_000);
  if (p.exitCode !== null) throw new Error(`${id} exited: ${r.log.slice(-8).join("\n")}`);
  return r;
}

export async function kill9(r: RelayProc): Promise<void> {
  if (r.p.exitCode !== null || r.p.signalCode !== null) return;
  const gone = new Promise((res) => r.p.once("exit", res));
  r.p.kill("SIGKILL");
  await gone;
}

export async function stopProc(r: RelayProc): Promise<void> {
  if (r.p.exitCode !== null || r.p.signalCode !== null) return;
  const gone = new Promise((res) => r.p.once("exit", res));
  r.p.kill("SIGTERM");
  await Promise.race([gone, sleep(8000).then(() => r.p.kill("SIGKILL"))]);
}

export interface Fleet {
  readonly clients: MqttClient[];
  close(): Promise<void>;
}

/** Connects the simulated dispensers (persistent sessions; mqtt.js resends unacknowledged QoS 1 after a reconnect). */
export async function startFleet(engine: Engine, n: number): Promise<Fleet> {
  const clients = await Promise.all(
    Array.from({ length: n }, async (_, i) => {
      const id = deviceId(i);
      const servers = engine.deviceServers(i);
      const o: IClientOptions = {
        clientId: id,
        clean: false,
        protocolVersion: 4,
        reconnectPeriod: 200,
        connectTimeout: 5000,
        keepalive: 10,
        servers,
        ...engine.deviceAuth(id),
      };
      const c = await mqtt.connectAsync(`mqtt://${servers[0].host}:${servers[0].port}`, o);
      await c.subscribeAsync(`dk/${id}/rcpt`, { qos: 1 });
      return c;
    }),
  );
  return {
    clients,
    close: async () => {
      await Promise.all(clients.map((c) => c.endAsync(true)));
    },
  };
}

export interface CaseReport {
  readonly name: string;
  readonly requests: number;
  readonly devices: number;
  /** PUBACKed by the broker (first offers and re-offers). */
  readonly acked: number;
  /** Offered again because the broker never acknowledged the first offer (a node died under it). */
  readonly resent: number;
  readonly delivered: number;
  readonly lost: number;
  readonly duplicated: number;
  readonly p50DelayMs: number;
  readonly p99DelayMs: number;
  readonly maxDelayMs: number;
  /** A few of the (phone|slot) never delivered, for diagnosis. */
  readonly lostSample: string[];
}

/**
 * Sends `requests` escalation requests spread over the fleet at `ratePerS` (a `burst` factor
 * multiplies the rate between 30 % and 50 % of the stream), runs `fault` when `faultAt` of the
 * stream is published, then waits up to `settleMs` for every one to reach the provider.
 */
export async function runCase(
  o: {
    name: string;
    tag: string;
    fleet: Fleet;
    sms: Awaited<ReturnType<typeof startSmsMock>>;
    requests: number;
    ratePerS: number;
    burst?: number;
    faultAt?: number;
    fault?: () => Promise<void>;
    settleMs: number;
  },
  log: (l: string) => void = () => undefined,
): Promise<CaseReport> {
  const n = o.fleet.clients.length;
  const sentAt = new Map<string, number>();
  let acked = 0;
  const acks: Promise<void>[] = [];
  /** Not PUBACKed yet: the firmware re-offers such events (same id) until the broker takes them. */
  const unacked = new Map<string, { i: number; topic: string; body: string }>();
  let faultDone: Promise<void> = Promise.resolve();
  const t0 = Date.now();
  let due = t0;
  for (let k = 0; k < o.requests; k++) {
    const i = k % n;
    const id = deviceId(i);
    const seq = Math.floor(k / n);
    const slot = `${o.tag}${seq}@2026-03-10`;
    const frac = k / o.requests;
    const rate = o.burst !== undefined && frac >= 0.3 && frac < 0.5 ? o.ratePerS * o.burst : o.ratePerS;
    due += 1000 / rate;
    const wait = due - Date.now();
    if (wait > 2) await sleep(wait);
    if (o.fault && k === Math.floor(o.requests * (o.faultAt ?? 0.4))) faultDone = o.fault();
    const body = JSON.stringify({
      v: 1,
      id: `${id}-${o.tag}-${seq}`,
      seq: k,
      type: "relay.request",
      cls: "escalation",
      t: new Date().toISOString(),
      mono: k,
      data: {
        key: `${id}/${slot}/3.0`,
        ch: "sms",
        to: ["caregiver-1"],
        slot,
        comp: "morning",
        step: 3,
        state: "late",
        due: "2026-03-10T07:00:00.000Z",
      },
    });
    const k2 = `${phoneOf(i)}|${slot}`;
    sentAt.set(k2, Date.now());
    unacked.set(k2, { i, topic: `dk/${id}/evt`, body });
    acks.push(
      o.fleet.clients[i].publishAsync(`dk/${id}/evt`, body, { qos: 1 }).then(
        () => {
          acked++;
          unacked.delete(k2);
        },
        () => undefined,
      ),
    );
  }
  await faultDone;
  log(`${o.name}: ${o.requests} published in ${Date.now() - t0} ms`);
  const keys = [...sentAt.keys()];
  const deliveredNow = (): number => keys.filter((k) => o.sms.deliveries.has(k)).length;
  // Events the broker never acknowledged (in flight on a node that died): offered again, same
  // id, as the device's outbox does after a reconnect.
  await waitFor(`${o.name}: all acknowledged`, () => unacked.size === 0, 10_000).catch(() => undefined);
  let resent = 0;
  for (const [k, m] of [...unacked]) {
    const c = o.fleet.clients[m.i];
    await waitFor("reconnected", () => c.connected, 15_000).catch(() => undefined);
    resent++;
    acks.push(
      c.publishAsync(m.topic, m.body, { qos: 1 }).then(
        () => {
          acked++;
          unacked.delete(k);
        },
        () => undefined,
      ),
    );
  }
  await waitFor(`${o.name}: all delivered`, () => deliveredNow() === keys.length, o.settleMs).catch(() => undefined);
  await Promise.race([Promise.all(acks), sleep(2000)]);
  await sleep(500); // late duplicates
  const delays: number[] = [];
  let duplicated = 0;
  for (const k of keys) {
    const d = o.sms.deliveries.get(k);
    if (d === undefined) continue;
    duplicated += d.length - 1;
    delays.push(d[0] - (sentAt.get(k) ?? d[0]));
  }
  delays.sort((a, b) => a - b);
  const pct = (p: number): number => (delays.length === 0 ? 0 : delays[Math.min(delays.length - 1, Math.floor(p * delays.length))]);
  const report: CaseReport = {
    name: o.name,
    requests: o.requests,
    devices: n,
    acked,
    resent,
    delivered: delays.length,
    lost: keys.length - delays.length,
    duplicated,
    p50DelayMs: pct(0.5),
    p99DelayMs: pct(0.99),
    maxDelayMs: delays.length ? delays[delays.length - 1] : 0,
    lostSample: keys.filter((k) => !o.sms.deliveries.has(k)).slice(0, 5),
  };
  log(JSON.stringify(report));
  return report;
}

export function writeContacts(dir: string, devices: number): string {
  const f = join(dir, "contacts.json");
  writeFileSync(f, JSON.stringify(chaosContacts(devices)));
  return f;
}

/** What every chaos case must show: nothing lost, at most `maxDup` sent twice, within `maxDelayMs`, no provider call refused. */
export function expectCase(r: CaseReport, sms: { refused: number }, maxDelayMs: number, maxDup: number): void {
  expect(r.lost, JSON.stringify(r)).toBe(0);
  expect(r.delivered).toBe(r.requests);
  expect(r.duplicated, JSON.stringify(r)).toBeLessThanOrEqual(maxDup);
  expect(r.maxDelayMs, JSON.stringify(r)).toBeLessThanOrEqual(maxDelayMs);
  expect(sms.refused).toBe(0);
}
