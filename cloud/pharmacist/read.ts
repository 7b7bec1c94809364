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

/** Events from a relay HTTP API: GET <api>/devices/<id>/events?since=<iso> → JSON array (or {events: [...]}). */
export async function fetchHistory(api: string, device: string, sinceMs?: number): Promise<Record<string, unknown>[]> {
  const url = new URL(`devices/${encodeURIComponent(device)}/events`, api.endsWith("/") ? api : api + "/");
  if (sinceMs !== undefined) url.searchParams.set("since", new Date(sinceMs).toISOString());
  const res = await fetch(url);
  if (!res.ok) throw new Error(`GET ${url.href}: HTTP ${res.status}`);
  const j = (await res.json()) as unknown;
  if (Array.isArray(j)) return j as Record<string, unknown>[];
  if (j && typeof j === "object" && Array.isArray((j as { events?: unknown }).events))
    return (j as { events: Record<string, unknown>[] }).events;
  throw new Error("unexpected relay API answer");
}
