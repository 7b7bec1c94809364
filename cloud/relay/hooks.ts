/**
 * Inbound provider webhooks of the relay (docs/relay.md, "Acknowledgement"): how a caregiver
 * acknowledges an escalation, and delivery status callbacks. No bearer token here: each request
 * is authenticated by its provider's signature instead.
 *
 *   POST /hooks/twilio/sms                 inbound SMS (From, Body): "OK", "1", "YES", "OUI"… acknowledges
 *   POST /hooks/twilio/voice?key=&p=       <Gather> action of our calls: Digits=1 acknowledges
 *   POST /hooks/twilio/status?key=&p=      MessageStatus / CallStatus callbacks (audited)
 *   POST /hooks/push/ack                   {"token": …} from the push notification's "ack" action
 *
 * Twilio requests carry X-Twilio-Signature: base64 HMAC-SHA1 (auth token) of the public URL
 * (as the provider called it, query included) followed by every POST parameter name and value,
 * sorted by name. Push tokens are `<key>.<person>.<exp>.<hmac>` (HMAC-SHA256, base64url).
 * A bad or missing signature gets 403 HOOK_SIGNATURE and changes nothing.
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import type * as http from "node:http";
import type { AckInput, AckOutcome } from "./handlers/ack";
import type { Person } from "./types";

export interface RelayHooks {
  acknowledge(a: AckInput): Promise<AckOutcome>;
  /** People of the contact book with this E.164 phone. */
  peopleByPhone(phone: string): Person[];
  person(id: string): Person | undefined;
  audit(action: string, device: string | null, code: string | null, detail: unknown): Promise<void>;
}

export interface HookOptions {
  /** The relay's public base URL, as providers call it (signatures cover it). */
  publicUrl: string;
  /** Twilio auth token (enables /hooks/twilio/*). */
  twilioAuthToken?: string;
  /** Secret of push action tokens (enables /hooks/push/ack). */
  pushSecret?: string;
  relay: RelayHooks;
}

export function twilioSignature(authToken: string, url: string, params: URLSearchParams): string {
  const names = [...new Set([...params.keys()])].sort();
  let data = url;
  for (const n of names) for (const v of params.getAll(n).sort()) data += n + v;
  return createHmac("sha1", authToken).update(data, "utf8").digest("base64");
}

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export function pushAckToken(secret: string, key: string, person: string, exp: number): string {
  const body = `${Buffer.from(key).toString("base64url")}.${Buffer.from(person).toString("base64url")}.${exp}`;
  return body + "." + createHmac("sha256", secret).update(body).digest("base64url");
}

export function verifyPushAckToken(secret: string, token: string, now: number): { key: string; person: string } | undefined {
  const parts = token.split(".");
  if (parts.length !== 4 || token.length > 600) return undefined;
  const body = parts.slice(0, 3).join(".");
  if (!same(parts[3], createHmac("sha256", secret).update(body).digest("base64url"))) return undefined;
  const exp = Number(parts[2]);
  if (!Number.isInteger(exp) || exp < now) return undefined;
  return { key: Buffer.from(parts[0], "base64url").toString(), person: Buffer.from(parts[1], "base64url").toString() };
}

/** Words that acknowledge, in a reply (case, accents and punctuation ignored). */
const ACK_WORDS = new Set(["OK", "1", "ACK", "YES", "Y", "OUI", "O", "DACCORD", "VU", "RECU"]);

export function isAckReply(body: string): boolean {
  const first = body
    .normalize("NFD")
    .replace(/[\u0300-\u036f]/g, "")
    .toUpperCase()
    .replace(/[^A-Z0-9 ]/g, "")
    .trim()
    .split(/\s+/)[0];
  return first !== undefined && ACK_WORDS.has(first);
}

function xml(s: string): string {
  return s.replace(/[<>&'"]/g, (c) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", "'": "&apos;", '"': "&quot;" })[c] ?? c);
}

const TEXT = {
  en: {
    acked: (min: number) => `Thank you, acknowledged. If the dose is still not taken in ${min} min, we will tell you again.`,
    none: "There is no open alert to acknowledge.",
    hint: "Reply OK to acknowledge the alert.",
    voiceAcked: "Thank you. The alert is acknowledged.",
    voiceNone: "No acknowledgement recorded. Goodbye.",
  },
  fr: {
    acked: (min: number) => `Merci, c'est noté. Si la dose n'est toujours pas prise dans ${min} min, nous vous prévenons à nouveau.`,
    none: "Aucune alerte en cours à confirmer.",
    hint: "Répondez OK pour accuser réception de l'alerte.",
    voiceAcked: "Merci. L'alerte est confirmée.",
    voiceNone: "Aucune confirmation enregistrée. Au revoir.",
  },
} as const;

function twiml(res: http.ServerResponse, inner: string): void {
  res.writeHead(200, { "content-type": "text/xml; charset=utf-8" });
  res.end(`<?xml version="1.0" encoding="UTF-8"?><Response>${inner}</Response>`);
}

function json(res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}

/** Handles /hooks/*; false when the path is not a hook (the API answers it). */
export async function handleHook(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  u: URL,
  readBody: () => Promise<string>,
  o: HookOptions | undefined,
): Promise<boolean> {
  if (!u.pathname.startsWith("/hooks/")) return false;
  const r = o?.relay;
  const route = u.pathname.slice("/hooks/".length);
  const known = ["twilio/sms", "twilio/voice", "twilio/status", "push/ack"];
  const enabled = o !== undefined && (route.startsWith("twilio/") ? o.twilioAuthToken !== undefined : o.pushSecret !== undefined);
  if (!known.includes(route) || !enabled || r === undefined) {
    json(res, 404, { ok: false, code: "HTTP_NOT_FOUND", message: "no such hook" });
    return true;
  }
  if (req.method !== "POST") {
    json(res, 405, { ok: false, code: "HTTP_METHOD", message: "POST only" });
    return true;
  }
  const text = await readBody();
  if (route === "push/ack") {
    let token: unknown;
    try {
      token = (JSON.parse(text) as { token?: unknown }).token;
    } catch {
      token = undefined;
    }
    const t = typeof token === "string" ? verifyPushAckToken(o.pushSecret!, token, Date.now()) : undefined;
    if (t === undefined) {
      await r.audit("hook.refused", null, "HOOK_SIGNATURE", { route });
      json(res, 403, { ok: false, code: "HOOK_SIGNATURE", message: "bad or expired token" });
      return true;
    }
    const a = await r.acknowledge({ person: t.person, via: "push-action", key: t.key, ch: "push" });
    json(res, a.ok ? 200 : 409, a.ok ? { ok: true, until: new Date(a.until).toISOString() } : { ok: false, code: a.code });
    return true;
  }
  const params = new URLSearchParams(text);
  const url = o.publicUrl.replace(/\/+$/, "") + (req.url ?? "");
  const sig = req.headers["x-twilio-signature"];
  if (typeof sig !== "string" || !same(sig, twilioSignature(o.twilioAuthToken!, url, params))) {
    await r.audit("hook.refused", null, "HOOK_SIGNATURE", { route });
    json(res, 403, { ok: false, code: "HOOK_SIGNATURE", message: "X-Twilio-Signature does not match" });
    return true;
  }
  const key = u.searchParams.get("key") ?? undefined;
  const pid = u.searchParams.get("p") ?? undefined;
  if (route === "twilio/status") {
    const status = params.get("MessageStatus") ?? params.get("CallStatus") ?? "?";
    await r.audit("provider.status", key?.split("/")[0] ?? null, null, {
      key: key ?? null,
      person: pid ?? null,
      status,
      sid: params.get("MessageSid") ?? params.get("CallSid"),
      ...(params.get("ErrorCode") ? { error: params.get("ErrorCode") } : {}),
    });
    res.writeHead(204).end();
    return true;
  }
  if (route === "twilio/voice") {
    const p = pid !== undefined ? r.person(pid) : undefined;
    const t = TEXT[p?.lang ?? "en"];
    const lang = p?.lang === "fr" ? "fr-FR" : "en-GB";
    const a =
      p !== undefined && params.get("Digits") === "1"
        ? await r.acknowledge({ person: p.id, via: "voice-key", ...(key ? { key } : {}), ch: "call" })
        : undefined;
    twiml(res, `<Say language="${lang}">${xml(a?.ok ? t.voiceAcked : t.voiceNone)}</Say><Hangup/>`);
    return true;
  }
  // Inbound SMS: the sender's phone names the person(s); the newest open alert sent to them is acknowledged.
  const from = params.get("From") ?? "";
  const people = r.peopleByPhone(from);
  if (people.length === 0) {
    await r.audit("ack.refused", null, "ACK_UNKNOWN_SENDER", { via: "sms-reply" });
    twiml(res, "");
    return true;
  }
  const t = TEXT[people[0].lang];
  if (!isAckReply(params.get("Body") ?? "")) {
    twiml(res, `<Message>${xml(t.hint)}</Message>`);
    return true;
  }
  for (const p of people) {
    const a = await r.acknowledge({ person: p.id, via: "sms-reply", ch: "sms" });
    if (a.ok) {
      twiml(res, `<Message>${xml(TEXT[p.lang].acked(a.refireMin))}</Message>`);
      return true;
    }
  }
  twiml(res, `<Message>${xml(t.none)}</Message>`);
  return true;
}
