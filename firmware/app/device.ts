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
import { Store } from "../core/log/store";
import { BootGuard } from "../core/update/boot-guard";

/** Anything that carries the dispenser's events out and its configs/commands in. */
export interface DeviceLink {
  readonly uplink: Uplink;
  attach(d: Dispenser): void;
  start(): void;
  stop(): void;
  /** The MQTT client's state where there is one ("connected" once the broker took the session). */
  readonly state?: string;
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
  /** The boot decision, when the platform needed it before building its drivers (prepareBoot). */
  readonly boot?: PreparedBoot;
}

/** This boot's guard (crash loop, safe mode, update trial) and the store it shares with the link. */
export interface PreparedBoot {
  readonly guard: BootGuard;
  readonly store: Store;
}

export function prepareBoot(ports: Pick<Ports, "kv" | "timers" | "clock" | "firmware">, resetReason: string): PreparedBoot {
  const store = new Store(ports.kv);
  const guard = new BootGuard({ store, timers: ports.timers, clock: ports.clock, slots: ports.firmware, resetReason });
  return { guard, store };
}

export interface Device {
  readonly dispenser: Dispenser;
  readonly link: DeviceLink | undefined;
  /** True when this boot is a safe boot after a crash loop (no load cell is read). */
  readonly safe: boolean;
  /** Starts the dispenser and the boot guard (update trial, reports); then start the link. */
  start(): void;
}

/** Builds the device; the caller starts the dispenser, then the link once the network is up. */
export function createDevice(o: DeviceOptions): Device {
  const boot = o.boot ?? prepareBoot(o.ports, o.identity.resetReason);
  const identity: DeviceIdentity = boot.guard.safe ? { ...o.identity, safeMode: true } : o.identity;
  const spec = o.link;
  let link: DeviceLink | undefined;
  let uplink: Uplink | undefined;
  if (spec !== undefined && "mqtt" in spec) {
    const m = spec.mqtt;
    link = createLink({
      ports: o.ports,
      identity,
      store: boot.store,
      random: m.random,
      broker: m.broker,
      trustedKeys: m.trustedKeys,
      ...(m.onErase !== undefined ? { onErase: m.onErase } : {}),
      ...(m.mqtt !== undefined ? { mqtt: m.mqtt } : {}),
    });
  } else if (spec !== undefined && "custom" in spec) link = spec.custom;
  else if (spec !== undefined) uplink = spec.uplink;
  if (link !== undefined) uplink = link.uplink;
  const dispenser = createDispenser(o.ports, identity, {
    ...(uplink !== undefined ? { uplink } : {}),
    ...(o.onEvent !== undefined ? { onEvent: o.onEvent } : {}),
  });
  link?.attach(dispenser);
  let reached = false;
  const brokerReached = (): boolean => {
    if (link !== undefined && link.state === "connected") reached = true;
    return reached || (uplink !== undefined && link === undefined && uplink.ready());
  };
  return {
    dispenser,
    link,
    safe: boot.guard.safe,
    start(): void {
      dispenser.start();
      boot.guard.start(dispenser, brokerReached);
    },
  };
}
