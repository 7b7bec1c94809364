/**
 * Test support for the link: a device built from createDispenser + KvEmulator + a link over any
 * Network, a virtual world (host-sim Scheduler) and a scripted in-memory MQTT broker on it.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import type { Clock, Network, Ports, StreamConnection, StreamHandlers, Timers } from "../../../../firmware/core/ports";
import { createDispenser, type DeviceIdentity, type Dispenser } from "../../../../firmware/core/dispenser";
import type { LoggedEvent } from "../../../../firmware/core/log/eventlog";
import { createLink, type Link, type LinkDeps } from "../../../../firmware/core/link/link";
import type { TrustedKey } from "../../../../firmware/core/crypto/signed";
import { MqttParser, encodePacket, type MqttPacket } from "../../../../firmware/core/mqtt/codec";
import { Scheduler } from "../../../../host-sim/kernel/time/scheduler";
import { KvEmulator } from "../../../../host-sim/kernel/hw/kv-emulator";
import { generateKeyPair, signEnvelope, type GeneratedKeyPair } from "../../../../cloud/signing";
import { topicMatches } from "../../../../host-sim/kernel/device/sim-broker";
import { lcg as seeded } from "../../../support/prng";

export const T0 = Date.UTC(2026, 2, 10, 6, 30);

export function homeConfig(device: string, version = 1): Record<string, unknown> {
  const cfg = JSON.parse(
    fs.readFileSync(path.join(path.dirname(fileURLToPath(import.meta.url)), "../../../scenarios/configs/home.json"), "utf8"),
  ) as Record<string, unknown>;
  cfg.device = device;
  cfg.version = version;
  return cfg;
}

export function trusted(k: GeneratedKeyPair): TrustedKey {
  return { kid: k.kid, publicKey: new Uint8Array(Buffer.from(k.publicKeyB64, "base64")) };
}

export interface Signer {
  key: GeneratedKeyPair;
  config(
    cfg: Record<string, unknown>,
    o?: { device?: string; version?: number; issuedAt?: number; expires?: number; now?: number },
  ): string;
  cmd(
    device: string,
    name: string,
    id: string,
    args?: Record<string, unknown>,
    o?: { issuedAt?: number; expires?: number; now?: number },
  ): string;
}

export function signer(key: GeneratedKeyPair = generateKeyPair()): Signer {
  return {
    key,
    config(cfg, o = {}) {
      const now = o.now ?? Date.now();
      const body = {
        type: "config",
        device: o.device ?? cfg.device,
        version: o.version ?? cfg.version,
        issuedAt: new Date(o.issuedAt ?? now - 1000).toISOString(),
        expires: new Date(o.expires ?? now + 86_400_000).toISOString(),
        config: cfg,
      };
      return JSON.stringify(signEnvelope(body, key.privateKeyPem, key.kid));
    },
    cmd(device, name, id, args = {}, o = {}) {
      const now = o.now ?? Date.now();
      const body = {
        type: "cmd",
        name,
        device,
        id,
        issuedAt: new Date(o.issuedAt ?? now - 1000).toISOString(),
        expires: new Date(o.expires ?? now + 600_000).toISOString(),
        args,
      };
      return JSON.stringify(signEnvelope(body, key.privateKeyPem, key.kid));
    },
  };
}

/* ------------------------------------------------------------------ device */

export interface TestDevice {
  readonly dispenser: Dispenser;
  readonly link: Link;
  readonly events: LoggedEvent[];
  readonly kv: KvEmulator;
  readonly identity: DeviceIdentity;
  erasedCalls: number;
}

export interface DeviceOptions {
  id: string;
  network: Network;
  clock: Clock;
  timers: Timers;
  trustedKeys: TrustedKey[];
  broker: LinkDeps["broker"];
  kv?: KvEmulator;
  config?: Record<string, unknown> | null;
  logCapacity?: number;
  mqtt?: LinkDeps["mqtt"];
  resetReason?: string;
}

export function makeDevice(o: DeviceOptions): TestDevice {
  const kv = o.kv ?? new KvEmulator();
  let n = 0;
  const ports: Ports = {
    clock: o.clock,
    timers: o.timers,
    leds: { count: 3, set() {} },
    buzzer: { play() {}, stop() {} },
    // constant load with a tiny deterministic dither (a perfectly constant signal reads as "stuck")
    loadCells: { channels: 3, sps: 10, read: () => 52_000 + (((n++ * 7919) % 21) - 10) },
    button: { onPress() {} },
    kv,
    network: o.network,
  };
  const identity: DeviceIdentity = {
    deviceId: o.id,
    firmware: "0.1.0-test",
    resetReason: o.resetReason ?? "power_on",
    hw: { channels: 3, leds: 3 },
  };
  const dev = { erasedCalls: 0 } as TestDevice;
  const link = createLink({
    ports,
    identity,
    random: seeded(7),
    broker: o.broker,
    trustedKeys: o.trustedKeys,
    onErase: () => dev.erasedCalls++,
    mqtt: { backoffInitialMs: 200, backoffMaxMs: 2000, ...o.mqtt },
  });
  const events: LoggedEvent[] = [];
  const dispenser = createDispenser(ports, identity, { uplink: link.uplink, onEvent: (e) => events.push(e), logCapacity: o.logCapacity });
  link.attach(dispenser);
  dispenser.start();
  if (o.config !== null) {
    const out = dispenser.receiveConfig(o.config ?? homeConfig(o.id), "factory");
    if (!out.ok) throw new Error("factory config refused: " + JSON.stringify(out));
  }
  link.start();
  Object.assign(dev, { dispenser, link, events, kv, identity });
  return dev;
}

/* ------------------------------------------------------------------ virtual world */

export class World {
  readonly sched: Scheduler;
  timeSet = true;
  private readonly bootAt: number;
  constructor(start = T0) {
    this.sched = new Scheduler(start);
    this.bootAt = start;
  }
  readonly clock: Clock = {
    monoMs: () => this.sched.now - this.bootAt,
    wallMs: () => (this.timeSet ? this.sched.now : undefined),
  };
  timers(group = 1): Timers {
    return this.sched.timers(group);
  }
  run(ms: number): void {
    this.sched.runUntil(this.sched.now + ms, (e) => {
      throw e;
    });
  }
  get now(): number {
    return this.sched.now;
  }
}

/* ------------------------------------------------------------------ scripted broker */

export { topicMatches };

export interface SeenPublish {
  topic: string;
  text: string;
  qos: number;
  retain: boolean;
  dup: boolean;
  packetId: number;
}

/**
 * In-memory MQTT 3.1.1 broker for one device on virtual time: persistent session
 * (subscriptions and queued QoS 1 messages survive a disconnect unless `loseSession()`),
 * retained messages, PUBACKs that can be held back, network up/down.
 */
export class FakeBroker implements Network {
  up = true;
  holdAcks = false;
  latencyMs = 5;
  readonly seen: SeenPublish[] = [];
  readonly connects: MqttPacket[] = [];
  readonly retained = new Map<string, string>();
  subs: string[] = [];
  private queue: { topic: string; text: string; retain: boolean }[] = [];
  private conn: { handlers: StreamHandlers; parser: MqttParser; alive: boolean } | undefined;
  private pid = 1;
  private held: number[] = [];
  devicePubacks = 0;

  constructor(private readonly world: World) {}

  private later(fn: () => void): void {
    this.world.sched.at(this.world.now + this.latencyMs, fn, 0);
  }

  connect(_host: string, _port: number, _tls: boolean, handlers: StreamHandlers): StreamConnection {
    if (!this.up) {
      this.later(() => handlers.onClose("unreachable"));
      return { write: () => false, close: () => {} };
    }
    const c = { handlers, parser: new MqttParser({ maxPacketBytes: 1 << 20 }), alive: true };
    this.conn = c;
    let closing = false;
    this.later(() => c.alive && handlers.onConnect());
    return {
      write: (bytes: Uint8Array): boolean => {
        if (!c.alive || closing) return false;
        const copy = bytes.slice();
        this.later(() => {
          if (c.alive) c.parser.feed(copy, (p) => this.onPacket(c, p));
        });
        return true;
      },
      close: () => {
        // like TCP: bytes already written reach the broker before the FIN
        if (!c.alive || closing) return;
        closing = true;
        this.later(() => {
          c.alive = false;
          handlers.onClose("closed");
        });
      },
    };
  }

  private send(p: MqttPacket): void {
    const c = this.conn;
    if (c === undefined || !c.alive) return;
    const bytes = encodePacket(p);
    this.later(() => c.alive && c.handlers.onData(bytes));
  }

  private onPacket(c: { alive: boolean }, p: MqttPacket): void {
    switch (p.type) {
      case "connect":
        this.connects.push(p);
        this.send({ type: "connack", sessionPresent: !p.cleanSession && this.subs.length > 0, returnCode: 0 });
        for (const q of this.queue.splice(0)) this.deliver(q.topic, q.text, { retain: false });
        break;
      case "subscribe": {
        const granted: number[] = [];
        for (const s of p.subscriptions) {
          if (this.subs.indexOf(s.topic) < 0) this.subs.push(s.topic);
          granted.push(1);
        }
        this.send({ type: "suback", packetId: p.packetId, granted });
        for (const s of p.subscriptions)
          for (const [t, text] of this.retained) if (topicMatches(s.topic, t)) this.deliver(t, text, { retain: true });
        break;
      }
      case "publish": {
        const text = Buffer.from(p.payload).toString("utf8");
        this.seen.push({ topic: p.topic, text, qos: p.qos, retain: p.retain, dup: p.dup, packetId: p.packetId });
        if (p.retain) this.retained.set(p.topic, text);
        if (p.qos === 1) {
          if (this.holdAcks) this.held.push(p.packetId);
          else this.send({ type: "puback", packetId: p.packetId });
        }
        break;
      }
      case "puback":
        this.devicePubacks++;
        break;
      case "pingreq":
        this.send({ type: "pingresp" });
        break;
      case "disconnect":
        c.alive = false;
        break;
      default:
        break;
    }
  }

  get connected(): boolean {
    return this.conn !== undefined && this.conn.alive;
  }

  /** Broker → device publish (queued for the persistent session when the device is away). */
  deliver(topic: string, text: string | Uint8Array, o: { retain?: boolean; store?: boolean } = {}): void {
    const t = typeof text === "string" ? text : Buffer.from(text).toString("latin1");
    if (o.store) this.retained.set(topic, t);
    if (!this.subs.some((f) => topicMatches(f, topic))) return;
    if (!this.connected) {
      this.queue.push({ topic, text: t, retain: false });
      return;
    }
    const payload = typeof text === "string" ? new Uint8Array(Buffer.from(text, "utf8")) : text;
    const packetId = this.pid++;
    if (this.pid > 65535) this.pid = 1;
    this.send({ type: "publish", topic, payload, qos: 1, retain: o.retain === true, dup: false, packetId });
  }

  /** Retained publish by a cloud client (stored, then delivered as a live message). */
  publishRetained(topic: string, text: string): void {
    this.retained.set(topic, text);
    this.deliver(topic, text, { retain: false });
  }

  releaseAcks(): void {
    for (const id of this.held.splice(0)) this.send({ type: "puback", packetId: id });
  }

  /** Kill the TCP connection (device sees "reset"). */
  drop(): void {
    const c = this.conn;
    if (c === undefined || !c.alive) return;
    c.alive = false;
    this.held = [];
    this.later(() => c.handlers.onClose("reset"));
  }

  loseSession(): void {
    this.subs = [];
    this.queue = [];
  }

  stats(topicSuffix: string): SeenPublish[] {
    return this.seen.filter((s) => s.topic.endsWith(topicSuffix));
  }

  json(topicSuffix: string): Record<string, unknown>[] {
    return this.stats(topicSuffix).map((s) => JSON.parse(s.text) as Record<string, unknown>);
  }
}
