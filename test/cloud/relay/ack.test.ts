/**
 * Two-way caregiver acknowledgement end to end: aedes, SQLite, the relay with its HTTP hooks, and
 * a strict mock provider (Twilio REST with Basic auth and required fields; Web Push with VAPID)
 * that sends the callbacks a real one sends, signed with X-Twilio-Signature. Covered: SMS reply,
 * key press on the call, the push action; forged callbacks refused; the chain stays quiet while
 * acknowledged and re-fires after ackRefireMin if the dose is still not taken; a dose taken in
 * the meantime cancels the re-fire; the device is told.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import * as http from "node:http";
import type * as net from "node:net";
import { join } from "node:path";
import { openSqliteDb } from "../../../cloud/relay/db";
import { startRelay, type RelayHandle } from "../../../cloud/relay/service";
import { startRelayHttp } from "../../../cloud/relay/http";
import { twilioSignature } from "../../../cloud/relay/hooks";
import { createTwilioProvider } from "../../../cloud/relay/providers/twilio";
import { createWebPushProvider } from "../../../cloud/relay/providers/webpush";
import type { RelayDb } from "../../../cloud/relay/types";
import { VAPID, decryptPush, device, freePort, pushSubscription, request, sleep, startAedes, tempDir, waitFor } from "./helpers";

const SID = "AC0ack";
const TOKEN = "tw-auth-token-0123456789";
const FROM = "+15550001111";

interface Sent {
  kind: "sms" | "call" | "push";
  to: string;
  form: URLSearchParams;
  body: Buffer;
}

/** A strict stand-in for Twilio's REST API and a push service: wrong auth or missing fields are refused as the real ones do. */
async function strictProvider(): Promise<{ url: string; sent: Sent[]; close(): Promise<void> }> {
  const sent: Sent[] = [];
  let n = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      const reply = (status: number, j: unknown): void => {
        res.writeHead(status, { "content-type": "application/json" });
        res.end(JSON.stringify(j));
      };
      const url = req.url ?? "";
      if (url.startsWith("/push/")) {
        const a = req.headers.authorization ?? "";
        if (!/^vapid t=[\w-]+\.[\w-]+\.[\w-]+, k=[\w-]+$/.test(a) || req.headers["content-encoding"] !== "aes128gcm" || !req.headers.ttl)
          return reply(401, { reason: "UnauthorizedRegistration" });
        sent.push({ kind: "push", to: url, form: new URLSearchParams(), body });
        return reply(201, {});
      }
      const m = /^\/2010-04-01\/Accounts\/([^/]+)\/(Messages|Calls)\.json$/.exec(url);
      if (!m || req.method !== "POST") return reply(404, { code: 20404, message: "not found" });
      if (req.headers.authorization !== "Basic " + Buffer.from(`${SID}:${TOKEN}`).toString("base64") || m[1] !== SID)
        return reply(401, { code: 20003, message: "Authenticate" });
      const form = new URLSearchParams(body.toString());
      const to = form.get("To") ?? "";
      if (!/^\+[1-9]\d{6,14}$/.test(to) || form.get("From") !== FROM) return reply(400, { code: 21211, message: "invalid To/From" });
      if (m[2] === "Messages" && !form.get("Body")) return reply(400, { code: 21602, message: "Body required" });
      if (m[2] === "Calls" && !form.get("Twiml")) return reply(400, { code: 21205, message: "Twiml or Url required" });
      const sid = (m[2] === "Messages" ? "SM" : "CA") + String(++n).padStart(32, "0");
      sent.push({ kind: m[2] === "Messages" ? "sms" : "call", to, form, body });
      return reply(201, { sid, status: "queued" });
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  return {
    url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    sent,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

let broker: Awaited<ReturnType<typeof startAedes>>;
let prov: Awaited<ReturnType<typeof strictProvider>>;
let tmp: ReturnType<typeof tempDir>;
const jeannePush = pushSubscription("");
let db: RelayDb;
let relay: RelayHandle;
let api: { url: string; close(): Promise<void> };
let now = Date.parse("2026-03-12T08:10:00Z"); // 09:10 in Paris: nobody's quiet hours
const open: { c: { endAsync(): Promise<void> } }[] = [];

/** What Twilio does: POST form parameters to our URL, signed with the account's auth token. */
async function twilioCallback(url: string, params: Record<string, string>, token = TOKEN): Promise<Response> {
  const form = new URLSearchParams(params);
  return fetch(url, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", "x-twilio-signature": twilioSignature(token, url, form) },
    body: form.toString(),
  });
}

function contacts(pushBase: string): Record<string, unknown> {
  return {
    people: {
      jeanne: {
        name: "Jeanne",
        phone: "+33611111111",
        push: [{ ...jeannePush.sub, endpoint: pushBase + "/push/jeanne" }],
        channels: ["push"],
        lang: "fr",
      },
      marc: { name: "Marc", phone: "+33622222222", channels: ["sms"] },
      nurse42: { name: "Infirmière 42", phone: "+33633333333", channels: ["call", "sms"], lang: "fr" },
      dupont: { name: "Pharmacie Dupont", phone: "+33144444444", channels: ["sms"] },
    },
    devices: {
      "dk-0001": {
        recipients: { patient: "jeanne", "caregiver-1": "marc", "nurse:42": "nurse42" },
        pharmacist: "dupont",
        ackRefireMin: 10,
      },
    },
  };
}

beforeAll(async () => {
  broker = await startAedes();
  prov = await strictProvider();
  tmp = tempDir();
  db = await openSqliteDb(join(tmp.dir, "ack.sqlite"));
  const port = await freePort();
  const publicUrl = `http://127.0.0.1:${port}`;
  const tw = createTwilioProvider({ baseUrl: prov.url, accountSid: SID, password: TOKEN, from: FROM, callbacks: { publicUrl } });
  relay = await startRelay({
    brokerUrl: broker.url,
    db,
    providers: {
      sms: tw,
      call: tw,
      push: createWebPushProvider({
        vapid: { subject: "mailto:ops@example.org", publicKey: VAPID.publicKey, privateKey: VAPID.privateKey },
        ack: { publicUrl, secret: "push-ack-secret" },
      }),
    },
    contacts: contacts(prov.url),
    deadman: false,
    pollMs: 20,
    clock: () => now,
    log: () => undefined,
  });
  api = await startRelayHttp({
    db,
    port,
    clock: () => now,
    tokens: { "tok-ops-0123456789abcdef": "ops" },
    hooks: { publicUrl, twilioAuthToken: TOKEN, pushSecret: "push-ack-secret", relay: relay.hooks },
  });
});
afterAll(async () => {
  await relay.abort();
  await api.close();
  await db.close();
  await prov.close();
  await broker.close();
  tmp.cleanup();
});
afterEach(async () => {
  for (const d of open.splice(0)) await d.c.endAsync();
});

let devs = 0;
async function dev() {
  const d = await device(broker.url, "dk-0001");
  d.seq = 100 * ++devs; // event ids stay unique across tests (the relay deduplicates by id)
  open.push(d);
  return d;
}

const smsTo = (phone: string) => prov.sent.filter((s) => s.kind === "sms" && s.to === phone);
const audit = async (action: string) => db.auditList({ action, limit: 100 });

describe("caregiver acknowledgement", () => {
  it("SMS reply: forged refused, OK acknowledges; the chain is quiet, then re-fires after ackRefireMin", async () => {
    const d = await dev();
    await d.evt("relay.request", request("dk-0001", "am@2026-03-12", 3, "sms", ["caregiver-1"]));
    await waitFor("sms to marc", () => smsTo("+33622222222").length === 1);
    const sms = smsTo("+33622222222")[0];
    expect(sms.form.get("Body")).toContain("Reply OK to acknowledge.");
    const status = sms.form.get("StatusCallback")!;
    expect(status).toBe(`${api.url}/hooks/twilio/status?key=${encodeURIComponent("dk-0001/am@2026-03-12/3.0")}&p=marc`);
    // The provider's delivery callback, signed: audited.
    expect((await twilioCallback(status, { MessageSid: "SM1", MessageStatus: "delivered" })).status).toBe(204);
    // Forged (wrong token) and unsigned replies change nothing.
    const inbound = `${api.url}/hooks/twilio/sms`;
    expect((await twilioCallback(inbound, { From: "+33622222222", Body: "OK" }, "not-the-token")).status).toBe(403);
    expect((await fetch(inbound, { method: "POST", body: "From=%2B33622222222&Body=OK" })).status).toBe(403);
    expect(await audit("escalation.acked")).toEqual([]);
    // Something else than an acknowledgement: the sender is told how.
    expect(await (await twilioCallback(inbound, { From: "+33622222222", Body: "who is this?" })).text()).toContain("Reply OK");
    // The real reply.
    const r = await twilioCallback(inbound, { From: "+33622222222", Body: " ok! ", MessageSid: "SM9" });
    expect(r.status).toBe(200);
    expect(await r.text()).toContain("Thank you, acknowledged. If the dose is still not taken in 10 min");
    await waitFor("acked receipt on the device", () => d.rcpts.some((x) => x.status === "acked"));
    const ack = d.rcpts.find((x) => x.status === "acked")!;
    expect(ack).toMatchObject({ ch: "sms", by: "caregiver-1", until: new Date(now + 600_000).toISOString() });
    // The next rung of the device's ladder: nothing is sent, its receipt says why.
    await d.evt("relay.request", request("dk-0001", "am@2026-03-12", 4, "sms", ["caregiver-1", "nurse:42"]));
    await waitFor("quiet receipt", () => d.rcpts.some((x) => x.key === "dk-0001/am@2026-03-12/4.0"));
    expect(d.rcpts.find((x) => x.key === "dk-0001/am@2026-03-12/4.0")).toMatchObject({ status: "cancelled", code: "ACKED" });
    await sleep(100);
    expect(prov.sent.filter((s) => s.kind !== "push").length).toBe(1);
    expect((await audit("provider.status")).map((a) => JSON.parse(a.detail).status)).toEqual(["delivered"]);
    // 10 min later the dose is still not taken: the same caregiver is told again.
    now += 10 * 60_000 + 1000;
    await relay.tick();
    await waitFor("re-fire", () => smsTo("+33622222222").length === 2);
    expect(smsTo("+33622222222")[1].form.get("Body")).toContain("still not taken, 10 min after you acknowledged");
    // The chain is open again: the next rung goes out.
    await d.evt("relay.request", request("dk-0001", "am@2026-03-12", 5, "sms", ["caregiver-1"]));
    await waitFor("chain re-opened", () => smsTo("+33622222222").length === 3);
    const acked = await audit("escalation.acked");
    expect(acked.length).toBe(1);
    expect(JSON.parse(acked[0].detail)).toMatchObject({ slot: "am@2026-03-12", by: "caregiver-1", ch: "sms", via: "sms-reply" });
  });

  it("key press on the call acknowledges; a dose taken before the re-fire cancels it", async () => {
    const d = await dev();
    await d.evt("relay.request", request("dk-0001", "pm@2026-03-12", 3, "call", ["nurse:42"]));
    await waitFor("call", () => prov.sent.some((s) => s.kind === "call"));
    const twiml = prov.sent.find((s) => s.kind === "call")!.form.get("Twiml")!;
    expect(twiml).toContain("Appuyez sur 1");
    const action = /action="([^"]+)"/.exec(twiml)![1].replace(/&amp;/g, "&");
    expect(action.startsWith(`${api.url}/hooks/twilio/voice?`)).toBe(true);
    // Another key does not acknowledge; a forged press is refused.
    expect(await (await twilioCallback(action, { CallSid: "CA1", Digits: "9" })).text()).toContain("Aucune confirmation");
    expect((await twilioCallback(action, { CallSid: "CA1", Digits: "1" }, "forged")).status).toBe(403);
    const ok = await twilioCallback(action, { CallSid: "CA1", Digits: "1" });
    expect(await ok.text()).toContain("Merci. L&apos;alerte est confirmée.");
    await waitFor("acked", () => d.rcpts.some((x) => x.status === "acked" && x.by === "nurse:42"));
    // Taken before the re-fire: nothing more.
    await d.evt("relay.resolve", { slot: "pm@2026-03-12", outcome: "taken" });
    await sleep(200);
    const before = prov.sent.length;
    now += 11 * 60_000;
    await relay.tick();
    await sleep(300);
    expect(prov.sent.length).toBe(before);
  });

  it("push action token acknowledges; a tampered token is refused; an SMS from an unknown phone does nothing", async () => {
    const d = await dev();
    await d.evt("relay.request", request("dk-0001", "noon@2026-03-12", 3, "push", ["patient"]));
    await waitFor("push", () => prov.sent.some((s) => s.kind === "push"));
    const payload = JSON.parse(decryptPush(prov.sent.find((s) => s.kind === "push")!.body, jeannePush.ecdh, jeannePush.auth)) as {
      actions: { action: string; title: string }[];
      ack: { url: string; token: string };
    };
    expect(payload.actions[0]).toEqual({ action: "ack", title: "Vu, je m'en occupe" });
    const post = (token: string) => fetch(payload.ack.url, { method: "POST", body: JSON.stringify({ token }) });
    const bad = payload.ack.token.replace(/.$/, (c) => (c === "A" ? "B" : "A"));
    expect((await post(bad)).status).toBe(403);
    const r = await post(payload.ack.token);
    expect(r.status).toBe(200);
    await waitFor("acked", () => d.rcpts.some((x) => x.status === "acked" && x.by === "patient" && x.ch === "push"));
    // Acknowledging again is a renewal, not a second chain.
    expect((await post(payload.ack.token)).status).toBe(200);
    const unknown = await twilioCallback(`${api.url}/hooks/twilio/sms`, { From: "+33699999999", Body: "OK" });
    expect(await unknown.text()).toBe('<?xml version="1.0" encoding="UTF-8"?><Response></Response>');
    expect((await audit("ack.refused")).map((a) => a.code)).toContain("ACK_UNKNOWN_SENDER");
    // Hooks are not part of the bearer-token API, and unknown hooks are 404.
    expect((await fetch(`${api.url}/hooks/nope`, { method: "POST" })).status).toBe(404);
  });
});
