/**
 * An MQTT 3.1.1 broker inside the simulator, reached through a simulated byte-stream network,
 * so that scenarios (and the XS lane) exercise the device's real link: our MQTT client, QoS 1
 * retransmission, the last will, retained signed configs and commands.
 *
 * Model: TCP connections with a fixed one-way latency; while the network is down every byte in
 * either direction is lost and connection attempts time out, so both ends find out the way they
 * would for real (keep-alive on the client, 1.5 × keep-alive on the broker, then the will).
 * The broker keeps a persistent session per client id (clean session off): subscriptions and
 * QoS 1 messages not yet acknowledged. XS-clean.
 */
import type { Network, StreamConnection, StreamHandlers } from "../../../firmware/core/ports";
import { MqttParser, encodePacket, type MqttPacket, type PublishPacket, type WillMessage } from "../../../firmware/core/mqtt/codec";
import { utf8Decode, utf8Encode } from "../../../firmware/core/crypto/utf8";
import type { SchedulerLike } from "../time/scheduler";

const LATENCY_MS = 20;
const CONNECT_TIMEOUT_MS = 5_000;
const MAX_RETAINED = 64;
const MAX_SESSION_QUEUE = 256;

interface Session {
  readonly clientId: string;
  readonly subs: string[];
  /** QoS 1 messages sent to the client and not yet acknowledged (resent with DUP on reconnect). */
  readonly unacked: Map<number, PublishPacket>;
  nextId: number;
}

interface Conn {
  readonly handlers: StreamHandlers;
  readonly group: number;
  readonly parser: MqttParser;
  open: boolean;
  session: Session | undefined;
  will: WillMessage | null;
  keepAliveMs: number;
  lastSeen: number;
  watchdog: number;
}

export function topicMatches(filter: string, topic: string): boolean {
  const f = filter.split("/");
  const t = topic.split("/");
  for (let i = 0; i < f.length; i++) {
    if (f[i] === "#") return true;
    if (i >= t.length) return false;
    if (f[i] !== "+" && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}

export class SimBroker {
  private readonly sessions = new Map<string, Session>();
  private readonly retained = new Map<string, Uint8Array>();
  private readonly conns: Conn[] = [];
  private up: boolean;

  constructor(
    private readonly sched: SchedulerLike,
    private readonly emit: (kind: string, body: string) => void,
    networkUp: boolean,
  ) {
    this.up = networkUp;
  }

  /** The network between the device and the broker. */
  setNetwork(up: boolean): void {
    this.up = up;
  }

  /** The device's byte-stream port. `group` is the device incarnation whose timers deliver bytes. */
  network(group: () => number): Network {
    return {
      connect: (_host: string, _port: number, _tls: boolean, handlers: StreamHandlers): StreamConnection => {
        const g = group();
        const conn: Conn = {
          handlers,
          group: g,
          parser: new MqttParser({ maxPacketBytes: 65_536 }),
          open: false,
          session: undefined,
          will: null,
          keepAliveMs: 0,
          lastSeen: this.sched.now,
          watchdog: 0,
        };
        if (!this.up) {
          this.sched.at(this.sched.now + CONNECT_TIMEOUT_MS, () => handlers.onClose("timeout"), g);
        } else {
          this.sched.at(
            this.sched.now + 2 * LATENCY_MS,
            () => {
              conn.open = true;
              this.conns.push(conn);
              handlers.onConnect();
            },
            g,
          );
        }
        return {
          write: (bytes: Uint8Array): boolean => {
            if (!conn.open) return false;
            if (!this.up) return true; // lost on the wire
            const copy = bytes.slice();
            this.sched.at(this.sched.now + LATENCY_MS, () => this.fromClient(conn, copy));
            return true;
          },
          close: (): void => {
            if (!conn.open) return;
            conn.open = false;
            // The FIN reaches the broker if the network is up; otherwise keep-alive finds out.
            if (this.up) this.sched.at(this.sched.now + LATENCY_MS, () => this.drop(conn, false));
          },
        };
      },
    };
  }

  /** A publication from the cloud side (pharmacist tools, relay). */
  publish(topic: string, payload: Uint8Array, retain: boolean): void {
    if (retain) this.retain(topic, payload);
    this.route(topic, payload);
  }

  private retain(topic: string, payload: Uint8Array): void {
    if (payload.length === 0) this.retained.delete(topic);
    else if (this.retained.has(topic) || this.retained.size < MAX_RETAINED) this.retained.set(topic, payload);
  }

  private route(topic: string, payload: Uint8Array): void {
    for (const s of this.sessions.values()) {
      if (!s.subs.some((f) => topicMatches(f, topic))) continue;
      this.deliver(s, topic, payload, false);
    }
  }

  private deliver(s: Session, topic: string, payload: Uint8Array, retain: boolean): void {
    if (s.unacked.size >= MAX_SESSION_QUEUE) return;
    const id = s.nextId;
    s.nextId = s.nextId >= 65_535 ? 1 : s.nextId + 1;
    const p: PublishPacket = { type: "publish", topic, payload, qos: 1, retain, dup: false, packetId: id };
    s.unacked.set(id, p);
    const c = this.connOf(s);
    if (c !== undefined) this.toClient(c, p);
  }

  private connOf(s: Session): Conn | undefined {
    for (const c of this.conns) if (c.session === s && c.open) return c;
    return undefined;
  }

  private toClient(c: Conn, p: MqttPacket): void {
    if (!this.up) return;
    const bytes = encodePacket(p);
    this.sched.at(
      this.sched.now + LATENCY_MS,
      () => {
        if (c.open) c.handlers.onData(bytes);
      },
      c.group,
    );
  }

  private fromClient(c: Conn, bytes: Uint8Array): void {
    const ok = c.parser.feed(bytes, (p: MqttPacket) => this.onPacket(c, p));
    if (!ok) this.drop(c, true);
  }

  private armWatchdog(c: Conn): void {
    if (c.watchdog !== 0) this.sched.cancel(c.watchdog);
    c.watchdog = 0;
    if (c.keepAliveMs === 0) return;
    const limit = c.keepAliveMs + c.keepAliveMs / 2;
    c.watchdog = this.sched.at(this.sched.now + limit, () => {
      c.watchdog = 0;
      if (this.sched.now - c.lastSeen >= limit) this.drop(c, true);
      else this.armWatchdog(c);
    });
  }

  private onPacket(c: Conn, p: MqttPacket): void {
    c.lastSeen = this.sched.now;
    switch (p.type) {
      case "connect": {
        let s = this.sessions.get(p.clientId);
        const present = s !== undefined && !p.cleanSession;
        // A second connection with the same client id takes over (the old one is closed).
        for (const other of this.conns)
          if (other !== c && other.session !== undefined && other.session.clientId === p.clientId) this.drop(other, false);
        if (s === undefined || p.cleanSession) {
          s = { clientId: p.clientId, subs: [], unacked: new Map(), nextId: 1 };
          this.sessions.set(p.clientId, s);
        }
        c.session = s;
        c.will = p.will;
        c.keepAliveMs = p.keepAlive * 1000;
        this.armWatchdog(c);
        this.emit("mqtt", `"broker":"connect","client":${JSON.stringify(p.clientId)},"session":${present}`);
        this.toClient(c, { type: "connack", sessionPresent: present, returnCode: 0 });
        for (const q of s.unacked.values()) this.toClient(c, { ...q, dup: true });
        return;
      }
      case "publish": {
        if (p.qos === 1) this.toClient(c, { type: "puback", packetId: p.packetId });
        this.fromDevice(p);
        return;
      }
      case "puback":
        c.session?.unacked.delete(p.packetId);
        return;
      case "subscribe": {
        const s = c.session;
        if (s === undefined) return;
        for (const sub of p.subscriptions) if (s.subs.indexOf(sub.topic) < 0 && s.subs.length < 16) s.subs.push(sub.topic);
        this.toClient(c, { type: "suback", packetId: p.packetId, granted: p.subscriptions.map((x) => (x.qos > 1 ? 1 : x.qos)) });
        for (const [topic, payload] of this.retained) {
          if (p.subscriptions.some((x) => topicMatches(x.topic, topic))) this.deliver(s, topic, payload, true);
        }
        return;
      }
      case "unsubscribe": {
        const s = c.session;
        if (s !== undefined)
          for (const t of p.topics) {
            const i = s.subs.indexOf(t);
            if (i >= 0) s.subs.splice(i, 1);
          }
        this.toClient(c, { type: "unsuback", packetId: p.packetId });
        return;
      }
      case "pingreq":
        this.toClient(c, { type: "pingresp" });
        return;
      case "disconnect":
        c.will = null;
        this.drop(c, false);
        return;
      default:
        this.drop(c, true);
    }
  }

  /** What the device published: recorded on the timeline. */
  private fromDevice(p: PublishPacket): void {
    if (p.retain) this.retain(p.topic, p.payload);
    const parts = p.topic.split("/");
    const kind = parts.length >= 3 ? parts[2] : p.topic;
    const text = utf8Decode(p.payload) ?? "";
    if (kind === "evt") {
      let seq = 0;
      let id = "";
      try {
        const j = JSON.parse(text) as { seq?: unknown; id?: unknown };
        seq = typeof j.seq === "number" ? j.seq : 0;
        id = typeof j.id === "string" ? j.id : "";
      } catch {
        id = "?";
      }
      this.emit("tx", `"seq":${seq},"id":${JSON.stringify(id)}${p.dup ? ',"dup":true' : ""}`);
    } else if (kind === "stat" || kind === "status") {
      this.emit("mqtt", `"topic":${JSON.stringify(kind)},"payload":${JSON.stringify(text)}`);
    }
    this.route(p.topic, p.payload);
  }

  private drop(c: Conn, withWill: boolean): void {
    const i = this.conns.indexOf(c);
    if (i >= 0) this.conns.splice(i, 1);
    if (c.watchdog !== 0) this.sched.cancel(c.watchdog);
    c.watchdog = 0;
    const wasOpen = c.open;
    c.open = false;
    if (wasOpen && this.up) this.sched.at(this.sched.now + LATENCY_MS, () => c.handlers.onClose("reset"), c.group);
    if (withWill && c.will !== null) {
      const w = c.will;
      c.will = null;
      this.emit("mqtt", `"broker":"will","topic":${JSON.stringify(w.topic)}`);
      if (w.retain) this.retain(w.topic, w.payload);
      this.route(w.topic, w.payload);
    }
  }

  /** Text payload helper for scenario steps. */
  static bytes(text: string): Uint8Array {
    return utf8Encode(text);
  }
}
