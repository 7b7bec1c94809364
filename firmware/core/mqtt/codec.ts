/**
 * MQTT 3.1.1 codec: encoders and an incremental, bounded parser.
 *
 * XS-clean: ES2022 built-ins only, no TextEncoder, no Buffer, no globals with side effects.
 *
 * Parser properties (see docs/mqtt-client.md):
 * - feed() accepts any split or merge of the byte stream;
 * - it never holds more than one packet body, whose size is checked against
 *   maxPacketBytes from the remaining-length field BEFORE the body is allocated;
 * - malformed input yields a coded error and the parser stays dead until reset().
 */
import { utf8EncodeInto } from "../crypto/utf8";

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

export const CONNACK_REASONS: readonly string[] = [
  "accepted",
  "unacceptable protocol version",
  "identifier rejected",
  "server unavailable",
  "bad user name or password",
  "not authorized",
];

const T_CONNECT = 1;
const T_CONNACK = 2;
const T_PUBLISH = 3;
const T_PUBACK = 4;
const T_PUBREC = 5;
const T_PUBREL = 6;
const T_PUBCOMP = 7;
const T_SUBSCRIBE = 8;
const T_SUBACK = 9;
const T_UNSUBSCRIBE = 10;
const T_UNSUBACK = 11;
const T_PINGREQ = 12;
const T_PINGRESP = 13;
const T_DISCONNECT = 14;

const EMPTY: Uint8Array = new Uint8Array(0);

/* ------------------------------------------------------------------ UTF-8 */

function fail(code: string, detail: string): never {
  // A plain object: no Error subclass, caught inside this module or by callers of the encoders.
  throw { code, detail } as MqttError;
}

function encodeFail(code: string, detail: string): never {
  throw new RangeError(code + ": " + detail);
}

/**
 * UTF-8 byte length of `s`, or -1 if it contains a lone surrogate or (unless allowNul, as for
 * binary payloads given as text) U+0000. Iterates by code point (for..of), so it does not depend
 * on the engine's string representation.
 */
export function utf8Length(s: string, allowNul = false): number {
  let n = 0;
  for (const ch of s) {
    const cp = ch.codePointAt(0) as number;
    if ((cp === 0 && !allowNul) || (cp >= 0xd800 && cp <= 0xdfff)) return -1;
    n += cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
  }
  return n;
}

/** Encode `s` as UTF-8. Throws RangeError "MQTT_BAD_UTF8" on lone surrogates or (unless allowNul) U+0000. */
export function utf8Encode(s: string, allowNul = false): Uint8Array {
  const n = utf8Length(s, allowNul);
  if (n < 0) encodeFail(MQTT_BAD_UTF8, "lone surrogate or U+0000");
  const out = new Uint8Array(n);
  utf8EncodeInto(s, out); // no lone surrogate here: utf8Length refused them
  return out;
}

/**
 * Strictly decode UTF-8 bytes[start, end): rejects overlongs, surrogates, code points above
 * U+10FFFF, truncated sequences and U+0000. Returns null when invalid.
 */
export function utf8Decode(bytes: Uint8Array, start = 0, end = bytes.length): string | null {
  let s = "";
  const cps: number[] = [];
  let i = start;
  while (i < end) {
    const b0 = bytes[i];
    let cp: number;
    if (b0 < 0x80) {
      if (b0 === 0) return null;
      cp = b0;
      i += 1;
    } else if (b0 >= 0xc2 && b0 <= 0xdf) {
      if (i + 1 >= end) return null;
      const b1 = bytes[i + 1];
      if ((b1 & 0xc0) !== 0x80) return null;
      cp = ((b0 & 0x1f) << 6) | (b1 & 0x3f);
      i += 2;
    } else if (b0 >= 0xe0 && b0 <= 0xef) {
      if (i + 2 >= end) return null;
      const b1 = bytes[i + 1];
      const b2 = bytes[i + 2];
      if ((b1 & 0xc0) !== 0x80 || (b2 & 0xc0) !== 0x80) return null;
      cp = ((b0 & 0x0f) << 12) | ((b1 & 0x3f) << 6) | (b2 & 0x3f);
      if (cp < 0x800) return null; // overlong
      if (cp >= 0xd800 && cp <= 0xdfff) return null; // surrogate
      i += 3;
    } else if (b0 >= 0xf0 && b0 <= 0xf4) {
      if (i + 3 >= end) return null;
      const b1 = bytes[i + 1];
      const b2 = bytes[i + 2];
      const b3 = bytes[i + 3];
      if ((b1 & 0xc0) !== 0x80 || (b2 & 0xc0) !== 0x80 || (b3 & 0xc0) !== 0x80) return null;
      cp = ((b0 & 0x07) << 18) | ((b1 & 0x3f) << 12) | ((b2 & 0x3f) << 6) | (b3 & 0x3f);
      if (cp < 0x10000 || cp > 0x10ffff) return null;
      i += 4;
    } else {
      return null; // continuation byte as lead, C0/C1 overlong leads, F5..FF
    }
    cps.push(cp);
    if (cps.length >= 64) {
      s += String.fromCodePoint(...cps);
      cps.length = 0;
    }
  }
  if (cps.length > 0) s += String.fromCodePoint(...cps);
  return s;
}

/* -------------------------------------------------------- topic checking */

/** True if `topic` is a valid PUBLISH topic name: 1..65535 UTF-8 bytes, no wildcards, no U+0000. */
export function isValidTopicName(topic: string): boolean {
  const n = utf8Length(topic);
  if (n < 1 || n > 65535) return false;
  return topic.indexOf("+") < 0 && topic.indexOf("#") < 0;
}

/** True if `filter` is a valid topic filter: '#' only last and alone in its level, '+' alone in its level. */
export function isValidTopicFilter(filter: string): boolean {
  const n = utf8Length(filter);
  if (n < 1 || n > 65535) return false;
  const levels = filter.split("/");
  for (let i = 0; i < levels.length; i++) {
    const lv = levels[i];
    if (lv.indexOf("#") >= 0 && (lv !== "#" || i !== levels.length - 1)) return false;
    if (lv.indexOf("+") >= 0 && lv !== "+") return false;
  }
  return true;
}

/* ----------------------------------------------------------------- writer */

function varintSize(n: number): number {
  return n < 128 ? 1 : n < 16384 ? 2 : n < 2097152 ? 3 : 4;
}

class Writer {
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

function checkPacketId(id: number): void {
  if (!(Number.isInteger(id) && id >= 1 && id <= 65535)) encodeFail(MQTT_BAD_PACKET_ID, String(id));
}

function checkQos(q: number, max: number): void {
  if (!(q === 0 || q === 1 || q === 2) || q > max) encodeFail(MQTT_MALFORMED, "qos " + q);
}

function strBytes(s: string, what: string): Uint8Array {
  const b = utf8Encode(s);
  if (b.length > 65535) encodeFail(MQTT_OVERSIZE, what + " longer than 65535 bytes");
  return b;
}

function binBytes(b: Uint8Array | string, what: string): Uint8Array {
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

function encodeId(first: number, packetId: number): Uint8Array {
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

/* ----------------------------------------------------------------- parser */

class Reader {
  pos = 0;
  constructor(readonly b: Uint8Array) {}
  need(n: number): void {
    if (this.pos + n > this.b.length) fail(MQTT_BAD_LENGTH, "field past end of packet");
  }
  u8(): number {
    this.need(1);
    return this.b[this.pos++];
  }
  u16(): number {
    this.need(2);
    const v = (this.b[this.pos] << 8) | this.b[this.pos + 1];
    this.pos += 2;
    return v;
  }
  packetId(): number {
    const id = this.u16();
    if (id === 0) fail(MQTT_BAD_PACKET_ID, "packet id 0");
    return id;
  }
  str(): string {
    const n = this.u16();
    this.need(n);
    const s = utf8Decode(this.b, this.pos, this.pos + n);
    if (s === null) fail(MQTT_BAD_UTF8, "invalid UTF-8 string");
    this.pos += n;
    return s;
  }
  bin(): Uint8Array {
    const n = this.u16();
    this.need(n);
    const v = this.b.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }
  left(): number {
    return this.b.length - this.pos;
  }
  end(): void {
    if (this.pos !== this.b.length) fail(MQTT_BAD_LENGTH, "trailing bytes in packet");
  }
}

// Required low-nibble flags per type (-1 = PUBLISH, free), index 0 and 15 invalid.
const REQUIRED_FLAGS = [-2, 0, 0, -1, 0, 0, 2, 0, 2, 0, 2, 0, 0, 0, 0, -2];

function parseBody(first: number, body: Uint8Array): MqttPacket {
  const type = first >> 4;
  const r = new Reader(body);
  switch (type) {
    case T_CONNECT: {
      const name = r.str();
      const level = r.u8();
      if (name !== "MQTT" || level !== 4) fail(MQTT_BAD_PROTOCOL, "protocol " + name + "/" + level);
      const flags = r.u8();
      if (flags & 1) fail(MQTT_MALFORMED, "connect reserved flag");
      const willFlag = (flags & 0x04) !== 0;
      const willQos = (flags >> 3) & 3;
      const willRetain = (flags & 0x20) !== 0;
      if (willQos === 3) fail(MQTT_MALFORMED, "will qos 3");
      if (!willFlag && (willQos !== 0 || willRetain)) fail(MQTT_MALFORMED, "will flags without will");
      const hasUser = (flags & 0x80) !== 0;
      const hasPass = (flags & 0x40) !== 0;
      if (hasPass && !hasUser) fail(MQTT_MALFORMED, "password without username");
      const keepAlive = r.u16();
      const clientId = r.str();
      let will: WillMessage | null = null;
      if (willFlag) {
        const topic = r.str();
        if (!isValidTopicName(topic)) fail(MQTT_BAD_TOPIC, "will topic");
        const payload = r.bin();
        will = { topic, payload, qos: willQos as QoS, retain: willRetain };
      }
      const username = hasUser ? r.str() : null;
      const password = hasPass ? r.bin() : null;
      r.end();
      return { type: "connect", clientId, cleanSession: (flags & 2) !== 0, keepAlive, will, username, password };
    }
    case T_CONNACK: {
      if (body.length !== 2) fail(MQTT_BAD_LENGTH, "connack length " + body.length);
      const f = body[0];
      if (f & 0xfe) fail(MQTT_MALFORMED, "connack reserved flags");
      return { type: "connack", sessionPresent: f === 1, returnCode: body[1] };
    }
    case T_PUBLISH: {
      const qos = ((first >> 1) & 3) as QoS;
      const topic = r.str();
      if (!isValidTopicName(topic)) fail(MQTT_BAD_TOPIC, "publish topic");
      const packetId = qos > 0 ? r.packetId() : 0;
      const payload = r.left() > 0 ? body.subarray(r.pos) : EMPTY;
      return { type: "publish", topic, payload, qos, retain: (first & 1) !== 0, dup: (first & 8) !== 0, packetId };
    }
    case T_PUBACK:
    case T_PUBREC:
    case T_PUBREL:
    case T_PUBCOMP:
    case T_UNSUBACK: {
      if (body.length !== 2) fail(MQTT_BAD_LENGTH, "ack length " + body.length);
      const packetId = r.packetId();
      const t =
        type === T_PUBACK
          ? "puback"
          : type === T_PUBREC
            ? "pubrec"
            : type === T_PUBREL
              ? "pubrel"
              : type === T_PUBCOMP
                ? "pubcomp"
                : "unsuback";
      return { type: t, packetId };
    }
    case T_SUBSCRIBE: {
      const packetId = r.packetId();
      if (r.left() === 0) fail(MQTT_MALFORMED, "subscribe without filters");
      const subscriptions: Subscription[] = [];
      while (r.left() > 0) {
        const topic = r.str();
        if (!isValidTopicFilter(topic)) fail(MQTT_BAD_TOPIC, "subscribe filter");
        const q = r.u8();
        if (q > 2) fail(MQTT_MALFORMED, "subscribe qos byte " + q);
        subscriptions.push({ topic, qos: q as QoS });
      }
      return { type: "subscribe", packetId, subscriptions };
    }
    case T_SUBACK: {
      const packetId = r.packetId();
      if (r.left() === 0) fail(MQTT_MALFORMED, "suback without return codes");
      const granted: number[] = [];
      while (r.left() > 0) {
        const g = r.u8();
        if (!(g === 0 || g === 1 || g === 2 || g === 0x80)) fail(MQTT_MALFORMED, "suback code " + g);
        granted.push(g);
      }
      return { type: "suback", packetId, granted };
    }
    case T_UNSUBSCRIBE: {
      const packetId = r.packetId();
      if (r.left() === 0) fail(MQTT_MALFORMED, "unsubscribe without filters");
      const topics: string[] = [];
      while (r.left() > 0) {
        const t = r.str();
        if (!isValidTopicFilter(t)) fail(MQTT_BAD_TOPIC, "unsubscribe filter");
        topics.push(t);
      }
      return { type: "unsubscribe", packetId, topics };
    }
    case T_PINGREQ:
    case T_PINGRESP:
    case T_DISCONNECT: {
      if (body.length !== 0) fail(MQTT_BAD_LENGTH, "non-empty " + type);
      return { type: type === T_PINGREQ ? "pingreq" : type === T_PINGRESP ? "pingresp" : "disconnect" };
    }
  }
  return fail(MQTT_BAD_TYPE, "type " + type);
}

export interface ParserOptions {
  /** Largest accepted remaining length (bytes after the fixed header). Default 16384. */
  maxPacketBytes?: number;
}

const S_HEADER = 0;
const S_LENGTH = 1;
const S_BODY = 2;

/**
 * Incremental MQTT 3.1.1 parser.
 * Memory: holds at most one packet body (<= maxPacketBytes) plus a few scalars for the fixed header.
 */
export class MqttParser {
  readonly maxPacketBytes: number;
  private state = S_HEADER;
  private first = 0;
  private len = 0;
  private mult = 1;
  private lenBytes = 0;
  private body: Uint8Array = EMPTY;
  private have = 0;
  private err: MqttError | null = null;
  private epoch = 0;

  constructor(options?: ParserOptions) {
    const m = options && options.maxPacketBytes !== undefined ? options.maxPacketBytes : MQTT_DEFAULT_MAX_PACKET_BYTES;
    if (!(Number.isInteger(m) && m >= 2 && m <= MQTT_MAX_REMAINING_LENGTH)) throw new RangeError("MQTT_BAD_OPTION: maxPacketBytes");
    this.maxPacketBytes = m;
  }

  /** The error that killed the parser, or null while it is alive. */
  get error(): MqttError | null {
    return this.err;
  }

  /** Bytes currently held for the packet being assembled (the allocated body size). */
  get bufferedBytes(): number {
    return this.body.length;
  }

  /** True when no partial packet is held and the parser is alive. */
  get idle(): boolean {
    return this.state === S_HEADER && this.err === null;
  }

  /** Forget any partial packet and any error. Safe to call from inside an onPacket callback. */
  reset(): void {
    this.state = S_HEADER;
    this.body = EMPTY;
    this.have = 0;
    this.err = null;
    this.epoch++;
  }

  private die(code: string, detail: string): false {
    this.err = { code, detail };
    this.body = EMPTY;
    this.have = 0;
    return false;
  }

  /**
   * Consume `chunk` (any split of the stream), calling onPacket for each complete packet in order.
   * Returns true while the parser is alive; false once it met an error (see .error), after which
   * further input is ignored until reset(). If onPacket calls reset(), the rest of `chunk` is dropped.
   * Payloads and binary fields are views into a buffer owned by the packet (not reused by the parser).
   */
  feed(chunk: Uint8Array, onPacket: (p: MqttPacket) => void): boolean {
    if (this.err) return false;
    const epoch = this.epoch;
    const n = chunk.length;
    let i = 0;
    while (i < n) {
      if (this.state === S_HEADER) {
        const b = chunk[i++];
        const type = b >> 4;
        const req = REQUIRED_FLAGS[type];
        if (req === -2) return this.die(MQTT_BAD_TYPE, "packet type " + type);
        if (req === -1) {
          if (((b >> 1) & 3) === 3) return this.die(MQTT_BAD_FLAGS, "publish qos 3");
        } else if ((b & 0x0f) !== req) {
          return this.die(MQTT_BAD_FLAGS, "reserved flags of type " + type);
        }
        this.first = b;
        this.len = 0;
        this.mult = 1;
        this.lenBytes = 0;
        this.state = S_LENGTH;
      } else if (this.state === S_LENGTH) {
        const b = chunk[i++];
        this.len += (b & 0x7f) * this.mult;
        this.mult *= 128;
        this.lenBytes++;
        if (this.len > this.maxPacketBytes) {
          return this.die(MQTT_OVERSIZE, "remaining length exceeds " + this.maxPacketBytes);
        }
        if (b & 0x80) {
          if (this.lenBytes === 4) return this.die(MQTT_BAD_LENGTH, "remaining length longer than 4 bytes");
          continue;
        }
        if (this.len === 0) {
          if (!this.emit(EMPTY, onPacket, epoch)) return this.err === null;
        } else {
          this.body = new Uint8Array(this.len);
          this.have = 0;
          this.state = S_BODY;
        }
      } else {
        const want = this.body.length - this.have;
        const take = want < n - i ? want : n - i;
        this.body.set(take === n && i === 0 ? chunk : chunk.subarray(i, i + take), this.have);
        this.have += take;
        i += take;
        if (this.have === this.body.length) {
          const body = this.body;
          this.body = EMPTY;
          this.have = 0;
          if (!this.emit(body, onPacket, epoch)) return this.err === null;
        }
      }
    }
    return true;
  }

  /** Parse a complete body and deliver it; false if the parser died or was reset meanwhile. */
  private emit(body: Uint8Array, onPacket: (p: MqttPacket) => void, epoch: number): boolean {
    this.state = S_HEADER;
    let p: MqttPacket;
    try {
      p = parseBody(this.first, body);
    } catch (e) {
      const me = e as MqttError;
      if (me && typeof me.code === "string" && typeof me.detail === "string") return this.die(me.code, me.detail);
      return this.die(MQTT_MALFORMED, String(e));
    }
    onPacket(p);
    return this.epoch === epoch && this.err === null;
  }
}

/** Parse exactly one complete packet from `bytes` (test helper). Throws RangeError "MQTT_…" on error. */
export function decodePacket(bytes: Uint8Array, maxPacketBytes = MQTT_MAX_REMAINING_LENGTH): MqttPacket {
  const parser = new MqttParser({ maxPacketBytes });
  const got: MqttPacket[] = [];
  parser.feed(bytes, (p) => {
    got.push(p);
  });
  const e = parser.error;
  if (e) throw new RangeError(e.code + ": " + e.detail);
  if (got.length !== 1 || !parser.idle) throw new RangeError(MQTT_BAD_LENGTH + ": expected exactly one packet");
  return got[0];
}
