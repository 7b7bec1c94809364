/**
 * The device link's settings, dependencies and interface, and its limits (docs/protocol.md).
 */
import type { Ports } from "../ports";
import type { DeviceIdentity, Dispenser, Uplink } from "../dispenser";
import type { MqttClientOptions } from "../mqtt/client";
import type { TrustedKey } from "../crypto/signed";
import type { Store } from "../log/store";

export interface BrokerSettings {
  readonly host: string;
  readonly port: number;
  readonly tls: boolean;
  readonly username: string;
  readonly password: string;
  /** The broker CA certificate (DER) the TLS session trusts; absent: the platform's built-in CA list. */
  readonly ca?: Uint8Array;
}

export interface LinkDeps {
  readonly ports: Ports;
  readonly identity: DeviceIdentity;
  /** Seeded PRNG in [0, 1) (reconnect jitter). */
  readonly random: () => number;
  readonly broker: BrokerSettings;
  readonly trustedKeys: ReadonlyArray<TrustedKey>;
  /** Decommission: the platform wipes its credentials (Wi-Fi, broker password, keys). */
  readonly onErase?: () => void;
  /** Overrides of the MQTT client options (tests: backoff, keep-alive). */
  readonly mqtt?: Partial<
    Omit<MqttClientOptions, "host" | "port" | "tls" | "clientId" | "username" | "password" | "will" | "cleanSession">
  >;
  /** Record store shared with the boot guard (core/update): the link's records and "otatry". */
  readonly store?: Store;
  /** Telemetry period. Default TELE_PERIOD_MS. */
  readonly teleMs?: number;
}

export interface Link {
  readonly uplink: Uplink;
  attach(d: Dispenser): void;
  start(): void;
  stop(): void;
  /** "idle" | "connecting" | "connected" | "waiting" | "stopped" (the MQTT client's state). */
  readonly state: string;
  /** True once a decommission command erased the device; the link stays stopped. */
  readonly erased: boolean;
}

export const TELE_PERIOD_MS = 5 * 60_000;
/** QoS 1 inflight table of the client; events may use all but STAT_RESERVE of it. */
export const LINK_MAX_INFLIGHT = 16;
export const STAT_RESERVE = 4;
/** Largest incoming packet: an envelope with the largest payload openEnvelope accepts (21 848 base64 chars) fits. */
export const LINK_MAX_PACKET = 24_576;
/** Unauthenticated junk (malformed, unsigned, forged) is logged at most this many times per window. */
/** While the wall clock is unset a received config is held (newest only) and retried this often. */
export const HELD_RETRY_MS = 5_000;

/**
 * Largest command message (the signed envelope on dk/<id>/cmnd/<name>, not config): commands carry
 * a few arguments. Bigger ones are refused by the device (CMD_TOO_BIG) and never sent by the
 * pharmacist tools. Configs are bounded by the envelope (MAX_PAYLOAD_BYTES) and LINK_MAX_PACKET.
 */
export const COMMAND_MAX_BYTES = 2048;
