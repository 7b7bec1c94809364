import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as crypto from "node:crypto";
import { createTwilioProvider, twimlSay } from "../../../cloud/relay/providers/twilio";
import { createWebPushProvider } from "../../../cloud/relay/providers/webpush";
import { createConsoleProvider } from "../../../cloud/relay/providers/console";
import type { Notice, Person } from "../../../cloud/relay/types";
import { VAPID, decryptPush as decrypt, pushSubscription, startMockHttp } from "./helpers";

const notice: Notice = {
  key: "dk-0001/am@2026-03-10/3.0",
  device: "dk-0001",
  kind: "escalation",
  priority: "high",
  title: "Dosekeeper: Dose not taken",
  body: 'Dose "Matin" due at 08:00 not taken yet (late).',
  slot: "am@2026-03-10",
};
const marc: Person = { id: "marc", name: "Marc", phone: "+33622222222", push: [], channels: ["sms"], lang: "en" };

describe("providers against a local HTTP server", () => {
  let srv: Awaited<ReturnType<typeof startMockHttp>>;
  beforeAll(async () => {
    srv = await startMockHttp();
  });
  afterAll(async () => {
    await srv.close();
  });

  it("Twilio SMS: exact path, Basic auth and form fields", async () => {
    srv.requests.length = 0;
    srv.respond = () => 201;
    const p = createTwilioProvider({ baseUrl: srv.url + "/", accountSid: "AC0123", password: "tok en", from: "+15550001111" });
    const r = await p.send("sms", marc, notice);
    expect(r).toMatchObject({ ok: true, providerId: expect.stringMatching(/^SM/) });
    const q = srv.requests[0];
    expect(q.method).toBe("POST");
    expect(q.url).toBe("/2010-04-01/Accounts/AC0123/Messages.json");
    expect(q.headers.authorization).toBe("Basic " + Buffer.from("AC0123:tok en").toString("base64"));
    expect(q.headers["content-type"]).toBe("application/x-www-form-urlencoded");
    const f = new URLSearchParams(q.body.toString());
    expect([...f.keys()].sort()).toEqual(["Body", "From", "To"]);
    expect(f.get("To")).toBe("+33622222222");
    expect(f.get("From")).toBe("+15550001111");
    expect(f.get("Body")).toBe(`${notice.title}: ${notice.body}`);
  });

  it("Twilio call: Calls.json with TwiML Say, API-key user, messaging service for SMS", async () => {
    srv.requests.length = 0;
    const p = createTwilioProvider({ baseUrl: srv.url, accountSid: "AC9", username: "SKkey", password: "s", from: "MG42" });
    expect((await p.send("call", { ...marc, lang: "fr" }, notice)).ok).toBe(true);
    const q = srv.requests[0];
    expect(q.url).toBe("/2010-04-01/Accounts/AC9/Calls.json");
    expect(q.headers.authorization).toBe("Basic " + Buffer.from("SKkey:s").toString("base64"));
    const f = new URLSearchParams(q.body.toString());
    expect(f.get("From")).toBe("MG42");
    expect(f.get("Twiml")).toBe(twimlSay(`${notice.title}. ${notice.body}`, "fr"));
    expect(f.get("Twiml")).toContain('<Say language="fr-FR">Dosekeeper: Dose not taken. Dose &quot;Matin&quot;');
    await p.send("sms", marc, notice);
    const f2 = new URLSearchParams(srv.requests[1].body.toString());
    expect(f2.get("MessagingServiceSid")).toBe("MG42");
    expect(f2.has("From")).toBe(false);
  });

  it("classifies 5xx/429/timeout as retry, other 4xx as final, and refuses a missing phone", async () => {
    const p = createTwilioProvider({ baseUrl: srv.url, accountSid: "AC1", password: "x", from: "+15550001111", timeoutMs: 150 });
    srv.respond = () => 503;
    expect(await p.send("sms", marc, notice)).toMatchObject({ ok: false, retry: true, code: "HTTP_503", status: 503 });
    srv.respond = () => 429;
    expect(await p.send("sms", marc, notice)).toMatchObject({ ok: false, retry: true, code: "HTTP_429" });
    srv.respond = () => 400;
    expect(await p.send("sms", marc, notice)).toMatchObject({ ok: false, retry: false, code: "HTTP_400" });
    srv.respond = () => "hang";
    expect(await p.send("sms", marc, notice)).toMatchObject({ ok: false, retry: true, code: "RELAY_TIMEOUT" });
    const n = srv.requests.length;
    expect(await p.send("sms", { ...marc, phone: undefined }, notice)).toMatchObject({ ok: false, retry: false, code: "RELAY_BAD_PHONE" });
    expect(srv.requests.length).toBe(n);
    srv.respond = () => 201;
  });

  it("Web Push: aes128gcm, TTL, urgency, VAPID JWT signed for the endpoint origin, decryptable payload", async () => {
    srv.requests.length = 0;
    srv.respond = () => 201;
    const { sub, ecdh, auth } = pushSubscription(srv.url + "/push/abc");
    const p = createWebPushProvider({
      vapid: { subject: "mailto:ops@example.org", publicKey: VAPID.publicKey, privateKey: VAPID.privateKey },
      ttlS: 600,
    });
    const r = await p.send("push", { ...marc, push: [sub] }, notice);
    expect(r.ok).toBe(true);
    const q = srv.requests[0];
    expect(q.url).toBe("/push/abc");
    expect(q.headers["content-encoding"]).toBe("aes128gcm");
    expect(q.headers["ttl"]).toBe("600");
    expect(q.headers["urgency"]).toBe("high");
    expect(q.headers["topic"]).toMatch(/^[A-Za-z0-9_-]{1,32}$/);
    const m = /^vapid t=([^,]+), k=(.+)$/.exec(String(q.headers.authorization));
    expect(m).not.toBeNull();
    const [jwt, k] = [m![1], m![2]];
    expect(k).toBe(VAPID.publicKey);
    const [h, pl, sig] = jwt.split(".");
    expect(JSON.parse(Buffer.from(h, "base64url").toString())).toMatchObject({ typ: "JWT", alg: "ES256" });
    const claims = JSON.parse(Buffer.from(pl, "base64url").toString()) as { aud: string; sub: string; exp: number };
    expect(claims.aud).toBe(srv.url);
    expect(claims.sub).toBe("mailto:ops@example.org");
    expect(claims.exp * 1000).toBeGreaterThan(Date.now());
    const raw = Buffer.from(VAPID.publicKey, "base64url");
    const key = crypto.createPublicKey({
      key: { kty: "EC", crv: "P-256", x: raw.subarray(1, 33).toString("base64url"), y: raw.subarray(33).toString("base64url") },
      format: "jwk",
    });
    expect(crypto.verify("sha256", Buffer.from(h + "." + pl), { key, dsaEncoding: "ieee-p1363" }, Buffer.from(sig, "base64url"))).toBe(
      true,
    );
    const payload = JSON.parse(decrypt(q.body, ecdh, auth)) as Record<string, unknown>;
    expect(payload).toMatchObject({ title: notice.title, body: notice.body, key: notice.key, device: "dk-0001" });
  });

  it("Web Push: 410 → PUSH_GONE (final); no subscription → final", async () => {
    const { sub } = pushSubscription(srv.url + "/push/gone");
    const p = createWebPushProvider({ vapid: { subject: "mailto:a@b.c", publicKey: VAPID.publicKey, privateKey: VAPID.privateKey } });
    srv.respond = () => 410;
    expect(await p.send("push", { ...marc, push: [sub] }, notice)).toMatchObject({ ok: false, retry: false, code: "PUSH_GONE" });
    srv.respond = () => 201;
    expect(await p.send("push", marc, notice)).toMatchObject({ ok: false, retry: false, code: "RELAY_NO_SUBSCRIPTION" });
  });

  it("console provider writes one JSON line without contact details by default", async () => {
    const lines: string[] = [];
    const p = createConsoleProvider({ log: (l) => lines.push(l) });
    expect((await p.send("sms", marc, notice)).ok).toBe(true);
    const j = JSON.parse(lines[0]) as Record<string, unknown>;
    expect(j).toMatchObject({ ch: "sms", to: "marc", key: notice.key });
    expect(lines[0]).not.toContain("+33622222222");
  });
});
