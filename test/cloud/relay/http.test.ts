/** HTTP API: adherence per local day, FHIR R4 export validated with ajv, config upload, audit of reads. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import Ajv from "ajv";
import { openSqliteDb } from "../../../cloud/relay/db";
import { startRelayHttp } from "../../../cloud/relay/http";
import { fhirR4MedicationAdministrationSchema } from "../../../cloud/fhir/schema";
import { isE164, parseContacts, quietUntil } from "../../../cloud/relay/contacts";
import type { RelayDb, StoredEvent } from "../../../cloud/relay/types";
import { contactsFor, tempDir } from "./helpers";

const CONFIG = JSON.parse(readFileSync(join(__dirname, "../../fixtures/configs/dk-0001-4x.json"), "utf8")) as Record<string, unknown>;
let tmp: ReturnType<typeof tempDir>;
let db: RelayDb;
let api: { url: string; close(): Promise<void> };
const NOW = Date.parse("2026-03-12T12:00:00Z");
const ajv = new Ajv({ allErrors: true, strict: false });
const validate = ajv.compile(fhirR4MedicationAdministrationSchema);

let seq = 0;
function ev(type: string, slot: string | null, data: Record<string, unknown>, t: string): StoredEvent {
  seq++;
  return {
    device: "dk-0001",
    id: "e" + seq,
    seq,
    type,
    tMs: Date.parse(t),
    slot,
    data: { ...(slot ? { slot } : {}), ...data },
    receivedAt: Date.parse(t),
  };
}

beforeAll(async () => {
  tmp = tempDir();
  db = await openSqliteDb(join(tmp.dir, "h.sqlite"));
  await db.putKv("contacts", JSON.stringify(contactsFor("http://x")), 1);
  api = await startRelayHttp({
    db,
    tokens: { "tok-pharma-0123456789": "pharmacist:dupont", "tok-care-0123456789ab": "caregiver:marc" },
    clock: () => NOW,
  });
  const events = [
    // 2026-03-10: am on time, noon late, pm missed, bed partial
    ev("dose.taken", "am@2026-03-10", { comp: "morning", pills: 3, mg: 1240, lateMin: 5 }, "2026-03-10T07:05:00Z"),
    ev("dose.late", "noon@2026-03-10", { comp: "noon" }, "2026-03-10T12:00:00Z"),
    ev("dose.taken", "noon@2026-03-10", { comp: "noon", pills: 1, mg: 1010, lateMin: 40 }, "2026-03-10T12:10:00Z"),
    ev("dose.missed", "pm@2026-03-10", { comp: "evening" }, "2026-03-10T20:00:00Z"),
    ev("dose.partial", "bed@2026-03-10", { comp: "night", pills: 0, expected: 1, final: true }, "2026-03-11T00:00:00Z"),
    // 2026-03-11: am early, noon/pm/bed unreported (box off); the duplicate of a missed then taken counts late
    ev("dose.taken_early", "am@2026-03-11", { comp: "morning", pills: 3, mg: 1240, earlyMin: 20 }, "2026-03-11T06:40:00Z"),
    ev("dose.missed", "noon@2026-03-11", { comp: "noon" }, "2026-03-11T13:30:00Z"),
    ev("dose.taken", "noon@2026-03-11", { comp: "noon", pills: 1, mg: 1010, lateMin: 130, afterMissed: true }, "2026-03-11T13:40:00Z"),
    ev("fault", null, { code: "LOADCELL_NOISY" }, "2026-03-11T14:00:00Z"),
  ];
  for (const e of events) await db.recordEvent(e);
});
afterAll(async () => {
  await api.close();
  await db.close();
  tmp.cleanup();
});

const get = (path: string, token = "tok-pharma-0123456789") => fetch(api.url + path, { headers: { authorization: "Bearer " + token } });

describe("HTTP API", () => {
  it("refuses without a token; PUT config validates, versions and audits", async () => {
    expect((await fetch(api.url + "/api/devices/dk-0001/adherence")).status).toBe(401);
    const put = (body: unknown) =>
      fetch(api.url + "/api/devices/dk-0001/config", {
        method: "PUT",
        headers: { authorization: "Bearer tok-pharma-0123456789" },
        body: JSON.stringify(body),
      });
    expect((await put({ ...CONFIG, tz: "nowhere" })).status).toBe(422);
    expect((await put({ ...CONFIG, device: "dk-0002" })).status).toBe(422);
    const ok = await put(CONFIG);
    expect(ok.status).toBe(200);
    expect((await put(CONFIG)).status).toBe(409);
    expect(
      (
        await fetch(api.url + "/api/devices/dk-0001/config", {
          method: "PUT",
          headers: { authorization: "Bearer tok-pharma-0123456789" },
          body: "{",
        })
      ).status,
    ).toBe(400);
    const a = await db.auditList({ device: "dk-0001" });
    expect(a.map((x) => `${x.action}:${x.code ?? ""}:${x.actor}`)).toEqual([
      `config.refused:${a[0].code ?? ""}:pharmacist:dupont`,
      "config.refused:CFG_DEVICE:pharmacist:dupont",
      "config.pushed::pharmacist:dupont",
      "config.refused:CFG_STALE:pharmacist:dupont",
    ]);
    expect(a[0].code).toMatch(/^CFG_/);
  });

  it("hostile requests: prototype names are no tokens, spoofed actors ignored, bad bodies 400, big bodies 413", async () => {
    for (const t of ["constructor", "__proto__", "toString", "hasOwnProperty", "tok-pharma"]) {
      expect((await get("/api/devices/dk-0001/adherence", t)).status).toBe(401);
    }
    const anon = await fetch(api.url + "/api/devices/dk-0001/config", {
      method: "PUT",
      headers: { "x-actor": "pharmacist:dupont", "content-type": "application/json" },
      body: JSON.stringify({ ...CONFIG, version: 99, doses: [] }),
    });
    expect(anon.status).toBe(401);
    const auth = { authorization: "Bearer tok-pharma-0123456789", "x-actor": "someone-else" };
    for (const body of ["null", "[]", "42", '"x"']) {
      const r = await fetch(api.url + "/api/devices/dk-0001/config", { method: "PUT", headers: auth, body });
      expect(r.status).toBe(400);
      expect(((await r.json()) as { code: string }).code).toBe("RELAY_JSON");
    }
    const big = await fetch(api.url + "/api/devices/dk-0001/config", { method: "PUT", headers: auth, body: "x".repeat(300 * 1024) });
    expect(big.status).toBe(413);
    // The actor is the token's, never the X-Actor header.
    const a = await db.auditList({ device: "dk-0001", limit: 10000 });
    expect(a.some((x) => x.actor === "someone-else")).toBe(false);
  });

  it("refuses to start without tokens unless explicitly insecure", async () => {
    await expect(startRelayHttp({ db, port: 0 })).rejects.toThrow(/tokens required/);
    await expect(startRelayHttp({ db, port: 0, tokens: { short: "x" } })).rejects.toThrow(/16 characters/);
    const open = await startRelayHttp({ db, port: 0, insecureDev: true });
    expect((await fetch(open.url + "/api/devices/dk-0009/adherence")).status).toBe(200);
    await open.close();
  });

  it("adherence per local day: on time / late / missed / partial / unreported", async () => {
    const r = await get("/api/devices/dk-0001/adherence?from=2026-03-10&to=2026-03-11", "tok-care-0123456789ab");
    expect(r.status).toBe(200);
    const j = (await r.json()) as { days: unknown[]; tz: string };
    expect(j.tz).toBe("CET-1CEST,M3.5.0,M10.5.0/3");
    expect(j.days).toEqual([
      { date: "2026-03-10", onTime: 1, late: 1, missed: 1, partial: 1, unreported: 0 },
      { date: "2026-03-11", onTime: 1, late: 1, missed: 0, partial: 0, unreported: 2 },
    ]);
    const reads = await db.auditList({ action: "history.read" });
    expect(reads.at(-1)).toMatchObject({ actor: "caregiver:marc", device: "dk-0001", t: NOW });
    expect((await get("/api/devices/dk-0001/adherence?from=2026-03-12&to=2026-03-01")).status).toBe(400);
    expect((await get("/api/devices/DK!/adherence")).status).toBe(400);
  });

  it("FHIR R4 Bundle of MedicationAdministration, valid against the schema subset", async () => {
    const r = await get("/api/devices/dk-0001/fhir?from=2026-03-10&to=2026-03-11");
    expect(r.headers.get("content-type")).toBe("application/fhir+json");
    const b = (await r.json()) as { entry: { resource: Record<string, any> }[] };
    const ok = validate(b);
    expect(validate.errors ?? []).toEqual([]);
    expect(ok).toBe(true);
    expect(b.entry.length).toBe(8);
    const by = (slot: string) => b.entry.find((e) => e.resource.identifier[0].value === "dk-0001/" + slot)!.resource;
    expect(by("am@2026-03-10")).toMatchObject({
      status: "completed",
      subject: { reference: "Patient/jeanne-1" },
      effectiveDateTime: "2026-03-10T07:05:00.000Z",
      dosage: { dose: { value: 3 } },
    });
    expect(by("am@2026-03-10").medicationCodeableConcept.text).toBe("Metformine 850 mg + Ramipril 5 mg + Kardégic 75 mg");
    expect(by("pm@2026-03-10")).toMatchObject({ status: "not-done", statusReason: [{ coding: [{ code: "missed" }] }] });
    expect(by("pm@2026-03-10").dosage).toBeUndefined();
    expect(by("bed@2026-03-11")).toMatchObject({ status: "not-done", statusReason: [{ coding: [{ code: "unreported" }] }] });
    expect(by("bed@2026-03-10").note[0].text).toBe("Partial dose: 0 of 1 pills removed");
    // the schema catches what matters
    const bad = JSON.parse(JSON.stringify(b)) as typeof b;
    bad.entry[0].resource.status = "done";
    delete bad.entry[1].resource.subject;
    bad.entry[2].resource.effectivePeriod = { start: "2026-03-10" };
    bad.entry[3].resource.dosage = { text: "x" };
    expect(validate(bad)).toBe(false);
    const paths = (validate.errors ?? []).map((e) => e.instancePath + " " + e.keyword);
    expect(paths).toContain("/entry/0/resource/status enum");
    expect(paths).toContain("/entry/1/resource required");
    expect(paths).toContain("/entry/2/resource oneOf");
    expect(paths).toContain("/entry/3/resource/dosage anyOf");
  });

  it("audit API is itself audited", async () => {
    const r = await get("/api/audit?device=dk-0001&action=history.read");
    const j = (await r.json()) as { entries: unknown[] };
    expect(j.entries.length).toBe(2);
    expect((await db.auditList({ action: "audit.read" })).length).toBe(1);
  });
});

describe("contacts", () => {
  it("E.164 validation and coded problems", () => {
    expect(isE164("+33612345678")).toBe(true);
    for (const bad of ["0612345678", "+0612345678", "+33 6 12", "+1234567890123456", "+12345", 33612345678])
      expect(isE164(bad)).toBe(false);
    const { book, problems } = parseContacts({
      people: {
        a: { phone: "+33612345678", push: [{ endpoint: "ftp://x", keys: {} }], channels: ["fax"] },
        b: { phone: "12" },
        "bad id!": {},
      },
      devices: { "dk-1": { recipients: { patient: "a", "caregiver-1": "zz", "+33": "a" }, pharmacist: "nobody" }, BAD: {} },
      fallback: "b",
    });
    expect(problems.map((p) => `${p.code} ${p.path}`).sort()).toEqual(
      [
        "RELAY_BAD_PHONE people.b.phone",
        "RELAY_FIELD devices.BAD",
        "RELAY_FIELD devices.dk-1.recipients.+33",
        "RELAY_FIELD people.a.channels",
        "RELAY_FIELD people.a.push[0]",
        "RELAY_FIELD people.bad id!",
        "RELAY_UNKNOWN_RECIPIENT devices.dk-1.pharmacist",
        "RELAY_UNKNOWN_RECIPIENT devices.dk-1.recipients.caregiver-1",
      ].sort(),
    );
    expect(book.people.b.phone).toBeUndefined();
    expect(book.devices["dk-1"].recipients).toEqual({ patient: "a" });
    expect(parseContacts(null).problems[0].code).toBe("RELAY_FIELD");
  });

  it("quiet hours across midnight in the person's zone, DST included", () => {
    const q = { from: "22:00", to: "07:00", tz: "CET-1CEST,M3.5.0,M10.5.0/3" };
    expect(quietUntil(q, Date.parse("2026-03-10T20:59:00Z"))).toBeUndefined();
    expect(quietUntil(q, Date.parse("2026-03-10T21:00:00Z"))).toBe(Date.parse("2026-03-11T06:00:00Z"));
    expect(quietUntil(q, Date.parse("2026-03-11T05:00:00Z"))).toBe(Date.parse("2026-03-11T06:00:00Z"));
    expect(quietUntil(q, Date.parse("2026-03-11T06:00:00Z"))).toBeUndefined();
    expect(quietUntil(q, Date.parse("2026-03-28T22:00:00Z"))).toBe(Date.parse("2026-03-29T05:00:00Z")); // CEST next morning
    expect(quietUntil({ from: "13:00", to: "14:00" }, Date.parse("2026-03-10T13:30:00Z"))).toBe(Date.parse("2026-03-10T14:00:00Z"));
  });
  it("events: the stored events since a time, oldest first, newest N, token required, audited", async () => {
    expect((await fetch(api.url + "/api/devices/dk-0001/events")).status).toBe(401);
    const day = (await (await get("/api/devices/dk-0001/events")).json()) as {
      since: string;
      events: { id: string; type: string; t: string }[];
    };
    expect(day.since).toBe("2026-03-11T12:00:00.000Z");
    expect(day.events.every((e) => e.t >= "2026-03-11T12:00:00.000Z")).toBe(true);
    expect(day.events.map((e) => e.type)).toEqual(["dose.missed", "dose.taken", "fault"]);
    const all = (await (await get("/api/devices/dk-0001/events?since=2026-03-09T00:00:00Z&limit=2")).json()) as {
      events: { type: string }[];
    };
    expect(all.events.map((e) => e.type)).toEqual(["dose.taken", "fault"]);
    for (const bad of ["since=yesterday", "since=2020-01-01T00:00:00Z", "limit=0", "limit=9999999", "limit=abc"]) {
      const r = await get("/api/devices/dk-0001/events?" + bad);
      expect(r.status).toBe(400);
    }
    const audit = (await (await get("/api/audit?action=history.read&limit=5")).json()) as { entries: { detail: string }[] };
    expect(audit.entries.some((e) => e.detail.includes('"what":"events"'))).toBe(true);
  });
});
