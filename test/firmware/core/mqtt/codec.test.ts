/**
 * MQTT codec conformance: differential against mqtt-packet, UTF-8 edge cases, coded errors,
 * and a bounded-memory fuzz (MQTT_FUZZ_N=1000000 npx vitest run test/mqtt/codec.test.ts for a long run).
 */
import { describe, expect, it } from "vitest";
import * as mp from "mqtt-packet";
import { mulberry32 as prng } from "../../../support/prng";
import {
  MqttParser,
  decodePacket,
  encodeConnect,
  encodeDisconnect,
  encodePacket,
  encodePingreq,
  encodePuback,
  encodePublish,
  encodeSubscribe,
  encodeUnsubscribe,
  isValidTopicFilter,
  utf8Decode,
  utf8Encode,
  type MqttPacket,
  type QoS,
} from "../../../../firmware/core/mqtt/codec";

type Rnd = () => number;
const int = (r: Rnd, lo: number, hi: number): number => lo + Math.floor(r() * (hi - lo + 1));
const pick = <T>(r: Rnd, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];

function randChar(r: Rnd, noWild: boolean): string {
  const k = r();
  let cp: number;
  if (k < 0.6) cp = int(r, 0x20, 0x7e);
  else if (k < 0.75) cp = int(r, 0x80, 0x7ff);
  else if (k < 0.9) {
    cp = int(r, 0x800, 0xfffd);
    if (cp >= 0xd800 && cp <= 0xdfff) cp = 0xe000;
  } else cp = int(r, 0x10000, 0x10ffff);
  const ch = String.fromCodePoint(cp);
  if (noWild && (ch === "+" || ch === "#" || ch === "/")) return "a";
  return ch;
}

function randString(r: Rnd, min: number, max: number, noWild = false): string {
  const n = int(r, min, max);
  let s = "";
  for (let i = 0; i < n; i++) s += randChar(r, noWild);
  return s;
}

function randTopic(r: Rnd): string {
  const levels = int(r, 1, 4);
  const parts: string[] = [];
  for (let i = 0; i < levels; i++) parts.push(randString(r, i === 0 ? 1 : 0, 8, true));
  return parts.join("/");
}

function randFilter(r: Rnd): string {
  const levels = int(r, 1, 4);
  const parts: string[] = [];
  for (let i = 0; i < levels; i++) {
    const k = r();
    if (k < 0.15) parts.push("+");
    else if (k < 0.25 && i === levels - 1) parts.push("#");
    else parts.push(randString(r, 1, 6, true));
  }
  return parts.join("/");
}

function randBytes(r: Rnd, max: number): Uint8Array {
  const n = r() < 0.1 ? 0 : int(r, 0, max);
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = int(r, 0, 255);
  return b;
}

const pid = (r: Rnd): number => (r() < 0.1 ? pick(r, [1, 255, 256, 65535]) : int(r, 1, 65535));

/** A random valid MQTT 3.1.1 packet in our representation. */
function randPacket(r: Rnd, bigPayload = 300): MqttPacket {
  const t = int(r, 0, 13);
  switch (t) {
    case 0: {
      const hasUser = r() < 0.5;
      const clientId = randString(r, 0, 23);
      return {
        type: "connect",
        clientId,
        cleanSession: clientId === "" || r() < 0.5,
        keepAlive: pick(r, [0, 1, 60, 65535, int(r, 0, 65535)]),
        will: r() < 0.5 ? { topic: randTopic(r), payload: randBytes(r, 40), qos: int(r, 0, 2) as QoS, retain: r() < 0.5 } : null,
        username: hasUser ? randString(r, 0, 20) : null,
        password: hasUser && r() < 0.7 ? randBytes(r, 30) : null,
      };
    }
    case 1:
      return { type: "connack", sessionPresent: r() < 0.5, returnCode: int(r, 0, 5) };
    case 2: {
      const qos = int(r, 0, 2) as QoS;
      return {
        type: "publish",
        topic: randTopic(r),
        payload: randBytes(r, r() < 0.05 ? 20000 : bigPayload),
        qos,
        retain: r() < 0.5,
        dup: qos > 0 && r() < 0.5,
        packetId: qos > 0 ? pid(r) : 0,
      };
    }
    case 3:
      return { type: "puback", packetId: pid(r) };
    case 4:
      return { type: "pubrec", packetId: pid(r) };
    case 5:
      return { type: "pubrel", packetId: pid(r) };
    case 6:
      return { type: "pubcomp", packetId: pid(r) };
    case 7: {
      const n = int(r, 1, 5);
      const subscriptions = [];
      for (let i = 0; i < n; i++) subscriptions.push({ topic: randFilter(r), qos: int(r, 0, 2) as QoS });
      return { type: "subscribe", packetId: pid(r), subscriptions };
    }
    case 8: {
      const n = int(r, 1, 6);
      const granted = [];
      for (let i = 0; i < n; i++) granted.push(pick(r, [0, 1, 2, 0x80]));
      return { type: "suback", packetId: pid(r), granted };
    }
    case 9: {
      const n = int(r, 1, 5);
      const topics = [];
      for (let i = 0; i < n; i++) topics.push(randFilter(r));
      return { type: "unsubscribe", packetId: pid(r), topics };
    }
    case 10:
      return { type: "unsuback", packetId: pid(r) };
    case 11:
      return { type: "pingreq" };
    case 12:
      return { type: "pingresp" };
    default:
      return { type: "disconnect" };
  }
}

/* ------------------------------------------- conversion to/from mqtt-packet */

const buf = (u: Uint8Array): Buffer => Buffer.from(u.buffer, u.byteOffset, u.byteLength);
const u8 = (b: Buffer | string | undefined | null): Uint8Array =>
  b === undefined || b === null ? new Uint8Array(0) : typeof b === "string" ? new Uint8Array(Buffer.from(b)) : new Uint8Array(b);

function toMp(p: MqttPacket): mp.Packet {
  switch (p.type) {
    case "connect": {
      const o: Record<string, unknown> = {
        cmd: "connect",
        protocolId: "MQTT",
        protocolVersion: 4,
        clean: p.cleanSession,
        keepalive: p.keepAlive,
        clientId: p.clientId,
      };
      if (p.will) o.will = { topic: p.will.topic, payload: buf(p.will.payload), qos: p.will.qos, retain: p.will.retain };
      if (p.username !== null) o.username = p.username;
      if (p.password !== null) o.password = buf(p.password);
      return o as unknown as mp.Packet;
    }
    case "connack":
      return { cmd: "connack", sessionPresent: p.sessionPresent, returnCode: p.returnCode };
    case "publish":
      return {
        cmd: "publish",
        topic: p.topic,
        payload: buf(p.payload),
        qos: p.qos,
        retain: p.retain,
        dup: p.dup,
        ...(p.qos > 0 ? { messageId: p.packetId } : {}),
      } as mp.Packet;
    case "puback":
    case "pubrec":
    case "pubrel":
    case "pubcomp":
    case "unsuback":
      return { cmd: p.type, messageId: p.packetId } as mp.Packet;
    case "subscribe":
      return {
        cmd: "subscribe",
        messageId: p.packetId,
        subscriptions: p.subscriptions.map((s) => ({ topic: s.topic, qos: s.qos })),
      } as mp.Packet;
    case "suback":
      return { cmd: "suback", messageId: p.packetId, granted: p.granted } as mp.Packet;
    case "unsubscribe":
      return { cmd: "unsubscribe", messageId: p.packetId, unsubscriptions: p.topics } as mp.Packet;
    default:
      return { cmd: p.type } as mp.Packet;
  }
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
function fromMp(m: any): MqttPacket {
  switch (m.cmd) {
    case "connect":
      return {
        type: "connect",
        clientId: m.clientId,
        cleanSession: m.clean,
        keepAlive: m.keepalive,
        will: m.will ? { topic: m.will.topic, payload: u8(m.will.payload), qos: m.will.qos, retain: m.will.retain } : null,
        username: m.username === undefined ? null : m.username,
        password: m.password === undefined ? null : u8(m.password),
      };
    case "connack":
      return { type: "connack", sessionPresent: m.sessionPresent, returnCode: m.returnCode };
    case "publish":
      return {
        type: "publish",
        topic: m.topic,
        payload: u8(m.payload),
        qos: m.qos,
        retain: m.retain,
        dup: m.dup,
        packetId: m.qos > 0 ? m.messageId : 0,
      };
    case "puback":
    case "pubrec":
    case "pubrel":
    case "pubcomp":
    case "unsuback":
      return { type: m.cmd, packetId: m.messageId };
    case "subscribe":
      return {
        type: "subscribe",
        packetId: m.messageId,
        subscriptions: m.subscriptions.map((s: { topic: string; qos: QoS }) => ({ topic: s.topic, qos: s.qos })),
      };
    case "suback":
      return { type: "suback", packetId: m.messageId, granted: m.granted };
    case "unsubscribe":
      return { type: "unsubscribe", packetId: m.messageId, topics: m.unsubscriptions };
    default:
      return { type: m.cmd };
  }
}

/** Plain-object form for deep equality (Uint8Array views -> arrays). */
function norm(p: MqttPacket): unknown {
  return JSON.parse(JSON.stringify(p, (_k, v) => (v instanceof Uint8Array ? Array.from(v) : v)));
}

function mpParseAll(bytes: Uint8Array): { packets: MqttPacket[]; error: string | null } {
  const parser = mp.parser({ protocolVersion: 4 });
  const packets: MqttPacket[] = [];
  let error: string | null = null;
  parser.on("packet", (p) => packets.push(fromMp(p)));
  parser.on("error", (e) => {
    error = String(e && e.message);
  });
  parser.parse(buf(bytes));
  return { packets, error };
}

function oursParseAll(chunks: Uint8Array[], max = 1 << 20): { packets: MqttPacket[]; error: string | null; parser: MqttParser } {
  const parser = new MqttParser({ maxPacketBytes: max });
  const packets: MqttPacket[] = [];
  for (const c of chunks) if (!parser.feed(c, (p) => packets.push(p))) break;
  return { packets, error: parser.error ? parser.error.code : null, parser };
}

function concat(parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function randomSplit(r: Rnd, bytes: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  let i = 0;
  while (i < bytes.length) {
    const k = r();
    const n = k < 0.3 ? 1 : k < 0.6 ? int(r, 1, 8) : int(r, 1, 400);
    out.push(bytes.slice(i, i + n));
    i += n;
  }
  return out;
}

/* ------------------------------------------------------------------ tests */

describe("UTF-8", () => {
  it("round-trips BMP and astral text and matches Node's encoder", () => {
    const r = prng(7);
    for (let i = 0; i < 2000; i++) {
      const s = randString(r, 0, 30);
      const b = utf8Encode(s);
      expect(Array.from(b)).toEqual(Array.from(Buffer.from(s, "utf8")));
      expect(utf8Decode(b)).toBe(s);
    }
  });

  it("rejects lone surrogates and U+0000 when encoding", () => {
    expect(() => utf8Encode("a\ud800b")).toThrow(/MQTT_BAD_UTF8/);
    expect(() => utf8Encode("\udc00")).toThrow(/MQTT_BAD_UTF8/);
    expect(() => utf8Encode("a\u0000")).toThrow(/MQTT_BAD_UTF8/);
    expect(Array.from(utf8Encode("\u{1F48A}"))).toEqual([0xf0, 0x9f, 0x92, 0x8a]);
    // binary payloads given as text may contain U+0000
    expect(Array.from(utf8Encode("a\u0000", true))).toEqual([0x61, 0]);
    expect(Array.from(encodePublish({ topic: "t", payload: "\u0000", qos: 0 }))).toEqual([0x30, 4, 0, 1, 0x74, 0]);
  });

  it("rejects overlongs, surrogates, out-of-range, truncated and stray bytes when decoding", () => {
    const bad = [
      [0x00],
      [0xc0, 0x80], // overlong NUL
      [0xc1, 0xbf],
      [0xe0, 0x80, 0x80], // overlong
      [0xe0, 0x9f, 0xbf],
      [0xed, 0xa0, 0x80], // U+D800
      [0xed, 0xbf, 0xbf], // U+DFFF
      [0xf0, 0x8f, 0xbf, 0xbf], // overlong
      [0xf4, 0x90, 0x80, 0x80], // > U+10FFFF
      [0xf5, 0x80, 0x80, 0x80],
      [0x80],
      [0xbf],
      [0xc3],
      [0xe2, 0x82],
      [0xf0, 0x9f, 0x92],
      [0xc3, 0x41],
      [0xff],
    ];
    for (const b of bad) expect(utf8Decode(new Uint8Array(b)), JSON.stringify(b)).toBeNull();
    expect(utf8Decode(new Uint8Array([0xed, 0x9f, 0xbf]))).toBe("\ud7ff");
    expect(utf8Decode(new Uint8Array([0xee, 0x80, 0x80]))).toBe("\ue000");
    expect(utf8Decode(new Uint8Array([0xf4, 0x8f, 0xbf, 0xbf]))).toBe("\u{10ffff}");
    expect(utf8Decode(new Uint8Array([0xef, 0xbf, 0xbf]))).toBe("\uffff");
  });
});

describe("encoders vs mqtt-packet parser", () => {
  it("client encoders produce packets mqtt-packet parses identically", () => {
    const cases: [Uint8Array, MqttPacket][] = [
      [
        encodeConnect({
          clientId: "dk-01",
          cleanSession: false,
          keepAlive: 60,
          will: { topic: "dk/01/status", payload: "offline", qos: 1, retain: true },
          username: "u",
          password: "p\u00e9",
        }),
        {
          type: "connect",
          clientId: "dk-01",
          cleanSession: false,
          keepAlive: 60,
          will: { topic: "dk/01/status", payload: utf8Encode("offline"), qos: 1, retain: true },
          username: "u",
          password: utf8Encode("p\u00e9"),
        },
      ],
      [
        encodeConnect({ clientId: "", cleanSession: true, keepAlive: 0 }),
        { type: "connect", clientId: "", cleanSession: true, keepAlive: 0, will: null, username: null, password: null },
      ],
      [
        encodePublish({ topic: "dk/é/x", payload: "hi", qos: 1, retain: true, dup: true, packetId: 65535 }),
        { type: "publish", topic: "dk/é/x", payload: utf8Encode("hi"), qos: 1, retain: true, dup: true, packetId: 65535 },
      ],
      [
        encodePublish({ topic: "t", payload: new Uint8Array(0), qos: 0 }),
        { type: "publish", topic: "t", payload: new Uint8Array(0), qos: 0, retain: false, dup: false, packetId: 0 },
      ],
      [encodePuback(7), { type: "puback", packetId: 7 }],
      [
        encodeSubscribe(9, [
          { topic: "a/+/c", qos: 1 },
          { topic: "#", qos: 0 },
        ]),
        {
          type: "subscribe",
          packetId: 9,
          subscriptions: [
            { topic: "a/+/c", qos: 1 },
            { topic: "#", qos: 0 },
          ],
        },
      ],
      [encodeUnsubscribe(10, ["a/+/c", "x/#"]), { type: "unsubscribe", packetId: 10, topics: ["a/+/c", "x/#"] }],
      [encodePingreq(), { type: "pingreq" }],
      [encodeDisconnect(), { type: "disconnect" }],
    ];
    for (const [bytes, want] of cases) {
      const got = mpParseAll(bytes);
      expect(got.error).toBeNull();
      expect(got.packets.map(norm)).toEqual([norm(want)]);
      expect(norm(decodePacket(bytes))).toEqual(norm(want));
    }
  });

  it("2,000 random packets from encodePacket parse identically in mqtt-packet and in ours", () => {
    const r = prng(1);
    for (let i = 0; i < 2000; i++) {
      const p = randPacket(r);
      const bytes = encodePacket(p);
      const theirs = mpParseAll(bytes);
      expect(theirs.error, p.type).toBeNull();
      expect(theirs.packets.map(norm)).toEqual([norm(p)]);
      expect(norm(decodePacket(bytes))).toEqual(norm(p));
      // byte-identical to mqtt-packet's own generator
      expect(Array.from(bytes)).toEqual(Array.from(mp.generate(toMp(p))));
    }
  });

  it("large remaining lengths use 3- and 4-byte length fields", () => {
    for (const n of [127, 128, 16383, 16384, 2097151, 2097152]) {
      const p: MqttPacket = { type: "publish", topic: "t", payload: new Uint8Array(n - 3), qos: 0, retain: false, dup: false, packetId: 0 };
      const bytes = encodePacket(p);
      expect(Array.from(bytes.subarray(0, 6))).toEqual(Array.from(mp.generate(toMp(p)).subarray(0, 6)));
      expect((decodePacket(bytes) as { payload: Uint8Array }).payload.length).toBe(n - 3);
    }
  });

  it("encoders refuse invalid input with coded RangeErrors", () => {
    expect(() => encodePublish({ topic: "a/+", payload: "", qos: 0 })).toThrow(/MQTT_BAD_TOPIC/);
    expect(() => encodePublish({ topic: "", payload: "", qos: 0 })).toThrow(/MQTT_BAD_TOPIC/);
    expect(() => encodePublish({ topic: "a", payload: "", qos: 1 })).toThrow(/MQTT_BAD_PACKET_ID/);
    expect(() => encodePublish({ topic: "a", payload: "", qos: 1, packetId: 65536 })).toThrow(/MQTT_BAD_PACKET_ID/);
    expect(() => encodeSubscribe(1, [{ topic: "a/#/b", qos: 0 }])).toThrow(/MQTT_BAD_TOPIC/);
    expect(() => encodeSubscribe(1, [])).toThrow(/MQTT_MALFORMED/);
    expect(() => encodeConnect({ clientId: "x".repeat(70000), cleanSession: true, keepAlive: 1 })).toThrow(/MQTT_OVERSIZE/);
    expect(() => encodeConnect({ clientId: "x", cleanSession: true, keepAlive: 1, password: "p" })).toThrow(/MQTT_MALFORMED/);
    expect(isValidTopicFilter("a/b+")).toBe(false);
    expect(isValidTopicFilter("+/+/#")).toBe(true);
    expect(isValidTopicFilter("a#")).toBe(false);
  });
});

describe("parser vs mqtt-packet generate()", () => {
  it("2,000 packets generated by mqtt-packet parse identically, whole, split and merged", () => {
    const r = prng(2);
    const all: Uint8Array[] = [];
    const want: unknown[] = [];
    for (let i = 0; i < 2000; i++) {
      const p = randPacket(r);
      const bytes = new Uint8Array(mp.generate(toMp(p)));
      all.push(bytes);
      want.push(norm(p));
      const one = oursParseAll([bytes]);
      expect(one.error).toBeNull();
      expect(one.packets.map(norm)).toEqual([norm(p)]);
      const split = oursParseAll(randomSplit(r, bytes));
      expect(split.packets.map(norm)).toEqual([norm(p)]);
    }
    const stream = concat(all);
    // one merged buffer
    const merged = oursParseAll([stream]);
    expect(merged.error).toBeNull();
    expect(merged.packets.map(norm)).toEqual(want);
    // 5 different random splittings of the merged stream
    for (let k = 0; k < 5; k++) {
      const res = oursParseAll(randomSplit(r, stream));
      expect(res.error).toBeNull();
      expect(res.packets.length).toBe(2000);
      expect(res.packets.map(norm)).toEqual(want);
      expect(res.parser.idle).toBe(true);
    }
  });
});

describe("parser errors", () => {
  const err = (bytes: number[], max = 1024): string | null => {
    const p = new MqttParser({ maxPacketBytes: max });
    p.feed(new Uint8Array(bytes), () => {});
    return p.error ? p.error.code : null;
  };

  it("codes each malformation", () => {
    expect(err([0x00, 0x00])).toBe("MQTT_BAD_TYPE");
    expect(err([0xf0, 0x00])).toBe("MQTT_BAD_TYPE");
    expect(err([0x36, 0x00])).toBe("MQTT_BAD_FLAGS"); // publish qos 3
    expect(err([0x80, 0x00])).toBe("MQTT_BAD_FLAGS"); // subscribe without 0010
    expect(err([0x21, 0x02, 0, 0])).toBe("MQTT_BAD_FLAGS");
    expect(err([0x20, 0x03, 0, 0, 0])).toBe("MQTT_BAD_LENGTH");
    expect(err([0x20, 0x02, 0x02, 0])).toBe("MQTT_MALFORMED"); // connack reserved bits
    expect(err([0xd0, 0x01, 0x00])).toBe("MQTT_BAD_LENGTH"); // pingresp with body
    expect(err([0x40, 0x02, 0x00, 0x00])).toBe("MQTT_BAD_PACKET_ID");
    expect(err([0x30, 0xff, 0xff, 0xff, 0xff, 0x01])).toBe("MQTT_OVERSIZE");
    expect(err([0x30, 0xff, 0xff, 0xff, 0xff, 0x01], 268435455)).toBe("MQTT_BAD_LENGTH"); // 5-byte length
    expect(err([0x30, 0x04, 0x00, 0x05, 0x61, 0x62])).toBe("MQTT_BAD_LENGTH"); // topic past end
    expect(err([0x30, 0x04, 0x00, 0x02, 0xc0, 0x80])).toBe("MQTT_BAD_UTF8");
    expect(err([0x30, 0x04, 0x00, 0x02, 0x00, 0x61])).toBe("MQTT_BAD_UTF8"); // U+0000
    expect(err([0x30, 0x05, 0x00, 0x03, 0xed, 0xa0, 0x80])).toBe("MQTT_BAD_UTF8"); // surrogate
    expect(err([0x30, 0x03, 0x00, 0x01, 0x23])).toBe("MQTT_BAD_TOPIC"); // '#'
    expect(err([0x30, 0x02, 0x00, 0x00])).toBe("MQTT_BAD_TOPIC"); // empty topic
    expect(err([0x32, 0x05, 0x00, 0x01, 0x61, 0x00, 0x00])).toBe("MQTT_BAD_PACKET_ID");
    expect(err([0x90, 0x03, 0x00, 0x01, 0x03])).toBe("MQTT_MALFORMED"); // suback code 3
    expect(err([0x90, 0x02, 0x00, 0x01])).toBe("MQTT_MALFORMED"); // suback without codes
    expect(err([0x82, 0x02, 0x00, 0x01])).toBe("MQTT_MALFORMED"); // subscribe without filters
    expect(err([0x82, 0x06, 0x00, 0x01, 0x00, 0x01, 0x61, 0x03])).toBe("MQTT_MALFORMED"); // qos 3
    expect(err([0x82, 0x07, 0x00, 0x01, 0x00, 0x02, 0x61, 0x23, 0x00])).toBe("MQTT_BAD_TOPIC"); // "a#"
    // CONNECT: wrong protocol name, level, reserved flag, will flags without will
    const conn = Array.from(encodeConnect({ clientId: "c", cleanSession: true, keepAlive: 5 }));
    expect(err(conn)).toBeNull();
    const badName = conn.slice();
    badName[5] = 0x58;
    expect(err(badName)).toBe("MQTT_BAD_PROTOCOL");
    const badLevel = conn.slice();
    badLevel[8] = 5;
    expect(err(badLevel)).toBe("MQTT_BAD_PROTOCOL");
    const reserved = conn.slice();
    reserved[9] |= 1;
    expect(err(reserved)).toBe("MQTT_MALFORMED");
    const willQos = conn.slice();
    willQos[9] |= 0x08;
    expect(err(willQos)).toBe("MQTT_MALFORMED");
    const trailing = conn.slice();
    trailing[1] += 1;
    trailing.push(0);
    expect(err(trailing)).toBe("MQTT_BAD_LENGTH");
  });

  it("rejects an oversized remaining length before allocating, and stays dead until reset", () => {
    const p = new MqttParser({ maxPacketBytes: 100 });
    const got: MqttPacket[] = [];
    expect(p.feed(new Uint8Array([0x30, 0x80]), (x) => got.push(x))).toBe(true); // length 0 so far
    expect(p.bufferedBytes).toBe(0);
    expect(p.feed(new Uint8Array([0x01]), (x) => got.push(x))).toBe(false); // 128 > 100
    expect(p.error?.code).toBe("MQTT_OVERSIZE");
    expect(p.bufferedBytes).toBe(0);
    expect(p.feed(encodePingreq(), (x) => got.push(x))).toBe(false);
    expect(got.length).toBe(0);
    p.reset();
    expect(p.feed(encodePingreq(), (x) => got.push(x))).toBe(true);
    expect(got).toEqual([{ type: "pingreq" }]);
    // exactly maxPacketBytes is accepted
    const ok = encodePublish({ topic: "t", payload: new Uint8Array(97), qos: 0 });
    expect(p.feed(ok, (x) => got.push(x))).toBe(true);
    expect(got.length).toBe(2);
  });

  it("a reset() from inside onPacket drops the rest of the chunk", () => {
    const p = new MqttParser();
    const got: string[] = [];
    const stream = concat([encodePingreq(), encodePuback(3), encodeDisconnect()]);
    p.feed(stream, (x) => {
      got.push(x.type);
      if (x.type === "puback") p.reset();
    });
    expect(got).toEqual(["pingreq", "puback"]);
    expect(p.idle).toBe(true);
  });
});

/* ------------------------------------------------------------------- fuzz */

function mutate(r: Rnd, src: Uint8Array): Uint8Array {
  const b = src.slice();
  const kind = int(r, 0, 7);
  switch (kind) {
    case 0: {
      const flips = int(r, 1, 4);
      for (let i = 0; i < flips && b.length > 0; i++) b[int(r, 0, b.length - 1)] ^= 1 << int(r, 0, 7);
      return b;
    }
    case 1:
      return b.subarray(0, int(r, 0, b.length));
    case 2: {
      // corrupt the length field
      if (b.length > 1) b[1] = int(r, 0, 255);
      if (b.length > 2 && r() < 0.5) b[2] = int(r, 0, 255);
      return b;
    }
    case 3: {
      // random bytes replaced
      for (let i = 0; i < int(r, 1, 6) && b.length > 0; i++) b[int(r, 0, b.length - 1)] = int(r, 0, 255);
      return b;
    }
    case 4: {
      // huge / overlong length fields
      const hdr = [
        b[0] ?? 0x30,
        ...pick(r, [
          [0xff, 0xff, 0xff, 0x7f],
          [0xff, 0xff, 0xff, 0xff, 0x7f],
          [0x80, 0x80, 0x80, 0x00],
          [0x80, 0x01],
        ]),
      ];
      return concat([new Uint8Array(hdr), b.subarray(2)]);
    }
    case 5: {
      // corrupt a string length prefix inside the body
      if (b.length > 4) {
        const i = int(r, 2, b.length - 2);
        b[i] = int(r, 0, 255);
        b[i + 1] = int(r, 0, 255);
      }
      return b;
    }
    case 6: {
      const n = int(r, 0, 64);
      const out = new Uint8Array(n);
      for (let i = 0; i < n; i++) out[i] = int(r, 0, 255);
      return out;
    }
    default: {
      // splice two packets at random points
      const cut = int(r, 0, b.length);
      const tail = randBytes(r, 30);
      return concat([b.subarray(0, cut), tail]);
    }
  }
}

const FUZZ_N = Number(process.env.MQTT_FUZZ_N ?? 100_000);

describe("fuzz", () => {
  it(`${FUZZ_N} mutated/random inputs: no throw, no hang, buffer <= maxPacketBytes, accepted packets round-trip`, () => {
    const r = prng(0xd05e);
    const MAX = 512;
    const seeds: Uint8Array[] = [];
    for (let i = 0; i < 400; i++) seeds.push(encodePacket(randPacket(r, 80)));
    const parser = new MqttParser({ maxPacketBytes: MAX });
    let accepted = 0;
    let errors = 0;
    let maxBuffered = 0;
    const codes = new Map<string, number>();
    const t0 = Date.now();
    for (let n = 0; n < FUZZ_N; n++) {
      parser.reset();
      const input = mutate(r, pick(r, seeds));
      const chunks = r() < 0.5 ? [input] : randomSplit(r, input);
      const got: MqttPacket[] = [];
      for (const c of chunks) {
        const alive = parser.feed(c, (p) => got.push(p));
        if (parser.bufferedBytes > maxBuffered) maxBuffered = parser.bufferedBytes;
        if (!alive) break;
      }
      if (parser.error) {
        errors++;
        codes.set(parser.error.code, (codes.get(parser.error.code) ?? 0) + 1);
      }
      for (const p of got) {
        accepted++;
        // every accepted packet re-encodes, and both parsers read the re-encoding back identically
        const re = encodePacket(p);
        const back = norm(decodePacket(re));
        expect(back).toEqual(norm(p));
        if ((n & 15) === 0) {
          const theirs = mpParseAll(re);
          expect(theirs.packets.map(norm)).toEqual([norm(p)]);
        }
      }
    }
    const ms = Date.now() - t0;
    expect(maxBuffered).toBeLessThanOrEqual(MAX);
    expect(errors).toBeGreaterThan(FUZZ_N / 10);
    expect(accepted).toBeGreaterThan(FUZZ_N / 20);
    // every code appears at least once in a run this large
    for (const c of [
      "MQTT_OVERSIZE",
      "MQTT_BAD_TYPE",
      "MQTT_BAD_FLAGS",
      "MQTT_BAD_LENGTH",
      "MQTT_BAD_UTF8",
      "MQTT_MALFORMED",
      "MQTT_BAD_TOPIC",
      "MQTT_BAD_PACKET_ID",
      "MQTT_BAD_PROTOCOL",
    ]) {
      expect(codes.get(c) ?? 0, c).toBeGreaterThan(0);
    }
    // summary for the report / long runs
    process.stdout.write(
      `mqtt fuzz: ${FUZZ_N} inputs, ${accepted} packets accepted, ${errors} rejected, max buffered ${maxBuffered} B, ${ms} ms, codes ${JSON.stringify(Object.fromEntries(codes))}\n`,
    );
  });
});
