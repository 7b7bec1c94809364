/**
 * Property test of the link under hostile input (issue "Hostile input and access"): over a virtual
 * day with the home schedule, seeded random sequences of hostile broker → device messages —
 * junk and non-UTF-8 bytes, oversized payloads, deep JSON, forged and unsigned envelopes, expired,
 * future and other-device commands, replays and retained copies of commands that already ran,
 * stale configs, empty retained payloads, unknown topics — interleaved with the real traffic.
 * Properties: the session never drops for content (one CONNECT), every message is acknowledged,
 * no hostile command runs, no config changes, and every dose event the dispenser logs reaches
 * the broker (same ids), as in a run without the attack.
 */
import { describe, expect, it } from "vitest";
import { signEnvelope } from "../../../../cloud/signing";
import { lcg } from "../../../support/prng";
import { FakeBroker, World, homeConfig, makeDevice, signer, trusted } from "./harness";

const ID = "dk-link-h";
const BROKER = { host: "broker", port: 1883, tls: false, username: ID, password: "pw" };
const HOUR = 3_600_000;

function run(seed: number, hostile: boolean) {
  const rnd = lcg(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)];
  const world = new World();
  const broker = new FakeBroker(world);
  const s = signer();
  const evil = signer(); // a key the device does not trust
  const dev = makeDevice({
    id: ID,
    network: broker,
    clock: world.clock,
    timers: world.timers(),
    trustedKeys: [trusted(s.key)],
    broker: BROKER,
  });
  world.run(1000);
  // Commands that legitimately ran once: their replays are part of the attack.
  const ran: string[] = [];
  for (const [name, id, args] of [
    ["identify", "ok-1", { seconds: 1 }],
    ["tare", "ok-2", {}],
  ] as const) {
    const text = s.cmd(ID, name, id, args, { now: world.now });
    broker.deliver(`dk/${ID}/cmnd/${name}`, text);
    ran.push(`${name}|${text}`);
    world.run(200);
  }
  const attacks: (() => void)[] = [
    () => broker.deliver(`dk/${ID}/cmnd/${pick(["config", "tare", "silence", "decommission", "x"])}`, "junk" + rnd()),
    () => broker.deliver(`dk/${ID}/rcpt`, new Uint8Array(Array.from({ length: 64 }, () => Math.floor(rnd() * 256)))),
    () => broker.deliver(`dk/${ID}/cmnd/${pick(["config", "identify", "tare"])}`, "x".repeat(20_000 + Math.floor(rnd() * 200_000))),
    () => broker.deliver(`dk/${ID}/cmnd/config`, "[".repeat(5000) + "]".repeat(5000)),
    () => broker.deliver(`dk/${ID}/cmnd/silence`, evil.cmd(ID, "silence", "ev" + Math.floor(rnd() * 1e6), {}, { now: world.now })),
    () => broker.deliver(`dk/${ID}/cmnd/silence`, JSON.stringify({ type: "cmd", name: "silence", device: ID, id: "u1", args: {} })),
    () =>
      broker.deliver(
        `dk/${ID}/cmnd/silence`,
        s.cmd(ID, "silence", "old", {}, { issuedAt: world.now - 3 * HOUR, expires: world.now - HOUR }),
      ),
    () =>
      broker.deliver(
        `dk/${ID}/cmnd/silence`,
        s.cmd(ID, "silence", "fut", {}, { issuedAt: world.now + HOUR, expires: world.now + 2 * HOUR }),
      ),
    () => broker.deliver(`dk/${ID}/cmnd/silence`, s.cmd("dk-other", "silence", "oth", {}, { now: world.now })),
    () => {
      const [name, text] = pick(ran).split("|");
      broker.deliver(`dk/${ID}/cmnd/${name}`, text, { retain: rnd() < 0.5 }); // replayed, or retained ghost
    },
    () =>
      broker.deliver(`dk/${ID}/cmnd/silence`, s.cmd(ID, "silence", "ret" + Math.floor(rnd() * 1e6), {}, { now: world.now }), {
        retain: true,
      }),
    () => broker.deliver(`dk/${ID}/cmnd/config`, s.config(homeConfig(ID, 1), { now: world.now })), // stale version (1 runs)
    () => {
      const forged = JSON.parse(s.config({ ...homeConfig(ID, 9), doses: [] }, { now: world.now }));
      forged.sig = JSON.parse(s.config(homeConfig(ID, 9), { now: world.now })).sig;
      broker.deliver(`dk/${ID}/cmnd/config`, JSON.stringify(forged));
    },
    () =>
      broker.deliver(
        `dk/${ID}/cmnd/config`,
        JSON.stringify(
          signEnvelope(
            { type: "cmd", name: "tare", device: ID, id: "w", issuedAt: new Date(world.now).toISOString() },
            evil.key.privateKeyPem,
            evil.key.kid,
          ),
        ),
      ),
    () => broker.deliver(`dk/${ID}/cmnd/${pick(["silence", "config"])}`, "", { retain: true }),
    // topics the device is subscribed to (cmnd/#) but that name nothing it knows
    () => broker.deliver(`dk/${ID}/cmnd/${pick(["a/b", "config/x", "t".repeat(300), "\u00e9t\u00e9"])}`, '{"v":1}'),
    () => broker.deliver(`dk/${ID}/rcpt`, JSON.stringify({ v: 1, key: "k".repeat(5000), status: "delivered" })),
  ];
  const acks0 = broker.devicePubacks;
  let sent = 0;
  // A day from 06:30 UTC: am (08:00), noon, pm, bed slots open, escalate and close, none taken.
  for (let t = 0; t < 24 * 60; t++) {
    if (hostile) {
      const n = rnd() < 0.3 ? 1 + Math.floor(rnd() * 4) : 0;
      for (let i = 0; i < n; i++) {
        pick(attacks)();
        sent++;
      }
    }
    world.run(60_000);
  }
  world.run(60_000);
  return { world, broker, dev, sent, acks: broker.devicePubacks - acks0 };
}

describe("link under hostile input (seeded property test)", () => {
  const clean = run(1, false);
  const doseIds = (d: typeof clean.dev): string[] => d.events.filter((e) => e.cls === "dose").map((e) => e.id);
  const deliveredIds = (b: FakeBroker): Set<string> => new Set(b.json("/evt").map((e) => String(e.id)));

  it("baseline (no attack): the day's dose events are all delivered", () => {
    const ids = doseIds(clean.dev);
    expect(ids.length).toBeGreaterThan(8);
    const got = deliveredIds(clean.broker);
    expect(ids.filter((i) => !got.has(i))).toEqual([]);
  });

  for (const seed of [11, 22, 33, 44]) {
    it(`seed ${seed}: the session stays up, nothing hostile runs, every dose event is delivered`, () => {
      const r = run(seed, true);
      expect(r.sent).toBeGreaterThan(300);
      expect(r.broker.connects.length).toBe(1); // never disconnected for content
      expect(r.dev.link.state).toBe("connected");
      expect(r.acks).toBe(r.sent); // every hostile message acknowledged (never redelivered forever)
      expect(r.dev.dispenser.status().config!.version).toBe(1);
      const ranCmds = r.dev.events.filter((e) => e.type === "cmd" && e.data.result === "OK").map((e) => e.data.id);
      expect(ranCmds).toEqual(["ok-1", "ok-2"]); // replays, retained ghosts, forged, stale: none ran
      expect(r.dev.events.some((e) => e.type === "silence" || e.type === "decommission")).toBe(false);
      expect(r.dev.erasedCalls).toBe(0);
      // the same reminders as without the attack, all delivered
      const doseTypes = (d: typeof r.dev) => d.events.filter((e) => e.cls === "dose").map((e) => `${e.type}:${String(e.data.slot ?? "")}`);
      expect(doseTypes(r.dev)).toEqual(doseTypes(clean.dev));
      const got = deliveredIds(r.broker);
      expect(doseIds(r.dev).filter((i) => !got.has(i))).toEqual([]);
    }, 60_000);
  }
});
