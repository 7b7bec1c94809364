/**
 * The PostgreSQL adapter against a real server (a throw-away cluster run as the `postgres` user).
 * Skipped when PostgreSQL is not installed (Debian package: postgresql).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openPostgresDb } from "../../../cloud/relay/db";
import { startRelay } from "../../../cloud/relay/service";
import type { NewJob, RelayDb } from "../../../cloud/relay/types";
import { contactsFor, device, hasPostgres, providersFor, request, startAedes, startMockHttp, startPostgres, waitFor } from "./helpers";

const hasPg = hasPostgres;
if (!hasPg) console.warn("SKIP test/relay/postgres.test.ts: PostgreSQL binaries not found (apt-get install -y postgresql)");

const job = (key: string, ref: string, slot = "am@2026-03-10"): NewJob => ({
  key,
  device: "dk-0001",
  slot,
  ref,
  person: "marc",
  ch: "sms",
  kind: "escalation",
  priority: "high",
  notice: { key, device: "dk-0001", kind: "escalation", priority: "high", title: "t", body: "b" },
  nextAt: 1000,
  isFallback: false,
});

describe.skipIf(!hasPg)("RelayDb on PostgreSQL", () => {
  let pg: Awaited<ReturnType<typeof startPostgres>>;
  let a: RelayDb;
  let b: RelayDb;
  beforeAll(async () => {
    pg = await startPostgres();
    [a, b] = await Promise.all([openPostgresDb(pg!.url), openPostgresDb(pg!.url)]); // concurrent schema creation
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await pg?.stop();
  });

  it("claims a key atomically across connections", async () => {
    for (let i = 0; i < 20; i++) {
      const key = `dk-0001/k${i}/1.0`;
      const req = { key, device: "dk-0001", slot: `k${i}`, evtId: "e", ch: "sms", receivedAt: 1000, wantsReceipt: true };
      const r = await Promise.all([
        a.claimRequest(req, [job(key, "caregiver-1", `k${i}`)]),
        b.claimRequest(req, [job(key, "caregiver-1", `k${i}`)]),
        a.claimRequest(req, [job(key, "caregiver-1", `k${i}`)]),
      ]);
      expect(r.filter(Boolean).length).toBe(1);
    }
    expect(await a.countJobs()).toBe(20);
  });

  it("leases are disjoint, expire, and a stale owner cannot finish", async () => {
    const [la, lb] = await Promise.all([a.leaseJobs("A", 2000, 1000, 15), b.leaseJobs("B", 2000, 1000, 15)]);
    expect(la.length + lb.length).toBe(20);
    expect(new Set([...la, ...lb].map((j) => j.id)).size).toBe(20);
    expect(await b.leaseJobs("B", 2500, 1000, 50)).toEqual([]); // held
    const taken = await b.leaseJobs("B", 3001, 1000, 50); // A's and B's leases expired at 3000
    expect(taken.length).toBe(20);
    const [x, y] = taken;
    expect(await a.finishJob(x.id, "A", { state: "sent", attempts: 1, now: 3002 })).toBe(false);
    expect(await b.finishJob(x.id, "B", { state: "sent", attempts: 1, now: 3002 })).toBe(true);
    // a retry of a job whose slot got resolved meanwhile becomes cancelled
    await a.resolveSlot("dk-0001", y.slot!, "taken", 3003);
    expect(await b.finishJob(y.id, "B", { state: "pending", attempts: 1, nextAt: 4000, now: 3004 })).toBe(true);
    expect((await a.jobsOf(y.key))[0].state).toBe("cancelled");
    expect(await a.setReceipt(x.key, "delivered", null, 5)).toBe(true);
    expect(await b.setReceipt(x.key, "delivered", null, 6)).toBe(false);
    expect(await a.claimDeadman("dk-0001", "x", 1)).toBe(true);
    expect(await b.claimDeadman("dk-0001", "x", 1)).toBe(false);
    expect(await b.closeDeadman("dk-0001", 2)).toEqual(["x"]);
    expect(await a.closeDeadman("dk-0001", 3)).toEqual([]);
  });

  it("a relay runs on PostgreSQL end to end", async () => {
    const broker = await startAedes();
    const srv = await startMockHttp();
    const r = await startRelay({
      brokerUrl: broker.url,
      db: a,
      providers: providersFor(srv.url),
      contacts: contactsFor(srv.url),
      deadman: false,
      pollMs: 20,
      log: () => undefined,
    });
    const d = await device(broker.url, "dk-0001");
    const data = request("dk-0001", "pm@2026-03-20", 3, "sms", ["caregiver-1"]);
    await d.evt("relay.request", data);
    await waitFor("receipt", () => d.rcpts.some((x) => x.key === data.key));
    expect(d.rcpts.find((x) => x.key === data.key)).toMatchObject({ status: "delivered" });
    expect((await a.auditList({ action: "notify.sent" })).filter((x) => x.detail.includes("pm@2026-03-20")).length).toBe(1);
    await r.abort();
    await d.c.endAsync();
    await srv.close();
    await broker.close();
  });
});
