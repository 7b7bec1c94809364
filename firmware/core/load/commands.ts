/**
 * The load-cell commands (tare, calibrate) and the status report, over the channels: what they
 * change is logged, and the remembered masses follow (a new zero is not a removal while off).
 */
import type { Active, StateRecord } from "../config/active";
import type { DeviceIdentity, DispenserStatus } from "../device-api";
import type { EventClass } from "../log/eventlog";
import { EV, type EventType } from "../protocol/events";
import type { LoadChannels } from "./channels";
import { stockOf } from "../dose/stock";
import { WEIGH_Z_SURE } from "./detector-params";

export interface LoadCommandDeps {
  readonly channels: LoadChannels;
  log(type: EventType, cls: EventClass, data: Record<string, unknown>): void;
  /** The masses changed meaning: remember every channel's current one (in a transaction). */
  rememberAll(): void;
}

export function tareCommand(d: LoadCommandDeps, channel?: number): string {
  if (!d.channels.tare(channel)) return "CMD_NO_CHANNEL";
  d.log(EV.TARE, "alert", { channel: channel ?? null });
  d.rememberAll();
  return "OK";
}

export function calibrateCommand(d: LoadCommandDeps, channel: number, knownGrams: number): string {
  const r = d.channels.calibrate(channel, knownGrams);
  if (typeof r === "string") return r;
  d.log(EV.CALIBRATED, "alert", { channel, knownGrams, countsPerGram: Math.round(r.countsPerGram * 1000) / 1000 });
  d.rememberAll();
  return "OK";
}

export interface StatusInputs {
  readonly identity: DeviceIdentity;
  readonly active: Active | undefined;
  readonly outbox: number;
  readonly dropped: number;
  readonly timeSet: boolean;
  readonly st: StateRecord;
  readonly faults: ReadonlyMap<number, string>;
  readonly channels: LoadChannels;
}

export function statusOf(i: StatusInputs): DispenserStatus {
  return {
    device: i.identity.deviceId,
    firmware: i.identity.firmware,
    resetReason: i.identity.resetReason,
    safe: i.identity.safeMode === true,
    config: i.active ? { version: i.active.cfg.version, hash: i.active.hash } : null,
    outbox: i.outbox,
    dropped: i.dropped,
    timeSet: i.timeSet,
    silencedUntil: i.st.silencedUntil,
    faults: [...i.faults].map(([channel, code]) => ({ channel, code })),
    slots: i.st.slots.map((s) => ({ id: s.id, comp: s.comp, state: s.state, due: s.due, fired: s.fired })),
    grams: i.channels.grams(i.identity.hw.channels),
    stock: stockOf(i.active, (ch) => i.channels.contentGrams(ch)).map((s) => ({ comp: s.comp, doses: s.doses, days: s.days })),
    weigh: weighOf(i),
  };
}

/** Per compartment: can the weight count one pill of its lightest medication surely (docs/load-cells.md)? */
function weighOf(i: StatusInputs): DispenserStatus["weigh"] {
  const out: { comp: string; z: number | null; sure: boolean | null }[] = [];
  for (const c of i.active?.cfg.compartments ?? []) {
    const z = i.channels.weighZ(c.channel);
    const known = Number.isFinite(z);
    out.push({ comp: c.id, z: known ? Math.round(z * 10) / 10 : null, sure: known ? z >= WEIGH_Z_SURE : null });
  }
  return out;
}
