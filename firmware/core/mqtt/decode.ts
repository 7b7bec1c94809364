/**
 * MQTT 3.1.1 incremental, bounded parser (docs/mqtt-client.md): any split or merge of the stream,
 * one packet body held at most, its size checked before it is allocated, coded errors.
 */
import {
  MQTT_OVERSIZE,
  MQTT_MALFORMED,
  MQTT_BAD_TYPE,
  MQTT_BAD_FLAGS,
  MQTT_BAD_LENGTH,
  MQTT_BAD_UTF8,
  MQTT_BAD_TOPIC,
  MQTT_BAD_PACKET_ID,
  MQTT_BAD_PROTOCOL,
  MQTT_MAX_REMAINING_LENGTH,
  MQTT_DEFAULT_MAX_PACKET_BYTES,
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
  type WillMessage,
  type Subscription,
  type MqttPacket,
  type MqttError,
} from "./packets";
import { fail, utf8Decode, isValidTopicName, isValidTopicFilter } from "./strings";
import { type DiscardedPublish, OversizeSkip, TOPIC_KEEP } from "./skip";

/* ----------------------------------------------------------------- parser */

export class Reader {
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
export const REQUIRED_FLAGS: readonly number[] = Object.freeze([-2, 0, 0, -1, 0, 0, 2, 0, 2, 0, 2, 0, 0, 0, 0, -2]);

export function parseBody(first: number, body: Uint8Array): MqttPacket {
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
  /**
   * When given, a PUBLISH over maxPacketBytes does not kill the parser: it is read through and
   * thrown away as it streams in (memory stays bounded: only the first TOPIC_KEEP bytes of its
   * topic are kept), then reported here, so the caller can acknowledge it and carry on.
   */
  onOversizePublish?: (d: DiscardedPublish) => void;
}

export type { DiscardedPublish };
export { TOPIC_KEEP };

export const S_HEADER = 0;
export const S_LENGTH = 1;
export const S_BODY = 2;
/** Reading through an oversized PUBLISH. */
export const S_SKIP = 3;

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
  private readonly onOversize: ((d: DiscardedPublish) => void) | undefined;
  private readonly skipper = new OversizeSkip();

  constructor(options?: ParserOptions) {
    const m = options && options.maxPacketBytes !== undefined ? options.maxPacketBytes : MQTT_DEFAULT_MAX_PACKET_BYTES;
    if (!(Number.isInteger(m) && m >= 2 && m <= MQTT_MAX_REMAINING_LENGTH)) throw new RangeError("MQTT_BAD_OPTION: maxPacketBytes");
    this.maxPacketBytes = m;
    this.onOversize = options?.onOversizePublish;
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
        if (b & 0x80) {
          if (this.lenBytes === 4) return this.die(MQTT_BAD_LENGTH, "remaining length longer than 4 bytes");
          if (this.len > this.maxPacketBytes && this.onOversize === undefined) {
            return this.die(MQTT_OVERSIZE, "remaining length exceeds " + this.maxPacketBytes);
          }
          continue;
        }
        if (this.len > this.maxPacketBytes) {
          if (this.onOversize === undefined || this.first >> 4 !== 3) {
            return this.die(MQTT_OVERSIZE, "remaining length exceeds " + this.maxPacketBytes);
          }
          this.state = S_SKIP;
          this.skipper.start(this.first, this.len);
          continue;
        }
        if (this.len === 0) {
          if (!this.emit(EMPTY, onPacket, epoch)) return this.err === null;
        } else {
          this.body = new Uint8Array(this.len);
          this.have = 0;
          this.state = S_BODY;
        }
      } else if (this.state === S_SKIP) {
        const r = this.skipper.feed(chunk, i);
        if (typeof r !== "number") return this.die(r.code, r.detail);
        i = r;
        if (this.skipper.done) {
          this.state = S_HEADER;
          if (this.onOversize !== undefined) this.onOversize(this.skipper.report());
          if (this.epoch !== epoch || this.err !== null) return this.err === null;
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
