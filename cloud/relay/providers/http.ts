/**
 * One HTTP request with a timeout, classified for the relay's retry policy. Requests go through
 * node:http/https with keep-alive agents (one per protocol, shared by every provider of the process):
 * a provider's connection is reused instead of a TCP (and TLS) handshake per notification.
 */
import * as http from "node:http";
import * as https from "node:https";
import type { SendResult } from "../types";

export interface HttpRequest {
  url: string;
  method: "POST";
  headers: Record<string, string>;
  body: string | Uint8Array;
  timeoutMs: number;
}

/** Idle keep-alive sockets are closed after this: below the servers' idle timeouts (Node 5 s, nginx 75 s), so a reused socket is rarely one the server is closing. */
const IDLE_MS = 4000;
/** Parallel connections per provider host (the relay's `concurrency` bounds the requests anyway). */
const MAX_SOCKETS = 64;

let agents: { http: http.Agent; https: https.Agent } | undefined;
function agentsOf(): { http: http.Agent; https: https.Agent } {
  agents ??= {
    http: new http.Agent({
      noDelay: true,
      keepAlive: true,
      keepAliveMsecs: 1000,
      maxSockets: MAX_SOCKETS,
      maxFreeSockets: MAX_SOCKETS,
      timeout: IDLE_MS,
      scheduling: "lifo",
    }),
    https: new https.Agent({
      noDelay: true,
      keepAlive: true,
      keepAliveMsecs: 1000,
      maxSockets: MAX_SOCKETS,
      maxFreeSockets: MAX_SOCKETS,
      timeout: IDLE_MS,
      scheduling: "lifo",
    }),
  };
  return agents;
}

/**
 * 2xx → ok; 408, 429 and 5xx → retry; any other status → failed, no retry;
 * network error or timeout (whole exchange, body included) → retry (code RELAY_TIMEOUT / RELAY_NETWORK).
 */
export function sendHttp(req: HttpRequest, idField?: string): Promise<SendResult> {
  return new Promise<SendResult>((resolve) => {
    let done = false;
    const finish = (r: SendResult): void => {
      if (!done) {
        done = true;
        clearTimeout(timer);
        resolve(r);
      }
    };
    let u: URL;
    try {
      u = new URL(req.url);
    } catch (e) {
      resolve({ ok: false, retry: false, code: "RELAY_FIELD", detail: "bad URL: " + (e instanceof Error ? e.message : String(e)) });
      return;
    }
    const secure = u.protocol === "https:";
    if (!secure && u.protocol !== "http:") {
      resolve({ ok: false, retry: false, code: "RELAY_FIELD", detail: "unsupported URL scheme " + u.protocol });
      return;
    }
    const body = typeof req.body === "string" ? Buffer.from(req.body, "utf8") : req.body;
    const headers: Record<string, string | number> = { ...req.headers, "content-length": body.byteLength };
    const mod = secure ? https : http;
    const cr = mod.request(u, { method: req.method, headers, agent: secure ? agentsOf().https : agentsOf().http }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on("data", (c: Buffer) => {
        if (size < 65_536) {
          chunks.push(c);
          size += c.length;
        }
      });
      res.on("error", (e) => finish({ ok: false, retry: true, code: "RELAY_NETWORK", detail: e.message }));
      res.on("end", () => {
        const status = res.statusCode ?? 0;
        const text = Buffer.concat(chunks).toString("utf8");
        if (status >= 200 && status < 300) {
          let providerId: string | undefined;
          if (idField !== undefined) {
            try {
              const j = JSON.parse(text) as Record<string, unknown>;
              if (typeof j[idField] === "string") providerId = j[idField] as string;
            } catch {
              /* not JSON */
            }
          }
          if (providerId === undefined && typeof res.headers.location === "string") providerId = res.headers.location;
          finish({ ok: true, status, ...(providerId !== undefined ? { providerId } : {}) });
          return;
        }
        const retry = status >= 500 || status === 408 || status === 429;
        finish({ ok: false, retry, code: "HTTP_" + status, status, detail: text.slice(0, 200) });
      });
    });
    const timer = setTimeout(() => {
      finish({ ok: false, retry: true, code: "RELAY_TIMEOUT", detail: `no complete answer within ${req.timeoutMs} ms` });
      cr.destroy(new Error("timeout")); // never reuse a socket with a request still in flight
    }, req.timeoutMs);
    cr.on("error", (e) => finish({ ok: false, retry: true, code: "RELAY_NETWORK", detail: e.message }));
    cr.end(body);
  });
}
