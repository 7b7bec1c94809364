/**
 * The whole product in one process (Node only), as `npm start` runs it and the e2e tests drive it:
 *
 *   simulated dispensers (real firmware core, createLink over Node sockets)
 *        ⇅ MQTT (per-device credentials, topic ACLs)
 *   embedded aedes broker on 127.0.0.1:<ephemeral>          (or --broker: external, no auth)
 *        ⇅ MQTT                          ⇅ MQTT (signed configs, cloud/pharmacist)
 *   cloud relay (startRelay, SQLite in memory,      web server: dashboard + pharmacist console
 *   console provider → notifications.log + panel,   (host-sim/server/server.ts)
 *   dead-man on the fleet's virtual clock,
 *   HTTP API on 127.0.0.1:<ephemeral>)
 *
 * Keys: a pharmacist Ed25519 key in <dataDir>/pharmacist.key.pem (made at first start); the
 * devices trust its public key. Audit log: <dataDir>/audit.jsonl. docs/simulator.md.
 */
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { generateKeyPair, publicKeyB64FromPrivatePem, kidOf } from "../../cloud/signing";
import type { Provider, RelayDb } from "../../cloud/relay/types";
import type { RelayHandle } from "../../cloud/relay/service";
import { Fleet } from "./fleet";
import { startEmbeddedBroker, type EmbeddedBroker } from "./broker";
import type { DeviceTransport } from "./transport";
import { MqttTransport, type PharmacistKey } from "./mqtt-transport";
import { StandInTransport } from "./stand-in-transport";
import { startServer, type RunningServer } from "../server/server";
import { relayHistory } from "./relay-history";
import { relayAck } from "./relay-ack";
import { removeProfile, writeProfile } from "../../cloud/pharmacist/profile";

/** Load <dir>/pharmacist.key.pem, or make a new Ed25519 key there (0600) with its .pub. */
export function loadOrCreateKey(dir: string): PharmacistKey & { created: boolean; file: string } {
  const file = path.join(dir, "pharmacist.key.pem");
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (fs.existsSync(file)) {
    const pem = fs.readFileSync(file, "utf8");
    const pub = publicKeyB64FromPrivatePem(pem);
    return { kid: kidOf(Buffer.from(pub, "base64")), privateKeyPem: pem, publicKeyB64: pub, created: false, file };
  }
  const k = generateKeyPair();
  fs.writeFileSync(file, k.privateKeyPem, { mode: 0o600 });
  fs.writeFileSync(path.join(dir, "pharmacist.pub"), k.publicKeyB64 + "\n", { mode: 0o644 });
  return { kid: k.kid, privateKeyPem: k.privateKeyPem, publicKeyB64: k.publicKeyB64, created: true, file };
}

// ------------------------------------------------------------------ notifications

export interface NotificationEntry {
  /** Sequence number (for incremental UI updates). */
  readonly n: number;
  /** Virtual time (UTC ms) when the relay handed it to the provider. */
  readonly t: number;
  readonly ch: string;
  /** Person id (contact details stay in the relay). */
  readonly to: string;
  readonly device: string;
  readonly kind: string;
  readonly title: string;
  readonly body: string;
  readonly key: string;
}

/** Bounded list of the notifications the relay sent (newest last). */
export class NotificationFeed {
  readonly items: NotificationEntry[] = [];
  private n = 0;
  private listeners: ((e: NotificationEntry) => void)[] = [];
  constructor(private readonly capacity = 200) {}

  add(e: Omit<NotificationEntry, "n">): NotificationEntry {
    const entry = { ...e, n: ++this.n };
    this.items.push(entry);
    if (this.items.length > this.capacity) this.items.shift();
    for (const l of this.listeners) l(entry);
    return entry;
  }

  after(n: number): NotificationEntry[] {
    return this.items.filter((x) => x.n > n);
  }

  onAdd(cb: (e: NotificationEntry) => void): () => void {
    this.listeners.push(cb);
    return () => {
      this.listeners = this.listeners.filter((x) => x !== cb);
    };
  }
}

/** Contact book of the simulated homes: per device a patient, a caregiver and the pharmacist. */
export function simContacts(maxDevices: number): Record<string, unknown> {
  const people: Record<string, unknown> = {
    pharmacist: { name: "Pharmacist", phone: "+33100000000", channels: ["sms", "push"], lang: "fr", push: [sub("pharmacist")] },
  };
  const devices: Record<string, unknown> = {};
  for (let i = 1; i <= maxDevices; i++) {
    const id = `dk-sim-${i}`;
    people[`patient-${i}`] = { name: `Patient ${i}`, phone: `+3360000${String(1000 + i)}`, push: [sub(`patient-${i}`)], lang: "fr" };
    people[`caregiver-${i}`] = { name: `Caregiver ${i}`, phone: `+3360000${String(2000 + i)}`, push: [sub(`caregiver-${i}`)], lang: "fr" };
    devices[id] = {
      recipients: { patient: `patient-${i}`, "caregiver-1": `caregiver-${i}` },
      pharmacist: "pharmacist",
      fhirPatient: `Patient/sim-${i}`,
    };
  }
  return { fallback: "pharmacist", people, devices };
}

export function sub(who: string): Record<string, unknown> {
  return { endpoint: `https://push.invalid/sim/${who}`, keys: { p256dh: "sim", auth: "sim" } };
}

// ------------------------------------------------------------------ relay

export interface CloudDeviceState {
  readonly online: boolean | null;
  readonly lastSeen: number | null;
  readonly offlineSince: number | null;
}

export interface RelayStack {
  readonly apiUrl: string;
  readonly db: RelayDb;
  readonly handle: RelayHandle;
  readonly notifications: NotificationFeed;
  /** Device states as the relay's database has them (refreshed every 500 ms). */
  states(): Record<string, CloudDeviceState>;
  refreshStates(): Promise<void>;
  /** PUT /api/devices/:id/config (the relay's schedule for dead-man checks and adherence). */
  putConfig(device: string, config: unknown): Promise<number>;
  /** GET /api/audit of the relay. */
  audit(limit?: number): Promise<Record<string, unknown>[]>;
  /** Authorization header value for the relay API as `actor`. */
  authorization(actor: RelayActor): string;
  /** The bearer token of `actor` (for the profile the pharmacist tools read). */
  token(actor: RelayActor): string;
  close(): Promise<void>;
}

/** Who calls the relay API inside npm start; each has its own generated token. */
export type RelayActor = "simulator" | "pharmacist@console" | "pharmacist@cli";

export interface RelayStackOptions {
  readonly brokerUrl: string;
  readonly mqtt?: { username: string; password: string };
  readonly clock: () => number;
  readonly deviceIds: () => string[];
  readonly maxDevices: number;
  /** notifications.log (JSON lines); undefined: none. */
  readonly notificationsLog?: string;
  readonly log?: (line: string) => void;
}

export async function startRelayStack(o: RelayStackOptions): Promise<RelayStack> {
  const { startRelay } = await import("../../cloud/relay/service");
  const { startRelayHttp } = await import("../../cloud/relay/http");
  const { openRelayDb } = await import("../../cloud/relay/db");
  const { createConsoleProvider } = await import("../../cloud/relay/providers/console");
  const db = await openRelayDb(":memory:");
  const feed = new NotificationFeed();
  const inner = createConsoleProvider(o.notificationsLog !== undefined ? { file: o.notificationsLog } : { log: () => undefined });
  // The console provider, tapped: every notification also goes to the dashboard's panel.
  const provider: Provider = {
    name: "console",
    send: async (ch, to, n) => {
      feed.add({ t: o.clock(), ch, to: to.id, device: n.device, kind: n.kind, title: n.title, body: n.body, key: n.key });
      o.log?.(`relay      notify ${ch} → ${to.id} [${n.device}] ${n.title}`);
      return inner.send(ch, to, n);
    },
  };
  const handle = await startRelay({
    brokerUrl: o.brokerUrl,
    db,
    providers: { push: provider, sms: provider, call: provider },
    shared: false,
    contacts: simContacts(o.maxDevices),
    // Virtual clock: a dead-man window follows warped time. Silence detection is off (telemetry
    // and keep-alive run in real time, so "10 min without news" means nothing at 3600×): the
    // broker's last will says when a device is gone.
    deadman: { silentMs: 30 * 86_400_000, offlineMs: 120_000, checkMs: 1000 },
    clock: o.clock,
    log: () => undefined,
    ...(o.mqtt !== undefined ? { mqtt: { username: o.mqtt.username, password: o.mqtt.password } } : {}),
  });
  // The relay API requires a bearer token: npm start generates one per caller, for this run only.
  const tokenOf: Record<RelayActor, string> = {
    simulator: randomBytes(24).toString("base64url"),
    "pharmacist@console": randomBytes(24).toString("base64url"),
    "pharmacist@cli": randomBytes(24).toString("base64url"),
  };
  const tokens = Object.fromEntries(Object.entries(tokenOf).map(([actor, tok]) => [tok, actor]));
  const authorization = (actor: RelayActor): string => `Bearer ${tokenOf[actor]}`;
  const api = await startRelayHttp({ db, port: 0, clock: o.clock, health: () => handle.health(), tokens });
  let states: Record<string, CloudDeviceState> = {};
  const refreshStates = async (): Promise<void> => {
    const next: Record<string, CloudDeviceState> = {};
    for (const id of o.deviceIds()) {
      const s = await db.deviceState(id);
      if (s !== null) next[id] = { online: s.online, lastSeen: s.lastSeen, offlineSince: s.offlineSince };
    }
    states = next;
  };
  let polling = false;
  const poll = setInterval(() => {
    if (polling) return;
    polling = true;
    refreshStates()
      .catch(() => undefined)
      .finally(() => (polling = false));
  }, 500);
  const headers = { "content-type": "application/json", authorization: authorization("simulator") };
  return {
    apiUrl: api.url,
    db,
    handle,
    notifications: feed,
    states: () => states,
    refreshStates,
    putConfig: async (device, config) => {
      const r = await fetch(`${api.url}/api/devices/${encodeURIComponent(device)}/config`, {
        method: "PUT",
        headers,
        body: JSON.stringify(config),
      });
      await r.arrayBuffer();
      return r.status;
    },
    audit: async (limit = 60) => {
      const r = await fetch(`${api.url}/api/audit?limit=${limit}`, { headers });
      const j = (await r.json()) as { entries?: Record<string, unknown>[] };
      return j.entries ?? [];
    },
    authorization,
    token: (actor) => tokenOf[actor],
    close: async () => {
      clearInterval(poll);
      await handle.abort();
      await api.close();
      await db.close();
    },
  };
}
export interface StackOptions {
  readonly baseConfig: Record<string, unknown>;
  readonly devices?: number;
  readonly warp?: number;
  readonly start?: number;
  /** Web port (default 8080, busy → free one); 0 = ephemeral. */
  readonly port?: number;
  readonly transport?: "mqtt" | "stand-in";
  /** External broker URL; default: embedded aedes with authentication. */
  readonly broker?: string;
  /** Run the relay (default: with the mqtt transport). */
  readonly relay?: boolean;
  /** Keys, audit log, notifications log. Default <cwd>/.dosekeeper. */
  readonly dataDir?: string;
  readonly maxDevices?: number;
  readonly log?: (line: string) => void;
  /** Called once, when the first simulated dispenser is connected to the embedded broker. */
  readonly onFirstDevice?: (id: string) => void;
}

export interface Stack {
  readonly fleet: Fleet;
  readonly transport: DeviceTransport;
  readonly broker: EmbeddedBroker | undefined;
  readonly brokerUrl: string | undefined;
  readonly relay: RelayStack | undefined;
  readonly server: RunningServer;
  readonly key: (PharmacistKey & { created: boolean; file: string }) | undefined;
  readonly auditFile: string;
  /** The pharmacist tools' profile this stack wrote (removed by close()). */
  readonly profileFile: string | undefined;
  close(): Promise<void>;
}

export async function startStack(o: StackOptions): Promise<Stack> {
  const log = o.log ?? (() => undefined);
  const dataDir = o.dataDir ?? path.resolve(".dosekeeper");
  const auditFile = path.join(dataDir, "audit.jsonl");
  const mode = o.transport ?? "mqtt";
  const maxDevices = o.maxDevices ?? 12;
  // The stand-in transport keeps everything in-process: no broker traffic, so no relay either.
  const wantRelay = o.relay ?? mode === "mqtt";
  const needBroker = mode === "mqtt" || wantRelay;
  const broker = needBroker && o.broker === undefined ? await startEmbeddedBroker() : undefined;
  const brokerUrl = o.broker ?? broker?.url;
  if (brokerUrl !== undefined)
    log(
      `broker     ${brokerUrl}${broker !== undefined ? " (embedded aedes, per-device credentials and topic ACLs)" : " (external, no authentication from the simulator)"}`,
    );
  const creds = broker?.credentials;
  if (broker !== undefined && o.onFirstDevice !== undefined) {
    let seen = false;
    const cb = o.onFirstDevice;
    broker.onClient((id, up) => {
      if (!seen && up && /^dk-sim-\d+$/.test(id)) {
        seen = true;
        cb(id);
      }
    });
  }

  let key: (PharmacistKey & { created: boolean; file: string }) | undefined;
  let transport: DeviceTransport;
  if (mode === "mqtt") {
    key = loadOrCreateKey(dataDir);
    log(
      `keys       pharmacist key ${key.kid} ${key.created ? "created" : "loaded"}: ${path.relative(process.cwd(), key.file) || key.file}`,
    );
    transport = new MqttTransport({ brokerUrl: brokerUrl!, ...(creds !== undefined ? { credentials: creds } : {}), key, auditFile });
  } else transport = new StandInTransport();

  // The fleet starts paused and empty: the relay subscribes before any device says a word.
  const fleet = new Fleet({
    baseConfig: o.baseConfig,
    transport,
    devices: 0,
    warp: 0,
    ...(o.start !== undefined ? { start: o.start } : {}),
  });
  let relay: RelayStack | undefined;
  if (wantRelay && brokerUrl !== undefined) {
    try {
      relay = await startRelayStack({
        brokerUrl,
        ...(creds !== undefined ? { mqtt: creds.relay } : {}),
        clock: () => fleet.sched.now,
        deviceIds: () => [...fleet.devices.keys()],
        maxDevices,
        notificationsLog: path.join(dataDir, "notifications.log"),
        log,
      });
      log(`relay      on the broker, HTTP API ${relay.apiUrl} (dead-man on the virtual clock)`);
      const r = relay;
      // Schedules for the relay: the configs the simulator knows (factory, console); the CLI stores its own.
      fleet.onConfigAccepted((d, v) => {
        if (d.sim.lastConfig.version === v)
          r.putConfig(d.id, d.sim.lastConfig).catch((e: unknown) => log(`relay      config of ${d.id} not stored: ${String(e)}`));
      });
    } catch (e) {
      log(`relay      not started: ${(e as Error).message}`);
      relay = undefined;
    }
  }
  for (let i = 0; i < (o.devices ?? 3); i++) fleet.addDevice();
  fleet.setWarp(o.warp ?? 60);
  fleet.start();
  const r = relay;
  const server = await startServer({
    fleet,
    ...(o.port !== undefined ? { port: o.port } : {}),
    ...(r !== undefined
      ? {
          history: relayHistory(r, fleet),
          notifications: r.notifications,
          cloud: { snapshot: () => ({ api: r.apiUrl, devices: r.states() }) },
          relayAudit: (limit: number) => r.audit(limit),
          acknowledge: relayAck(r, () => fleet.sched.now),
        }
      : {}),
  });
  // What `npx dosekeeper …` needs to reach this stack (docs/pharmacist.md, "Against npm start").
  let profileFile: string | undefined;
  if (mode === "mqtt" && brokerUrl !== undefined && key !== undefined) {
    profileFile = writeProfile(dataDir, {
      pid: process.pid,
      broker: brokerUrl,
      ...(creds !== undefined ? { username: creds.pharmacist.username, password: creds.pharmacist.password } : {}),
      ...(r !== undefined ? { api: r.apiUrl, token: r.token("pharmacist@cli") } : {}),
      key: key.file,
      audit: auditFile,
      clock: new URL("api/clock", server.url).href,
    });
    log(
      `cli        npx dosekeeper … finds ${path.relative(process.cwd(), profileFile) || profileFile} (broker account, relay token, key, clock)`,
    );
  }
  return {
    fleet,
    transport,
    broker,
    brokerUrl,
    relay,
    server,
    key,
    auditFile,
    profileFile,
    close: async () => {
      if (profileFile !== undefined) removeProfile(profileFile);
      fleet.stop();
      await server.close();
      await transport.close();
      await relay?.close();
      await broker?.close();
    },
  };
}
