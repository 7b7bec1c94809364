/**
 * MQTT 3.1.1 encoders: every packet the client sends (and, for tests, every packet type).
 */
import {
  MQTT_OVERSIZE,
  MQTT_MALFORMED,
  MQTT_BAD_TOPIC,
  MQTT_BAD_PACKET_ID,
  MQTT_MAX_REMAINING_LENGTH,
  T_CONNECT,
  T_CONNACK,
  T_PUBLISH,
  T_PUBACK,
  T_PUBREC,
  T_PUBREL,
  T_PUBCOMP,
  T_SUBSCRIBE,
  T_SUBACK,
  T_UNSUBSCRIBE,
  T_UNSUBACK,
  T_PINGREQ,
  T_PINGRESP,
  T_DISCONNECT,
  EMPTY,
  type QoS,
  type Subscription,
  type MqttPacket,
} from "./packets";
import { encodeFail, utf8Encode, utf8Length, isValidTopicName, isValidTopicFilter } from "./strings";

/* ----------------------------------------------------------------- writer */

export function varintSize(n: number): number {
  return n < 128 ? 1 : n < 16384 ? 2 : n < 2097152 ? 3 : 4;
}

export class Writer {
  readonly buf: Uint8Array;
  pos = 0;
  constructor(first: number, remaining: number) {
    if (remaining > MQTT_MAX_REMAINING_LENGTH) encodeFail(MQTT_OVERSIZE, "remaining length " + remaining);
    this.buf = new Uint8Array(1 + varintSize(remaining) + remaining);
    this.buf[0] = first;
    this.pos = 1;
    let x = remaining;
    do {
      let b = x % 128;
      x = Math.floor(x / 128);
      if (x > 0) b |= 0x80;
      this.buf[this.pos++] = b;
    } while (x > 0);
  }
  u8(v: number): void {
    this.buf[this.pos++] = v;
  }
  u16(v: number): void {
    this.buf[this.pos++] = v >> 8;
    this.buf[this.pos++] = v & 0xff;
  }
  bytes(b: Uint8Array): void {
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }
  lenBytes(b: Uint8Array): void {
    this.u16(b.length);
    this.bytes(b);
  }
}

export function checkPacketId(id: number): void {
  if (!(Number.isInteger(id) && id >= 1 && id <= 65535)) encodeFail(MQTT_BAD_PACKET_ID, String(id));
}

export function checkQos(q: number, max: number): void {
  if (!(q === 0 || q === 1 || q === 2) || q > max) encodeFail(MQTT_MALFORMED, "qos " + q);
}

export function strBytes(s: string, what: string): Uint8Array {
  const b = utf8Encode(s);
  if (b.length > 65535) encodeFail(MQTT_OVERSIZE, what + " longer than 65535 bytes");
  return b;
}

export function binBytes(b: Uint8Array | string, what: string): Uint8Array {
  const out = typeof b === "string" ? utf8Encode(b, true) : b;
  if (out.length > 65535) encodeFail(MQTT_OVERSIZE, what + " longer than 65535 bytes");
  return out;
}

/* --------------------------------------------------------------- encoders */

export interface ConnectOptions {
  clientId: string;
  cleanSession: boolean;
  keepAlive: number;
  will?: { topic: string; payload: Uint8Array | string; qos: QoS; retain: boolean } | null;
  username?: string | null;
  password?: Uint8Array | string | null;
}

/** CONNECT (protocol "MQTT", level 4). Throws RangeError "MQTT_…" on invalid input. */
export function encodeConnect(o: ConnectOptions): Uint8Array {
  if (!(Number.isInteger(o.keepAlive) && o.keepAlive >= 0 && o.keepAlive <= 65535)) {
    encodeFail(MQTT_MALFORMED, "keepAlive " + o.keepAlive);
  }
  const id = strBytes(o.clientId, "clientId");
  if (id.length === 0 && !o.cleanSession) encodeFail(MQTT_MALFORMED, "empty clientId requires cleanSession [MQTT-3.1.3-7]");
  let flags = o.cleanSession ? 0x02 : 0;
  let rem = 6 + 1 + 1 + 2 + 2 + id.length;
  let wt = EMPTY;
  let wp = EMPTY;
  if (o.will) {
    if (!isValidTopicName(o.will.topic)) encodeFail(MQTT_BAD_TOPIC, "will topic");
    checkQos(o.will.qos, 2);
    wt = strBytes(o.will.topic, "will topic");
    wp = binBytes(o.will.payload, "will payload");
    flags |= 0x04 | (o.will.qos << 3) | (o.will.retain ? 0x20 : 0);
    rem += 4 + wt.length + wp.length;
  }
  let un = EMPTY;
  let pw = EMPTY;
  const hasUser = o.username !== undefined && o.username !== null;
  const hasPass = o.password !== undefined && o.password !== null;
  if (hasPass && !hasUser) encodeFail(MQTT_MALFORMED, "password without username");
  if (hasUser) {
    un = strBytes(o.username as string, "username");
    flags |= 0x80;
    rem += 2 + un.length;
  }
  if (hasPass) {
    pw = binBytes(o.password as Uint8Array | string, "password");
    flags |= 0x40;
    rem += 2 + pw.length;
  }
  const w = new Writer(T_CONNECT << 4, rem);
  w.u16(4);
  w.u8(0x4d); // M
  w.u8(0x51); // Q
  w.u8(0x54); // T
  w.u8(0x54); // T
  w.u8(4);
  w.u8(flags);
  w.u16(o.keepAlive);
  w.lenBytes(id);
  if (o.will) {
    w.lenBytes(wt);
    w.lenBytes(wp);
  }
  if (hasUser) w.lenBytes(un);
  if (hasPass) w.lenBytes(pw);
  return w.buf;
}

export interface PublishOptions {
  topic: string;
  payload: Uint8Array | string;
  qos: QoS;
  retain?: boolean;
  dup?: boolean;
  /** Required (1..65535) for QoS > 0, ignored for QoS 0. */
  packetId?: number;
}

/** PUBLISH. Throws RangeError "MQTT_…" on invalid topic, packet id or size. */
export function encodePublish(o: PublishOptions): Uint8Array {
  if (!isValidTopicName(o.topic)) encodeFail(MQTT_BAD_TOPIC, "invalid topic name");
  checkQos(o.qos, 2);
  const t = utf8Encode(o.topic);
  const p = typeof o.payload === "string" ? utf8Encode(o.payload, true) : o.payload;
  let rem = 2 + t.length + p.length;
  if (o.qos > 0) {
    checkPacketId(o.packetId as number);
    rem += 2;
  }
  const first = (T_PUBLISH << 4) | (o.dup ? 0x08 : 0) | (o.qos << 1) | (o.retain ? 1 : 0);
  const w = new Writer(first, rem);
  w.lenBytes(t);
  if (o.qos > 0) w.u16(o.packetId as number);
  w.bytes(p);
  return w.buf;
}

export function encodeId(first: number, packetId: number): Uint8Array {
  checkPacketId(packetId);
  const w = new Writer(first, 2);
  w.u16(packetId);
  return w.buf;
}

export function encodePuback(packetId: number): Uint8Array {
  return encodeId(T_PUBACK << 4, packetId);
}

/** SUBSCRIBE with one or more filters. */
export function encodeSubscribe(packetId: number, subs: readonly Subscription[]): Uint8Array {
  checkPacketId(packetId);
  if (subs.length === 0) encodeFail(MQTT_MALFORMED, "no filters");
  const enc: Uint8Array[] = [];
  let rem = 2;
  for (const s of subs) {
    if (!isValidTopicFilter(s.topic)) encodeFail(MQTT_BAD_TOPIC, "invalid topic filter");
    checkQos(s.qos, 2);
    const b = utf8Encode(s.topic);
    enc.push(b);
    rem += 3 + b.length;
  }
  const w = new Writer((T_SUBSCRIBE << 4) | 2, rem);
  w.u16(packetId);
  for (let i = 0; i < subs.length; i++) {
    w.lenBytes(enc[i]);
    w.u8(subs[i].qos);
  }
  return w.buf;
}

/** UNSUBSCRIBE with one or more filters. */
export function encodeUnsubscribe(packetId: number, topics: readonly string[]): Uint8Array {
  checkPacketId(packetId);
  if (topics.length === 0) encodeFail(MQTT_MALFORMED, "no filters");
  const enc: Uint8Array[] = [];
  let rem = 2;
  for (const t of topics) {
    if (!isValidTopicFilter(t)) encodeFail(MQTT_BAD_TOPIC, "invalid topic filter");
    const b = utf8Encode(t);
    enc.push(b);
    rem += 2 + b.length;
  }
  const w = new Writer((T_UNSUBSCRIBE << 4) | 2, rem);
  w.u16(packetId);
  for (const b of enc) w.lenBytes(b);
  return w.buf;
}

export function encodePingreq(): Uint8Array {
  return new Uint8Array([T_PINGREQ << 4, 0]);
}

export function encodeDisconnect(): Uint8Array {
  return new Uint8Array([T_DISCONNECT << 4, 0]);
}

/**
 * Encode any packet (client- or server-side). Used by tests and simulated brokers.
 * Throws RangeError "MQTT_…" on invalid content.
 */
export function encodePacket(p: MqttPacket): Uint8Array {
  switch (p.type) {
    case "connect":
      return encodeConnect(p);
    case "connack": {
      if (!(Number.isInteger(p.returnCode) && p.returnCode >= 0 && p.returnCode <= 255)) {
        encodeFail(MQTT_MALFORMED, "returnCode");
      }
      return new Uint8Array([T_CONNACK << 4, 2, p.sessionPresent ? 1 : 0, p.returnCode]);
    }
    case "publish":
      return encodePublish(p);
    case "puback":
      return encodeId(T_PUBACK << 4, p.packetId);
    case "pubrec":
      return encodeId(T_PUBREC << 4, p.packetId);
    case "pubrel":
      return encodeId((T_PUBREL << 4) | 2, p.packetId);
    case "pubcomp":
      return encodeId(T_PUBCOMP << 4, p.packetId);
    case "unsuback":
      return encodeId(T_UNSUBACK << 4, p.packetId);
    case "subscribe":
      return encodeSubscribe(p.packetId, p.subscriptions);
    case "suback": {
      checkPacketId(p.packetId);
      if (p.granted.length === 0) encodeFail(MQTT_MALFORMED, "no return codes");
      const w = new Writer(T_SUBACK << 4, 2 + p.granted.length);
      w.u16(p.packetId);
      for (const g of p.granted) {
        if (!(g === 0 || g === 1 || g === 2 || g === 0x80)) encodeFail(MQTT_MALFORMED, "suback code " + g);
        w.u8(g);
      }
      return w.buf;
    }
    case "unsubscribe":
      return encodeUnsubscribe(p.packetId, p.topics);
    case "pingreq":
      return encodePingreq();
    case "pingresp":
      return new Uint8Array([T_PINGRESP << 4, 0]);
    case "disconnect":
      return encodeDisconnect();
  }
}

/** Bytes of the PUBLISH packet for `topic` and `payload` (RangeError on a bad topic or a payload string with a lone surrogate). */
export function publishPacketBytes(topic: string, payload: Uint8Array | string, qos: 0 | 1): number {
  if (!isValidTopicName(topic)) throw new RangeError("MQTT_BAD_TOPIC: " + topic);
  const pl = typeof payload === "string" ? utf8Length(payload, true) : payload.length;
  if (pl < 0) throw new RangeError("MQTT_BAD_UTF8: payload string");
  const rem = 2 + utf8Length(topic) + (qos === 1 ? 2 : 0) + pl;
  return 1 + (rem < 128 ? 1 : rem < 16384 ? 2 : rem < 2097152 ? 3 : 4) + rem;
}
