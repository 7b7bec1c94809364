/**
 * What the MQTT client is given and gives: options (with their bounds), dependencies, handlers,
 * states and fault codes (docs/mqtt-client.md).
 */
import type { DiscardedPublish } from "./decode";

export type { DiscardedPublish };
import type { Clock, Network, Timers } from "../ports";

export interface MqttWill {
  topic: string;
  payload: Uint8Array | string;
  qos: 0 | 1;
  /** Default true: a retained will lets late subscribers see that the device went away. */
  retain?: boolean;
}

export interface MqttClientOptions {
  host: string;
  port: number;
  tls?: boolean;
  clientId: string;
  username?: string;
  password?: Uint8Array | string;
  /** Seconds (0..65535, 0 = off). Default 60. */
  keepAliveSec?: number;
  /** Default false: the broker keeps subscriptions and QoS 1 messages across connections. */
  cleanSession?: boolean;
  will?: MqttWill;
  /** Capacity of the QoS 1 inflight table. Default 16. */
  maxInflight?: number;
  /** Capacity of the subscription registry. Default 16. */
  maxSubscriptions?: number;
  /** Largest incoming remaining length accepted. Default 16384. */
  maxPacketBytes?: number;
  /** Largest outgoing PUBLISH packet (whole packet). Default 16384. */
  maxPublishBytes?: number;
  /** TCP/TLS connect + CONNACK deadline. Default 20000 ms. */
  connectTimeoutMs?: number;
  /** PINGRESP deadline after a PINGREQ. Default 10000 ms. */
  pingTimeoutMs?: number;
  /** Backoff cap of the first retry; doubles per failure. Default 1000 ms. */
  backoffInitialMs?: number;
  /** Upper bound of the backoff cap. Default 300000 ms (5 min). */
  backoffMaxMs?: number;
  /** A session that lasted at least this long resets the backoff. Default 60000 ms. */
  stableMs?: number;
}

export interface MqttClientDeps {
  network: Network;
  timers: Timers;
  clock: Clock;
  /** Seeded PRNG returning numbers in [0, 1); used only for reconnect jitter. */
  random: () => number;
}

export interface MqttMessageInfo {
  qos: 0 | 1;
  retain: boolean;
  dup: boolean;
}

export interface MqttClientHandlers {
  /** CONNACK accepted; queued QoS 1 publishes and subscriptions were already (re)sent. */
  onConnect?(sessionPresent: boolean): void;
  /** Incoming PUBLISH. For QoS 1 the PUBACK is sent after this returns (also if it throws). */
  onMessage?(topic: string, payload: Uint8Array, info: MqttMessageInfo): void;
  /**
   * An incoming PUBLISH over maxPacketBytes was read through and thrown away (never held whole);
   * a QoS 1 one is acknowledged, so the broker does not redeliver it. The session goes on.
   */
  onDiscarded?(d: DiscardedPublish): void;
  /** PUBACK received for a QoS 1 publish; the message left the inflight table. */
  onAck?(packetId: number): void;
  /** SUBACK for `topic`: granted QoS 0/1/2, or 0x80 when the broker refused it. */
  onSubscribed?(topic: string, granted: number): void;
  /** An established session (after onConnect) ended; reconnect is already scheduled unless stopped. */
  onOffline?(reason: string): void;
  /** Something went wrong that the application may log (codes in docs/mqtt-client.md). */
  onFault?(code: string, detail: string): void;
}

export type MqttClientState = "idle" | "connecting" | "connected" | "waiting" | "stopped";

export const MQTT_PROTOCOL = "MQTT_PROTOCOL";
export const MQTT_REFUSED = "MQTT_REFUSED";
export const MQTT_SUB_REFUSED = "MQTT_SUB_REFUSED";
export const MQTT_CALLBACK_THREW = "MQTT_CALLBACK_THREW";

function opt(v: number | undefined, dflt: number, min: number, max: number, name: string): number {
  const x = v === undefined ? dflt : v;
  if (!(Number.isInteger(x) && x >= min && x <= max)) throw new RangeError("MQTT_BAD_OPTION: " + name);
  return x;
}

/** The client's limits and timings: the options with their defaults, each checked (RangeError "MQTT_BAD_OPTION"). */
export interface ClientLimits {
  readonly keepAliveMs: number;
  readonly maxInflight: number;
  readonly maxSubs: number;
  readonly maxPublishBytes: number;
  readonly maxPacketBytes: number;
  readonly connectTimeoutMs: number;
  readonly pingTimeoutMs: number;
  readonly backoffInitialMs: number;
  readonly backoffMaxMs: number;
  readonly stableMs: number;
}

export function clientLimits(o: MqttClientOptions): ClientLimits {
  const backoffInitialMs = opt(o.backoffInitialMs, 1000, 1, 86400000, "backoffInitialMs");
  return {
    keepAliveMs: opt(o.keepAliveSec, 60, 0, 65535, "keepAliveSec") * 1000,
    maxInflight: opt(o.maxInflight, 16, 1, 1000, "maxInflight"),
    maxSubs: opt(o.maxSubscriptions, 16, 1, 1000, "maxSubscriptions"),
    maxPublishBytes: opt(o.maxPublishBytes, 16384, 16, 268435460, "maxPublishBytes"),
    maxPacketBytes: opt(o.maxPacketBytes, 16384, 2, 268435455, "maxPacketBytes"),
    connectTimeoutMs: opt(o.connectTimeoutMs, 20000, 1, 3600000, "connectTimeoutMs"),
    pingTimeoutMs: opt(o.pingTimeoutMs, 10000, 1, 3600000, "pingTimeoutMs"),
    backoffInitialMs,
    backoffMaxMs: opt(o.backoffMaxMs, 300000, backoffInitialMs, 86400000, "backoffMaxMs"),
    stableMs: opt(o.stableMs, 60000, 0, 86400000, "stableMs"),
  };
}

/** Reconnect delay after `attempt` failed attempts: full jitter over an exponential cap (`r` in [0, 1)). */
export function backoffDelay(k: ClientLimits, attempt: number, r: number): number {
  const exp = attempt < 30 ? attempt : 30;
  let cap = k.backoffInitialMs * 2 ** exp;
  if (cap > k.backoffMaxMs) cap = k.backoffMaxMs;
  const u = r >= 0 && r < 1 ? r : 0.5;
  return Math.floor(u * cap);
}
