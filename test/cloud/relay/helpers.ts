/** Test support for the relay: brokers (test/support), mock HTTP providers, device publisher, contacts. */
import * as crypto from "node:crypto";
import * as http from "node:http";
import type * as net from "node:net";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import mqtt, { type MqttClient } from "mqtt";
import webpush from "web-push";
import { createTwilioProvider } from "../../../cloud/relay/providers/twilio";
import { createWebPushProvider } from "../../../cloud/relay/providers/webpush";
import type { Providers } from "../../../cloud/relay/types";
import { findBin, Mosquitto, mosquittoBin } from "../../support/mosquitto";
import { freePort } from "../../support/net";

export { freePort, sleep, waitFor } from "../../support/net";
export { startAedes } from "../../support/aedes";

export function tempDir(prefix = "dk-relay-"): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface Recorded {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  at: number;
}

/** Local HTTP server standing in for Twilio and push services; `respond` decides the status. */
export async function startMockHttp(): Promise<{
  url: string;
  requests: Recorded[];
  respond: (r: Recorded) => number | "hang" | Promise<number | "hang">;
  close(): Promise<void>;
}> {
  const state = {
    url: "",
    requests: [] as Recorded[],
    respond: ((_r: Recorded) => 201) as (r: Recorded) => number | "hang" | Promise<number | "hang">,
    close: async () => undefined as void,
  };
  let n = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const r: Recorded = {
        method: req.method ?? "",
        url: req.url ?? "",
        headers: req.headers,
        body: Buffer.concat(chunks),
        at: performance.now(),
      };
      state.requests.push(r);
      Promise.resolve(state.respond(r)).then(
        (status) => {
          if (status === "hang") return;
          res.writeHead(status, { "content-type": "application/json" });
          res.end(JSON.stringify(status < 300 ? { sid: "SM" + String(++n).padStart(32, "0") } : { code: status, message: "mock" }));
        },
        () => res.destroy(),
      );
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

export const VAPID = webpush.generateVAPIDKeys();

/** A browser-side push subscription (we keep the private key to decrypt in tests). */
export function pushSubscription(endpoint: string): {
  sub: { endpoint: string; keys: { p256dh: string; auth: string } };
  ecdh: import("node:crypto").ECDH;
  auth: Buffer;
} {
  const ecdh = crypto.createECDH("prime256v1");
  ecdh.generateKeys();
  const auth = crypto.randomBytes(16);
  return { sub: { endpoint, keys: { p256dh: ecdh.getPublicKey().toString("base64url"), auth: auth.toString("base64url") } }, ecdh, auth };
}

/** RFC 8291 aes128gcm decryption with the subscriber's keys. */
export function decryptPush(body: Buffer, ecdh: crypto.ECDH, auth: Buffer): string {
  const salt = body.subarray(0, 16);
  const rs = body.readUInt32BE(16);
  const idlen = body[20];
  const asPub = body.subarray(21, 21 + idlen);
  const ct = body.subarray(21 + idlen);
  if (rs < 18) throw new Error("record size below 18");
  const shared = ecdh.computeSecret(asPub);
  const uaPub = ecdh.getPublicKey();
  const ikm = Buffer.from(crypto.hkdfSync("sha256", shared, auth, Buffer.concat([Buffer.from("WebPush: info\0"), uaPub, asPub]), 32));
  const cek = Buffer.from(crypto.hkdfSync("sha256", ikm, salt, Buffer.from("Content-Encoding: aes128gcm\0"), 16));
  const nonce = Buffer.from(crypto.hkdfSync("sha256", ikm, salt, Buffer.from("Content-Encoding: nonce\0"), 12));
  const d = crypto.createDecipheriv("aes-128-gcm", cek, nonce);
  d.setAuthTag(ct.subarray(ct.length - 16));
  const plain = Buffer.concat([d.update(ct.subarray(0, ct.length - 16)), d.final()]);
  let end = plain.length - 1;
  while (plain[end] === 0) end--;
  if (plain[end] !== 2) throw new Error("no last-record delimiter");
  return plain.subarray(0, end).toString("utf8");
}

export function providersFor(base: string, opts: { timeoutMs?: number } = {}): Providers {
  const tw = createTwilioProvider({
    baseUrl: base,
    accountSid: "AC123",
    password: "secret-token",
    from: "+15550001111",
    timeoutMs: opts.timeoutMs ?? 2000,
  });
  return {
    sms: tw,
    call: tw,
    push: createWebPushProvider({
      vapid: { subject: "mailto:ops@example.org", publicKey: VAPID.publicKey, privateKey: VAPID.privateKey },
      timeoutMs: opts.timeoutMs ?? 2000,
    }),
  };
}

/** Contacts of dk-0001 with push endpoints on the mock server. */
export function contactsFor(base: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    fallback: "oncall",
    people: {
      jeanne: {
        name: "Jeanne Martin",
        phone: "+33611111111",
        push: [pushSubscription(base + "/push/jeanne").sub],
        channels: ["push", "sms"],
        lang: "fr",
      },
      marc: {
        name: "Marc Martin",
        phone: "+33622222222",
        push: [pushSubscription(base + "/push/marc").sub],
        channels: ["sms", "push"],
        quiet: { from: "22:00", to: "07:00", tz: "CET-1CEST,M3.5.0,M10.5.0/3" },
      },
      nurse42: { name: "Infirmière 42", phone: "+33633333333", channels: ["call", "sms"] },
      dupont: { name: "Pharmacie Dupont", phone: "+33144444444", channels: ["sms"] },
      oncall: { name: "On-call", phone: "+33155555555", channels: ["sms"] },
      nophone: { name: "No Phone", phone: "06 12 34", channels: ["sms"] },
    },
    devices: {
      "dk-0001": {
        recipients: { patient: "jeanne", "caregiver-1": "marc", "nurse:42": "nurse42", "bad-1": "nophone" },
        pharmacist: "dupont",
        fhirPatient: "Patient/jeanne-1",
      },
      "dk-0002": { recipients: { patient: "jeanne", "caregiver-1": "marc" }, pharmacist: "dupont" },
    },
    ...extra,
  };
}

/** A device-side MQTT client publishing events like the firmware (QoS 1). */
export async function device(
  url: string,
  id: string,
): Promise<{
  c: MqttClient;
  seq: number;
  evt(type: string, data: Record<string, unknown>, evtId?: string): Promise<string>;
  raw(topic: string, payload: string | Buffer): Promise<void>;
  rcpts: Record<string, unknown>[];
}> {
  const c = await mqtt.connectAsync(url, {
    clientId: id + "-dev-" + Math.random().toString(16).slice(2, 8),
    protocolVersion: 4,
    reconnectPeriod: 0,
  });
  const rcpts: Record<string, unknown>[] = [];
  await c.subscribeAsync(`dk/${id}/rcpt`, { qos: 1 });
  c.on("message", (_t, p) => rcpts.push(JSON.parse(p.toString()) as Record<string, unknown>));
  const d = {
    c,
    seq: 0,
    rcpts,
    async evt(type: string, data: Record<string, unknown>, evtId?: string): Promise<string> {
      d.seq++;
      const eid = evtId ?? `${id}-1-${d.seq.toString(16)}`;
      await c.publishAsync(
        `dk/${id}/evt`,
        JSON.stringify({ v: 1, id: eid, seq: d.seq, type, cls: "dose", t: new Date().toISOString(), mono: d.seq * 1000, data }),
        { qos: 1 },
      );
      return eid;
    },
    async raw(topic: string, payload: string | Buffer): Promise<void> {
      await c.publishAsync(topic, payload, { qos: 1 });
    },
  };
  return d;
}

export function request(
  dev: string,
  slot: string,
  step: number,
  ch: string,
  to: string[],
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return { key: `${dev}/${slot}/${step}.0`, ch, to, slot, comp: "morning", step, state: "late", due: "2026-03-10T07:00:00.000Z", ...extra };
}

/** Path of an executable (PATH and the sbin directories), or undefined. */
export function have(bin: string): string | undefined {
  return findBin(bin) ?? undefined;
}

/** Anonymous Mosquitto on a loopback ephemeral port, sized for the relay benches (undefined when the binary is absent). */
export async function startMosquitto(): Promise<Mosquitto | undefined> {
  const bin = mosquittoBin();
  if (bin === null) return undefined;
  return Mosquitto.start({ mosquitto: bin }, { extraConf: ["max_inflight_messages 20", "max_queued_messages 100000"] });
}

/** PostgreSQL's initdb: on PATH, or where Debian puts it (/usr/lib/postgresql/<major>/bin, not on PATH). */
export function initdbBin(): string | undefined {
  return (
    have("initdb") ??
    (spawnSync("sh", ["-c", "ls /usr/lib/postgresql/*/bin/initdb 2>/dev/null | tail -1"]).stdout?.toString().trim() || undefined)
  );
}

/** Whether startPostgres() can run here (binaries and the postgres user). */
export const hasPostgres = initdbBin() !== undefined && spawnSync("id", ["postgres"]).status === 0;

/** A throw-away PostgreSQL cluster run as the `postgres` user (undefined when binaries or the user are absent). */
export async function startPostgres(): Promise<
  { url: string; restart(downMs?: number): Promise<void>; stop(): Promise<void> } | undefined
> {
  const initdb = initdbBin();
  if (initdb === undefined || spawnSync("id", ["postgres"]).status !== 0) return undefined;
  const bindir = spawnSync("sh", ["-c", `dirname $(readlink -f ${initdb})`])
    .stdout.toString()
    .trim();
  const dir = mkdtempSync(join(tmpdir(), "dk-pg-"));
  spawnSync("chown", ["postgres", dir]);
  const asPg = (args: string[]) =>
    process.getuid?.() === 0
      ? spawnSync("runuser", ["-u", "postgres", "--", ...args], { encoding: "utf8", timeout: 120_000 })
      : spawnSync(args[0], args.slice(1), { encoding: "utf8", timeout: 120_000 });
  const port = await freePort();
  const r1 = asPg([join(bindir, "initdb"), "-D", join(dir, "data"), "-U", "postgres", "-A", "trust", "--no-sync"]);
  if (r1.status !== 0) throw new Error("initdb failed: " + r1.stderr);
  const r2 = asPg([
    join(bindir, "pg_ctl"),
    "-D",
    join(dir, "data"),
    "-l",
    join(dir, "log"),
    "-w",
    "-o",
    `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`,
    "start",
  ]);
  if (r2.status !== 0) throw new Error("pg_ctl start failed: " + r2.stderr + r2.stdout);
  const ctl = (a: string[]) => asPg([join(bindir, "pg_ctl"), "-D", join(dir, "data"), ...a]);
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    /** Immediate shutdown (like a crash: connections cut), down for downMs, then started again. */
    restart: async (downMs = 1000) => {
      ctl(["-m", "immediate", "stop"]);
      await new Promise((r) => setTimeout(r, downMs));
      const r = ctl(["-l", join(dir, "log"), "-w", "-o", `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`, "start"]);
      if (r.status !== 0) throw new Error("pg_ctl start failed: " + r.stderr + r.stdout);
    },
    stop: async () => {
      asPg([join(bindir, "pg_ctl"), "-D", join(dir, "data"), "-m", "immediate", "stop"]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
