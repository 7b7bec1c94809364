/** Cloud-side dead-man alerts with an injected clock (dk-0001-4x: CET, am 08:00, bed 22:30 with the "quiet" ladder). */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { openSqliteDb } from "../../../cloud/relay/db";
import { startRelay, type RelayHandle } from "../../../cloud/relay/service";
import type { RelayDb } from "../../../cloud/relay/types";
import { contactsFor, device, providersFor, startAedes, startMockHttp, tempDir, waitFor } from "./helpers";

const CONFIG = readFileSync(join(__dirname, "../../fixtures/configs/dk-0001-4x.json"), "utf8");
const Z = (s: string): number => Date.parse(s);
const MIN = 60_000;

let broker: Awaited<ReturnType<typeof startAedes>>;
let srv: Awaited<ReturnType<typeof startMockHttp>>;
let tmp: ReturnType<typeof tempDir>;
let relay: RelayHandle | undefined;
let db: RelayDb | undefined;
let devs: Awaited<ReturnType<typeof device>>[] = [];
let now = 0;

beforeAll(async () => {
  broker = await startAedes();
  srv = await startMockHttp();
  tmp = tempDir();
});
afterAll(async () => {
  await srv.close();
  await broker.close();
  tmp.cleanup();
});
afterEach(async () => {
  await relay?.abort();
  for (const d of devs) await d.c.endAsync();
  devs = [];
  await db?.close();
  srv.requests.length = 0;
});

let n = 0;
async function setup(outageMs = 0): Promise<{ r: RelayHandle; d: RelayDb; dev: Awaited<ReturnType<typeof device>> }> {
  db = await openSqliteDb(join(tmp.dir, `dm${++n}.sqlite`));
  await db.putConfig({ device: "dk-0001", version: 7, json: CONFIG, updatedAt: 0, actor: "test" });
  relay = await startRelay({
    brokerUrl: broker.url,
    db,
    providers: providersFor(srv.url),
    contacts: contactsFor(srv.url),
    clock: () => now,
    deadman: { silentMs: 10 * MIN, offlineMs: 2 * MIN, checkMs: 3_600_000, outageMs },
    pollMs: 3_600_000,
    log: () => undefined,
  });
  const dev = await device(broker.url, "dk-0001");
  devs.push(dev);
  return { r: relay, d: db, dev };
}
const targets = (): string[] =>
  srv.requests
    .map((q) =>
      q.url.startsWith("/push/")
        ? q.url
        : `${q.url.endsWith("Calls.json") ? "call" : "sms"}:${new URLSearchParams(q.body.toString()).get("To")}`,
    )
    .sort();

describe("dead-man alerts", () => {
  it("device silent at dose time: one alert per slot to the ladder's recipients, then a back-online notice", async () => {
    const { r, d, dev } = await setup();
    now = Z("2026-03-10T06:00:00Z");
    await dev.raw("dk/dk-0001/tele", JSON.stringify({ v: 1, t: null, fw: "0.1.0", outbox: 0 }));
    await waitFor("seen", async () => (await d.deviceState("dk-0001"))?.lastSeen === now);
    now = Z("2026-03-10T06:55:00Z"); // silent 55 min but nothing due yet
    await r.tick();
    expect(srv.requests.length).toBe(0);
    now = Z("2026-03-10T07:01:00Z"); // am (08:00 CET) is due
    await r.tick();
    expect(targets()).toEqual(["/push/jeanne", "call:+33633333333", "sms:+33622222222"]);
    const body = new URLSearchParams(srv.requests.find((q) => q.url.endsWith("Messages.json"))!.body.toString()).get("Body")!;
    expect(body).toContain("Dispenser offline at dose time");
    expect(body).toContain("07:00"); // last seen, local time
    now += 30 * MIN;
    await r.tick();
    await r.tick();
    expect(srv.requests.length).toBe(3); // once per slot
    expect((await d.auditList({ action: "deadman.alert" })).length).toBe(1);
    srv.requests.length = 0;
    now = Z("2026-03-10T07:40:00Z");
    await dev.raw("dk/dk-0001/status", JSON.stringify({ v: 1, online: true }));
    await waitFor("back online notices", async () => {
      await r.tick();
      return srv.requests.length === 3;
    });
    const sms = srv.requests.find((q) => q.url.endsWith("Messages.json"))!;
    expect(new URLSearchParams(sms.body.toString()).get("Body")).toContain("back online");
    expect(dev.rcpts.length).toBe(0); // relay-made notices publish no device receipt
    await dev.raw("dk/dk-0001/tele", JSON.stringify({ v: 1 }));
    now += 5 * MIN;
    await r.tick();
    expect(srv.requests.length).toBe(3); // said once
  });

  it("no alert while the device is heard from, nor for a slot it reported taken; last will counts after offlineMs", async () => {
    const { r, dev } = await setup();
    now = Z("2026-03-10T06:58:00Z");
    await dev.raw("dk/dk-0001/tele", JSON.stringify({ v: 1 }));
    await waitFor("seen", async () => (await db!.deviceState("dk-0001"))?.lastSeen === now);
    now = Z("2026-03-10T07:03:00Z");
    await r.tick();
    expect(srv.requests.length).toBe(0);
    await dev.evt("dose.taken", { slot: "am@2026-03-10", comp: "morning", pills: 3, mg: 1240, lateMin: 3 });
    await waitFor("stored", async () => (await db!.eventsOf("dk-0001", ["dose.taken"])).length === 1);
    now = Z("2026-03-10T08:00:00Z"); // silent for 57 min, but am was taken
    await r.tick();
    expect(srv.requests.length).toBe(0);
    // noon (12:30 CET = 11:30Z): the broker publishes the last will at 11:27, due at 11:30
    now = Z("2026-03-10T11:20:00Z");
    await dev.raw("dk/dk-0001/tele", JSON.stringify({ v: 1 }));
    now = Z("2026-03-10T11:27:00Z");
    await dev.raw("dk/dk-0001/status", JSON.stringify({ v: 1, online: false }));
    await waitFor("offline stored", async () => (await db!.deviceState("dk-0001"))?.online === false);
    now = Z("2026-03-10T11:28:00Z");
    await r.tick();
    expect(srv.requests.length).toBe(0);
    now = Z("2026-03-10T11:30:30Z"); // due, offline for 3.5 min ≥ 2, silent only 10.5 min
    await r.tick();
    expect(targets()).toEqual(["/push/jeanne", "call:+33633333333", "sms:+33622222222"]);
  });

  it("outside dose windows: silent or offline 30 min at any hour alerts everyone on the ladders once, then back online", async () => {
    const { r, d, dev } = await setup(30 * MIN);
    now = Z("2026-03-10T00:30:00Z"); // 01:30 CET, no dose until 08:00
    await dev.raw("dk/dk-0001/tele", JSON.stringify({ v: 1 }));
    await waitFor("seen", async () => (await d.deviceState("dk-0001"))?.lastSeen === now);
    now = Z("2026-03-10T00:59:00Z");
    await r.tick();
    expect(srv.requests.length).toBe(0); // 29 min
    now = Z("2026-03-10T01:01:00Z");
    await r.tick();
    const sms = srv.requests.filter((q) => q.url.endsWith("Messages.json"));
    expect(sms.length).toBeGreaterThan(0);
    expect(new URLSearchParams(sms[0].body.toString()).get("Body")).toMatch(/ne répond plus depuis 01:30|not been heard from since 01:30/);
    const first = srv.requests.length;
    now = Z("2026-03-10T02:30:00Z");
    await r.tick();
    expect(srv.requests.length).toBe(first); // once per outage
    expect((await d.auditList({ action: "deadman.outage" })).length).toBe(1);
    srv.requests.length = 0;
    now = Z("2026-03-10T02:40:00Z");
    await dev.raw("dk/dk-0001/status", JSON.stringify({ v: 1, online: true }));
    // "back online" is planned at once (sent now, or after a recipient's quiet hours: low priority)
    await waitFor("back online", async () => {
      await r.tick();
      return (await d.auditList({ action: "deadman.back" })).length === 1;
    });
    expect(JSON.parse((await d.auditList({ action: "deadman.back" }))[0].detail).slots).toEqual(["outage:" + Z("2026-03-10T00:30:00Z")]);
    // a new outage later is alerted again (a new episode); a last will counts from its time
    srv.requests.length = 0;
    now = Z("2026-03-10T03:00:00Z");
    await dev.raw("dk/dk-0001/status", JSON.stringify({ v: 1, online: false }));
    await waitFor("offline", async () => (await d.deviceState("dk-0001"))?.online === false);
    now = Z("2026-03-10T03:31:00Z");
    await r.tick();
    expect((await d.auditList({ action: "deadman.outage" })).length).toBe(2);
  });

  it("relay restarts (retained status replayed at each re-subscription) neither reset nor double the alerts", async () => {
    const { d, dev } = await setup();
    const restart = async (): Promise<RelayHandle> => {
      await relay?.abort();
      relay = await startRelay({
        brokerUrl: broker.url,
        db: d,
        providers: providersFor(srv.url),
        clock: () => now,
        deadman: { silentMs: 10 * MIN, offlineMs: 2 * MIN, checkMs: 3_600_000, outageMs: 0 },
        pollMs: 3_600_000,
        log: () => undefined,
      });
      return relay;
    };
    now = Z("2026-03-10T06:00:00Z");
    // As a device does at connect: a retained online:true, then telemetry.
    await dev.c.publishAsync("dk/dk-0001/status", JSON.stringify({ v: 1, online: true }), { qos: 1, retain: true });
    await dev.raw("dk/dk-0001/tele", JSON.stringify({ v: 1 }));
    await waitFor("seen", async () => (await d.deviceState("dk-0001"))?.lastSeen === now);
    await dev.c.endAsync(true); // the box goes silent (no will: a hung Wi-Fi link)
    for (const t of ["06:30", "06:50", "06:59"]) {
      now = Z(`2026-03-10T${t}:00Z`);
      await (await restart()).tick(); // each restart replays the retained online:true
      expect((await d.deviceState("dk-0001"))?.lastSeen).toBe(Z("2026-03-10T06:00:00Z"));
    }
    expect(srv.requests.length).toBe(0);
    now = Z("2026-03-10T07:01:00Z"); // am (08:00 CET) due, silent 61 min: alert on time
    await (await restart()).tick();
    expect(targets()).toEqual(["/push/jeanne", "call:+33633333333", "sms:+33622222222"]);
    now = Z("2026-03-10T07:05:00Z");
    await (await restart()).tick();
    expect(srv.requests.length).toBe(3); // once per slot, whichever instance checks
  });

  it("quiet hours never defer the dead-man alert but defer the back-online notice", async () => {
    const { r, d, dev } = await setup();
    now = Z("2026-03-10T20:00:00Z");
    await dev.raw("dk/dk-0001/tele", JSON.stringify({ v: 1 }));
    await waitFor("seen", async () => (await d.deviceState("dk-0001"))?.lastSeen === now);
    now = Z("2026-03-10T21:31:00Z"); // bed 22:30 CET, marc's quiet hours 22:00–07:00
    await r.tick();
    expect(targets()).toEqual(["sms:+33622222222"]); // quiet ladder: caregiver-1 only
    srv.requests.length = 0;
    now = Z("2026-03-10T21:50:00Z");
    await dev.raw("dk/dk-0001/tele", JSON.stringify({ v: 1 }));
    await waitFor("deferred", async () => {
      await r.tick();
      return (await d.auditList({ action: "notify.deferred" })).length === 1;
    });
    expect(srv.requests.length).toBe(0);
    const deferred = await d.auditList({ action: "notify.deferred" });
    expect(JSON.parse(deferred[0].detail).until).toBe("2026-03-11T06:00:00.000Z");
    now = Z("2026-03-11T05:59:00Z");
    await r.tick();
    expect(srv.requests.length).toBe(0);
    now = Z("2026-03-11T06:00:00Z");
    await r.tick();
    expect(targets()).toEqual(["sms:+33622222222"]);
  });
});
