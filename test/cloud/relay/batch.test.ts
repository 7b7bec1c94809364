/**
 * Group commit: RelayDb.batch is all or nothing, and a burst of requests is stored in fewer
 * transactions than messages while every escalation is still delivered exactly once.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import { openSqliteDb } from "../../../cloud/relay/db";
import { startRelay } from "../../../cloud/relay/service";
import type { NewJob, RelayDb } from "../../../cloud/relay/types";
import { contactsFor, device, providersFor, request, startAedes, startMockHttp, tempDir, waitFor } from "./helpers";

const job = (key: string): NewJob => ({
  key,
  device: "dk-0001",
  slot: "am@2026-03-10",
  ref: "caregiver-1",
  person: "marc",
  ch: "sms",
  kind: "escalation",
  priority: "high",
  notice: { key, device: "dk-0001", kind: "escalation", priority: "high", title: "t", body: "b" },
  nextAt: 1000,
  isFallback: false,
});
const req = (key: string) => ({
  key,
  device: "dk-0001",
  slot: "am@2026-03-10",
  evtId: "e",
  ch: "sms",
  receivedAt: 1000,
  wantsReceipt: true,
});

describe("group commit", () => {
  let tmp: ReturnType<typeof tempDir>;
  beforeAll(() => {
    tmp = tempDir();
  });
  afterAll(() => tmp.cleanup());

  it("batch() commits every unit together, or none when one throws", async () => {
    const db = await openSqliteDb(join(tmp.dir, "b.sqlite"));
    await db.batch!([
      (t) => t.claimRequest(req("dk-0001/a/1.0"), [job("dk-0001/a/1.0")]).then(() => undefined),
      (t) => t.audit({ t: 1, actor: "x", action: "a", device: null, code: null, detail: "" }),
    ]);
    expect(await db.countJobs()).toBe(1);
    await expect(
      db.batch!([
        (t) => t.claimRequest(req("dk-0001/b/1.0"), [job("dk-0001/b/1.0")]).then(() => undefined),
        async () => {
          throw new Error("boom");
        },
      ]),
    ).rejects.toThrow("boom");
    expect(await db.countJobs()).toBe(1); // the first unit's claim was rolled back with the batch
    expect(await db.claimRequest(req("dk-0001/b/1.0"), [job("dk-0001/b/1.0")])).toBe(true); // so the key is still free
    await db.close();
  });

  it("a burst is stored in batches, PUBACKed after commit, each escalation sent once with one receipt", async () => {
    const broker = await startAedes();
    const srv = await startMockHttp();
    const inner = await openSqliteDb(join(tmp.dir, "burst.sqlite"));
    const sizes: number[] = [];
    const db = new Proxy(inner, {
      get(t, p) {
        if (p === "batch")
          return (units: Parameters<NonNullable<RelayDb["batch"]>>[0]) => {
            sizes.push(units.length);
            return t.batch!(units);
          };
        const v = (t as unknown as Record<string | symbol, unknown>)[p];
        return typeof v === "function" ? (v as (...a: unknown[]) => unknown).bind(t) : v;
      },
    }) as RelayDb;
    const r = await startRelay({
      brokerUrl: broker.url,
      db,
      providers: providersFor(srv.url),
      contacts: contactsFor(srv.url),
      deadman: false,
      pollMs: 20,
      log: () => undefined,
    });
    const d = await device(broker.url, "dk-0001");
    const N = 120;
    await Promise.all(
      Array.from({ length: N }, (_, i) => d.evt("relay.request", request("dk-0001", `b${i}@2026-03-10`, 3, "sms", ["caregiver-1"]))),
    );
    await waitFor("receipts", () => new Set(d.rcpts.map((x) => x.key)).size === N, 15_000);
    await r.stop();
    expect(srv.requests.length).toBe(N);
    expect(d.rcpts.length).toBe(N);
    expect(d.rcpts.every((x) => x.status === "delivered")).toBe(true);
    expect(await inner.countJobs("sent")).toBe(N);
    expect((await inner.auditList({ action: "notify.sent", limit: 1000 })).length).toBe(N);
    // 120 messages, 120 completions and 120 receipt PUBACKs took far fewer transactions.
    expect(Math.max(...sizes)).toBeGreaterThan(1);
    expect(sizes.length).toBeLessThan(3 * N);
    await d.c.endAsync();
    await inner.close();
    await srv.close();
    await broker.close();
  }, 30_000);
});
