/**
 * MqttClient against a scripted broker on a virtual clock (deterministic, no sockets).
 * What the client writes is decoded with mqtt-packet (an independent parser).
 */
import { describe, expect, it } from "vitest";
import * as mp from "mqtt-packet";
import { MqttClient, type MqttClientHandlers, type MqttClientOptions } from "../../../../firmware/core/mqtt/client";
import type { Clock, Network, StreamConnection, StreamHandlers, TimerId, Timers } from "../../../../firmware/core/ports";

/* ------------------------------------------------------- virtual ports */

class VirtualTime implements Timers, Clock {
  now = 0;
  private next = 1;
  private q: { id: number; at: number; cb: () => void; every: number }[] = [];
  monoMs(): number {
    return this.now;
  }
  wallMs(): number | undefined {
    return undefined;
  }
  once(ms: number, cb: () => void): TimerId {
    const id = this.next++;
    this.q.push({ id, at: this.now + Math.max(0, ms), cb, every: 0 });
    return id;
  }
  repeat(ms: number, cb: () => void): TimerId {
    const id = this.next++;
    this.q.push({ id, at: this.now + ms, cb, every: ms });
    return id;
  }
  cancel(id: TimerId): void {
    this.q = this.q.filter((t) => t.id !== id);
  }
  get pending(): number {
    return this.q.length;
  }
  nextAt(): number | undefined {
    let m: number | undefined;
    for (const t of this.q) if (m === undefined || t.at < m) m = t.at;
    return m;
  }
  advance(ms: number): void {
    const end = this.now + ms;
    for (;;) {
      let best: (typeof this.q)[number] | undefined;
      for (const t of this.q) if (t.at <= end && (!best || t.at < best.at || (t.at === best.at && t.id < best.id))) best = t;
      if (!best) break;
      this.now = best.at;
      if (best.every) best.at += best.every;
      else this.q = this.q.filter((t) => t !== best);
      best.cb();
    }
    this.now = end;
  }
}

class FakeConn implements StreamConnection {
  written: mp.Packet[] = [];
  closed = false;
  writeFails = false;
  private parser = mp.parser({ protocolVersion: 4 });
  constructor(
    readonly host: string,
    readonly port: number,
    readonly tls: boolean,
    readonly h: StreamHandlers,
  ) {
    this.parser.on("packet", (p) => this.written.push(p));
    this.parser.on("error", (e) => {
      throw e;
    });
  }
  write(bytes: Uint8Array): boolean {
    if (this.closed || this.writeFails) return false;
    this.parser.parse(Buffer.from(bytes));
    return true;
  }
  close(): void {
    this.closed = true;
  }
  /* broker side */
  accept(): void {
    this.h.onConnect();
  }
  send(p: mp.Packet): void {
    this.h.onData(new Uint8Array(mp.generate(p)));
  }
  raw(bytes: number[]): void {
    this.h.onData(new Uint8Array(bytes));
  }
  connack(sessionPresent = false, returnCode = 0): void {
    this.send({ cmd: "connack", sessionPresent, returnCode });
  }
  kill(reason = "reset"): void {
    this.closed = true;
    this.h.onClose(reason);
  }
  take(): mp.Packet[] {
    const w = this.written;
    this.written = [];
    return w;
  }
}

class FakeNet implements Network {
  conns: FakeConn[] = [];
  connect(host: string, port: number, tls: boolean, handlers: StreamHandlers): StreamConnection {
    const c = new FakeConn(host, port, tls, handlers);
    this.conns.push(c);
    return c;
  }
  get last(): FakeConn {
    return this.conns[this.conns.length - 1];
  }
}

interface Log {
  events: string[];
  messages: { topic: string; payload: string; qos: number; retain: boolean; dup: boolean }[];
  faults: string[];
}

function setup(opts: Partial<MqttClientOptions> = {}, rnd: () => number = () => 0.5, extra: Partial<MqttClientHandlers> = {}) {
  const time = new VirtualTime();
  const net = new FakeNet();
  const log: Log = { events: [], messages: [], faults: [] };
  const client = new MqttClient(
    { network: net, timers: time, clock: time, random: rnd },
    { host: "broker.test", port: 1883, clientId: "dk-0001", keepAliveSec: 30, ...opts },
    {
      onConnect: (sp) => log.events.push("connect:" + sp),
      onMessage: (topic, payload, info) => log.messages.push({ topic, payload: Buffer.from(payload).toString(), ...info }),
      onAck: (id) => log.events.push("ack:" + id),
      onSubscribed: (t, g) => log.events.push("sub:" + t + ":" + g),
      onOffline: (r) => log.events.push("offline:" + r),
      onFault: (c, d) => log.faults.push(c + " " + d),
      ...extra,
    },
  );
  return { time, net, log, client };
}

/** Start and complete a connection; returns the connection. */
function online(s: ReturnType<typeof setup>, sessionPresent = false): FakeConn {
  if (s.client.state === "idle" || s.client.state === "stopped") s.client.start();
  else s.time.advance(s.client.lastBackoffMs);
  const c = s.net.last;
  c.accept();
  expect(c.take().map((p) => p.cmd)).toEqual(["connect"]);
  c.connack(sessionPresent);
  return c;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const P = (p: mp.Packet): any => p;

/* ------------------------------------------------------------------ tests */

describe("MqttClient", () => {
  it("sends CONNECT with clean session off, credentials, keep-alive and a retained will", () => {
    const s = setup({ username: "dev", password: "s3cr\u00e9t", tls: true, will: { topic: "dk/0001/status", payload: "offline", qos: 1 } });
    s.client.start();
    const c = s.net.last;
    expect([c.host, c.port, c.tls]).toEqual(["broker.test", 1883, true]);
    expect(c.written.length).toBe(0); // nothing before TCP is up
    c.accept();
    const [p] = c.take().map(P);
    expect(p.cmd).toBe("connect");
    expect(p.clean).toBe(false);
    expect(p.clientId).toBe("dk-0001");
    expect(p.keepalive).toBe(30);
    expect(p.username).toBe("dev");
    expect(Buffer.from(p.password).toString()).toBe("s3cr\u00e9t");
    expect(p.will.topic).toBe("dk/0001/status");
    expect(Buffer.from(p.will.payload).toString()).toBe("offline");
    expect(p.will.qos).toBe(1);
    expect(p.will.retain).toBe(true);
    expect(s.client.state).toBe("connecting");
    c.connack(false);
    expect(s.client.state).toBe("connected");
    expect(s.log.events).toEqual(["connect:false"]);
  });

  it("publishes QoS 0 and QoS 1, tracks PUBACK, and refuses when the inflight table is full", () => {
    const s = setup({ maxInflight: 2 });
    const c = online(s);
    expect(s.client.publish("dk/0001/evt", "zero")).toBe(0);
    const id1 = s.client.publish("dk/0001/evt", new Uint8Array([1, 2, 3]), { qos: 1, retain: true });
    const id2 = s.client.publish("dk/0001/evt", "two", { qos: 1 });
    expect(id1).toBe(1);
    expect(id2).toBe(2);
    expect(s.client.publish("dk/0001/evt", "three", { qos: 1 })).toBe(false);
    const w = c.take().map(P);
    expect(w.map((p) => [p.qos, p.messageId, p.retain, p.dup])).toEqual([
      [0, undefined, false, false],
      [1, 1, true, false],
      [1, 2, false, false],
    ]);
    expect(Array.from(w[1].payload)).toEqual([1, 2, 3]);
    c.send({ cmd: "puback", messageId: 2 });
    c.send({ cmd: "puback", messageId: 2 }); // duplicate ack: ignored
    expect(s.log.events).toEqual(["connect:false", "ack:2"]);
    expect(s.client.inflightIds()).toEqual([1]);
    expect(s.client.publish("dk/0001/evt", "three", { qos: 1 })).toBe(3);
    expect(() => s.client.publish("dk/+/evt", "x")).toThrow(/MQTT_BAD_TOPIC/);
    expect(() => s.client.publish("t", new Uint8Array(20000), { qos: 1 })).toThrow(/MQTT_OVERSIZE/);
  });

  it("QoS 0 while offline is refused; QoS 1 while offline is queued and sent after CONNACK", () => {
    const s = setup();
    expect(s.client.publish("a", "x")).toBe(false);
    expect(s.client.publish("a", "queued", { qos: 1 })).toBe(1);
    s.client.start();
    const c = s.net.last;
    c.accept();
    c.take();
    expect(s.client.publish("a", "while-connecting", { qos: 1 })).toBe(2);
    expect(c.take()).toEqual([]);
    c.connack(false);
    const w = c.take().map(P);
    expect(w.map((p) => [p.messageId, p.dup, Buffer.from(p.payload).toString()])).toEqual([
      [1, false, "queued"],
      [2, false, "while-connecting"],
    ]);
  });

  it("retransmits unacked QoS 1 in order with DUP after a reconnect", () => {
    const s = setup();
    let c = online(s);
    for (const m of ["m1", "m2", "m3", "m4"]) s.client.publish("dk/log", m, { qos: 1 });
    c.take();
    c.send({ cmd: "puback", messageId: 2 });
    c.kill("reset");
    expect(s.log.events).toEqual(["connect:false", "ack:2", "offline:reset"]);
    expect(s.client.state).toBe("waiting");
    s.client.publish("dk/log", "m5", { qos: 1 }); // queued while offline, never sent
    c = online(s, true);
    const w = c.take().map(P);
    expect(w.map((p) => [p.cmd, p.messageId, p.dup, Buffer.from(p.payload).toString()])).toEqual([
      ["publish", 1, true, "m1"],
      ["publish", 3, true, "m3"],
      ["publish", 4, true, "m4"],
      ["publish", 5, false, "m5"],
    ]);
    // a new publish after the retransmissions is not a duplicate and gets a fresh id
    s.client.publish("dk/log", "m6", { qos: 1 });
    expect(c.take().map((p) => [P(p).messageId, P(p).dup])).toEqual([[6, false]]);
    for (const id of [1, 3, 4, 5, 6]) c.send({ cmd: "puback", messageId: id });
    expect(s.client.inflightCount).toBe(0);
  });

  it("resubscribes only when the broker lost the session, and reports SUBACK results", () => {
    const s = setup();
    expect(s.client.subscribe("dk/0001/cfg/#", 1)).toBe(true);
    expect(s.client.subscribe("dk/0001/cmd", 0)).toBe(true);
    let c = online(s);
    let w = c.take().map(P);
    expect(w.map((p) => p.cmd)).toEqual(["subscribe"]);
    expect(w[0].subscriptions).toEqual([
      { topic: "dk/0001/cfg/#", qos: 1 },
      { topic: "dk/0001/cmd", qos: 0 },
    ]);
    c.send({ cmd: "suback", messageId: w[0].messageId, granted: [1, 0] });
    expect(s.log.events.slice(-2)).toEqual(["sub:dk/0001/cfg/#:1", "sub:dk/0001/cmd:0"]);

    c.kill();
    c = online(s, true); // session kept: nothing to resend
    expect(c.take()).toEqual([]);

    c.kill();
    c = online(s, false); // session lost: resubscribe everything
    w = c.take().map(P);
    expect(w.map((p) => p.cmd)).toEqual(["subscribe"]);
    expect(w[0].subscriptions.map((x: { topic: string }) => x.topic)).toEqual(["dk/0001/cfg/#", "dk/0001/cmd"]);
    c.send({ cmd: "suback", messageId: w[0].messageId, granted: [1, 0x80] });
    expect(s.log.faults).toEqual(["MQTT_SUB_REFUSED dk/0001/cmd"]);

    // unsubscribe while connected
    expect(s.client.unsubscribe("dk/0001/cfg/#")).toBe(true);
    w = c.take().map(P);
    expect(w.map((p) => [p.cmd, p.unsubscriptions])).toEqual([["unsubscribe", ["dk/0001/cfg/#"]]]);
    c.send({ cmd: "unsuback", messageId: w[0].messageId } as mp.Packet);
    c.kill();
    c = online(s, false);
    expect(c.take()).toEqual([]); // nothing left to subscribe
    expect(s.client.unsubscribe("nope")).toBe(false);
  });

  it("re-sends a SUBSCRIBE that was never acknowledged even when the session is present", () => {
    const s = setup();
    let c = online(s, false);
    s.client.subscribe("a/b", 1);
    expect(c.take().map((p) => p.cmd)).toEqual(["subscribe"]);
    c.kill();
    c = online(s, true);
    expect(c.take().map((p) => p.cmd)).toEqual(["subscribe"]);
  });

  it("delivers incoming QoS 0/1 and sends PUBACK only after the handler ran", () => {
    let connRef: FakeConn | undefined;
    const seenBeforeHandler: string[][] = [];
    const s = setup({}, () => 0.5, {
      onMessage: (topic) => {
        seenBeforeHandler.push((connRef as FakeConn).written.map((p) => p.cmd + ":" + topic));
      },
    });
    const c = online(s);
    connRef = c;
    c.take();
    c.send({ cmd: "publish", topic: "dk/cmd", payload: Buffer.from("q1"), qos: 1, messageId: 77, retain: true, dup: true });
    expect(seenBeforeHandler).toEqual([[]]);
    const w = c.take().map(P);
    expect(w.map((p) => [p.cmd, p.messageId])).toEqual([["puback", 77]]);
    c.send({ cmd: "publish", topic: "dk/cmd", payload: Buffer.from("q0"), qos: 0, retain: false, dup: false });
    expect(c.take()).toEqual([]);
  });

  it("reports onMessage arguments and still acks when the handler throws", () => {
    const s = setup();
    const c = online(s);
    c.send({ cmd: "publish", topic: "x/y", payload: Buffer.from("hello"), qos: 1, messageId: 5, retain: true, dup: false });
    expect(s.log.messages).toEqual([{ topic: "x/y", payload: "hello", qos: 1, retain: true, dup: false }]);
    const s2 = setup({}, () => 0.5, {
      onMessage: () => {
        throw new Error("boom");
      },
    });
    const c2 = online(s2);
    c2.send({ cmd: "publish", topic: "x/y", payload: Buffer.from("a"), qos: 1, messageId: 9, retain: false, dup: false });
    expect(s2.log.faults[0]).toMatch(/^MQTT_CALLBACK_THREW onMessage/);
    expect(c2.take().map((p) => [p.cmd, P(p).messageId])).toEqual([["puback", 9]]);
    expect(s2.client.state).toBe("connected");
    // a second packet in the same chunk is still parsed
    c2.h.onData(new Uint8Array([...mp.generate({ cmd: "pingresp" }), ...mp.generate({ cmd: "puback", messageId: 1 })]));
    expect(s2.client.state).toBe("connected");
  });

  it("sends PINGREQ after keep-alive idle and drops when PINGRESP is late", () => {
    const s = setup({ keepAliveSec: 10, pingTimeoutMs: 3000 });
    const c = online(s);
    s.time.advance(9999);
    expect(c.take()).toEqual([]);
    s.time.advance(1);
    expect(c.take().map((p) => p.cmd)).toEqual(["pingreq"]);
    s.time.advance(500);
    c.send({ cmd: "pingresp" });
    s.time.advance(5000);
    expect(s.client.state).toBe("connected");
    // traffic postpones the ping
    s.client.publish("t", "x");
    c.take();
    s.time.advance(9999);
    expect(c.take()).toEqual([]);
    s.time.advance(1);
    expect(c.take().map((p) => p.cmd)).toEqual(["pingreq"]);
    s.time.advance(2999);
    expect(s.client.state).toBe("connected");
    s.time.advance(1);
    expect(s.client.state).toBe("waiting");
    expect(c.closed).toBe(true);
    expect(s.log.events.slice(-1)).toEqual(["offline:ping_timeout"]);
  });

  it("backs off exponentially with full jitter up to 5 minutes, and resets after a stable session", () => {
    const draws = [0.999, 0.5, 0.999, 0.999, 0.999, 0.999, 0.999, 0.999, 0.999, 0.999, 0.999, 0.25];
    let k = 0;
    const s = setup({ keepAliveSec: 0 }, () => draws[k++ % draws.length]);
    s.client.start();
    const delays: number[] = [];
    for (let i = 0; i < 12; i++) {
      s.net.last.kill("refused");
      delays.push(s.client.lastBackoffMs);
      s.time.advance(s.client.lastBackoffMs);
      expect(s.client.state).toBe("connecting");
    }
    expect(delays).toEqual([999, 1000, 3996, 7992, 15984, 31968, 63936, 127872, 255744, 299700, 299700, 75000]);
    expect(s.net.conns.length).toBe(13);
    expect(s.log.events).toEqual([]); // failed attempts are not "offline" transitions
    // a session that lasted >= stableMs resets the backoff
    const c = s.net.last;
    c.accept();
    c.connack();
    s.time.advance(60000);
    c.send({ cmd: "pingresp" });
    k = 0;
    c.kill();
    expect(s.client.lastBackoffMs).toBe(999);
    // ...but a session that flaps right after CONNACK does not
    s.time.advance(999);
    s.net.last.accept();
    s.net.last.connack();
    s.net.last.kill();
    expect(s.client.lastBackoffMs).toBe(1000); // attempt 1: cap 2000 * 0.5
  });

  it("reads an oversized PUBLISH through in bounded memory, acknowledges it, reports it, and stays connected", () => {
    const discarded: unknown[] = [];
    const s = setup({ maxPacketBytes: 1024 }, () => 0.5, { onDiscarded: (d) => discarded.push(d) });
    const c = online(s);
    c.take();
    // QoS 1 PUBLISH of 1,000,000 bytes to dk/x/cmnd/tare, packet id 7, fed in 4 KiB pieces.
    const topic = Buffer.from("dk/x/cmnd/tare");
    const rem = 2 + topic.length + 2 + (1_000_000 - 2 - topic.length - 2);
    const head = [0x32, (rem & 0x7f) | 0x80, ((rem >> 7) & 0x7f) | 0x80, (rem >> 14) & 0x7f];
    const body = Buffer.alloc(rem, 0x61);
    body.writeUInt16BE(topic.length, 0);
    topic.copy(body, 2);
    body.writeUInt16BE(7, 2 + topic.length);
    c.raw(head);
    for (let i = 0; i < body.length; i += 4096) c.raw([...body.subarray(i, i + 4096)]);
    expect(discarded).toEqual([
      { topic: "dk/x/cmnd/tare", topicComplete: true, qos: 1, retain: false, dup: false, packetId: 7, bytes: rem },
    ]);
    expect(c.take()).toEqual([expect.objectContaining({ cmd: "puback", messageId: 7 })]);
    expect(s.client.state).toBe("connected");
    expect(c.closed).toBe(false);
    expect(s.log.messages).toEqual([]);
    // the session goes on
    c.send({ cmd: "publish", topic: "ok", payload: Buffer.from("1"), qos: 0, retain: false, dup: false });
    expect(s.log.messages.map((m) => m.topic)).toEqual(["ok"]);
  });

  it("drops and reports MQTT_OVERSIZE on an oversized packet other than PUBLISH, before it arrives in full", () => {
    const s = setup({ maxPacketBytes: 1024 });
    const c = online(s);
    // SUBACK header announcing 1,000,000 bytes; only the header is sent
    c.raw([0x90, 0xc0, 0x84, 0x3d]);
    expect(s.log.faults).toEqual(["MQTT_OVERSIZE remaining length exceeds 1024"]);
    expect(s.client.state).toBe("waiting");
    expect(c.closed).toBe(true);
    expect(s.log.events.slice(-1)).toEqual(["offline:protocol"]);
    // reconnects afterwards with a clean parser
    const c2 = online(s, true);
    c2.send({ cmd: "publish", topic: "ok", payload: Buffer.from("1"), qos: 0, retain: false, dup: false });
    expect(s.log.messages.map((m) => m.topic)).toEqual(["ok"]);
  });

  it("treats malformed input, unexpected packets and QoS 2 as protocol faults", () => {
    const s = setup();
    let c = online(s);
    c.raw([0x30, 0x03, 0x00, 0x01, 0x23]); // publish to "#"
    expect(s.log.faults.pop()).toMatch(/^MQTT_BAD_TOPIC/);
    c = online(s);
    c.send({ cmd: "publish", topic: "t", payload: Buffer.from(""), qos: 2, messageId: 3, retain: false, dup: false });
    expect(s.log.faults.pop()).toMatch(/^MQTT_PROTOCOL QoS 2/);
    c = online(s);
    c.send({ cmd: "connack", sessionPresent: false, returnCode: 0 });
    expect(s.log.faults.pop()).toMatch(/^MQTT_PROTOCOL unexpected connack/);
    s.time.advance(s.client.lastBackoffMs);
    c = s.net.last;
    c.accept();
    c.send({ cmd: "pingresp" });
    expect(s.log.faults.pop()).toMatch(/^MQTT_PROTOCOL pingresp before CONNACK/);
    expect(s.client.state).toBe("waiting");
  });

  it("handles CONNACK refusal and connect timeout by backing off", () => {
    const s = setup({ connectTimeoutMs: 5000 });
    s.client.start();
    s.net.last.accept();
    s.net.last.connack(false, 5);
    expect(s.log.faults).toEqual(["MQTT_REFUSED CONNACK 5 not authorized"]);
    expect(s.client.state).toBe("waiting");
    s.time.advance(s.client.lastBackoffMs);
    s.net.last.accept(); // TCP up, broker never answers
    s.time.advance(4999);
    expect(s.client.state).toBe("connecting");
    s.time.advance(1);
    expect(s.client.state).toBe("waiting");
    expect(s.net.last.closed).toBe(true);
    expect(s.net.conns.length).toBe(2);
  });

  it("stop() sends DISCONNECT, stops reconnecting, keeps the inflight table; start() resumes", () => {
    const s = setup();
    let c = online(s);
    s.client.publish("t", "keep", { qos: 1 });
    c.take();
    s.client.stop();
    expect(c.take().map((p) => p.cmd)).toEqual(["disconnect"]);
    expect(c.closed).toBe(true);
    expect(s.client.state).toBe("stopped");
    expect(s.log.events.slice(-1)).toEqual(["offline:stopped"]);
    s.time.advance(3600_000);
    expect(s.net.conns.length).toBe(1);
    expect(s.time.pending).toBe(0);
    c.kill(); // late close from the old socket is ignored
    expect(s.client.state).toBe("stopped");
    c = online(s, true);
    expect(c.take().map((p) => [p.cmd, P(p).dup])).toEqual([["publish", true]]);
  });

  it("drops on the next turn when write() reports the connection closed", () => {
    const s = setup();
    const c = online(s);
    c.writeFails = true;
    expect(s.client.publish("t", "x", { qos: 1 })).toBe(1); // kept in the table
    expect(s.client.state).toBe("connected");
    s.time.advance(0);
    expect(s.client.state).toBe("waiting");
    expect(s.log.events.slice(-1)).toEqual(["offline:write_failed"]);
    const c2 = online(s);
    expect(c2.take().map((p) => [P(p).messageId, P(p).dup])).toEqual([[1, false]]);
  });

  it("ignores callbacks from a connection it already abandoned", () => {
    const s = setup({ connectTimeoutMs: 1000 });
    s.client.start();
    const old = s.net.last;
    s.time.advance(1000); // timeout → waiting
    s.time.advance(s.client.lastBackoffMs);
    const cur = s.net.last;
    expect(cur).not.toBe(old);
    old.accept();
    old.connack();
    old.kill();
    expect(old.written.length).toBe(0);
    expect(s.client.state).toBe("connecting");
    cur.accept();
    cur.connack();
    expect(s.client.state).toBe("connected");
  });
});
