/**
 * The fleet over real MQTT, without a browser: the stack of `npm start` (embedded aedes with
 * per-device credentials and ACLs, simulated dispensers with their real link, the relay on the
 * fleet's virtual clock). Every event a device logs reaches the relay's database exactly once;
 * a late dose becomes a notification; a power cut is seen as offline through the will.
 */
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { mkdtempSync, readFileSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import mqtt from "mqtt";
import { startStack, type Stack } from "../../host-sim/live/stack";
import { startEmbeddedBroker } from "../../host-sim/live/broker";

const ROOT = path.resolve(__dirname, "../..");
const START = Date.parse("2026-03-10T06:55:00Z"); // 07:55 CET

async function until(cond: () => boolean | Promise<boolean>, ms = 8000, what = "condition"): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
}

function loggedEventIds(stack: Stack, id: string): string[] {
  return stack.fleet
    .get(id)!
    .linesAfter(0)
    .filter((l) => l.k === "ev")
    .map((l) => String(l.d.id));
}

describe("fleet over aedes (npm start stack, no browser)", () => {
  let stack: Stack;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "dk-mqtt-fleet-"));
    const base = JSON.parse(readFileSync(path.join(ROOT, "test/scenarios/configs/home.json"), "utf8")) as Record<string, unknown>;
    stack = await startStack({ baseConfig: base, devices: 3, warp: 0, start: START, port: 0, dataDir: dir });
    await until(() => ["dk-sim-1", "dk-sim-2", "dk-sim-3"].every((d) => stack.broker!.connected.has(d)), 5000, "devices connected");
  });

  afterAll(async () => {
    await stack?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("connects every device with its own credentials; the ACL keeps each to its own topics", async () => {
    expect(stack.transport.kind).toBe("mqtt");
    await until(() => [...stack.fleet.devices.values()].every((d) => d.snapshot().connection === "online"), 5000, "devices online");
    const creds = stack.broker!.credentials!;
    // Wrong password: refused.
    const bad = await new Promise<string>((resolve) => {
      const c = mqtt.connect(stack.brokerUrl!, { clientId: "dk-sim-1", username: "dk-sim-1", password: "guess", reconnectPeriod: 0 });
      c.on("error", (e) => {
        c.end(true);
        resolve(e.message);
      });
      c.on("connect", () => {
        c.end(true);
        resolve("connected");
      });
    });
    expect(bad).not.toBe("connected");
    // dk-sim-3's credentials, under another client id: refused (no session take-over).
    const c3 = creds.device("dk-sim-3");
    const spoof = await new Promise<string>((resolve) => {
      const c = mqtt.connect(stack.brokerUrl!, { clientId: "dk-sim-2", ...c3, reconnectPeriod: 0 });
      c.on("error", () => (c.end(true), resolve("refused")));
      c.on("connect", () => (c.end(true), resolve("connected")));
    });
    expect(spoof).toBe("refused");
    // A device's own credentials: may not read another device's commands nor publish as it.
    const c = await mqtt.connectAsync(stack.brokerUrl!, { clientId: "dk-sim-9", ...creds.device("dk-sim-9"), reconnectPeriod: 0 });
    const qos = async (topic: string): Promise<number> => {
      try {
        return (await c.subscribeAsync(topic, { qos: 1 }))[0].qos;
      } catch (e) {
        return (e as { packet?: { granted?: number[] } }).packet?.granted?.[0] ?? -1;
      }
    };
    expect([await qos("dk/dk-sim-1/cmnd/#"), await qos("dk/dk-sim-9/cmnd/#"), await qos("dk/#"), await qos("dk/dk-sim-1/evt")]).toEqual([
      128, 1, 128, 128,
    ]);
    expect(c.connected).toBe(true);
    await c.endAsync();
  });

  it("delivers every logged event to the relay exactly once, and a late dose becomes a notification", async () => {
    const { fleet, relay } = stack;
    // 08:00:30: dk-sim-1's morning dose is due; take it.
    await fleet.jumpTo(Date.parse("2026-03-10T07:00:30Z"));
    expect(fleet.get("dk-sim-1")!.snapshot().buzzer).toBe("chime");
    expect(fleet.get("dk-sim-1")!.act({ do: "remove", compartment: "morning", doses: 1 }).ok).toBe(true);
    // To 08:50 local: dk-sim-2 (08:05) and dk-sim-3 (08:10) are 30+ min late → push requests.
    await fleet.jumpTo(Date.parse("2026-03-10T07:50:00Z"));
    await until(() => relay!.notifications.items.filter((n) => n.kind === "escalation").length >= 4, 8000, "push notifications");
    const notes = relay!.notifications.items;
    expect(notes.filter((n) => n.device === "dk-sim-1")).toEqual([]);
    for (const d of ["dk-sim-2", "dk-sim-3"]) {
      const mine = notes.filter((n) => n.device === d && n.kind === "escalation");
      expect(mine.map((n) => n.ch)).toEqual(["push", "push"]); // patient and caregiver-1
      expect(new Set(mine.map((n) => n.to))).toEqual(new Set([`patient-${d.slice(-1)}`, `caregiver-${d.slice(-1)}`]));
    }
    // The console provider also appended them to notifications.log.
    const logged = readFileSync(path.join(dir, "notifications.log"), "utf8").trim().split("\n");
    expect(logged.length).toBe(notes.length);

    // Every device's outbox drains, and the relay holds each logged event once.
    await until(() => [...fleet.devices.values()].every((d) => d.snapshot().outbox === 0), 8000, "outboxes drained");
    for (const id of fleet.devices.keys()) {
      const logged = loggedEventIds(stack, id);
      // The broker's PUBACK empties the device's outbox before the relay has committed the last
      // events it forwarded: wait until the relay holds as many, then compare them exactly.
      await until(async () => (await relay!.db.eventsOf(id)).length >= logged.length, 8000, `relay holds ${id}'s events`);
      const stored = (await relay!.db.eventsOf(id)).map((e) => e.id);
      expect(logged.length).toBeGreaterThan(3);
      expect(new Set(stored).size).toBe(stored.length);
      expect(stored.sort()).toEqual(logged.slice().sort());
    }
    const taken = await relay!.db.eventsOf("dk-sim-1", ["dose.taken"]);
    expect(taken.map((e) => e.slot)).toEqual(["am@2026-03-10"]);
  });

  it("sees a device whose power is cut as offline (last will), and back when it boots", async () => {
    const { fleet, relay } = stack;
    expect(fleet.get("dk-sim-2")!.act({ do: "power-cut", offMs: 10 * 60_000 }).ok).toBe(true);
    await until(
      async () => {
        await relay!.refreshStates();
        return relay!.states()["dk-sim-2"]?.online === false;
      },
      5000,
      "relay sees dk-sim-2 offline",
    );
    expect(stack.broker!.connected.has("dk-sim-2")).toBe(false);
    expect(relay!.states()["dk-sim-1"]?.online).toBe(true);
    // Ten virtual minutes later it boots and reconnects: online again.
    await fleet.jumpTo(fleet.sched.now + 11 * 60_000);
    await until(
      async () => {
        await relay!.refreshStates();
        return relay!.states()["dk-sim-2"]?.online === true;
      },
      8000,
      "relay sees dk-sim-2 back",
    );
    expect(existsSync(path.join(dir, "pharmacist.key.pem"))).toBe(true);
  });
});

describe("--broker: an external broker (no authentication from the simulator)", () => {
  it("runs devices and relay on it", async () => {
    const ext = await startEmbeddedBroker({ auth: false });
    const dir = mkdtempSync(path.join(tmpdir(), "dk-mqtt-ext-"));
    const base = JSON.parse(readFileSync(path.join(ROOT, "test/scenarios/configs/home.json"), "utf8")) as Record<string, unknown>;
    const s = await startStack({ baseConfig: base, devices: 1, warp: 0, start: START, port: 0, dataDir: dir, broker: ext.url });
    try {
      expect(s.broker).toBeUndefined();
      await until(() => ext.connected.has("dk-sim-1"), 5000, "device on the external broker");
      await until(async () => (await s.relay!.db.eventsOf("dk-sim-1")).length > 0, 5000, "events at the relay");
    } finally {
      await s.close();
      await ext.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
