/**
 * The link on a virtual clock against a scripted in-memory broker (deterministic, no sockets).
 */
import { describe, expect, it } from "vitest";
import { generateKeyPair, signEnvelope } from "../../../../cloud/signing";
import { FakeBroker, World, homeConfig, makeDevice, signer, trusted, type TestDevice } from "./harness";
import { REPLAY_RING_SIZE } from "../../../../firmware/core/link/replay";
import { KvEmulator } from "../../../../host-sim/kernel/hw/kv-emulator";

const ID = "dk-link-1";
const BROKER = { host: "broker", port: 1883, tls: false, username: ID, password: "pw" };

function setup(
  o: { timeSet?: boolean; config?: Record<string, unknown> | null; kv?: KvEmulator; world?: World; broker?: FakeBroker } = {},
) {
  const world = o.world ?? new World();
  if (o.timeSet === false) world.timeSet = false;
  const broker = o.broker ?? new FakeBroker(world);
  const s = signer();
  const dev = makeDevice({
    id: ID,
    network: broker,
    clock: world.clock,
    timers: world.timers(),
    trustedKeys: [trusted(s.key)],
    broker: BROKER,
    config: o.config,
    kv: o.kv,
  });
  world.run(1000);
  return { world, broker, s, dev };
}

function stats(broker: FakeBroker): Record<string, unknown>[] {
  return broker.json("/stat");
}

function lastStat(broker: FakeBroker): Record<string, unknown> {
  const all = stats(broker);
  return all[all.length - 1];
}

function evOf(dev: TestDevice, type: string) {
  return dev.events.filter((e) => e.type === type);
}

describe("link: session basics", () => {
  it("connects with a persistent session and a retained will, announces itself and subscribes", () => {
    const { broker, dev } = setup();
    expect(dev.link.state).toBe("connected");
    const c = broker.connects[0];
    expect(c.type).toBe("connect");
    if (c.type !== "connect") return;
    expect(c.cleanSession).toBe(false);
    expect(c.clientId).toBe(ID);
    expect(c.username).toBe(ID);
    expect(c.will?.topic).toBe(`dk/${ID}/status`);
    expect(c.will?.retain).toBe(true);
    expect(JSON.parse(Buffer.from(c.will!.payload).toString())).toEqual({ v: 1, online: false });
    expect(broker.subs.sort()).toEqual([`dk/${ID}/cmnd/#`, `dk/${ID}/rcpt`]);
    const status = broker.stats("/status")[0];
    expect(status.retain).toBe(true);
    expect(JSON.parse(status.text)).toEqual({ v: 1, online: true });
    const tele = broker.stats("/tele")[0];
    expect(tele.retain).toBe(true);
    expect(tele.qos).toBe(0);
    const t = JSON.parse(tele.text);
    expect(t).toMatchObject({ v: 1, fw: "0.1.0-test", reset: "power_on", cfg: { version: 1 } });
  });

  it("publishes every logged event on evt (QoS 1, protocol payload) and empties the outbox on PUBACK", () => {
    const { world, broker, dev } = setup();
    dev.dispenser.log("button", "info", { kind: "short" });
    world.run(500);
    const evts = broker.json("/evt");
    expect(evts.length).toBe(dev.events.length);
    expect(evts.map((e) => e.id)).toEqual(dev.events.map((e) => e.id));
    for (const e of broker.stats("/evt")) {
      expect(e.qos).toBe(1);
      expect(e.retain).toBe(false);
    }
    const b = evts.find((e) => e.type === "button")!;
    expect(b).toMatchObject({ v: 1, cls: "info", data: { kind: "short" }, t: new Date(world.now - 500).toISOString() });
    expect(typeof b.seq).toBe("number");
    expect(typeof b.mono).toBe("number");
    expect(dev.dispenser.status().outbox).toBe(0);
  });

  it("telemetry every 5 minutes, retained", () => {
    const { world, broker } = setup();
    const before = broker.stats("/tele").length;
    world.run(15 * 60_000 + 10);
    expect(broker.stats("/tele").length - before).toBe(3);
  });
});

describe("link: at-least-once delivery", () => {
  it("unacked events are retransmitted with DUP after a reconnect; ids identify duplicates", () => {
    const { world, broker, dev } = setup();
    broker.holdAcks = true;
    for (let i = 0; i < 5; i++) dev.dispenser.log("button", "info", { kind: "short", i });
    world.run(200);
    expect(dev.dispenser.status().outbox).toBe(5);
    const firstIds = broker
      .json("/evt")
      .filter((e) => e.type === "button")
      .map((e) => e.id);
    expect(firstIds.length).toBe(5);
    broker.drop();
    broker.holdAcks = false;
    world.run(5000);
    expect(dev.link.state).toBe("connected");
    const sends = broker.stats("/evt").filter((s) => JSON.parse(s.text).type === "button");
    expect(sends.length).toBe(10);
    const dups = sends.slice(5);
    expect(dups.every((s) => s.dup)).toBe(true);
    expect(dups.map((s) => JSON.parse(s.text).id)).toEqual(firstIds);
    expect(dev.dispenser.status().outbox).toBe(0);
  });

  it("events logged while offline wait in the outbox and all arrive after the broker is back", () => {
    const { world, broker, dev } = setup();
    broker.up = false;
    broker.drop();
    world.run(100);
    for (let i = 0; i < 40; i++) {
      dev.dispenser.log("button", "info", { i });
      world.run(60_000);
    }
    expect(dev.link.state).not.toBe("connected");
    expect(dev.dispenser.status().outbox).toBeGreaterThanOrEqual(40);
    broker.up = true;
    world.run(300_000);
    const ids = new Set(broker.json("/evt").map((e) => e.id));
    for (const e of dev.events) if (e.seq > 0) expect(ids.has(e.id)).toBe(true);
    expect(dev.dispenser.status().outbox).toBe(0);
  });

  it("a reboot re-offers what the broker never acknowledged (same ids)", () => {
    const world = new World();
    const broker = new FakeBroker(world);
    const kv = new KvEmulator();
    const a = setup({ world, broker, kv });
    broker.holdAcks = true;
    a.dev.dispenser.log("button", "info", { kind: "long" });
    world.run(200);
    const id = broker.json("/evt").find((e) => e.type === "button")!.id;
    a.dev.link.stop();
    a.dev.dispenser.stop();
    broker.holdAcks = false;
    kv.reboot();
    const b = makeDevice({
      id: ID,
      network: broker,
      clock: world.clock,
      timers: world.timers(2),
      trustedKeys: [trusted(a.s.key)],
      broker: BROKER,
      config: null,
      kv,
    });
    world.run(2000);
    const again = broker.json("/evt").filter((e) => e.id === id);
    expect(again.length).toBe(2);
    expect(b.dispenser.status().outbox).toBe(0);
  });
});

describe("link: signed configs", () => {
  it("a signed config is applied and acknowledged on stat with version, hash and envelope ref", () => {
    const { world, broker, s, dev } = setup();
    const text = s.config(homeConfig(ID, 2), { now: world.now });
    broker.publishRetained(`dk/${ID}/cmnd/config`, text);
    world.run(500);
    const st = lastStat(broker);
    expect(st).toMatchObject({ v: 1, ref: "config", ok: true, version: 2, deferred: false });
    expect(st.hash).toBe(dev.dispenser.status().config!.hash);
    expect(typeof st.env).toBe("string");
    expect(dev.dispenser.status().config!.version).toBe(2);
    expect(evOf(dev, "config.applied").map((e) => e.data.version)).toContain(2);
    expect(evOf(dev, "config.accepted").find((e) => e.data.version === 2)!.data.by).toBe(s.key.kid);
  });

  function refused(mutate: (ctx: ReturnType<typeof setup>) => string, code: string, paths?: string[]) {
    const ctx = setup();
    const { world, broker, dev } = ctx;
    const before = dev.dispenser.status().config!;
    broker.publishRetained(`dk/${ID}/cmnd/config`, mutate(ctx));
    world.run(500);
    const st = lastStat(broker);
    expect(st).toMatchObject({ ref: "config", ok: false, code, running: 1 });
    if (paths) expect((st.errors as { path: string }[]).map((e) => e.path)).toEqual(expect.arrayContaining(paths));
    expect(dev.dispenser.status().config).toEqual(before);
    const ev = evOf(dev, "config.refused");
    expect(ev.length).toBe(1);
    expect(ev[0].data.code).toBe(code);
    expect(dev.link.state).toBe("connected");
    return st;
  }

  it("forged signature → SIG_BAD", () => {
    refused(({ s, world }) => {
      const env = JSON.parse(s.config(homeConfig(ID, 2), { now: world.now }));
      const other = JSON.parse(s.config(homeConfig(ID, 3), { now: world.now }));
      env.payload = other.payload; // payload of another body, signature of the first
      return JSON.stringify(env);
    }, "SIG_BAD");
  });

  it("unknown key → SIG_UNKNOWN_KEY", () => {
    refused(({ world }) => signer(generateKeyPair()).config(homeConfig(ID, 2), { now: world.now }), "SIG_UNKNOWN_KEY");
  });

  it("unsigned config (bare JSON) → SIG_MALFORMED", () => {
    refused(() => JSON.stringify(homeConfig(ID, 2)), "SIG_MALFORMED");
  });

  it("not JSON → PROTO_JSON", () => {
    refused(() => "{not json", "PROTO_JSON");
  });

  it("wrong device → CFG_WRONG_DEVICE", () => {
    refused(({ s, world }) => s.config(homeConfig("dk-other", 2), { now: world.now }), "CFG_WRONG_DEVICE", ["device"]);
  });

  it("expired → CFG_EXPIRED", () => {
    refused(({ s, world }) => s.config(homeConfig(ID, 2), { issuedAt: world.now - 7200_000, expires: world.now - 1 }), "CFG_EXPIRED", [
      "expires",
    ]);
  });

  it("issued more than 5 minutes in the future → CFG_NOT_YET", () => {
    refused(
      ({ s, world }) => s.config(homeConfig(ID, 2), { issuedAt: world.now + 6 * 60_000, expires: world.now + 86_400_000 }),
      "CFG_NOT_YET",
      ["issuedAt"],
    );
  });

  it("body version differs from the config's → CFG_VERSION_MISMATCH", () => {
    refused(({ s, world }) => s.config(homeConfig(ID, 2), { version: 3, now: world.now }), "CFG_VERSION_MISMATCH", ["config.version"]);
  });

  it("stale version → CFG_STALE", () => {
    const ctx = setup();
    ctx.broker.publishRetained(`dk/${ID}/cmnd/config`, ctx.s.config(homeConfig(ID, 5), { now: ctx.world.now }));
    ctx.world.run(500);
    const older = homeConfig(ID, 4);
    (older.defaults as Record<string, unknown>).silenceS = 300;
    ctx.broker.publishRetained(`dk/${ID}/cmnd/config`, ctx.s.config(older, { now: ctx.world.now }));
    ctx.world.run(500);
    expect(lastStat(ctx.broker)).toMatchObject({ ok: false, code: "CFG_STALE", running: 5 });
    expect(ctx.dev.dispenser.status().config!.version).toBe(5);
  });

  it("invalid fields → CFG_INVALID with the field paths, previous config keeps running", () => {
    refused(
      ({ s, world }) => {
        const cfg = homeConfig(ID, 2);
        (cfg.compartments as Record<string, unknown>[])[0].channel = 7;
        (cfg.doses as Record<string, unknown>[])[1].at = "25:00";
        return s.config(cfg, { now: world.now });
      },
      "CFG_INVALID",
      ["compartments[0].channel", "doses[1].at"],
    );
  });

  it("the retained config already running is confirmed (current: true), not refused, after a session loss", () => {
    const { world, broker, s, dev } = setup();
    broker.publishRetained(`dk/${ID}/cmnd/config`, s.config(homeConfig(ID, 2), { now: world.now }));
    world.run(500);
    broker.loseSession();
    broker.drop();
    world.run(5000);
    const st = lastStat(broker);
    expect(st).toMatchObject({ ok: true, version: 2, current: true });
    expect(evOf(dev, "config.refused").length).toBe(0);
  });

  it("a stale retained config is answered once per connection, never reverts the newer one", () => {
    const { world, broker, s, dev } = setup();
    broker.publishRetained(`dk/${ID}/cmnd/config`, s.config(homeConfig(ID, 3), { now: world.now }));
    world.run(500);
    // someone else applied v4 locally (e.g. factory reset path); the retained v3 is now stale
    const v4 = homeConfig(ID, 4);
    expect(dev.dispenser.receiveConfig(v4, "local").ok).toBe(true);
    const stale = s.config(homeConfig(ID, 3), { now: world.now });
    broker.publishRetained(`dk/${ID}/cmnd/config`, stale);
    broker.deliver(`dk/${ID}/cmnd/config`, stale, { retain: true }); // delivered twice on the same connection
    world.run(500);
    expect(stats(broker).filter((x) => x.code === "CFG_STALE").length).toBe(1);
    broker.loseSession();
    broker.drop();
    world.run(5000);
    expect(stats(broker).filter((x) => x.code === "CFG_STALE").length).toBe(2);
    expect(dev.dispenser.status().config!.version).toBe(4);
  });

  it("a config received while the clock is unset is held and applied once time is set", () => {
    const { world, broker, s, dev } = setup({ timeSet: false });
    broker.publishRetained(`dk/${ID}/cmnd/config`, s.config(homeConfig(ID, 2), { now: world.now }));
    world.run(20_000);
    expect(dev.dispenser.status().config!.version).toBe(1);
    world.timeSet = true;
    world.run(10_000);
    expect(dev.dispenser.status().config!.version).toBe(2);
    expect(lastStat(broker)).toMatchObject({ ok: true, version: 2 });
  });
});

describe("link: signed commands", () => {
  function cmdStat(broker: FakeBroker, ref: string) {
    return stats(broker).filter((x) => x.ref === ref);
  }

  it("tare, identify, silence, calibrate: executed, logged with who/what/result, acknowledged", () => {
    const { world, broker, s, dev } = setup();
    broker.deliver(`dk/${ID}/cmnd/tare`, s.cmd(ID, "tare", "c1", {}, { now: world.now }));
    broker.deliver(`dk/${ID}/cmnd/identify`, s.cmd(ID, "identify", "c2", { seconds: 5 }, { now: world.now }));
    broker.deliver(`dk/${ID}/cmnd/silence`, s.cmd(ID, "silence", "c3", {}, { now: world.now }));
    broker.deliver(`dk/${ID}/cmnd/calibrate`, s.cmd(ID, "calibrate", "c4", { channel: 0 }, { now: world.now }));
    world.run(500);
    expect(cmdStat(broker, "cmd:tare:c1")[0]).toMatchObject({ ok: true });
    expect(cmdStat(broker, "cmd:identify:c2")[0]).toMatchObject({ ok: true });
    expect(cmdStat(broker, "cmd:silence:c3")[0]).toMatchObject({ ok: true });
    expect(cmdStat(broker, "cmd:calibrate:c4")[0]).toMatchObject({ ok: false, code: "CMD_ARGS" });
    const cmds = evOf(dev, "cmd");
    expect(cmds.map((e) => [e.data.name, e.data.id, e.data.by, e.data.result])).toEqual([
      ["tare", "c1", s.key.kid, "OK"],
      ["identify", "c2", s.key.kid, "OK"],
      ["silence", "c3", s.key.kid, "OK"],
      ["calibrate", "c4", s.key.kid, "CMD_ARGS"],
    ]);
    expect(evOf(dev, "identify").length).toBe(1);
  });

  it("refuses unsigned, forged, expired, other-device, name mismatch and replayed commands with a code", () => {
    const { world, broker, s, dev } = setup();
    const T = `dk/${ID}/cmnd/tare`;
    broker.deliver(T, JSON.stringify({ type: "cmd", name: "tare", device: ID, id: "u1" }));
    const forged = JSON.parse(s.cmd(ID, "tare", "f1", {}, { now: world.now }));
    forged.payload = JSON.parse(s.cmd(ID, "tare", "f2", {}, { now: world.now })).payload;
    forged.sig = JSON.parse(s.cmd(ID, "tare", "f3", {}, { now: world.now })).sig;
    broker.deliver(T, JSON.stringify(forged));
    broker.deliver(T, s.cmd(ID, "tare", "e1", {}, { issuedAt: world.now - 3600_000, expires: world.now - 1000 }));
    broker.deliver(T, s.cmd("dk-other", "tare", "o1", {}, { now: world.now }));
    broker.deliver(T, s.cmd(ID, "identify", "n1", {}, { now: world.now }));
    broker.deliver(T, s.cmd(ID, "tare", "r1", {}, { now: world.now }));
    broker.deliver(T, s.cmd(ID, "tare", "l1", {}, { issuedAt: world.now, expires: world.now + 2 * 3600_000 }));
    broker.deliver(`dk/${ID}/cmnd/reboot`, s.cmd(ID, "reboot", "x1", {}, { now: world.now }));
    world.run(500);
    const replay = s.cmd(ID, "tare", "r1", {}, { now: world.now });
    broker.deliver(T, replay);
    world.run(500);
    const codes = stats(broker).map((x) => [x.ref, x.ok ? "OK" : x.code]);
    expect(codes).toEqual([
      ["cmd:tare", "SIG_MALFORMED"],
      ["cmd:tare", "SIG_BAD"],
      ["cmd:tare:e1", "CMD_EXPIRED"],
      ["cmd:tare:o1", "CMD_WRONG_DEVICE"],
      ["cmd:tare:n1", "PROTO_FIELD"],
      ["cmd:tare:r1", "OK"],
      ["cmd:tare:l1", "CMD_LIFETIME"],
      ["cmd:reboot", "CMD_UNKNOWN"],
      ["cmd:tare:r1", "CMD_REPLAY"],
    ]);
    const results = evOf(dev, "cmd").map((e) => e.data.result);
    expect(results).toEqual([
      "SIG_MALFORMED",
      "SIG_BAD",
      "CMD_EXPIRED",
      "CMD_WRONG_DEVICE",
      "PROTO_FIELD",
      "OK",
      "CMD_LIFETIME",
      "CMD_UNKNOWN",
      "CMD_REPLAY",
    ]);
    expect(evOf(dev, "tare").length).toBe(1);
  });

  it("replay protection survives a reboot and any number of other commands (issued-at watermark per key)", () => {
    const world = new World();
    const broker = new FakeBroker(world);
    const kv = new KvEmulator();
    const a = setup({ world, broker, kv });
    const first = a.s.cmd(ID, "identify", "keep", { seconds: 2 }, { now: world.now });
    broker.deliver(`dk/${ID}/cmnd/identify`, first);
    world.run(500);
    a.dev.link.stop();
    a.dev.dispenser.stop();
    kv.reboot();
    const b = makeDevice({
      id: ID,
      network: broker,
      clock: world.clock,
      timers: world.timers(2),
      trustedKeys: [trusted(a.s.key)],
      broker: BROKER,
      config: null,
      kv,
    });
    world.run(2000);
    broker.deliver(`dk/${ID}/cmnd/identify`, first);
    world.run(500);
    expect(lastStat(broker)).toMatchObject({ ref: "cmd:identify:keep", ok: false, code: "CMD_REPLAY" });
    for (let i = 0; i < REPLAY_RING_SIZE; i++)
      broker.deliver(`dk/${ID}/cmnd/identify`, a.s.cmd(ID, "identify", "n" + i, { seconds: 1 }, { now: world.now }));
    world.run(1000);
    broker.deliver(`dk/${ID}/cmnd/identify`, first);
    world.run(500);
    // pushed out of the 32-id ring by newer ids, but issued before the newest command of its key
    expect(lastStat(broker)).toMatchObject({ ref: "cmd:identify:keep", ok: false, code: "CMD_STALE", path: "issuedAt" });
    // and again after another reboot: the watermark is persisted
    b.link.stop();
    b.dispenser.stop();
    kv.reboot();
    const c = makeDevice({
      id: ID,
      network: broker,
      clock: world.clock,
      timers: world.timers(3),
      trustedKeys: [trusted(a.s.key)],
      broker: BROKER,
      config: null,
      kv,
    });
    world.run(2000);
    broker.deliver(`dk/${ID}/cmnd/identify`, first);
    world.run(500);
    expect(lastStat(broker)).toMatchObject({ ref: "cmd:identify:keep", ok: false, code: "CMD_STALE" });
    // a retained ghost is refused before any of this (CMD_RETAINED); a newer command still runs
    broker.deliver(`dk/${ID}/cmnd/identify`, a.s.cmd(ID, "identify", "fresh", { seconds: 1 }, { now: world.now + 1000 }));
    world.run(500);
    expect(lastStat(broker)).toMatchObject({ ref: "cmd:identify:fresh", ok: true });
    expect(c.link.state).toBe("connected");
  });

  it("decommission: wipes, calls onErase, publishes erased on stat and status, disconnects", () => {
    const { world, broker, s, dev } = setup();
    broker.deliver(`dk/${ID}/cmnd/decommission`, s.cmd(ID, "decommission", "d1", {}, { now: world.now }));
    world.run(1000);
    expect(lastStat(broker)).toMatchObject({ ref: "cmd:decommission:d1", ok: true, erased: true });
    expect(JSON.parse(broker.stats("/status").at(-1)!.text)).toEqual({ v: 1, online: false, erased: true });
    expect(broker.retained.get(`dk/${ID}/status`)).toContain("erased");
    expect(dev.erasedCalls).toBe(1);
    expect(dev.link.erased).toBe(true);
    expect(dev.link.state).toBe("stopped");
    expect(dev.dispenser.status().config).toBeNull();
    expect(broker.devicePubacks).toBeGreaterThanOrEqual(1);
    world.run(60_000);
    expect(broker.connected).toBe(false);
  });
});

describe("link: malformed input keeps the session alive", () => {
  it("bad JSON / bad UTF-8 / bad schema on rcpt and unknown topics → coded fault events; valid receipts logged", () => {
    const { world, broker, dev } = setup();
    broker.subs.push(`dk/${ID}/junk`);
    broker.deliver(`dk/${ID}/rcpt`, "{oops");
    broker.deliver(`dk/${ID}/rcpt`, new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]));
    broker.deliver(`dk/${ID}/rcpt`, JSON.stringify({ key: "k" }));
    broker.deliver(`dk/${ID}/rcpt`, JSON.stringify({ v: 1, key: "k", status: "lost" }));
    broker.deliver(`dk/${ID}/junk`, "x");
    broker.deliver(`dk/${ID}/rcpt`, JSON.stringify({ v: 1, key: "dk-link-1/am@2026-03-10/3.0", status: "delivered", ch: "push", t: "x" }));
    world.run(500);
    expect(evOf(dev, "fault").map((e) => [e.data.code, e.data.path ?? null])).toEqual([
      ["PROTO_JSON", null],
      ["PROTO_JSON", null],
      ["PROTO_VERSION", null],
      ["PROTO_FIELD", "status"],
      ["PROTO_TOPIC", null],
    ]);
    expect(evOf(dev, "relay.receipt").map((e) => e.data)).toEqual([
      { key: "dk-link-1/am@2026-03-10/3.0", status: "delivered", ch: "push" },
    ]);
    expect(dev.link.state).toBe("connected");
    expect(broker.connects.length).toBe(1);
  });

  it("a flood of junk is rate-limited (10 a minute) and the suppressed count is reported", () => {
    const { world, broker, dev } = setup();
    for (let i = 0; i < 50; i++) broker.deliver(`dk/${ID}/cmnd/config`, "junk" + i);
    world.run(1000);
    expect(evOf(dev, "config.refused").length).toBe(10);
    world.run(60_000);
    broker.deliver(`dk/${ID}/rcpt`, "junk");
    world.run(100);
    expect(evOf(dev, "fault").at(-1)!.data).toMatchObject({ code: "PROTO_JSON", suppressed: 40 });
    expect(dev.link.state).toBe("connected");
  });

  it("an oversized message is read through, acknowledged and refused with a code; the session never drops", () => {
    const { world, broker, dev } = setup();
    const acks = broker.devicePubacks;
    broker.deliver(`dk/${ID}/cmnd/config`, "x".repeat(30_000));
    broker.deliver(`dk/${ID}/cmnd/tare`, "y".repeat(25_000));
    broker.deliver(`dk/${ID}/cmnd/identify`, "z".repeat(1_000_000));
    world.run(10_000);
    // Acknowledged (the broker will not redeliver them), refused with a code, on the same session.
    expect(broker.devicePubacks - acks).toBe(3);
    expect(evOf(dev, "config.refused").some((e) => e.data.code === "PROTO_OVERSIZE")).toBe(true);
    expect(
      evOf(dev, "cmd")
        .filter((e) => e.data.result === "PROTO_OVERSIZE")
        .map((e) => e.data.name),
    ).toEqual(["tare", "identify"]);
    expect(dev.link.state).toBe("connected");
    expect(broker.connects.length).toBe(1);
  });
});

describe("link: envelope with unexpected wrapping", () => {
  it("an envelope signed for the device but carrying a command body on cmnd/config is refused", () => {
    const { world, broker, s, dev } = setup();
    const body = {
      type: "cmd",
      name: "tare",
      device: ID,
      id: "z",
      issuedAt: new Date(world.now).toISOString(),
      expires: new Date(world.now + 60_000).toISOString(),
    };
    broker.publishRetained(`dk/${ID}/cmnd/config`, JSON.stringify(signEnvelope(body, s.key.privateKeyPem, s.key.kid)));
    world.run(500);
    expect(lastStat(broker)).toMatchObject({ ok: false, code: "PROTO_FIELD" });
    expect(dev.dispenser.status().config!.version).toBe(1);
  });
});
