/**
 * The MQTT codec and client run inside the real XS engine (@agoric/xsnap) and must give output
 * byte-identical to Node (run in a bare vm context: ES built-ins only). Skipped when the
 * xsnap-worker binary is absent.
 */
import { describe, expect, it } from "vitest";
import { bundleForXsSync, callBundleInNode } from "../../../../host-sim/xs/bundle";
import { callInXs } from "../../../../host-sim/xs/run-in-xs";
import { xsnapAvailable } from "../../../support/xs";

const haveXs = xsnapAvailable("test/firmware/core/mqtt/xs.test.ts");

/** Entry bundled for both engines: a deterministic workout of codec + client, returned as text. */
const ENTRY = `
import { MqttParser, encodePacket, utf8Encode, utf8Decode, utf8Length } from "./firmware/core/mqtt/codec";
import { MqttClient } from "./firmware/core/mqtt/client";
import { lcg as prng } from "./test/support/prng";

const hex = (b) => Array.from(b, (x) => (x < 16 ? "0" : "") + x.toString(16)).join("");
const CH = ["a", "b", "/", "\\u00e9", "\\u4e2d", "\\u{1F48A}", "Z", "9"];
function str(r, n) {
  let s = "";
  for (let i = 0; i < n; i++) s += CH[Math.floor(r() * CH.length)];
  return s;
}
function topic(r) {
  const s = "t" + str(r, 1 + Math.floor(r() * 6));
  return s;
}
function packet(r) {
  const k = Math.floor(r() * 6);
  const id = 1 + Math.floor(r() * 65535);
  if (k === 0) return { type: "publish", topic: topic(r), payload: utf8Encode(str(r, Math.floor(r() * 40))), qos: 1, retain: r() < 0.5, dup: r() < 0.5, packetId: id };
  if (k === 1) return { type: "publish", topic: topic(r), payload: new Uint8Array(Math.floor(r() * 300)).map((_, i) => (i * 7) & 255), qos: 0, retain: false, dup: false, packetId: 0 };
  if (k === 2) return { type: "subscribe", packetId: id, subscriptions: [{ topic: topic(r) + "/+/#", qos: 1 }, { topic: topic(r), qos: 0 }] };
  if (k === 3) return { type: "suback", packetId: id, granted: [0, 1, 128] };
  if (k === 4) return { type: "connect", clientId: str(r, 5), cleanSession: false, keepAlive: 60, will: { topic: topic(r), payload: utf8Encode("off"), qos: 1, retain: true }, username: str(r, 3), password: utf8Encode("pw") };
  return { type: "connack", sessionPresent: r() < 0.5, returnCode: 0 };
}
function norm(p) {
  return JSON.stringify(p, (k, v) => (v instanceof Uint8Array ? hex(v) : v));
}

function codecPart(out) {
  const r = prng(99);
  const parts = [];
  const want = [];
  for (let i = 0; i < 300; i++) {
    const p = packet(r);
    parts.push(encodePacket(p));
    want.push(norm(p));
  }
  let n = 0;
  for (const b of parts) n += b.length;
  const all = new Uint8Array(n);
  let o = 0;
  for (const b of parts) { all.set(b, o); o += b.length; }
  const parser = new MqttParser({ maxPacketBytes: 4096 });
  const got = [];
  let i = 0;
  while (i < all.length) {
    const step = 1 + Math.floor(r() * 37);
    parser.feed(all.subarray(i, i + step), (p) => got.push(norm(p)));
    i += step;
  }
  out.push("codec packets " + got.length + " equal " + (got.join("|") === want.join("|")));
  out.push("codec stream " + hex(all.subarray(0, 64)) + " len " + all.length);
  const bad = [[0x00, 0], [0x36, 0], [0x30, 0xff, 0xff, 0xff, 0x7f], [0x30, 4, 0, 2, 0xc0, 0x80], [0x30, 5, 0, 3, 0xed, 0xa0, 0x80], [0x90, 3, 0, 1, 3], [0x40, 2, 0, 0]];
  for (const b of bad) {
    const p = new MqttParser({ maxPacketBytes: 1024 });
    p.feed(new Uint8Array(b), () => {});
    out.push("bad " + hex(new Uint8Array(b)) + " -> " + (p.error ? p.error.code : "none") + " buffered " + p.bufferedBytes);
  }
  const s = "dose \\u00e9\\u4e2d\\u{1F48A}";
  out.push("utf8 " + hex(utf8Encode(s)) + " len " + utf8Length(s) + " back " + (utf8Decode(utf8Encode(s)) === s));
}

function clientPart(out) {
  let now = 0;
  let nextId = 1;
  let q = [];
  const timers = {
    once(ms, cb) { const id = nextId++; q.push({ id, at: now + ms, cb }); return id; },
    repeat() { throw new Error("unused"); },
    cancel(id) { q = q.filter((t) => t.id !== id); },
  };
  const advance = (ms) => {
    const end = now + ms;
    for (;;) {
      let best = null;
      for (const t of q) if (t.at <= end && (!best || t.at < best.at || (t.at === best.at && t.id < best.id))) best = t;
      if (!best) break;
      now = best.at;
      q = q.filter((t) => t !== best);
      best.cb();
    }
    now = end;
  };
  const clock = { monoMs: () => now, wallMs: () => undefined };
  const conns = [];
  const network = {
    connect(host, port, tls, h) {
      const c = { h, written: [], closed: false, write(b) { if (this.closed) return false; this.written.push(hex(b)); return true; }, close() { this.closed = true; } };
      conns.push(c);
      return c;
    },
  };
  const log = [];
  const client = new MqttClient(
    { network, timers, clock, random: prng(5) },
    { host: "h", port: 1883, clientId: "dk-\\u00e9", keepAliveSec: 10, will: { topic: "dk/s", payload: "off", qos: 1 } },
    {
      onConnect: (sp) => log.push("connect " + sp),
      onMessage: (t, p, i) => log.push("msg " + t + " " + hex(p) + " " + i.qos),
      onAck: (id) => log.push("ack " + id),
      onOffline: (r) => log.push("offline " + r),
      onFault: (c, d) => log.push("fault " + c + " " + d),
      onDiscarded: (d) => log.push("discard " + d.topic + " " + d.bytes + " " + d.qos + " " + d.packetId + " " + d.topicComplete),
    },
  );
  client.subscribe("dk/\\u{1F48A}/#", 1);
  client.start();
  let c = conns[conns.length - 1];
  c.h.onConnect();
  c.h.onData(encodePacket({ type: "connack", sessionPresent: false, returnCode: 0 }));
  for (const m of ["a", "\\u00e9", "\\u{1F48A}"]) client.publish("dk/evt", m, { qos: 1 });
  c.h.onData(encodePacket({ type: "puback", packetId: 3 }));
  c.h.onData(encodePacket({ type: "publish", topic: "dk/\\u{1F48A}/x", payload: utf8Encode("hi"), qos: 1, retain: false, dup: false, packetId: 42 }));
  advance(10000);
  advance(10000);
  out.push("conn1 " + c.written.join(" "));
  const delays = [];
  for (let k = 0; k < 4; k++) {
    delays.push(client.lastBackoffMs);
    advance(client.lastBackoffMs);
    c = conns[conns.length - 1];
    c.h.onClose("refused");
  }
  delays.push(client.lastBackoffMs);
  advance(client.lastBackoffMs);
  c = conns[conns.length - 1];
  c.h.onConnect();
  c.h.onData(encodePacket({ type: "connack", sessionPresent: true, returnCode: 0 }));
  // An oversized QoS 1 PUBLISH (20,000 bytes, topic dk/\u{1F48A}/big, packet id 9) in 1,000-byte pieces:
  // read through, acknowledged, reported; then an oversized SUBACK header, which is a fault.
  const big = new Uint8Array(20004);
  const tb = utf8Encode("dk/\u{1F48A}/big");
  big.set([0x32, 0xa0, 0x9c, 0x01], 0);
  big.set([0, tb.length], 4);
  big.set(tb, 6);
  big.set([0, 9], 6 + tb.length);
  for (let i = 0; i < big.length; i += 1000) c.h.onData(big.subarray(i, i + 1000));
  c.h.onData(new Uint8Array([0x90, 0xff, 0xff, 0x7f]));
  out.push("conn2 " + c.written.join(" "));
  out.push("delays " + delays.join(","));
  out.push("log " + log.join(" | "));
  out.push("state " + client.state + " inflight " + client.inflightIds().join(","));
}

export function run() {
  const out = [];
  codecPart(out);
  clientPart(out);
  return out.join("\\n");
}
`;

describe("MQTT in XS", () => {
  const code = bundleForXsSync({ source: ENTRY, loader: "ts" }, "MQTTXS");
  const nodeOut = callBundleInNode(code, "MQTTXS.run", "");

  it("the Node (bare vm) run is meaningful", () => {
    expect(nodeOut).toContain("codec packets 300 equal true");
    expect(nodeOut).toContain("-> MQTT_BAD_UTF8");
    expect(nodeOut).toContain("fault MQTT_OVERSIZE");
    expect(nodeOut).toMatch(/discard dk\/\u{1F48A}\/big 20000 1 9 true/u);
    expect(nodeOut).toMatch(/log connect false \| ack 3 \| msg dk\/\u{1F48A}\/x 6869 1/u);
    expect(nodeOut).toContain("state waiting inflight 2,4");
  });

  it.skipIf(!haveXs)(
    "XS output is byte-identical to Node",
    async () => {
      const results = await callInXs(code, [{ name: "mqtt", fn: "MQTTXS.run", arg: "" }], 120_000);
      expect(results.length).toBe(1);
      expect(results[0].error).toBeUndefined();
      expect(results[0].output).toBe(nodeOut);
    },
    180_000,
  );
});
