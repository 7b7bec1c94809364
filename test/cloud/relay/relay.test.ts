/**
 * End to end on an embedded aedes broker (no $share: plain subscriptions, every instance sees every
 * message) with SQLite, providers against a local HTTP server.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import { openSqliteDb } from "../../../cloud/relay/db";
import { startRelay, type RelayHandle, type RelayOptions } from "../../../cloud/relay/service";
import type { Notice, Person, Providers, RelayDb, RemoteChannel } from "../../../cloud/relay/types";
import { contactsFor, device, providersFor, request, sleep, startAedes, startMockHttp, tempDir, waitFor } from "./helpers";

let broker: Awaited<ReturnType<typeof startAedes>>;
let srv: Awaited<ReturnType<typeof startMockHttp>>;
let tmp: ReturnType<typeof tempDir>;
const open: { relays: RelayHandle[]; dbs: RelayDb[]; devs: { c: { endAsync(): Promise<void> } }[] } = { relays: [], dbs: [], devs: [] };

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
  for (const r of open.relays.splice(0)) await r.abort();
  for (const d of open.devs.splice(0)) await d.c.endAsync();
  for (const d of open.dbs.splice(0)) await d.close();
  srv.requests.length = 0;
  srv.respond = () => 201;
});

let n = 0;
async function db(file?: string): Promise<RelayDb> {
  const d = await openSqliteDb(file ?? join(tmp.dir, `r${++n}.sqlite`));
  open.dbs.push(d);
  return d;
}

/** Wraps providers to record every successful send (key, person, channel). */
function counting(p: Providers, sent: string[]): Providers {
  const out: Providers = {};
  for (const ch of ["push", "sms", "call"] as RemoteChannel[]) {
    const inner = p[ch];
    if (!inner) continue;
    out[ch] = {
      name: inner.name,
      async send(c: RemoteChannel, to: Person, nt: Notice) {
        const r = await inner.send(c, to, nt);
        if (r.ok) sent.push(`${nt.key}|${to.id}|${c}|${nt.kind}`);
        return r;
      },
    };
  }
  return out;
}

async function relay(d: RelayDb, extra: Partial<RelayOptions> = {}): Promise<RelayHandle> {
  const r = await startRelay({
    brokerUrl: broker.url,
    db: d,
    providers: providersFor(srv.url),
    contacts: contactsFor(srv.url),
    deadman: false,
    pollMs: 20,
    leaseMs: 2000,
    retry: { baseMs: 30, maxAttempts: 6 },
    log: () => undefined,
    ...extra,
  });
  open.relays.push(r);
  return r;
}
async function dev(id = "dk-0001") {
  const d = await device(broker.url, id);
  open.devs.push(d);
  return d;
}

describe("relay on aedes + SQLite", () => {
  it("delivers a request to each recipient once, publishes a receipt, dedupes repeats", async () => {
    const d1 = await db();
    const r = await relay(d1);
    expect(r.shared).toBe(false); // aedes refuses MQTT 5: plain subscription
    const d = await dev();
    const data = request("dk-0001", "am@2026-03-10", 3, "push", ["patient", "caregiver-1"]);
    const id = await d.evt("relay.request", data);
    await waitFor("receipt", () => d.rcpts.length === 1);
    expect(srv.requests.map((q) => q.url).sort()).toEqual(["/push/jeanne", "/push/marc"]);
    expect(d.rcpts[0]).toMatchObject({
      v: 1,
      key: data.key,
      status: "delivered",
      ch: "push",
      to: { patient: "delivered", "caregiver-1": "delivered" },
    });
    await d.evt("relay.request", data, id); // device re-publish after reconnect (same id)
    await d.evt("relay.request", data); // another event with the same dedupe key
    await sleep(150);
    expect(srv.requests.length).toBe(2);
    expect(d.rcpts.length).toBe(1);
    const sent = await d1.auditList({ action: "notify.sent" });
    expect(sent.map((a) => JSON.parse(a.detail).ref).sort()).toEqual(["caregiver-1", "patient"]);
    expect(sent.every((a) => a.actor.startsWith("relay:") && a.t > 0)).toBe(true);
  });

  it("a help request (long press, no slot) reaches its recipients at once, once", async () => {
    const d1 = await db();
    await relay(d1);
    const d = await dev();
    const data = { key: "dk-0001/help/b", ch: "sms", to: ["caregiver-1"], help: true, at: "2026-03-10T09:00:00.000Z" };
    const id = await d.evt("relay.request", data);
    await waitFor("receipt", () => d.rcpts.length === 1);
    expect(d.rcpts[0]).toMatchObject({ key: data.key, status: "delivered" });
    expect(srv.requests.length).toBe(1);
    expect(srv.requests[0].body.toString()).toContain("help");
    await d.evt("relay.request", data, id);
    await sleep(150);
    expect(srv.requests.length).toBe(1);
    expect(await d1.auditList({ action: "request.problem" })).toEqual([]);
  });

  it("stock.low: the pharmacist and the stock caregivers are told once, in their language, at low priority", async () => {
    const d1 = await db();
    const book = contactsFor(srv.url) as { devices: Record<string, Record<string, unknown>> };
    book.devices["dk-0001"].stock = ["caregiver-1", "patient"];
    const sent: string[] = [];
    // Noon in Paris: outside Marc's quiet hours (a low-priority notice would wait for their end).
    await relay(d1, { contacts: book, providers: counting(providersFor(srv.url), sent), clock: () => Date.parse("2026-03-12T11:00:00Z") });
    const d = await dev();
    const data = { comp: "morning", doses: 4, days: 2, lowDays: 3 };
    const id = await d.evt("stock.low", data);
    await waitFor("three notices", () => sent.length === 3);
    expect(sent.map((x) => x.split("|").slice(1).join("|")).sort()).toEqual([
      "dupont|sms|low-stock",
      "jeanne|push|low-stock",
      "marc|push|low-stock",
    ]);
    const sms = srv.requests.find((q) => q.url.endsWith("Messages.json"))!;
    expect(new URLSearchParams(sms.body.toString()).get("Body")).toContain("4 doses left (2 days). Please plan a refill.");
    await d.evt("stock.low", data, id); // the same event again (redelivery): nothing more
    await sleep(200);
    expect(sent.length).toBe(3);
  });

  it("a crash loop (boot.safe_mode) and a rolled-back update tell the pharmacist once each, in words", async () => {
    const d1 = await db();
    const sent: string[] = [];
    await relay(d1, { providers: counting(providersFor(srv.url), sent), clock: () => Date.parse("2026-03-12T11:00:00Z") });
    const d = await dev();
    const id = await d.evt("boot.safe_mode", { crashes: 5, reason: "watchdog" });
    await waitFor("the safe-mode notice", () => sent.length === 1);
    expect(sent[0]).toBe(`dk-0001/evt/${id}|dupont|sms|safe-mode`);
    await d.evt("ota.rolled_back", { tried: "0.2.0", running: "0.1.0", reason: "OTA_SELFTEST", failed: ["broker"] });
    await d.evt("ota.rolled_back", { tried: "<script>", running: "0.1.0", reason: "made up" });
    await waitFor("two rollback notices", () => sent.length === 3);
    const bodies = srv.requests
      .filter((q) => q.url.endsWith("Messages.json"))
      .map((q) => new URLSearchParams(q.body.toString()).get("Body") ?? "");
    expect(bodies.some((b) => b.includes("restarted 5 times in a row after a crash and runs in safe mode"))).toBe(true);
    expect(
      bodies.some((b) => b.includes("firmware 0.2.0 was rolled back (its self-test failed); it runs the previous version 0.1.0")),
    ).toBe(true);
    expect(bodies.some((b) => b.includes("<script>"))).toBe(false);
    await d.evt("boot.safe_mode", { crashes: 5, reason: "watchdog" }, id); // redelivery: nothing more
    await sleep(200);
    expect(sent.length).toBe(3);
  });

  it("telemetry that says the weight cannot confirm a compartment tells the pharmacist once per config", async () => {
    const d1 = await db();
    const sent: string[] = [];
    await relay(d1, { providers: counting(providersFor(srv.url), sent), clock: () => Date.parse("2026-03-12T11:00:00Z") });
    const d = await dev();
    const tele = (hash: string) =>
      JSON.stringify({
        v: 1,
        t: "2026-03-12T11:00:00.000Z",
        cfg: { version: 3, hash },
        weigh: [
          { comp: "morning", z: 7.9, sure: true },
          { comp: "evening", z: 2.1, sure: false },
          { comp: "pain", z: null, sure: null },
        ],
      });
    await d.raw("dk/dk-0001/tele", tele("aaaa"));
    await waitFor("the pharmacist's notice", () => sent.length === 1);
    expect(sent[0]).toBe("dk-0001/weigh/aaaa/evening|dupont|sms|weigh");
    const sms = srv.requests.find((q) => q.url.endsWith("Messages.json"))!;
    expect(new URLSearchParams(sms.body.toString()).get("Body")).toContain("too light for the scale to confirm");
    await d.raw("dk/dk-0001/tele", tele("aaaa")); // every 5 min the same: nothing more
    await sleep(200);
    expect(sent.length).toBe(1);
    await d.raw("dk/dk-0001/tele", tele("bbbb")); // a new config: told again
    await waitFor("told for the new config", () => sent.length === 2);
    // Hostile shapes are ignored, never crash the relay.
    await d.raw("dk/dk-0001/tele", JSON.stringify({ v: 1, cfg: { hash: "cccc" }, weigh: [{ comp: "../x", sure: false }, 7, null] }));
    await d.raw("dk/dk-0001/tele", JSON.stringify({ v: 1, cfg: { hash: "dddd" }, weigh: "no" }));
    await sleep(200);
    expect(sent.length).toBe(2);
  });

  it("two instances on the same SQLite file: every escalation delivered exactly once", async () => {
    const file = join(tmp.dir, "shared.sqlite");
    const sent: string[] = [];
    const a = await relay(await db(file), { providers: counting(providersFor(srv.url), sent), instanceId: "ra" });
    const b = await relay(await db(file), { providers: counting(providersFor(srv.url), sent), instanceId: "rb", contacts: undefined });
    expect(a.shared || b.shared).toBe(false);
    const d1 = await dev("dk-0001");
    const d2 = await dev("dk-0002");
    const N = 40;
    for (let i = 0; i < N; i++) {
      await d1.evt("relay.request", request("dk-0001", `s${i}@2026-03-10`, 1, "sms", ["caregiver-1"]));
      await d2.evt("relay.request", request("dk-0002", `s${i}@2026-03-10`, 1, "sms", ["caregiver-1"]));
    }
    await waitFor("all receipts", () => d1.rcpts.length === N && d2.rcpts.length === N);
    await sleep(100);
    expect(sent.length).toBe(2 * N);
    expect(new Set(sent).size).toBe(2 * N);
    expect(srv.requests.length).toBe(2 * N);
    expect(new Set(d1.rcpts.map((x) => x.key)).size).toBe(N);
    const owners = new Set((await open.dbs[0].auditList({ action: "notify.sent", limit: 10000 })).map((x) => x.actor));
    expect(owners.size).toBeGreaterThanOrEqual(1);
  });

  it("provider outage (503) then recovery: delivered once after retries", async () => {
    const d1 = await db();
    await relay(d1);
    let calls = 0;
    srv.respond = () => (++calls <= 3 ? 503 : 201);
    const d = await dev();
    const data = request("dk-0001", "noon@2026-03-10", 4, "sms", ["caregiver-1"]);
    await d.evt("relay.request", data);
    await waitFor("receipt", () => d.rcpts.length === 1);
    expect(calls).toBe(4);
    expect(d.rcpts[0]).toMatchObject({ key: data.key, status: "delivered" });
    expect((await d1.auditList({ action: "notify.retry" })).map((a) => a.code)).toEqual(["HTTP_503", "HTTP_503", "HTTP_503"]);
    await sleep(150);
    expect(calls).toBe(4);
  });

  it("4xx: failed without retry, receipt failed with the code, fallback to the pharmacist", async () => {
    const d1 = await db();
    await relay(d1);
    srv.respond = (q) => (new URLSearchParams(q.body.toString()).get("To") === "+33622222222" ? 400 : 201);
    const d = await dev();
    const data = request("dk-0001", "pm@2026-03-10", 5, "sms", ["caregiver-1"]);
    await d.evt("relay.request", data);
    await waitFor("receipt", () => d.rcpts.length === 1);
    expect(d.rcpts[0]).toMatchObject({
      key: data.key,
      status: "failed",
      code: "HTTP_400",
      to: { "caregiver-1": "failed" },
      fallback: "delivered",
    });
    const tos = srv.requests.map((q) => new URLSearchParams(q.body.toString()).get("To"));
    expect(tos).toEqual(["+33622222222", "+33144444444"]);
    expect(new URLSearchParams(srv.requests[1].body.toString()).get("Body")).toContain("HTTP_400");
    expect((await d1.auditList({ action: "notify.failed" }))[0]).toMatchObject({ code: "HTTP_400", device: "dk-0001" });
  });

  it("relay restart: a pending (retrying) job is not forgotten", async () => {
    const file = join(tmp.dir, "restart.sqlite");
    const d1 = await db(file);
    const r1 = await relay(d1, { retry: { baseMs: 200, maxAttempts: 8 } });
    srv.respond = () => 503;
    const d = await dev();
    const data = request("dk-0001", "bed@2026-03-10", 2, "sms", ["caregiver-1"]);
    await d.evt("relay.request", data);
    await waitFor("first attempt", () => srv.requests.length >= 1);
    await r1.abort();
    await waitFor("job back to pending", async () => (await d1.countJobs("pending")) === 1);
    srv.respond = () => 201;
    await relay(await db(file), { contacts: undefined, instanceId: "restarted" });
    await waitFor("receipt", () => d.rcpts.length === 1);
    expect(d.rcpts[0]).toMatchObject({ key: data.key, status: "delivered" });
    expect((await d1.auditList({ action: "notify.sent" }))[0].actor).toBe("relay:restarted");
  });

  it("relay.resolve cancels every pending step of the slot; a late request for it is stale", async () => {
    const d1 = await db();
    await relay(d1, { retry: { baseMs: 100, maxAttempts: 8 } });
    srv.respond = () => 503;
    const d = await dev();
    const a = request("dk-0001", "am@2026-03-11", 3, "sms", ["caregiver-1"]);
    const b = request("dk-0001", "am@2026-03-11", 4, "call", ["nurse:42"]);
    await d.evt("relay.request", a);
    await d.evt("relay.request", b);
    await waitFor("attempts", () => srv.requests.length >= 2);
    await d.evt("relay.resolve", { slot: "am@2026-03-11", outcome: "taken" });
    await waitFor("receipts", () => d.rcpts.length === 2);
    expect(d.rcpts.map((x) => x.status)).toEqual(["cancelled", "cancelled"]);
    srv.respond = () => 201;
    const before = srv.requests.length;
    await d.evt("relay.request", request("dk-0001", "am@2026-03-11", 5, "sms", ["caregiver-1"]));
    await waitFor("stale receipt", () => d.rcpts.length === 3);
    expect(d.rcpts[2]).toMatchObject({ status: "cancelled" });
    await sleep(300);
    expect(srv.requests.length).toBe(before);
    expect((await d1.auditList({ code: "RELAY_RESOLVED" })).length).toBe(1);
  });

  it("bad inputs never crash: coded audit entries and fallback alerts where a patient is at stake", async () => {
    const d1 = await db();
    await relay(d1);
    const d = await dev();
    await d.raw("dk/dk-0001/evt", "{not json");
    await d.raw("dk/dk-0001/evt", Buffer.from([0xff, 0xfe, 0x00]));
    await d.raw("dk/dk-0001/evt", JSON.stringify({ v: 2, id: "x", type: "boot" }));
    await d.raw("dk/dk-0001/evt", JSON.stringify([1, 2]));
    await d.raw("dk/dk-0001/evt", JSON.stringify({ v: 1, type: "boot" }));
    await d.raw("dk/dk-0001/evt", JSON.stringify({ v: 1, id: "q", type: "boot", data: "str" }));
    await d.raw("dk/dk-0001/evt", "x".repeat(200_000));
    await d.raw("dk/dk-0001/status", JSON.stringify({ v: 1 }));
    await d.raw("dk/dk-0001/tele", "null");
    await d.evt("relay.resolve", { slot: 42 });
    await d.evt("relay.request", { key: 5, ch: "pigeon", to: "patient", slot: "am@2026-03-12" });
    await d.evt("relay.request", request("dk-0001", "noon@2026-03-12", 3, "sms", ["ghost-7"]));
    await d.evt("relay.request", request("dk-0001", "pm@2026-03-12", 3, "sms", ["bad-1"]));
    const stranger = await dev("dk-9999");
    await stranger.evt("relay.request", request("dk-9999", "am@2026-03-12", 3, "sms", ["patient"]));
    const ok = request("dk-0001", "bed@2026-03-12", 3, "push", ["patient"]);
    await d.evt("relay.request", ok);
    await waitFor("valid request still delivered", () => d.rcpts.some((x) => x.key === ok.key && x.status === "delivered"));
    await waitFor("fallbacks", () => srv.requests.filter((q) => q.url.endsWith("Messages.json")).length >= 3);
    await sleep(200);
    const all = await d1.auditList({ limit: 1000 });
    const codes = all.map((a) => a.code);
    for (const c of ["RELAY_JSON", "RELAY_VERSION", "RELAY_FIELD", "RELAY_UNKNOWN_RECIPIENT", "RELAY_BAD_PHONE", "RELAY_UNKNOWN_DEVICE"])
      expect(codes).toContain(c);
    expect((await d1.auditList({ action: "contacts.problem" })).map((a) => a.code)).toContain("RELAY_BAD_PHONE");
    const tos = srv.requests.filter((q) => q.url.endsWith("Messages.json")).map((q) => new URLSearchParams(q.body.toString()).get("To"));
    // malformed request, unknown recipient, bad phone → the pharmacist; an unknown device is refused:
    // nothing stored, nobody paged, no receipt.
    expect(tos.filter((t) => t === "+33144444444").length).toBe(3);
    expect(tos.filter((t) => t === "+33155555555").length).toBe(0);
    expect(stranger.rcpts).toEqual([]);
    expect(all.filter((a) => a.device === "dk-9999").map((a) => `${a.action}:${a.code}`)).toEqual(["message.refused:RELAY_UNKNOWN_DEVICE"]);
  });

  it("a flood from unknown device ids pages nobody and stores nothing; fallback pages are capped per device", async () => {
    const d1 = await db();
    await relay(d1);
    const fakes = await dev("dk-fake");
    for (let i = 0; i < 60; i++) {
      const id = `dk-fake-${i % 20}`;
      await fakes.raw(
        `dk/${id}/evt`,
        JSON.stringify({
          v: 1,
          id: `${id}-1-${i}`,
          seq: i + 1,
          type: "relay.request",
          cls: "dose",
          t: null,
          mono: i,
          data: request(id, `x${i}@2026-03-12`, 1, "sms", ["patient"]),
        }),
      );
    }
    // A known device whose requests all name recipients nobody knows: each would page the pharmacist.
    const d = await dev("dk-0001");
    for (let i = 0; i < 30; i++) await d.evt("relay.request", request("dk-0001", `g${i}@2026-03-12`, 1, "sms", ["ghost-1"]));
    await waitFor("the known device's receipts", () => d.rcpts.length === 30, 15_000);
    await sleep(300);
    const sms = srv.requests.filter((q) => q.url.endsWith("Messages.json"));
    expect(sms.length).toBe(12); // FALLBACKS_PER_HOUR, then RELAY_FALLBACK_LIMITED
    const all = await d1.auditList({ limit: 10000 });
    expect(all.filter((a) => a.code === "RELAY_FALLBACK_LIMITED").length).toBe(18);
    const refused = all.filter((a) => a.code === "RELAY_UNKNOWN_DEVICE");
    expect(refused.length).toBe(20); // once per unknown id
    for (let i = 0; i < 20; i++) expect(await d1.eventsOf(`dk-fake-${i}`, ["relay.request"])).toEqual([]);
  });
});
