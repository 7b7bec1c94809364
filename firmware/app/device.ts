/**
 * The one composition of a device: the core (dispenser) and its MQTT link over the ports a
 * platform gives. firmware/main.ts calls it with the Moddable platform adapters, the simulator
 * (host-sim/kernel/device) with emulated ones, so both run the same wiring.
 *
 *   board → drivers → platform ports ─┐
 *                                     ├─ createDevice → dispenser ⇄ link (MQTT) → broker
 *   identity, link settings ──────────┘
 */
import type { DeviceIdentity, Dispenser, Uplink } from "../core/dispenser";
import type { LoggedEvent } from "../core/log/eventlog";
import { type BrokerSettings, createLink, type LinkDeps } from "../core/link/link";
import type { Ports } from "../core/ports";
import type { TrustedKey } from "../core/crypto/signed";
import { createDispenser } from "../core/dispenser";

/** Anything that carries the dispenser's events out and its configs/commands in. */
export interface DeviceLink {
  readonly uplink: Uplink;
  attach(d: Dispenser): void;
  start(): void;
  stop(): void;
}

/** Settings of the device's own MQTT session (firmware/core/link). */
export interface MqttLinkSettings {
  readonly broker: BrokerSettings;
  readonly trustedKeys: readonly TrustedKey[];
  /** Reconnect jitter source (hardware RNG on the ESP32, a seeded PRNG in the simulator). */
  readonly random: () => number;
  /** Decommission: erase what the platform keeps outside the core (network credentials). */
  readonly onErase?: () => void;
  readonly mqtt?: LinkDeps["mqtt"];
}

export interface DeviceOptions {
  readonly ports: Ports;
  readonly identity: DeviceIdentity;
  /**
   * How events leave the box: the device's MQTT session, another link (the live simulator's
   * transport), or a bare uplink (the scenario runner's broker stand-in). None: offline.
   */
  readonly link?: { readonly mqtt: MqttLinkSettings } | { readonly custom: DeviceLink } | { readonly uplink: Uplink };
  /** Every logged event, after it is persisted (simulator timeline, dashboard). */
  readonly onEvent?: (ev: LoggedEvent) => void;
}

export interface Device {
  readonly dispenser: Dispenser;
  readonly link: DeviceLink | undefined;
}

/** Builds the device; the caller starts the dispenser, then the link once the network is up. */
export function createDevice(o: DeviceOptions): Device {
  const spec = o.link;
  let link: DeviceLink | undefined;
  let uplink: Uplink | undefined;
  if (spec !== undefined && "mqtt" in spec) {
    const m = spec.mqtt;
    link = createLink({
      ports: o.ports,
      identity: o.identity,
      random: m.random,
      broker: m.broker,
      trustedKeys: m.trustedKeys,
      ...(m.onErase !== undefined ? { onErase: m.onErase } : {}),
      ...(m.mqtt !== undefined ? { mqtt: m.mqtt } : {}),
    });
  } else if (spec !== undefined && "custom" in spec) link = spec.custom;
  else if (spec !== undefined) uplink = spec.uplink;
  if (link !== undefined) uplink = link.uplink;
  const dispenser = createDispenser(o.ports, o.identity, {
    ...(uplink !== undefined ? { uplink } : {}),
    ...(o.onEvent !== undefined ? { onEvent: o.onEvent } : {}),
  });
  link?.attach(dispenser);
  return { dispenser, link };
}
