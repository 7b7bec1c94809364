/**
 * Facts of the simulated dispenser shared by the device and its bays: factory calibration of the
 * channels, the empty tray's mass, compartments as a config describes them, amounts a patient
 * takes or a pharmacist adds, bay faults.
 */
import type { DeviceLink, DeviceOptions } from "../../../firmware/app/device";
import type { Uplink } from "../../../firmware/core/device-api";
import type { LoggedEvent } from "../../../firmware/core/log/eventlog";
import type { Store } from "../../../firmware/core/log/store";
import { type LinkSettingsResult, NET_PREF_KEYS } from "../../../firmware/core/link/settings";
import type { TrustedKey } from "../../../firmware/core/crypto/signed";
import type { DeviceIdentity } from "../../../firmware/core/device-api";
import type { Calibration } from "../../../firmware/core/load/events";
import type { KeyValue, Network, Ports } from "../../../firmware/core/ports";
import { base64Encode } from "../../../firmware/core/crypto/base64";
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

/** `store`: the record store the boot guard uses, for a link that runs createLink (shares "otatry"). */
export type LinkFactory = (ctx: { ports: Ports; identity: DeviceIdentity; store?: Store; networkUp: () => boolean }) => DeviceLink;

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
  /**
   * Build the whole board (firmware/app/board.ts over emulated Moddable modules: sim-board.ts)
   * instead of the core on simulated ports. Needs `broker` and the reference board's 4 channels.
   */
  readonly board?: boolean;
  /** With `board`: the HX711 driver at pin level against the chip emulators (default: sample level). */
  readonly hx711Pins?: boolean;
  /** The "dk-net" settings of a `dosekeeper provision` artefact (its `prefs`); default: made for broker.sim. */
  readonly provisioning?: Readonly<Record<string, string>>;
}

/**
 * The factory provisioning of a simulated box: the "dk-net" preferences a board gets from
 * `dosekeeper provision` (docs/security.md, "Provisioning"), read back by the same
 * firmware/core/link/settings code. Only devices on the simulated broker have any.
 */
export function provisionNet(kv: KeyValue, o: SimDeviceOptions): void {
  if (o.provisioning !== undefined) {
    for (const k of Object.keys(o.provisioning)) kv.set(k, o.provisioning[k]);
    return;
  }
  if (o.broker === undefined) return;
  if (o.board === true) {
    kv.set("ssid", "dosekeeper-sim"); // sim-board.ts SIM_SSID
    kv.set("password", "sim-pass");
  }
  kv.set("mqttHost", "broker.sim");
  kv.set("mqttPort", "1883");
  kv.set("mqttTls", "0");
  kv.set("mqttUser", o.id);
  kv.set("mqttPass", "sim");
  const keys: string[] = [];
  for (const k of o.trustedKeys ?? []) keys.push(base64Encode(k.publicKey));
  if (keys.length > 0) kv.set("trustKeys", keys.join(","));
}

/**
 * How a simulated boot's events leave the box: the options' own link, the device's MQTT link to
 * the simulated broker with the provisioned settings (none once decommissioning erased them), or
 * the built-in stand-in uplink.
 */
export function linkSpec(
  o: SimDeviceOptions,
  net: LinkSettingsResult,
  netKv: KeyValue,
  random: () => number,
  standIn: Uplink,
  linkArgs: () => Parameters<LinkFactory>[0],
): DeviceOptions["link"] {
  if (o.link !== undefined) return { custom: o.link(linkArgs()) };
  if (o.broker === undefined) return { uplink: standIn };
  if (!net.ok) return undefined;
  const erase = (): void => {
    for (const k of NET_PREF_KEYS) netKv.delete(k);
  };
  return { mqtt: { random, broker: net.broker, trustedKeys: net.trustedKeys, onErase: erase } };
}

/** The timeline body of a logged event. */
export function eventLine(ev: LoggedEvent): string {
  return `"seq":${ev.seq},"id":${JSON.stringify(ev.id)},"type":${JSON.stringify(ev.type)},"data":${JSON.stringify(ev.data)}`;
}

/** The identity a simulated box boots with (factory calibration, the image's version). */
export function simIdentity(o: SimDeviceOptions, firmware: string, resetReason: string): DeviceIdentity {
  const calibration: Calibration[] = [];
  for (let ch = 0; ch < o.channels; ch++) calibration.push(simCalibration(ch));
  const hw = { channels: o.channels, leds: o.leds };
  return { deviceId: o.id, firmware, target: "sim", resetReason, hw, calibration, trayGrams: TRAY_GRAMS };
}
