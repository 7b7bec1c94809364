/**
 * Facts of the simulated dispenser shared by the device and its bays: factory calibration of the
 * channels, the empty tray's mass, compartments as a config describes them, amounts a patient
 * takes or a pharmacist adds, bay faults.
 */
import type { DeviceLink } from "../../../firmware/app/device";
import type { TrustedKey } from "../../../firmware/core/crypto/signed";
import type { DeviceIdentity } from "../../../firmware/core/device-api";
import type { Calibration } from "../../../firmware/core/load/events";
import type { Network, Ports } from "../../../firmware/core/ports";
import type { SchedulerLike } from "../time/scheduler";
import type { SimBroker } from "./sim-broker";

/** Factory calibration of the simulated channels (offset counts, counts per gram). */
export function simCalibration(channel: number): Calibration {
  // A 1 kg, 1 mV/V cell at gain 128 gives about 2147.5 counts per gram; each cell differs a little.
  return { offset: 52_000 + 7_919 * channel, countsPerGram: 2147.5 * (1 - 0.013 * channel) };
}

/** Empty tray on each bay, grams. */
export const TRAY_GRAMS = 18;
export interface CompInfo {
  readonly channel: number;
  readonly meds: readonly { readonly count: number; readonly unitMg: number }[];
}

export function compartmentsOf(config: Record<string, unknown>): Map<string, CompInfo> {
  const out = new Map<string, CompInfo>();
  const list = Array.isArray(config.compartments) ? config.compartments : [];
  for (const c of list) {
    if (typeof c !== "object" || c === null) continue;
    const r = c as Record<string, unknown>;
    if (typeof r.id !== "string" || typeof r.channel !== "number") continue;
    const meds: { count: number; unitMg: number }[] = [];
    if (Array.isArray(r.meds)) {
      for (const m of r.meds) {
        const mr = m as Record<string, unknown>;
        if (typeof mr.count === "number" && typeof mr.unitMg === "number") meds.push({ count: mr.count, unitMg: mr.unitMg });
      }
    }
    out.set(r.id, { channel: r.channel, meds });
  }
  return out;
}

export function doseMg(c: CompInfo): number {
  let mg = 0;
  for (const m of c.meds) mg += m.count * m.unitMg;
  return mg;
}

export type Amount = { readonly doses: number } | { readonly pills: number } | { readonly mg: number };
export type BayFault = "disconnect" | "stuck" | "saturate" | "noisy";

export type LinkFactory = (ctx: { ports: Ports; identity: DeviceIdentity; networkUp: () => boolean }) => DeviceLink;

export interface SimDeviceOptions {
  readonly sched: SchedulerLike;
  readonly id: string;
  readonly channels: number;
  readonly leds: number;
  readonly sps: 10 | 80;
  readonly seed: number;
  /** Doses loaded in each compartment of the factory config at start. */
  readonly loadedDoses: number;
  readonly clockErrorMs: number;
  /** Factory config, applied (unsigned) at the first boot. */
  readonly config: Record<string, unknown>;
  readonly network: boolean;
  /** Timeline sink: kind and the JSON body fields (without braces). */
  readonly emit: (kind: string, body: string) => void;
  /**
   * Network used by the core's byte-stream port and by `link`. Default: none (connections
   * fail as unreachable) and the built-in broker stand-in as uplink.
   */
  readonly networkPort?: Network;
  readonly link?: LinkFactory;
  /**
   * Run the device's real MQTT link (firmware/core/link.ts) against this simulated broker
   * instead of the built-in stand-in. Needs the keys the device trusts for signed configs.
   */
  readonly broker?: SimBroker;
  readonly trustedKeys?: readonly TrustedKey[];
}
