/**
 * Web Push (RFC 8030/8291/8292) with VAPID: the web-push package encrypts (aes128gcm) and signs
 * (Authorization: vapid t=<JWT>, k=<public key>); the request is sent here with fetch so that
 * http:// endpoints (tests) and timeouts work alike. 404/410 mean the subscription is gone.
 */
import webpush from "web-push";
import type { Notice, Person, Provider, RemoteChannel, SendResult } from "../types";
import { sendHttp } from "./http";
import { pushAckToken } from "../hooks";

export interface WebPushOptions {
  vapid: { subject: string; publicKey: string; privateKey: string };
  /** Seconds the push service keeps an undelivered message; default 3600. */
  ttlS?: number;
  timeoutMs?: number;
  /** User-Agent header (default "dosekeeper-relay"). */
  userAgent?: string;
  /** Acknowledgement by the notification's action: POST {token} to <publicUrl>/hooks/push/ack. */
  ack?: { publicUrl: string; secret: string; ttlMs?: number };
}

export function createWebPushProvider(o: WebPushOptions): Provider {
  return {
    name: "webpush",
    async send(ch: RemoteChannel, to: Person, n: Notice): Promise<SendResult> {
      if (ch !== "push") return { ok: false, retry: false, code: "RELAY_NO_PROVIDER", detail: "webpush only does push" };
      if (to.push.length === 0) return { ok: false, retry: false, code: "RELAY_NO_SUBSCRIPTION" };
      const ack =
        o.ack !== undefined && (n.kind === "escalation" || n.kind === "refire")
          ? {
              url: o.ack.publicUrl.replace(/\/+$/, "") + "/hooks/push/ack",
              token: pushAckToken(o.ack.secret, n.key, to.id, Date.now() + (o.ack.ttlMs ?? 24 * 3_600_000)),
            }
          : undefined;
      const payload = JSON.stringify({
        title: n.title,
        body: n.body,
        key: n.key,
        device: n.device,
        kind: n.kind,
        slot: n.slot ?? null,
        // The service worker shows the action and POSTs {token} to url when it is chosen.
        ...(ack !== undefined ? { actions: [{ action: "ack", title: to.lang === "fr" ? "Vu, je m'en occupe" : "Seen, on it" }], ack } : {}),
      });
      // Every subscription of the person (phone, tablet…); delivered when one accepts it.
      let last: SendResult = { ok: false, retry: false, code: "RELAY_NO_SUBSCRIPTION" };
      let anyRetry = false;
      for (const sub of to.push) {
        let d: ReturnType<typeof webpush.generateRequestDetails>;
        try {
          d = webpush.generateRequestDetails(sub, payload, {
            vapidDetails: o.vapid,
            TTL: o.ttlS ?? 3600,
            contentEncoding: "aes128gcm",
            urgency: n.priority === "high" ? "high" : "normal",
            topic: topicOf(n.key),
          });
        } catch (e) {
          last = { ok: false, retry: false, code: "RELAY_FIELD", detail: e instanceof Error ? e.message : String(e) };
          continue;
        }
        const r = await sendHttp({
          url: d.endpoint,
          method: "POST",
          headers: { ...(d.headers as Record<string, string>), "user-agent": o.userAgent ?? "dosekeeper-relay" },
          body: d.body as Uint8Array,
          timeoutMs: o.timeoutMs ?? 10_000,
        });
        if (r.ok) return r;
        if (r.status === 404 || r.status === 410) last = { ...r, code: "PUSH_GONE" };
        else last = r;
        if (r.retry) anyRetry = true;
      }
      return last.ok ? last : { ...last, retry: anyRetry };
    },
  };
}

/** Web Push Topic header: ≤ 32 URL-safe base64 characters; one per dedupe key. */
function topicOf(key: string): string {
  let h = 2166136261;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 16777619) >>> 0;
  }
  return "dk" + h.toString(36);
}
