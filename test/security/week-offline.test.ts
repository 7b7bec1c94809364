/**
 * "Week offline": a device runs 7 days in virtual time with the network down (reminders go on,
 * events accumulate in the outbox), then the network comes back and it reconnects to a real
 * Mosquitto (passwords + ACL). Every logged event must arrive; duplicates are recognisable by id.
 *
 * After the virtual week the scheduler is driven by a 5 ms pump: fast-forward while the client waits out
 * its reconnect backoff, real time once it connects, so its timers keep working while real sockets deliver data. A second run with a small outbox (64 events)
 * checks the capacity policy: info events are evicted first, dose events are never lost (coalesced).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import mqtt from "mqtt";
import type { Network, StreamHandlers } from "../../firmware/core/ports";
import type { LoggedEvent } from "../../firmware/core/log/eventlog";
import { createNodeNetwork } from "../../host-sim/net-node";
import { findMosquitto, Mosquitto } from "../support/mosquitto";
import { waitFor } from "../support/net";
import { World, makeDevice, signer, trusted } from "../firmware/core/link/harness";

const BINS = findMosquitto();
if (!BINS) process.stdout.write("security/week-offline.test.ts: SKIPPED — mosquitto not found (apt-get install -y mosquitto openssl)\n");

const _WEEK = 7 * 86_400_000;

/** Network port that is down (connect fails in virtual time) until `up`, then real TCP. */
function switchable(world: World): { network: Network; up: boolean } {
  const real = createNodeNetwork();
  const sw = {
    up: false,
    network: {
      connect(host: string, port: number, tls: boolean, h: StreamHandlers) {
        if (sw.up) return real.connect(host, port, tls, h);
        world.sched.at(world.now + 1, () => h.onClose("unreachable"), 0);
        return { write: () => false, close() {} };
      },
    },
  };
  return sw;
}

interface WeekResult {
  logged: LoggedEvent[];
  outboxBefore: number;
  dropped: number;
  received: Record<string, unknown>[];
  attempts: number;
  /** Events refused by a full log (returned with seq 0, never stored). */
  refused: number;
}

async function week(
  mq: Mosquitto,
  id: string,
  logCapacity: number | undefined,
  pw: string,
  observer: { seen: Record<string, unknown>[] },
): Promise<WeekResult> {
  const world = new World();
  const sw = switchable(world);
  let attempts = 0;
  const network: Network = {
    connect: (h, p, t, handlers) => {
      attempts++;
      return sw.network.connect(h, p, t, handlers);
    },
  };
  const s = signer();
  const dev = makeDevice({
    id,
    network,
    clock: world.clock,
    timers: world.timers(),
    trustedKeys: [trusted(s.key)],
    broker: { host: "127.0.0.1", port: mq.port, tls: false, username: id, password: pw },
    logCapacity,
    mqtt: { backoffInitialMs: 1000, backoffMaxMs: 300_000, keepAliveSec: 60 },
  });
  for (let d = 0; d < 7; d++) {
    world.run(86_400_000 / 2);
    dev.dispenser.log("button", "info", { kind: "short", day: d }); // the patient presses the button twice a day
    world.run(86_400_000 / 2);
    dev.dispenser.log("button", "info", { kind: "long", day: d });
  }
  const st = dev.dispenser.status();
  const outboxBefore = st.outbox;
  const dropped = st.dropped;
  const attemptsOffline = attempts;
  // network back: drive virtual time along real time
  sw.up = true;
  let last = Date.now();
  const pump = setInterval(() => {
    const n = Date.now();
    // fast-forward (1 s of virtual time per tick) while waiting for the reconnect backoff, real time once connected
    world.run(dev.link.state === "waiting" ? 1000 : Math.max(1, n - last));
    last = n;
  }, 5);
  try {
    await waitFor("outbox drained", () => dev.link.state === "connected" && dev.dispenser.status().outbox === 0, 30_000);
    const want = new Set(dev.events.filter((e) => e.seq > 0).map((e) => e.id));
    await waitFor(
      "observer got everything",
      () => {
        const got = new Set(observer.seen.filter((e) => String(e.id).startsWith(id + "-")).map((e) => e.id as string));
        for (const w of want) if (!got.has(w) && dev.dispenser.status().dropped === 0) return false;
        return got.size > 0;
      },
      30_000,
    );
  } finally {
    clearInterval(pump);
    dev.link.stop();
    dev.dispenser.stop();
  }
  return {
    logged: dev.events.filter((e) => e.seq > 0),
    outboxBefore,
    dropped,
    received: observer.seen.filter((e) => String(e.id).startsWith(id + "-")),
    attempts: attemptsOffline,
    refused: dev.events.filter((e) => e.seq === 0).length,
  };
}

describe.skipIf(!BINS)("a week offline, then Mosquitto", () => {
  let mq: Mosquitto;
  let cloud: mqtt.MqttClient;
  const observer = { seen: [] as Record<string, unknown>[] };

  beforeAll(async () => {
    mq = await Mosquitto.start(BINS!, { users: { "dk-week-1": "pw1", "dk-week-2": "pw2", relay: "pw-relay" }, admins: ["relay"] });
    cloud = await mqtt.connectAsync({
      host: "127.0.0.1",
      port: mq.port,
      username: "relay",
      password: "pw-relay",
      clientId: "relay",
      clean: true,
      reconnectPeriod: 0,
    });
    cloud.on("message", (_t, p) => observer.seen.push(JSON.parse(p.toString()) as Record<string, unknown>));
    await cloud.subscribeAsync("dk/+/evt", { qos: 1 });
  });

  afterAll(async () => {
    await cloud?.endAsync(true);
    await mq?.stop();
  });

  it("default outbox (256): every event logged during the week arrives; duplicates only by id", async () => {
    const r = await week(mq, "dk-week-1", undefined, "pw1", observer);
    const ids = r.received.map((e) => e.id as string);
    const unique = new Set(ids);
    const dups = ids.length - unique.size;
    process.stdout.write(
      `week offline (capacity 256): logged ${r.logged.length}, outbox before reconnect ${r.outboxBefore}, dropped ${r.dropped}, ` +
        `delivered ${unique.size} unique / ${ids.length} messages, duplicates ${dups}, connect attempts offline ${r.attempts}\n`,
    );
    expect(r.dropped).toBe(0);
    expect(r.outboxBefore).toBe(r.logged.length);
    for (const e of r.logged) expect(unique.has(e.id)).toBe(true);
    expect(unique.size).toBe(r.logged.length);
    // a duplicate, if any, is byte-identical apart from transport: same id ⇒ same seq and type
    const byId = new Map<string, Record<string, unknown>>();
    for (const e of r.received) {
      const prev = byId.get(e.id as string);
      if (prev) expect([prev.seq, prev.type]).toEqual([e.seq, e.type]);
      byId.set(e.id as string, e);
    }
    expect(r.logged.filter((e) => e.cls === "dose").length).toBeGreaterThan(20);
    // backoff: full jitter under a 5 min cap, i.e. 2.5 min on average ≈ 4032 attempts a week
    expect(r.attempts).toBeGreaterThan(7 * 24 * 12);
    expect(r.attempts).toBeLessThan(7 * 24 * 24 * 1.15);
  }, 60_000);

  it("small outbox (64): info evicted first, dose events never lost (coalesced), drops counted", async () => {
    const r = await week(mq, "dk-week-2", 64, "pw2", observer);
    const received = new Map(r.received.map((e) => [e.id as string, e]));
    const deliveredIds = new Set<string>(received.keys());
    // ids carried inside coalesced dose events count as delivered
    for (const e of received.values()) {
      const co = (e.data as Record<string, unknown> | undefined)?._coalesced;
      if (Array.isArray(co)) for (const c of co as { id: string }[]) deliveredIds.add(c.id);
    }
    const lost = r.logged.filter((e) => !deliveredIds.has(e.id));
    process.stdout.write(
      `week offline (capacity 64): logged ${r.logged.length}, outbox before reconnect ${r.outboxBefore}, dropped ${r.dropped}, ` +
        `delivered ${received.size} messages covering ${r.logged.length - lost.length} events, evicted ${lost.length} (${[...new Set(lost.map((e) => e.cls))].join(",") || "none"}), refused ${r.refused}\n`,
    );
    expect(r.outboxBefore).toBeLessThanOrEqual(64);
    expect(lost.filter((e) => e.cls === "dose")).toEqual([]);
    expect(lost.length + r.refused).toBe(r.dropped);
  }, 60_000);
});
