/**
 * Never acknowledge what is not stored: with the store failing (a failing store, then a real
 * SQLite file locked by another process) the relay holds acknowledgements, retries, reports
 * `degraded` on /healthz, and once the store is back every escalation is delivered exactly once.
 * A poison message is stored as a coded problem and does not block the stream. Retained status
 * and telemetry replayed at subscription never count as liveness.
 */
import { spawn } from "node:child_process";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { isStoreFault } from "../../../cloud/relay/db/faults";
import { openSqliteDb } from "../../../cloud/relay/db";
import { startRelayHttp } from "../../../cloud/relay/http";
import { startRelay, type RelayHandle } from "../../../cloud/relay/service";
import type { Notice, Person, Providers, RelayDb, RemoteChannel } from "../../../cloud/relay/types";
import { contactsFor, device, providersFor, request, sleep, startAedes, startMockHttp, tempDir, waitFor } from "./helpers";

let broker: Awaited<ReturnType<typeof startAedes>>;
let srv: Awaited<ReturnType<typeof startMockHttp>>;
let tmp: ReturnType<typeof tempDir>;
const cleanup: (() => Promise<void>)[] = [];

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
  for (const f of cleanup.splice(0).reverse()) await f();
  srv.requests.length = 0;
});

function counting(p: Providers, sent: string[]): Providers {
  const out: Providers = {};
  for (const ch of ["push", "sms", "call"] as RemoteChannel[]) {
    const inner = p[ch];
    if (!inner) continue;
    out[ch] = {
      name: inner.name,
      async send(c: RemoteChannel, to: Person, nt: Notice) {
        const r = await inner.send(c, to, nt);
        if (r.ok) sent.push(`${nt.key}|${to.id}|${c}`);
        return r;
      },
    };
  }
  return out;
}

/** A store whose writes fail while `down` is set (as a locked or full database does). */
function flaky(db: RelayDb, state: { down: boolean; failures: number }): RelayDb {
  const fail = (): never => {
    state.failures++;
    throw new Error("SQLITE_BUSY: database is locked (test)");
  };
  return new Proxy(db, {
    get(target, prop, recv) {
      const v = Reflect.get(target, prop, recv);
      if (prop === "batch" && typeof v === "function")
        return (units: unknown) => (state.down ? Promise.reject(fail()) : (v as (u: unknown) => Promise<void>).call(target, units));
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
}

async function start(db: RelayDb, sent: string[], extra: Record<string, unknown> = {}): Promise<RelayHandle> {
  const r = await startRelay({
    brokerUrl: broker.url,
    db,
    providers: counting(providersFor(srv.url), sent),
    contacts: contactsFor(srv.url),
    deadman: false,
    pollMs: 20,
    leaseMs: 2000,
    retry: { baseMs: 30, maxAttempts: 6 },
    log: process.env.DK_DEBUG ? (l: string) => process.stderr.write(l + "\n") : () => undefined,
    ...extra,
  });
  cleanup.push(() => r.abort());
  return r;
}

/** `db` whose recordEvent fails for event `id` with the error `make()` returns (none: it succeeds). */
function failingFor(db: RelayDb, id: string, make: () => Error | undefined): RelayDb {
  return new Proxy(db, {
    get(target, prop, recv) {
      const v = Reflect.get(target, prop, recv);
      if (typeof v !== "function") return v;
      if (prop !== "batch") return v.bind(target);
      return (units: ((tx: RelayDb) => Promise<void>)[]) =>
        (v as (u: unknown) => Promise<void>).call(
          target,
          units.map(
            (u) => (tx: RelayDb) =>
              u(
                new Proxy(tx, {
                  get(t2, p2, r2) {
                    const f = Reflect.get(t2, p2, r2);
                    if (p2 === "recordEvent" && typeof f === "function")
                      return (e: { id: string }) => {
                        const x = e.id === id ? make() : undefined;
                        return x !== undefined ? Promise.reject(x) : f.call(t2, e);
                      };
                    return typeof f === "function" ? f.bind(t2) : f;
                  },
                }),
              ),
          ),
        );
    },
  });
}

describe("never acknowledge what is not stored", () => {
  it("a failing store: acknowledgements held, /healthz degraded, every escalation delivered once after recovery", async () => {
    const db = await openSqliteDb(join(tmp.dir, "flaky.sqlite"));
    cleanup.push(() => db.close());
    const state = { down: false, failures: 0 };
    const sent: string[] = [];
    const r = await start(flaky(db, state), sent);
    const api = await startRelayHttp({ db, port: 0, health: () => r.health(), tokens: { "ops-token-0123456789": "ops" } });
    cleanup.push(() => api.close());
    const d = await device(broker.url, "dk-0001");
    cleanup.push(() => d.c.endAsync());
    state.down = true;
    const N = 60;
    const pubs: Promise<string>[] = [];
    for (let i = 0; i < N; i++) pubs.push(d.evt("relay.request", request("dk-0001", `s${i}@2026-03-10`, 1, "sms", ["caregiver-1"])));
    await waitFor("store failures", () => state.failures >= 3);
    expect(r.health().state).toBe("degraded");
    const h = await fetch(api.url + "/healthz");
    expect(h.status).toBe(503);
    expect(((await h.json()) as { state: string }).state).toBe("degraded");
    expect(sent.length).toBe(0);
    await sleep(300);
    state.down = false;
    await Promise.all(pubs);
    await waitFor("all receipts", () => d.rcpts.length === N, 20_000);
    await sleep(200);
    expect(sent.length).toBe(N);
    expect(new Set(sent).size).toBe(N);
    expect(r.health().state).toBe("ok");
    expect((await fetch(api.url + "/healthz")).status).toBe(200);
  });

  it("a relay that dies while its store fails acknowledged nothing: its successor gets every message", async () => {
    const db = await openSqliteDb(join(tmp.dir, "crash.sqlite"));
    cleanup.push(() => db.close());
    const state = { down: true, failures: 0 };
    const sent: string[] = [];
    const first = await start(flaky(db, state), sent, { instanceId: "relay-crash" });
    const d = await device(broker.url, "dk-0002");
    cleanup.push(() => d.c.endAsync());
    const N = 30;
    for (let i = 0; i < N; i++) await d.evt("relay.request", request("dk-0002", `c${i}@2026-03-10`, 1, "sms", ["caregiver-1"]));
    await waitFor("store failures", () => state.failures >= 3);
    await first.abort(); // crash: no goodbye, nothing more touches the store
    state.down = false;
    // Same client id, persistent session: the broker hands over what was never acknowledged.
    await start(db, sent, { instanceId: "relay-crash" });
    await waitFor("all receipts", () => d.rcpts.length === N, 20_000);
    await sleep(200);
    expect(sent.length).toBe(N);
    expect(new Set(sent).size).toBe(N);
  });

  it("a SQLite file locked by another process: nothing lost, nothing sent twice", async () => {
    const file = join(tmp.dir, "locked.sqlite");
    const db = await openSqliteDb(file);
    cleanup.push(() => db.close());
    const sent: string[] = [];
    const logs: string[] = [];
    await start(db, sent, { log: (l: string) => logs.push(l), pollMs: 1000 });
    const d = await device(broker.url, "dk-0002");
    cleanup.push(() => d.c.endAsync());
    // Another process takes the write lock for 3 s and, while it holds it, a device publishes
    // 20 escalation requests (from that process: better-sqlite3 waits synchronously, so the
    // relay's own process stands still while the lock is held).
    const N = 20;
    const script = `
      const D = require("better-sqlite3"); const mqtt = require("mqtt");
      const db = new D(${JSON.stringify(file)}); db.exec("BEGIN EXCLUSIVE");
      const c = mqtt.connect(${JSON.stringify(broker.url)}, { clientId: "locker-dev", protocolVersion: 4 });
      c.on("connect", async () => {
        for (let i = 0; i < ${N}; i++) {
          const data = ${JSON.stringify(request("dk-0002", "SLOT", 1, "sms", ["caregiver-1"]))};
          data.slot = "l" + i + "@2026-03-10"; data.key = "dk-0002/" + data.slot + "/1.0";
          c.publish("dk/dk-0002/evt", JSON.stringify({ v: 1, id: "dk-0002-9-" + i, seq: i + 1, type: "relay.request", cls: "dose", t: null, mono: i, data }), { qos: 1 });
        }
        setTimeout(() => { db.exec("COMMIT"); db.close(); c.end(false, () => process.exit(0)); }, 3000);
      });`;
    const locker = spawn(process.execPath, ["-e", script], { cwd: join(__dirname, "../../.."), stdio: ["ignore", "inherit", "inherit"] });
    await new Promise<void>((res) => locker.once("exit", () => res()));
    await waitFor("all receipts", () => d.rcpts.length === N, 30_000);
    await sleep(200);
    expect(sent.length).toBe(N);
    expect(new Set(sent).size).toBe(N);
    expect(logs.some((l) => l.includes("store failing"))).toBe(true);
    expect(logs.some((l) => l.includes("store recovered"))).toBe(true);
  });

  it("a poison message is stored as a coded problem and never blocks the stream", async () => {
    const db = await openSqliteDb(join(tmp.dir, "poison.sqlite"));
    cleanup.push(() => db.close());
    const sent: string[] = [];
    // recordEvent throws for one event id only: the store works, that message does not.
    const poisoned = failingFor(db, "dk-0001-poison", () => new Error("CHECK constraint failed (test)"));
    const r = await start(poisoned, sent);
    const d = await device(broker.url, "dk-0001");
    cleanup.push(() => d.c.endAsync());
    await d.evt("relay.request", request("dk-0001", "p0@2026-03-10", 1, "sms", ["caregiver-1"]), "dk-0001-poison");
    await d.evt("relay.request", request("dk-0001", "p1@2026-03-10", 1, "sms", ["caregiver-1"]));
    await waitFor("the next message delivered", () => d.rcpts.length === 1, 10_000);
    await waitFor("the poison message recorded", async () =>
      (await db.auditList({ action: "message.problem" })).some((p) => p.code === "RELAY_POISON"),
    );
    await waitFor("healthy again", () => r.health().state === "ok");
    expect(sent.length).toBe(1);
  });

  it("a message the store cannot take (disk full) while small writes still fit is held, never poison", async () => {
    const db = await openSqliteDb(join(tmp.dir, "full.sqlite"));
    cleanup.push(() => db.close());
    const sent: string[] = [];
    // The probe (an empty unit) and the poison audit would fit; this message does not, 8 times.
    let left = 8;
    const full = failingFor(db, "dk-0001-big", () =>
      left-- > 0 ? Object.assign(new Error("database or disk is full"), { code: "SQLITE_FULL" }) : undefined,
    );
    const r = await start(full, sent);
    const d = await device(broker.url, "dk-0001");
    cleanup.push(() => d.c.endAsync());
    await d.evt("relay.request", request("dk-0001", "f0@2026-03-10", 1, "sms", ["caregiver-1"]), "dk-0001-big");
    await waitFor("delivered once the disk has room", () => sent.length === 1, 20_000);
    expect(left).toBeLessThan(0);
    expect((await db.auditList({ action: "message.problem" })).filter((p) => p.code === "RELAY_POISON")).toEqual([]);
    await waitFor("healthy again", () => r.health().state === "ok");
  });

  it("store faults are told from data errors", () => {
    const err = (code: string) => Object.assign(new Error(code), { code });
    for (const c of ["SQLITE_FULL", "SQLITE_IOERR_WRITE", "SQLITE_BUSY", "53100", "57P01", "08006", "40P01", "ECONNREFUSED", "EFBIG"])
      expect(isStoreFault(err(c)), c).toBe(true);
    for (const c of ["SQLITE_CONSTRAINT_CHECK", "SQLITE_MISMATCH", "23505", "22P02"]) expect(isStoreFault(err(c)), c).toBe(false);
    expect(isStoreFault(new Error("Connection terminated unexpectedly"))).toBe(true);
    expect(isStoreFault(new Error("CHECK constraint failed"))).toBe(false);
  });

  it("retained status and telemetry replayed at subscription are not liveness", async () => {
    const db = await openSqliteDb(join(tmp.dir, "retained.sqlite"));
    cleanup.push(() => db.close());
    const pub = await device(broker.url, "dk-0001");
    cleanup.push(() => pub.c.endAsync());
    // What a broker holds for a device that went offline long ago.
    await pub.c.publishAsync("dk/dk-0001/status", JSON.stringify({ v: 1, online: false }), { qos: 1, retain: true });
    await pub.c.publishAsync("dk/dk-0001/tele", JSON.stringify({ v: 1, t: null, fw: "x", outbox: 0 }), { qos: 1, retain: true });
    const lastSeen = Date.parse("2026-03-10T06:00:00Z");
    await db.touchDevice("dk-0001", lastSeen);
    await db.setOnline("dk-0001", false, lastSeen + 1000);
    const sent: string[] = [];
    let now = Date.parse("2026-03-10T09:00:00Z");
    await start(db, sent, { clock: () => now });
    await sleep(300);
    const st = await db.deviceState("dk-0001");
    expect(st?.lastSeen).toBe(lastSeen);
    expect(st?.offlineSince).toBe(lastSeen + 1000);
    // A live message (not retained) does count.
    now += 60_000;
    await pub.c.publishAsync("dk/dk-0001/tele", JSON.stringify({ v: 1, t: null, fw: "x", outbox: 0 }), { qos: 1 });
    await waitFor("live tele counted", async () => (await db.deviceState("dk-0001"))?.lastSeen === now);
    await pub.c.publishAsync("dk/dk-0001/status", "", { qos: 1, retain: true });
    await pub.c.publishAsync("dk/dk-0001/tele", "", { qos: 1, retain: true });
  });
});
