/**
 * The dashboard's adherence and FHIR from the relay's HTTP API (as the console's actor), over the
 * simulation's dates; the fleet's local history when the relay cannot answer.
 */
import { parsePosixTz, utcToLocal } from "../../firmware/core/schedule/tz";
import type { Fleet } from "./fleet";
import { localHistory, type HistorySource } from "../server/server";
import type { DayAdherence } from "./history";

/** Adherence and FHIR from the relay's HTTP API, over the fleet's dates; the local history when it fails. */
/** What the history needs of the relay stack: its API and a token. */
export interface RelayApi {
  readonly apiUrl: string;
  authorization(actor: "pharmacist@console"): string;
}

export function relayHistory(relay: RelayApi, fleet: Fleet): HistorySource {
  const local = localHistory(fleet);
  const started = fleet.sched.now;
  const range = (id: string): string => {
    const tzs = fleet.get(id)?.normalizedConfig()?.tz;
    const tz = tzs !== undefined ? parsePosixTz(tzs) : undefined;
    const day = (t: number): string => new Date(tz !== undefined && tz.ok ? utcToLocal(tz.tz, t).localMs : t).toISOString().slice(0, 10);
    // From the simulation's first day: slots before it were never scheduled on these boxes.
    return `from=${day(started)}&to=${day(fleet.sched.now)}`;
  };
  const get = async (id: string, what: string): Promise<unknown> => {
    const r = await fetch(`${relay.apiUrl}/api/devices/${encodeURIComponent(id)}/${what}?${range(id)}`, {
      headers: { authorization: relay.authorization("pharmacist@console") },
    });
    if (!r.ok) throw new Error(`relay ${what}: HTTP ${r.status}`);
    return r.json();
  };
  return {
    kind: "relay",
    adherence: async (id) => {
      try {
        return ((await get(id, "adherence")) as { days: DayAdherence[] }).days;
      } catch {
        return local.adherence(id);
      }
    },
    fhir: async (id) => {
      try {
        return await get(id, "fhir");
      } catch {
        return local.fhir(id);
      }
    },
  };
}
