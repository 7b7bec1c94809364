/**
 * SMS and voice calls through a Twilio-compatible REST API:
 * POST {baseUrl}/2010-04-01/Accounts/{accountSid}/Messages.json (To, From, Body) and
 * …/Calls.json (To, From, Twiml), form-encoded, HTTP Basic auth (accountSid or API key : secret).
 * With `callbacks` (the relay's public URL): every message and call asks for status callbacks,
 * an escalation SMS says how to acknowledge by reply, and a call gathers one key (1 = acknowledge)
 * posted to /hooks/twilio/voice (cloud/relay/hooks.ts checks the signatures).
 */
import type { Notice, Person, Provider, RemoteChannel, SendResult } from "../types";
import { sendHttp } from "./http";

export interface TwilioOptions {
  /** e.g. "https://api.twilio.com" (no trailing slash needed). */
  baseUrl: string;
  accountSid: string;
  /** Basic-auth user; default accountSid (an API key SID "SK…" may be used instead). */
  username?: string;
  /** Auth token or API key secret. */
  password: string;
  /** Sender number (E.164) or, for SMS, a MessagingServiceSid ("MG…"). */
  from: string;
  timeoutMs?: number;
  /** User-Agent header (default "dosekeeper-relay"). */
  userAgent?: string;
  /** The relay's public base URL for status callbacks and acknowledgements (docs/relay.md). */
  callbacks?: { publicUrl: string };
}

/** Kinds a caregiver can acknowledge (a dose slot's chain). */
const ACKABLE = new Set(["escalation", "refire"]);
const HINT = { en: "Reply OK to acknowledge.", fr: "Répondez OK pour accuser réception." } as const;
const PRESS = { en: "Press 1 to acknowledge this alert.", fr: "Appuyez sur 1 pour confirmer cette alerte." } as const;

function xmlEscape(s: string): string {
  return s.replace(/[<>&'"]/g, (c) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", "'": "&apos;", '"': "&quot;" })[c] ?? c);
}

export function twimlSay(text: string, lang: "en" | "fr", gatherUrl?: string): string {
  const l = lang === "fr" ? "fr-FR" : "en-GB";
  const t = xmlEscape(text);
  if (gatherUrl === undefined)
    return `<Response><Say language="${l}">${t}</Say><Pause length="1"/><Say language="${l}">${t}</Say></Response>`;
  const g = `<Gather numDigits="1" timeout="8" method="POST" action="${xmlEscape(gatherUrl)}"><Say language="${l}">${t}</Say><Say language="${l}">${PRESS[lang]}</Say></Gather>`;
  return `<Response>${g}<Say language="${l}">${t}</Say></Response>`;
}

export function createTwilioProvider(o: TwilioOptions): Provider {
  const base = o.baseUrl.replace(/\/+$/, "") + "/2010-04-01/Accounts/" + encodeURIComponent(o.accountSid);
  const auth = "Basic " + Buffer.from((o.username ?? o.accountSid) + ":" + o.password).toString("base64");
  return {
    name: "twilio",
    async send(ch: RemoteChannel, to: Person, n: Notice): Promise<SendResult> {
      if (ch === "push") return { ok: false, retry: false, code: "RELAY_NO_PROVIDER", detail: "twilio does not do push" };
      if (to.phone === undefined) return { ok: false, retry: false, code: "RELAY_BAD_PHONE", detail: "no valid phone" };
      const form = new URLSearchParams();
      form.set("To", to.phone);
      if (ch === "sms" && /^MG/.test(o.from)) form.set("MessagingServiceSid", o.from);
      else form.set("From", o.from);
      const cb = o.callbacks?.publicUrl.replace(/\/+$/, "");
      const q = `key=${encodeURIComponent(n.key)}&p=${encodeURIComponent(to.id)}`;
      const ackable = cb !== undefined && ACKABLE.has(n.kind);
      if (ch === "sms") form.set("Body", `${n.title}: ${n.body}${ackable ? " " + HINT[to.lang] : ""}`);
      else form.set("Twiml", twimlSay(`${n.title}. ${n.body}`, to.lang, ackable ? `${cb}/hooks/twilio/voice?${q}` : undefined));
      if (cb !== undefined) form.set("StatusCallback", `${cb}/hooks/twilio/status?${q}`);
      return sendHttp(
        {
          url: base + (ch === "sms" ? "/Messages.json" : "/Calls.json"),
          method: "POST",
          headers: {
            authorization: auth,
            "content-type": "application/x-www-form-urlencoded",
            accept: "application/json",
            "user-agent": o.userAgent ?? "dosekeeper-relay",
          },
          body: form.toString(),
          timeoutMs: o.timeoutMs ?? 10_000,
        },
        "sid",
      );
    },
  };
}
