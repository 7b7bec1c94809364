/**
 * Embedded MQTT broker of the live simulator (Node only): aedes on a loopback ephemeral port,
 * with per-client credentials and topic ACLs (the same rules as the Mosquitto ACL of
 * docs/pharmacist.md):
 *
 *   device  (username = client id = device id, own random password)
 *           publish   dk/<id>/evt | tele | stat | status     subscribe dk/<id>/cmnd/# , dk/<id>/rcpt
 *   relay   publish   dk/+/rcpt                               subscribe dk/+/evt | status | tele
 *   pharmacist
 *           publish   dk/+/cmnd/#                             subscribe dk/+/stat | status | tele | evt
 *
 * A refused subscription gets SUBACK 0x80; a refused publish closes the connection (aedes).
 * Passwords are random (24 bytes, base64url), generated when the broker starts (devices: at first
 * use) and never written to disk. No anonymous access.
 */
import * as net from "node:net";
import { randomBytes, timingSafeEqual } from "node:crypto";
import { DEVICE_ID_RE as DEVICE_RE } from "../../firmware/core/protocol/ids";

export type BrokerRole = "device" | "relay" | "pharmacist";

export interface Credentials {
  readonly username: string;
  readonly password: string;
}

const RELAY_USER = "dk-relay";
const PHARMACIST_USER = "dk-pharmacist";

/** In-memory credential store: device passwords are made on first use. */
export class BrokerCredentials {
  private readonly devices = new Map<string, string>();
  readonly relay: Credentials = { username: RELAY_USER, password: secret() };
  readonly pharmacist: Credentials = { username: PHARMACIST_USER, password: secret() };

  device(id: string): Credentials {
    if (!DEVICE_RE.test(id) || id === RELAY_USER || id === PHARMACIST_USER) throw new RangeError(`bad device id ${id}`);
    let p = this.devices.get(id);
    if (p === undefined) this.devices.set(id, (p = secret()));
    return { username: id, password: p };
  }

  /** Role of a username/password pair, or undefined when they do not match. */
  check(username: string | undefined, password: Buffer | undefined): BrokerRole | undefined {
    if (username === undefined || password === undefined) return undefined;
    const pw = password.toString("utf8");
    if (username === RELAY_USER) return same(pw, this.relay.password) ? "relay" : undefined;
    if (username === PHARMACIST_USER) return same(pw, this.pharmacist.password) ? "pharmacist" : undefined;
    const d = this.devices.get(username);
    return d !== undefined && same(pw, d) ? "device" : undefined;
  }
}

function secret(): string {
  return randomBytes(24).toString("base64url");
}

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Topic ACL: may `role` (logged in as `user`) publish on / subscribe to `topic`? */
export function allowed(role: BrokerRole, user: string, op: "pub" | "sub", topic: string): boolean {
  const p = topic.split("/");
  if (p[0] !== "dk" || p.length < 3) return false;
  const dev = p[1];
  const verb = p[2];
  switch (role) {
    case "device":
      if (dev !== user) return false;
      if (op === "pub") return p.length === 3 && (verb === "evt" || verb === "tele" || verb === "stat" || verb === "status");
      return (verb === "cmnd" && p.length === 4 && p[3] !== "") || (p.length === 3 && verb === "rcpt");
    case "relay":
      if (op === "pub") return p.length === 3 && verb === "rcpt" && DEVICE_RE.test(dev);
      return p.length === 3 && (dev === "+" || DEVICE_RE.test(dev)) && (verb === "evt" || verb === "status" || verb === "tele");
    case "pharmacist":
      if (!DEVICE_RE.test(dev) && !(op === "sub" && dev === "+")) return false;
      if (op === "pub") return verb === "cmnd" && p.length === 4 && p[3] !== "" && p[3] !== "#" && p[3] !== "+";
      return p.length === 3 && (verb === "stat" || verb === "status" || verb === "tele" || verb === "evt");
  }
}

export interface EmbeddedBroker {
  readonly url: string;
  readonly port: number;
  /** Undefined when the broker runs without authentication. */
  readonly credentials: BrokerCredentials | undefined;
  /** Client ids connected now. */
  readonly connected: ReadonlySet<string>;
  /** Called when a client is ready (CONNACK sent) or gone. */
  onClient(cb: (id: string, up: boolean) => void): void;
  close(): Promise<void>;
}

/** aedes on 127.0.0.1:<ephemeral>. `auth: false` runs it open (tests of the transport only). */
export async function startEmbeddedBroker(o: { auth?: boolean; port?: number } = {}): Promise<EmbeddedBroker> {
  const { Aedes } = await import("aedes");
  type AedesClient = import("aedes").Client;
  const creds = o.auth === false ? undefined : new BrokerCredentials();
  const roles = new WeakMap<AedesClient, { role: BrokerRole; user: string }>();
  const broker = await Aedes.createBroker(
    creds === undefined
      ? {}
      : {
          authenticate: (client, username, password, done) => {
            const role = creds.check(username, password);
            // A device must use its own id as client id (no session take-over of another device).
            if (role === undefined || (role === "device" && client.id !== username)) {
              const e = Object.assign(new Error("bad user name or password"), { returnCode: 4 as const });
              return done(e, null);
            }
            roles.set(client, { role, user: username! });
            done(null, true);
          },
          authorizePublish: (client, packet, cb) => {
            const r = client === null ? undefined : roles.get(client);
            if (r !== undefined && allowed(r.role, r.user, "pub", packet.topic)) return cb(null);
            cb(new Error("publish not authorized"));
          },
          authorizeSubscribe: (client, sub, cb) => {
            const r = roles.get(client);
            if (r !== undefined && allowed(r.role, r.user, "sub", sub.topic)) return cb(null, sub);
            cb(null, null); // negated: SUBACK 0x80, the session goes on (as Mosquitto does)
          },
        },
  );
  const connected = new Set<string>();
  const listeners: ((id: string, up: boolean) => void)[] = [];
  broker.on("clientReady", (c) => {
    connected.add(c.id);
    for (const l of listeners) l(c.id, true);
  });
  broker.on("clientDisconnect", (c) => {
    connected.delete(c.id);
    for (const l of listeners) l(c.id, false);
  });
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
    s.on("error", () => undefined);
    broker.handle(s);
  });
  await new Promise<void>((r, j) => {
    server.once("error", j);
    server.listen(o.port ?? 0, "127.0.0.1", () => r());
  });
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: `mqtt://127.0.0.1:${port}`,
    port,
    credentials: creds,
    connected,
    onClient: (cb) => listeners.push(cb),
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
      await new Promise<void>((r) => broker.close(() => r()));
    },
  };
}
