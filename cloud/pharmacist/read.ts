/**
 * Reading a device: its status (retained status and telemetry) and its events, live from the
 * broker or from the relay's API.
 */
import { connectBroker, type BrokerOptions } from "./broker";
import { deviceTopic, VERB } from "../../firmware/core/protocol/topics";

export interface DeviceStatus {
  status?: Record<string, unknown>;
  tele?: Record<string, unknown>;
}

/** Retained status and telemetry of a device (waits up to `waitMs` for them). */
export async function readStatus(device: string, broker: BrokerOptions, waitMs = 2000): Promise<DeviceStatus> {
  const c = await connectBroker(broker);
  const out: DeviceStatus = {};
  try {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, waitMs);
      c.on("message", (t, payload) => {
        try {
          const v = JSON.parse(payload.toString("utf8")) as Record<string, unknown>;
          if (t.endsWith("/status")) out.status = v;
          if (t.endsWith("/tele")) out.tele = v;
        } catch {
          // ignore
        }
        if (out.status && out.tele) {
          clearTimeout(timer);
          resolve();
        }
      });
      c.subscribeAsync([deviceTopic(device, VERB.status), deviceTopic(device, VERB.tele)], { qos: 1 }).catch(() => resolve());
    });
  } finally {
    await c.endAsync();
  }
  return out;
}

/** Events published by the device while listening (`forMs`), oldest first, deduplicated by id. */
export async function listenHistory(
  device: string,
  broker: BrokerOptions,
  forMs: number,
  sinceMs?: number,
  onEvent?: (e: Record<string, unknown>) => void,
): Promise<Record<string, unknown>[]> {
  const c = await connectBroker(broker);
  const seen = new Set<string>();
  const out: Record<string, unknown>[] = [];
  try {
    c.on("message", (_t, payload) => {
      try {
        const e = JSON.parse(payload.toString("utf8")) as Record<string, unknown>;
        const id = String(e.id);
        if (seen.has(id)) return;
        if (sinceMs !== undefined && typeof e.t === "string" && Date.parse(e.t) < sinceMs) return;
        seen.add(id);
        out.push(e);
        if (onEvent) onEvent(e);
      } catch {
        // ignore
      }
    });
    await c.subscribeAsync(deviceTopic(device, VERB.evt), { qos: 1 });
    await new Promise((r) => setTimeout(r, forMs));
  } finally {
    await c.endAsync();
  }
  return out;
}

/**
 * Events stored by the relay: GET <api>/api/devices/<id>/events?since=<iso>&limit=<n> with a
 * bearer token → { events: [...] } (oldest first). A refusal throws with the relay's code.
 */
export async function fetchHistory(
  api: string,
  device: string,
  o: { sinceMs?: number; limit?: number; token?: string } = {},
): Promise<Record<string, unknown>[]> {
  const base = api.endsWith("/") ? api : api + "/";
  const url = new URL(`api/devices/${encodeURIComponent(device)}/events`, base);
  if (o.sinceMs !== undefined) url.searchParams.set("since", new Date(o.sinceMs).toISOString());
  if (o.limit !== undefined) url.searchParams.set("limit", String(o.limit));
  const res = await fetch(url, { headers: o.token !== undefined ? { authorization: `Bearer ${o.token}` } : {} });
  const j = (await res.json().catch(() => undefined)) as { events?: unknown; code?: unknown; error?: unknown } | undefined;
  if (!res.ok) {
    const code = j && typeof j.code === "string" ? j.code : j && typeof j.error === "string" ? j.error : "";
    throw new Error(
      `relay ${url.origin}: HTTP ${res.status}${code ? " " + code : ""}${res.status === 401 ? " (a token is needed: --token or DOSEKEEPER_TOKEN)" : ""}`,
    );
  }
  if (j && Array.isArray(j.events)) return j.events as Record<string, unknown>[];
  throw new Error("unexpected relay API answer");
}
