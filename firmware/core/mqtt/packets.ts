/**
 * MQTT 3.1.1 packets as values, error codes and protocol constants.
 */
/* ------------------------------------------------------------------ types */

export type QoS = 0 | 1 | 2;

export interface WillMessage {
  topic: string;
  payload: Uint8Array;
  qos: QoS;
  retain: boolean;
}

export interface ConnectPacket {
  type: "connect";
  clientId: string;
  cleanSession: boolean;
  /** Seconds, 0..65535 (0 = keep-alive off). */
  keepAlive: number;
  will: WillMessage | null;
  username: string | null;
  password: Uint8Array | null;
}

export interface ConnackPacket {
  type: "connack";
  sessionPresent: boolean;
  /** 0 accepted, 1..5 refused (see CONNACK_REASONS). */
  returnCode: number;
}

export interface PublishPacket {
  type: "publish";
  topic: string;
  payload: Uint8Array;
  qos: QoS;
  retain: boolean;
  dup: boolean;
  /** 1..65535 for QoS > 0, 0 for QoS 0. */
  packetId: number;
}

export interface IdPacket {
  type: "puback" | "pubrec" | "pubrel" | "pubcomp" | "unsuback";
  packetId: number;
}

export interface Subscription {
  topic: string;
  qos: QoS;
}

export interface SubscribePacket {
  type: "subscribe";
  packetId: number;
  subscriptions: Subscription[];
}

export interface SubackPacket {
  type: "suback";
  packetId: number;
  /** One per requested filter: 0, 1, 2 (granted QoS) or 0x80 (failure). */
  granted: number[];
}

export interface UnsubscribePacket {
  type: "unsubscribe";
  packetId: number;
  topics: string[];
}

export interface EmptyPacket {
  type: "pingreq" | "pingresp" | "disconnect";
}

export type MqttPacket =
  | ConnectPacket
  | ConnackPacket
  | PublishPacket
  | IdPacket
  | SubscribePacket
  | SubackPacket
  | UnsubscribePacket
  | EmptyPacket;

/** A coded error (plain object, not an Error subclass). */
export interface MqttError {
  code: string;
  detail: string;
}

/* ------------------------------------------------------------- constants */

export const MQTT_OVERSIZE = "MQTT_OVERSIZE";
export const MQTT_MALFORMED = "MQTT_MALFORMED";
export const MQTT_BAD_TYPE = "MQTT_BAD_TYPE";
export const MQTT_BAD_FLAGS = "MQTT_BAD_FLAGS";
export const MQTT_BAD_LENGTH = "MQTT_BAD_LENGTH";
export const MQTT_BAD_UTF8 = "MQTT_BAD_UTF8";
export const MQTT_BAD_TOPIC = "MQTT_BAD_TOPIC";
export const MQTT_BAD_PACKET_ID = "MQTT_BAD_PACKET_ID";
export const MQTT_BAD_PROTOCOL = "MQTT_BAD_PROTOCOL";

/** Largest value the remaining-length field can carry (4 bytes). */
export const MQTT_MAX_REMAINING_LENGTH = 268435455;
/** Default parser limit. */
export const MQTT_DEFAULT_MAX_PACKET_BYTES = 16384;
/** Fixed header is at most 1 type byte + 4 length bytes. */
export const MQTT_MAX_HEADER_BYTES = 5;

export const CONNACK_REASONS: readonly string[] = Object.freeze([
  "accepted",
  "unacceptable protocol version",
  "identifier rejected",
  "server unavailable",
  "bad user name or password",
  "not authorized",
]);

export const T_CONNECT = 1;
export const T_CONNACK = 2;
export const T_PUBLISH = 3;
export const T_PUBACK = 4;
export const T_PUBREC = 5;
export const T_PUBREL = 6;
export const T_PUBCOMP = 7;
export const T_SUBSCRIBE = 8;
export const T_SUBACK = 9;
export const T_UNSUBSCRIBE = 10;
export const T_UNSUBACK = 11;
export const T_PINGREQ = 12;
export const T_PINGRESP = 13;
export const T_DISCONNECT = 14;

export const EMPTY: Uint8Array = new Uint8Array(0);
