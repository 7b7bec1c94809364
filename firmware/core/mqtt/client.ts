/**
 * MQTT 3.1.1 client for the device (QoS 0 and 1), over the Network, Timers and Clock ports.
 *
 * - persistent session (clean session off by default), retained last will, credentials;
 * - bounded QoS 1 inflight table, retransmitted in order with DUP after every reconnect;
 * - subscriptions kept in a bounded registry and re-sent when the broker lost the session;
 * - keep-alive PINGREQ with a PINGRESP deadline;
 * - reconnect with exponential backoff and full jitter (injected PRNG, no Math.random);
 * - incoming packets are bounded by maxPacketBytes: larger ones are refused before allocation.
 *
 * XS-clean. See docs/mqtt-client.md for the state machine, parameters and error codes.
 */
import type { StreamConnection, TimerId } from "../ports";
import {
  CONNACK_REASONS,
  MQTT_OVERSIZE,
  MqttParser,
  encodeConnect,
  encodeDisconnect,
  encodePingreq,
  encodePuback,
  encodePublish,
  publishPacketBytes,
  encodeSubscribe,
  encodeUnsubscribe,
  isValidTopicFilter,
} from "./codec";
import { Inflight, PacketIds } from "./inflight";
import { KeepAlive } from "./keepalive";
import { Subscriptions } from "./subscriptions";
import type { DiscardedPublish, MqttPacket } from "./codec";
import {
  MQTT_PROTOCOL,
  MQTT_REFUSED,
  MQTT_SUB_REFUSED,
  MQTT_CALLBACK_THREW,
  type MqttClientOptions,
  type MqttClientDeps,
  type MqttMessageInfo,
  type MqttClientHandlers,
  type MqttClientState,
  backoffDelay,
  clientLimits,
  type ClientLimits,
} from "./client-options";
export * from "./client-options";

export const NO_TIMER = -1;

export class MqttClient {
  private readonly deps: MqttClientDeps;
  private readonly o: MqttClientOptions;
  private readonly h: MqttClientHandlers;
  /** Options with their defaults, checked. */
  private readonly k: ClientLimits;
  private readonly connectBytes: Uint8Array;
  private readonly parser: MqttParser;

  private st: MqttClientState = "idle";
  private conn: StreamConnection | null = null;
  private gen = 0;
  private attempt = 0;
  private connectedAt = 0;
  private readonly ids = new PacketIds((id) => this.inflight.has(id) || this.subs.usesId(id));
  private tReconnect: TimerId = NO_TIMER;
  private tConnect: TimerId = NO_TIMER;
  private readonly ka: KeepAlive;
  private tWriteFail: TimerId = NO_TIMER;
  private readonly inflight: Inflight;
  private readonly subs: Subscriptions;
  private lastDelay = 0;

  constructor(deps: MqttClientDeps, options: MqttClientOptions, handlers: MqttClientHandlers) {
    this.deps = deps;
    this.o = options;
    this.h = handlers;
    this.k = clientLimits(options);
    this.subs = new Subscriptions(this.k.maxSubs);
    this.inflight = new Inflight(this.k.maxInflight);
    this.ka = new KeepAlive({
      timers: deps.timers,
      clock: deps.clock,
      keepAliveMs: this.k.keepAliveMs,
      pingTimeoutMs: this.k.pingTimeoutMs,
      ping: () => this.send(encodePingreq()),
      timedOut: () => this.drop("ping_timeout"),
    });
    this.parser = new MqttParser({ maxPacketBytes: this.k.maxPacketBytes, onOversizePublish: (d) => this.onOversize(d) });
    const w = options.will;
    // Encoded once: also validates client id, credentials and will up front (throws RangeError).
    this.connectBytes = encodeConnect({
      clientId: options.clientId,
      cleanSession: options.cleanSession === true,
      keepAlive: this.k.keepAliveMs / 1000,
      will: w ? { topic: w.topic, payload: w.payload, qos: w.qos, retain: w.retain !== false } : null,
      username: options.username === undefined ? null : options.username,
      password: options.password === undefined ? null : options.password,
    });
  }

  /* ------------------------------------------------------------ public API */

  get state(): MqttClientState {
    return this.st;
  }

  /** Number of QoS 1 publishes not yet acknowledged (sent or waiting to be sent). */
  get inflightCount(): number {
    return this.inflight.count;
  }

  /** Packet ids of the inflight table, oldest first. */
  inflightIds(): number[] {
    return this.inflight.ids();
  }

  /** Delay (ms) chosen for the most recently scheduled reconnect. */
  get lastBackoffMs(): number {
    return this.lastDelay;
  }

  /** Start connecting (no-op unless idle or stopped). Reconnects forever until stop(). */
  start(): void {
    if (this.st !== "idle" && this.st !== "stopped") return;
    this.attempt = 0;
    this.open();
  }

  /**
   * Send DISCONNECT if connected, close, and stop reconnecting. The inflight table and the
   * subscription registry are kept; start() resumes them. The last will is not published.
   */
  stop(): void {
    if (this.st === "idle" || this.st === "stopped") return;
    const was = this.st === "connected";
    if (was) this.send(encodeDisconnect());
    this.teardown();
    this.cancel("tReconnect");
    this.st = "stopped";
    if (was) this.safe("onOffline", () => this.h.onOffline && this.h.onOffline("stopped"));
  }

  /**
   * Publish. QoS 0: sent now if connected, returns 0, or false when not connected.
   * QoS 1: stored in the inflight table and sent now if connected (else after the next CONNACK);
   * returns the packet id, or false when the table is full (the caller keeps the message).
   * Throws RangeError "MQTT_BAD_TOPIC" / "MQTT_OVERSIZE" for invalid topics or oversized packets.
   */
  publish(topic: string, payload: Uint8Array | string, options?: { qos?: 0 | 1; retain?: boolean }): number | false {
    const qos = options && options.qos !== undefined ? options.qos : 0;
    if (qos !== 0 && qos !== 1) throw new RangeError("MQTT_MALFORMED: qos must be 0 or 1");
    const retain = options !== undefined && options.retain === true;
    // Size check before anything else, so an oversized message throws whatever the state.
    const total = publishPacketBytes(topic, payload, qos);
    if (total > this.k.maxPublishBytes) throw new RangeError(MQTT_OVERSIZE + ": publish of " + total + " bytes");
    if (qos === 0) {
      if (this.st !== "connected") return false;
      return this.send(encodePublish({ topic, payload, qos: 0, retain })) ? 0 : false;
    }
    if (this.inflight.full) return false;
    const id = this.allocId();
    if (id === 0) return false;
    const bytes = encodePublish({ topic, payload, qos: 1, retain, packetId: id });
    this.inflight.add(id, bytes, this.st === "connected" ? (b) => this.send(b) : undefined);
    return id;
  }

  /**
   * Add (or change the QoS of) a subscription. Sent now if connected, else after CONNACK,
   * and re-sent automatically whenever the broker reports no session.
   * Returns false when the registry is full. Throws RangeError "MQTT_BAD_TOPIC" on a bad filter.
   */
  subscribe(filter: string, qos: 0 | 1 = 1): boolean {
    if (!isValidTopicFilter(filter)) throw new RangeError("MQTT_BAD_TOPIC: " + filter);
    if (qos !== 0 && qos !== 1) throw new RangeError("MQTT_MALFORMED: qos must be 0 or 1");
    if (!this.subs.want(filter, qos)) return false;
    if (this.st === "connected") this.flushSubs();
    return true;
  }

  /** Remove a subscription (UNSUBSCRIBE now or after CONNACK). Returns false if it was not registered. */
  unsubscribe(filter: string): boolean {
    if (!this.subs.unwant(filter)) return false;
    if (this.st === "connected") this.flushSubs();
    return true;
  }

  /* -------------------------------------------------------------- internals */

  private allocId(): number {
    return this.ids.alloc();
  }

  private cancel(name: "tReconnect" | "tConnect" | "tWriteFail"): void {
    const id = this[name];
    if (id !== NO_TIMER) {
      this.deps.timers.cancel(id);
      this[name] = NO_TIMER;
    }
  }

  /** Call a user callback; a throw is reported as a fault instead of corrupting our state. */
  private safe(name: string, f: () => unknown): void {
    try {
      f();
    } catch (e) {
      if (name === "onFault") return;
      this.fault(MQTT_CALLBACK_THREW, name + ": " + String(e));
    }
  }

  private fault(code: string, detail: string): void {
    this.safe("onFault", () => this.h.onFault && this.h.onFault(code, detail));
  }

  private send(bytes: Uint8Array): boolean {
    const c = this.conn;
    if (c === null) return false;
    if (c.write(bytes)) {
      this.ka.sent();
      return true;
    }
    // Closed under us: drop on the next turn (never re-entrantly from inside publish()).
    if (this.tWriteFail === NO_TIMER) {
      const g = this.gen;
      this.tWriteFail = this.deps.timers.once(0, () => {
        this.tWriteFail = NO_TIMER;
        if (g === this.gen) this.drop("write_failed");
      });
    }
    return false;
  }

  private open(): void {
    this.tReconnect = NO_TIMER;
    const g = ++this.gen;
    this.parser.reset();
    this.st = "connecting";
    this.tConnect = this.deps.timers.once(this.k.connectTimeoutMs, () => {
      this.tConnect = NO_TIMER;
      if (g === this.gen) this.drop("connect_timeout");
    });
    try {
      this.conn = this.deps.network.connect(this.o.host, this.o.port, this.o.tls === true, {
        onConnect: () => {
          if (g === this.gen) this.send(this.connectBytes);
        },
        onData: (bytes) => {
          if (g === this.gen) this.onData(bytes);
        },
        onClose: (reason) => {
          if (g === this.gen) this.drop(reason || "closed");
        },
      });
    } catch (e) {
      this.conn = null;
      this.fault("MQTT_NETWORK", String(e));
      this.drop("connect_failed");
    }
  }

  /** Close the current connection (if any) and cancel its timers; no state change, no callbacks. */
  private teardown(): void {
    this.gen++;
    this.cancel("tConnect");
    this.ka.stop();
    this.cancel("tWriteFail");
    this.parser.reset();
    const c = this.conn;
    this.conn = null;
    if (c !== null) {
      try {
        c.close();
      } catch (_e) {
        // already closed
      }
    }
  }

  /** End the current connection attempt/session and schedule a reconnect with backoff. */
  private drop(reason: string): void {
    if (this.st !== "connecting" && this.st !== "connected") return;
    const was = this.st === "connected";
    this.teardown();
    if (was && this.deps.clock.monoMs() - this.connectedAt >= this.k.stableMs) this.attempt = 0;
    const delay = backoffDelay(this.k, this.attempt, this.deps.random());
    this.attempt++;
    this.lastDelay = delay;
    this.st = "waiting";
    this.tReconnect = this.deps.timers.once(delay, () => {
      if (this.st === "waiting") this.open();
    });
    if (was) this.safe("onOffline", () => this.h.onOffline && this.h.onOffline(reason));
  }

  private onData(bytes: Uint8Array): void {
    const alive = this.parser.feed(bytes, (p) => this.onPacket(p));
    if (!alive) {
      const e = this.parser.error;
      this.fault(e ? e.code : "MQTT_MALFORMED", e ? e.detail : "");
      this.drop("protocol");
    }
  }

  private protocolError(detail: string): void {
    this.fault(MQTT_PROTOCOL, detail);
    this.drop("protocol");
  }

  private onPacket(p: MqttPacket): void {
    if (this.st === "connecting") {
      if (p.type !== "connack") return this.protocolError(p.type + " before CONNACK");
      this.cancel("tConnect");
      if (p.returnCode !== 0) {
        const why = CONNACK_REASONS[p.returnCode] || "unknown";
        this.fault(MQTT_REFUSED, "CONNACK " + p.returnCode + " " + why);
        return this.drop("refused_" + p.returnCode);
      }
      this.onSession(p.sessionPresent);
      return;
    }
    if (this.st !== "connected") return;
    switch (p.type) {
      case "publish": {
        if (p.qos === 2) return this.protocolError("QoS 2 PUBLISH (never subscribed with QoS 2)");
        const g = this.gen;
        const info: MqttMessageInfo = { qos: p.qos, retain: p.retain, dup: p.dup };
        this.safe("onMessage", () => this.h.onMessage && this.h.onMessage(p.topic, p.payload, info));
        if (p.qos === 1 && g === this.gen) this.send(encodePuback(p.packetId));
        return;
      }
      case "puback": {
        // An unknown id (late duplicate ack) is ignored.
        if (this.inflight.ack(p.packetId)) this.safe("onAck", () => this.h.onAck && this.h.onAck(p.packetId));
        return;
      }
      case "suback": {
        const r = this.subs.onSuback(p.packetId, p.granted);
        if (r === undefined) return;
        if (typeof r === "string") return this.protocolError(r);
        for (const o of r) {
          if (o.granted === 0x80) this.fault(MQTT_SUB_REFUSED, o.topic);
          this.safe("onSubscribed", () => this.h.onSubscribed && this.h.onSubscribed(o.topic, o.granted));
        }
        return;
      }
      case "unsuback":
        this.subs.onUnsuback(p.packetId);
        return;
      case "pingresp":
        this.ka.pong();
        return;
      default:
        return this.protocolError("unexpected " + p.type);
    }
  }

  /** An oversized PUBLISH was read through: acknowledge it (QoS 1) and report it; never drop the session for content. */
  private onOversize(d: DiscardedPublish): void {
    if (this.st === "connecting") return this.protocolError("PUBLISH before CONNACK");
    if (this.st !== "connected") return;
    if (d.qos === 2) return this.protocolError("QoS 2 PUBLISH (never subscribed with QoS 2)");
    const g = this.gen;
    this.safe("onDiscarded", () => this.h.onDiscarded && this.h.onDiscarded(d));
    if (d.qos === 1 && g === this.gen) this.send(encodePuback(d.packetId));
  }

  private onSession(sessionPresent: boolean): void {
    this.st = "connected";
    this.connectedAt = this.deps.clock.monoMs();
    const g = this.gen;
    this.subs.onSession(sessionPresent);
    this.flushSubs();
    // Inflight QoS 1, oldest first; anything sent before carries DUP.
    if (
      !this.inflight.resend(
        (b) => this.send(b),
        () => g === this.gen,
      )
    )
      return;
    const g2 = this.gen;
    this.ka.schedule(() => g2 === this.gen && this.st === "connected");
    this.safe("onConnect", () => this.h.onConnect && this.h.onConnect(sessionPresent));
  }

  private flushSubs(): void {
    this.subs.flush(
      () => this.allocId(),
      (id, part) => this.send(encodeSubscribe(id, part)),
      (id, part) => this.send(encodeUnsubscribe(id, part)),
    );
  }
}
