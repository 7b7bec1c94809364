/**
 * Bounded, fair ingest per device (docs/relay.md, "Bounded ingest"): a flooding device's
 * telemetry and ordinary events beyond its rate are dropped and counted, its escalation requests
 * still go through, an oversized message is refused unread, and another device loses nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import { openSqliteDb } from "../../../cloud/relay/db";
import { DEVICE_MESSAGE_MAX, DEVICE_MESSAGES_PER_MIN } from "../../../cloud/relay/handlers/devices";
import { startRelay } from "../../../cloud/relay/service";
import { contactsFor, device, providersFor, request, startAedes, startMockHttp, tempDir, waitFor } from "./helpers";

describe("per-device ingest budget", () => {
  let broker: Awaited<ReturnType<typeof startAedes>>;
  let srv: Awaited<ReturnType<typeof startMockHttp>>;
  let tmp: ReturnType<typeof tempDir>;
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

  it("a flood from one device: its excess dropped and counted, its requests delivered, the other device untouched", async () => {
    const db = await openSqliteDb(join(tmp.dir, "b.sqlite"));
    const relay = await startRelay({
      brokerUrl: broker.url,
      db,
      providers: providersFor(srv.url),
      contacts: contactsFor(srv.url),
      deadman: false,
      pollMs: 20,
      log: () => undefined,
    });
    const noisy = await device(broker.url, "dk-0002");
    const calm = await device(broker.url, "dk-0001");
    const FLOOD = DEVICE_MESSAGES_PER_MIN + 400;
    const sends: Promise<unknown>[] = [];
    for (let i = 0; i < FLOOD; i++) {
      sends.push(noisy.evt("tray.bump", { comp: "morning", mg: i }));
      if (i % 100 === 50) sends.push(noisy.evt("relay.request", request("dk-0002", `f${i}@2026-03-10`, 3, "sms", ["caregiver-1"])));
      if (i % 50 === 0) sends.push(calm.evt("dose.taken", { slot: `am${i}@2026-03-10`, comp: "morning", pills: 1 }));
    }
    sends.push(noisy.raw("dk/dk-0002/evt", Buffer.alloc(DEVICE_MESSAGE_MAX + 1, 0x20)));
    await Promise.all(sends);
    const requests = Math.ceil((FLOOD - 50) / 100);
    await waitFor("requests delivered", () => noisy.rcpts.length === requests, 20_000);
    await waitFor("calm stored", async () => (await db.eventsOf("dk-0001")).length === FLOOD / 50, 10_000);
    const stored = (await db.eventsOf("dk-0002")).filter((e) => e.type === "tray.bump").length;
    expect(stored).toBeLessThanOrEqual(DEVICE_MESSAGES_PER_MIN);
    expect(stored).toBeGreaterThan(DEVICE_MESSAGES_PER_MIN - requests - 2);
    await relay.tick();
    const limited = await db.auditList({ action: "message.limited", device: "dk-0002" });
    expect(limited.length).toBeGreaterThanOrEqual(1);
    expect(limited[0].code).toBe("RELAY_RATE");
    expect(JSON.parse(limited[0].detail).dropped).toBeGreaterThan(0);
    const big = await db.auditList({ action: "message.refused", device: "dk-0002" });
    expect(big.map((a) => a.code)).toEqual(["RELAY_TOO_BIG"]);
    expect(await db.auditList({ action: "message.problem", device: "dk-0002" })).toEqual([]); // refused unread
    expect(noisy.rcpts.every((r) => r.status === "delivered")).toBe(true);
    expect(await db.auditList({ action: "message.limited", device: "dk-0001" })).toEqual([]);
    await relay.abort();
    await noisy.c.endAsync();
    await calm.c.endAsync();
    await db.close();
  }, 60_000);
});
