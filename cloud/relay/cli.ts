/**
 * npm run relay -- --broker mqtt://127.0.0.1:1883 --db relay.sqlite --contacts contacts.json [options]
 * Credentials come from the environment, never from arguments (visible in ps). docs/relay.md.
 */
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { openRelayDb } from "./db";
import { startRelayHttp } from "./http";
import { createConsoleProvider } from "./providers/console";
import { createTwilioProvider } from "./providers/twilio";
import { createWebPushProvider } from "./providers/webpush";
import { scheduleFromConfig } from "./schedules";
import type { IngestOptions } from "./options";
import { startRelay } from "./service";
import type { Providers } from "./types";
import { REMOTE_CHANNELS } from "../../firmware/core/protocol/channels";

const HELP = `dosekeeper relay — turns dispensers' relay.request events into notifications

  --broker URL          MQTT broker (mqtt://, mqtts://) [required]
  --db SPEC             SQLite file (default relay.sqlite) or postgres://user@host:port/db
  --contacts FILE       contact book JSON to store in the database (docs/relay.md#contacts)
  --configs PATH        device config JSON file, or a directory of them, to store (dead-man schedules)
  --instance ID         instance / MQTT client id (default relay-<random>)
  --shared auto|on|off  MQTT shared subscription $share/relay/… (default auto: MQTT 5 and broker support)
  --ingest MODE         subscribe (default) | owner (one instance at a time by database lease: Mosquitto)
                        | jetstream (NATS JetStream durable consumer; --broker is NATS's MQTT listener)
  --ingest-lease-ms N   owner mode: lease of the ingest session (default 10000)
  --nats URLS           jetstream mode: nats://host:port[,nats://…] of the cluster's nodes
  --stream-replicas N   jetstream mode: replicas of DK_IN when the relay creates it (default 3)
  --ack-wait-ms N       jetstream mode: redelivery of an unacknowledged message (default 10000)
  --http PORT           also serve the HTTP API (adherence, FHIR, config upload, audit) on 127.0.0.1:PORT
  --tokens FILE         JSON {"<bearer token>": "<actor>"} (tokens of 16+ characters): required by --http
  --insecure-dev        run the HTTP API without authentication (local development only)
  --console [FILE]      console/file provider for every channel not configured otherwise
  --lease-ms N          job lease (default 30000)   --poll-ms N  job poll (default 250)
  --receipt-retry-ms N  republish unacknowledged receipts after N ms (default 10000)
  --retry-base-ms N     first retry delay (default 2000)   --max-attempts N (default 8)
  --verify-audit        recompute the relay audit's hash chain, print the verdict, exit (1 if broken)
  --deadman-silent-min N  silence before a device is down (default 10)   --no-deadman
  --outage-min N        silent or offline this long at any hour: outage alert (default 30, 0: none)
  --help

Environment: VAPID_SUBJECT, VAPID_PUBLIC_KEY, VAPID_PRIVATE_KEY (Web Push);
  TWILIO_BASE_URL (default https://api.twilio.com), TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN,
  TWILIO_USERNAME (API key SID, optional), TWILIO_FROM (SMS and calls);
  RELAY_AUDIT_KEY (HMAC key of the audit chain, kept outside the database);
  RELAY_PUBLIC_URL (the URL providers call back: caregiver acknowledgement by SMS reply, key press,
  push action; with --http) and RELAY_PUSH_ACK_SECRET (push action tokens);
  MQTT_USERNAME, MQTT_PASSWORD; MQTT_INGEST_USERNAME, MQTT_INGEST_PASSWORD (owner mode's session,
  where the broker binds the client id to the user); NATS_USER, NATS_PASSWORD (jetstream mode).`;

function parseArgs(argv: string[]): Map<string, string | true> {
  const m = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith("--")) throw new Error("unexpected argument " + a);
    const next = argv[i + 1];
    if (next !== undefined && !next.startsWith("--")) {
      m.set(a.slice(2), next);
      i++;
    } else m.set(a.slice(2), true);
  }
  return m;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (args.has("help")) {
    process.stdout.write(HELP + "\n");
    return;
  }
  const str = (k: string): string | undefined => {
    const v = args.get(k);
    return typeof v === "string" ? v : undefined;
  };
  const int = (k: string, d: number): number => {
    const v = str(k);
    const n = v === undefined ? d : Number(v);
    if (!Number.isFinite(n) || n < 0) throw new Error(`--${k} must be a number`);
    return n;
  };
  if (args.has("verify-audit")) {
    const vdb = await openRelayDb(str("db") ?? "relay.sqlite");
    const v = await vdb.verifyAudit(process.env.RELAY_AUDIT_KEY || undefined);
    await vdb.close();
    process.stdout.write(
      v.ok
        ? `audit chain intact: ${v.sealed} sealed rows, ${v.unsealed} not sealed yet\n`
        : `AUDIT CHAIN BROKEN at row ${v.firstBad} (after ${v.sealed} intact rows)\n`,
    );
    process.exit(v.ok ? 0 : 1);
  }
  const broker = str("broker");
  if (broker === undefined) throw new Error("--broker is required (see --help)");
  if (str("http") && !str("tokens") && !args.has("insecure-dev"))
    throw new Error("--http needs --tokens FILE (bearer tokens → actors); --insecure-dev runs it open, for local development only");
  const db = await openRelayDb(str("db") ?? "relay.sqlite");
  const env = process.env;
  const instanceId = str("instance") ?? "relay-" + Math.random().toString(16).slice(2, 10);
  const userAgent = "dosekeeper-relay/" + instanceId;

  const providers: Providers = {};
  if (env.VAPID_PUBLIC_KEY && env.VAPID_PRIVATE_KEY) {
    providers.push = createWebPushProvider({
      vapid: { subject: env.VAPID_SUBJECT ?? "mailto:relay@localhost", publicKey: env.VAPID_PUBLIC_KEY, privateKey: env.VAPID_PRIVATE_KEY },
      userAgent,
      ...(env.RELAY_PUBLIC_URL && env.RELAY_PUSH_ACK_SECRET
        ? { ack: { publicUrl: env.RELAY_PUBLIC_URL, secret: env.RELAY_PUSH_ACK_SECRET } }
        : {}),
    });
  }
  if (env.TWILIO_ACCOUNT_SID && env.TWILIO_AUTH_TOKEN && env.TWILIO_FROM) {
    const tw = createTwilioProvider({
      baseUrl: env.TWILIO_BASE_URL ?? "https://api.twilio.com",
      accountSid: env.TWILIO_ACCOUNT_SID,
      password: env.TWILIO_AUTH_TOKEN,
      from: env.TWILIO_FROM,
      userAgent,
      ...(env.TWILIO_USERNAME ? { username: env.TWILIO_USERNAME } : {}),
      ...(env.RELAY_PUBLIC_URL ? { callbacks: { publicUrl: env.RELAY_PUBLIC_URL } } : {}),
    });
    providers.sms = tw;
    providers.call = tw;
  }
  const noneConfigured = Object.keys(providers).length === 0;
  if (args.has("console") || noneConfigured) {
    const file = str("console");
    const c = createConsoleProvider(file ? { file } : {});
    for (const ch of REMOTE_CHANNELS) providers[ch] ??= c;
  }

  if (str("configs")) {
    const p = str("configs") as string;
    const files = statSync(p).isDirectory()
      ? readdirSync(p)
          .filter((f) => f.endsWith(".json"))
          .map((f) => join(p, f))
      : [p];
    for (const f of files) {
      const r = scheduleFromConfig(JSON.parse(readFileSync(f, "utf8")));
      if (!r.ok) {
        process.stderr.write(`config ${f} refused: ${JSON.stringify(r.errors.slice(0, 5))}\n`);
        continue;
      }
      const c = r.schedule.config;
      const prev = await db.config(c.device);
      if (prev && prev.version >= c.version) continue;
      await db.putConfig({ device: c.device, version: c.version, json: JSON.stringify(c), updatedAt: Date.now(), actor: "cli" });
      await db.audit({
        t: Date.now(),
        actor: "cli",
        action: "config.pushed",
        device: c.device,
        code: null,
        detail: JSON.stringify({ version: c.version, file: f }),
      });
    }
  }

  const sharedArg = str("shared") ?? "auto";
  const ingestArg = str("ingest") ?? "subscribe";
  let ingest: IngestOptions;
  if (ingestArg === "owner") {
    ingest = {
      kind: "owner",
      leaseMs: int("ingest-lease-ms", 10_000),
      ...(env.MQTT_INGEST_USERNAME ? { mqtt: { username: env.MQTT_INGEST_USERNAME, password: env.MQTT_INGEST_PASSWORD ?? "" } } : {}),
    };
  } else if (ingestArg === "jetstream") {
    const nats = str("nats");
    if (nats === undefined) throw new Error("--ingest jetstream needs --nats nats://host:port[,…]");
    ingest = {
      kind: "jetstream",
      servers: nats.split(","),
      ...(env.NATS_USER ? { user: env.NATS_USER, pass: env.NATS_PASSWORD ?? "" } : {}),
      replicas: int("stream-replicas", 3),
      ackWaitMs: int("ack-wait-ms", 10_000),
    };
  } else if (ingestArg === "subscribe") {
    ingest = { kind: "subscribe" };
  } else throw new Error("--ingest must be subscribe, owner or jetstream");
  const relay = await startRelay({
    brokerUrl: broker,
    db,
    providers,
    shared: sharedArg === "on" ? true : sharedArg === "off" ? false : "auto",
    ingest,
    instanceId,
    ...(env.RELAY_AUDIT_KEY ? { auditKey: env.RELAY_AUDIT_KEY } : {}),
    ...(str("contacts") ? { contacts: JSON.parse(readFileSync(str("contacts") as string, "utf8")) as unknown } : {}),
    deadman: args.has("no-deadman")
      ? false
      : { silentMs: int("deadman-silent-min", 10) * 60_000, outageMs: int("outage-min", 30) * 60_000 },
    leaseMs: int("lease-ms", 30_000),
    pollMs: int("poll-ms", 250),
    receiptRetryMs: int("receipt-retry-ms", 10_000),
    retry: { baseMs: int("retry-base-ms", 2000), maxAttempts: int("max-attempts", 8) },
    ...(env.MQTT_USERNAME ? { mqtt: { username: env.MQTT_USERNAME, password: env.MQTT_PASSWORD ?? "" } } : {}),
  });
  let httpApi: { url: string; close(): Promise<void> } | undefined;
  if (str("http")) {
    const tokens = str("tokens") ? (JSON.parse(readFileSync(str("tokens") as string, "utf8")) as Record<string, string>) : undefined;
    if (tokens === undefined) process.stderr.write(`[${relay.instanceId}] WARNING: HTTP API without authentication (--insecure-dev)\n`);
    httpApi = await startRelayHttp({
      db,
      port: int("http", 0),
      health: () => relay.health(),
      ...(env.RELAY_AUDIT_KEY ? { auditKey: env.RELAY_AUDIT_KEY } : {}),
      ...(tokens ? { tokens } : { insecureDev: true }),
      ...(env.RELAY_PUBLIC_URL
        ? {
            hooks: {
              publicUrl: env.RELAY_PUBLIC_URL,
              relay: relay.hooks,
              ...(env.TWILIO_AUTH_TOKEN ? { twilioAuthToken: env.TWILIO_AUTH_TOKEN } : {}),
              ...(env.RELAY_PUSH_ACK_SECRET ? { pushSecret: env.RELAY_PUSH_ACK_SECRET } : {}),
            },
          }
        : {}),
    });
    process.stderr.write(`[${relay.instanceId}] HTTP API on ${httpApi.url}\n`);
  }
  process.stderr.write(`[${relay.instanceId}] ready\n`);
  const shutdown = async (): Promise<void> => {
    await relay.stop();
    if (httpApi) await httpApi.close();
    await db.close();
    process.exit(0);
  };
  process.on("SIGINT", () => void shutdown());
  process.on("SIGTERM", () => void shutdown());
}

main().catch((e: unknown) => {
  process.stderr.write(`relay: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
