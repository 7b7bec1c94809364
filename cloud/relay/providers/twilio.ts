/**
 * SMS and voice calls through a Twilio-compatible REST API:
 * POST {baseUrl}/2010-04-01/Accounts/{accountSid}/Messages.json (To, From, Body) and
 * …/Calls.json (To, From, Twiml), form-encoded, HTTP Basic auth (accountSid or API key : secret).
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
}

function xmlEscape(s: string): string {
  return s.replace(/[<>&'"]/g, (c) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", "'": "&apos;", '"': "&quot;" })[c] ?? c);
}

export function twimlSay(text: string, lang: "en" | "fr"): string {
  const l = lang === "fr" ? "fr-FR" : "en-GB";
  const t = xmlEscape(text);
  return `<Response><Say language="${l}">${t}</Say><Pause length="1"/><Say language="${l}">${t}</Say></Response>`;
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
      if (ch === "sms") form.set("Body", `${n.title}: ${n.body}`);
      else form.set("Twiml", twimlSay(`${n.title}. ${n.body}`, to.lang));
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
