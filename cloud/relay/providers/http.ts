/** One HTTP request with a timeout, classified for the relay's retry policy. */
import type { SendResult } from "../types";

export interface HttpRequest {
  url: string;
  method: "POST";
  headers: Record<string, string>;
  body: string | Uint8Array;
  timeoutMs: number;
}

/**
 * 2xx → ok; 408, 429 and 5xx → retry; any other status → failed, no retry;
 * network error or timeout → retry (code RELAY_TIMEOUT / RELAY_NETWORK).
 */
export async function sendHttp(req: HttpRequest, idField?: string): Promise<SendResult> {
  let res: Response;
  try {
    res = await fetch(req.url, { method: req.method, headers: req.headers, body: req.body as string | Uint8Array<ArrayBuffer>, signal: AbortSignal.timeout(req.timeoutMs) });
  } catch (e) {
    const name = e instanceof Error ? e.name : "";
    const timeout = name === "TimeoutError" || name === "AbortError";
    return { ok: false, retry: true, code: timeout ? "RELAY_TIMEOUT" : "RELAY_NETWORK", detail: e instanceof Error ? e.message : String(e) };
  }
  const text = await res.text().catch(() => "");
  if (res.status >= 200 && res.status < 300) {
    let providerId: string | undefined;
    if (idField !== undefined) {
      try { const j = JSON.parse(text) as Record<string, unknown>; if (typeof j[idField] === "string") providerId = j[idField] as string; } catch { /* not JSON */ }
    }
    if (providerId === undefined) providerId = res.headers.get("location") ?? undefined;
    return { ok: true, status: res.status, ...(providerId !== undefined ? { providerId } : {}) };
  }
  const retry = res.status >= 500 || res.status === 408 || res.status === 429;
  return { ok: false, retry, code: "HTTP_" + res.status, status: res.status, detail: text.slice(0, 200) };
}
