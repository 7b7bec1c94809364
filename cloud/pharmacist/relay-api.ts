/**
 * The relay's schedule store, written by the pharmacist tool after a device acknowledged a config
 * (docs/pharmacist.md, "The relay's copy"): the relay's dead-man alerts, notice texts, adherence
 * and FHIR export follow the schedule it holds, so a push that the device runs but the relay does
 * not know would leave them on the old one.
 */

export type ScheduleStored =
  | { ok: true; version: number; already: boolean }
  | { ok: false; status: number; code: string; running?: number };

/** PUT /api/devices/ID/config (bearer token). A 409 CFG_STALE with a version ≥ ours means it is already there. */
export async function putSchedule(api: string, device: string, config: unknown, token?: string): Promise<ScheduleStored> {
  const base = api.endsWith("/") ? api : api + "/";
  const url = new URL(`api/devices/${encodeURIComponent(device)}/config`, base);
  const version = typeof config === "object" && config !== null ? (config as { version?: unknown }).version : undefined;
  let res: Response;
  try {
    res = await fetch(url, {
      method: "PUT",
      headers: { "content-type": "application/json", ...(token !== undefined ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(config),
      signal: AbortSignal.timeout(10_000),
    });
  } catch (e) {
    return { ok: false, status: 0, code: `unreachable (${(e as Error).message})` };
  }
  const j = (await res.json().catch(() => undefined)) as
    | { running?: unknown; code?: unknown; error?: unknown; errors?: { code?: unknown }[] }
    | undefined;
  const running = typeof j?.running === "number" ? j.running : undefined;
  if (res.ok && typeof version === "number") return { ok: true, version, already: false };
  if (res.status === 409 && typeof version === "number" && running !== undefined && running >= version)
    return { ok: true, version: running, already: true };
  const code =
    typeof j?.errors?.[0]?.code === "string"
      ? j.errors[0].code
      : typeof j?.code === "string"
        ? j.code
        : typeof j?.error === "string"
          ? j.error
          : "";
  return { ok: false, status: res.status, code, ...(running !== undefined ? { running } : {}) };
}
