/**
 * The board composition: the reference dispenser built from the Moddable modules it is given.
 * firmware/main.ts hands it the SDK's modules on an ESP32; the simulator hands it emulated ones
 * (host-sim/kernel/moddable) so the very same platform adapters and drivers run in scenarios,
 * on Node and inside XS (docs/architecture.md, "One composition").
 *
 * Order: ports first (pins claimed, outputs dark and silent), then the dispenser starts at once,
 * offline. Wi-Fi and SNTP come up in the background; until SNTP succeeds the clock's wallMs() is
 * undefined and the core knows the time is unset.
 */
import type { Calibration } from "../core/load/events";
import type { LoggedEvent } from "../core/log/eventlog";
import { NET_PREF_KEYS, linkSettingsFrom } from "../core/link/settings";
import type { LoadCells, Ports } from "../core/ports";
import { EV } from "../core/protocol/events";
import { type DigitalInputClass, PushButton } from "../drivers/button/button";
import { PiezoBuzzer, type PwmClass } from "../drivers/buzzer/buzzer";
import { type DigitalClass, HX711, SharedClock } from "../drivers/hx711/hx711";
import { CompartmentLeds, type DigitalOutputClass } from "../drivers/led/led";
import { BOARD } from "../platform/board";
import { type TimeModule, createClock } from "../platform/clock";
import { type OtaClass, type RollbackModule, createFirmwareSlots } from "../platform/firmware-slots";
import { type PreferenceModule, createKv } from "../platform/kv";
import { createLoadCells } from "../platform/loadcells";
import { type NeoPixelLike, pixelWriter } from "../platform/neopixel";
import { createNetwork } from "../platform/network";
import { readResetReason } from "../platform/reset";
import { type SntpClass, createSntp } from "../platform/sntp";
import { type SocketClass, deviceSockets } from "../platform/sockets";
import { type TimerModule, createTimers } from "../platform/timers";
import { type WifiClass, startWifi } from "../platform/wifi";
import { type Device, createDevice, prepareBoot } from "./device";

/** The Moddable modules the board is built from (the SDK's on a device, emulated in the simulator). */
export interface BoardModules {
  readonly Time: TimeModule & { set(seconds: number): void };
  /** The wall clock Time.set() sets (Date.now on the device). */
  readonly now: () => number;
  readonly Timer: TimerModule;
  readonly Preference: PreferenceModule;
  readonly getResetReason: () => { reason: number };
  readonly TCP: SocketClass;
  readonly TLSSocket: SocketClass;
  readonly Digital: DigitalOutputClass & DigitalInputClass & DigitalClass;
  readonly PWM: PwmClass;
  readonly WiFi: WifiClass;
  readonly Net: { get(key: "MAC"): string | undefined; resolve(host: string, cb: (name: string, address?: string) => void): void };
  readonly NeoPixel?: new (options: { length: number; pin: number; order: string }) => NeoPixelLike;
  readonly SNTP: SntpClass;
  readonly OTA: OtaClass;
  readonly rollback: RollbackModule;
  /** The manifest's config ("mc/config"), as main.ts reads it. */
  readonly config: BoardConfig;
  /** Randomness for the link's reconnect jitter (hardware RNG on the ESP32). */
  readonly random: () => number;
}

/** The manifest's config keys the board uses (docs/hardware.md); empty strings count as absent. */
export interface BoardConfig {
  readonly deviceId?: string | undefined;
  readonly ledStrip?: string | undefined;
  readonly wifiSsid?: string | undefined;
  readonly wifiPassword?: string | undefined;
  readonly sntp1?: string | undefined;
  readonly sntp2?: string | undefined;
}

/** What a board is beyond its modules. */
export interface BoardFacts {
  readonly firmware: string;
  readonly target: string;
  /** Factory calibration per channel, when the maker provides one. */
  readonly calibration?: readonly Calibration[];
  /**
   * The load cells, when the caller reads them itself (the simulator's fast sample-level path);
   * default: one HX711 per BOARD.hx711Dout pin on the shared clock, over `Digital`.
   */
  readonly loadCells?: LoadCells;
  readonly onEvent?: (ev: LoggedEvent) => void;
}

export interface Board {
  /** The device, already started. */
  readonly device: Device;
  readonly ports: Ports;
  readonly deviceId: string;
  readonly wifi: { readonly up: boolean; close(): void } | undefined;
  readonly sntp: { start(): void; stop(): void };
}

function deviceIdFromMac(m: BoardModules): string {
  const mac = m.Net.get("MAC");
  return "dk-" + (mac ? mac.split(":").join("").toLowerCase() : "unknown");
}

/** Build the reference board and start it (dispenser now; Wi-Fi, SNTP and the link in the background). */
export function startBoard(m: BoardModules, facts: BoardFacts): Board {
  const clock = createClock(m.Time, m.now);
  const timers = createTimers(m.Timer);
  clock.keepAlive(timers);

  const kv = createKv(m.Preference, "dosekeeper");
  const firmware = createFirmwareSlots(facts.firmware, m.OTA, m.rollback);
  const resetReason = readResetReason(m.getResetReason);
  // Crash loop → safe boot (core/update/boot-guard): decided before any driver starts, so a safe
  // boot never clocks the HX711s (the load-cell path is the likeliest culprit).
  const boot = prepareBoot({ kv, timers, clock, firmware }, resetReason);
  const netKv = createKv(m.Preference, "dk-net"); // provisioning (core/link/settings; never in the core's namespace)
  const deviceId = m.config.deviceId ?? deviceIdFromMac(m);
  const settings = linkSettingsFrom((k) => netKv.get(k), deviceId);

  const leds =
    m.config.ledStrip && m.NeoPixel
      ? new CompartmentLeds({ strip: pixelWriter(new m.NeoPixel({ length: BOARD.channels, pin: BOARD.stripPin, order: "GRB" })) })
      : new CompartmentLeds({ io: m.Digital, pins: BOARD.ledPins });
  const buzzer = new PiezoBuzzer({ io: m.PWM, pin: BOARD.buzzerPin, timers });
  const button = new PushButton({ io: m.Digital, pin: BOARD.buttonPin, timers, clock });

  let loadCells: LoadCells;
  if (boot.guard.safe) {
    // Safe boot: no HX711 is clocked; the core reads no load cell either (identity.safeMode).
    loadCells = { channels: BOARD.hx711Dout.length, sps: BOARD.hx711Sps, read: () => NaN };
  } else if (facts.loadCells !== undefined) {
    loadCells = facts.loadCells;
  } else {
    const sck = new SharedClock({ pin: BOARD.hx711Sck, timers, io: m.Digital });
    const chips = BOARD.hx711Dout.map((dout) => new HX711({ dout, clock: sck, rate: BOARD.hx711Sps }));
    loadCells = createLoadCells({ chips, sps: BOARD.hx711Sps });
  }

  // TLS trusts the provisioned broker CA (NVS "mqttCa"), else the SDK's built-in CA list; the
  // certificate's dates are checked, so the first handshake succeeds once SNTP has set the clock.
  const ca = settings.ok ? settings.broker.ca : undefined;
  const network = createNetwork({
    open: deviceSockets(m, ca !== undefined ? { certificate: ca.slice().buffer } : undefined),
    resolve: (h, cb) => m.Net.resolve(h, cb),
    timers,
  });

  const ports: Ports = { clock, timers, leds, buzzer, loadCells, button, kv, network, firmware };
  const identity = {
    deviceId,
    firmware: facts.firmware,
    resetReason,
    target: facts.target,
    hw: { channels: loadCells.channels, leds: leds.count },
    trayGrams: BOARD.trayGrams,
    ...(facts.calibration !== undefined ? { calibration: facts.calibration } : {}),
  };

  // The link: MQTT session with the "dk-net" settings (core/link/settings, docs/security.md
  // "Provisioning"). Without them the device runs offline and says why.
  const onErase = (): void => {
    for (const k of NET_PREF_KEYS) netKv.delete(k);
  };
  const device = createDevice({
    ports,
    identity,
    boot,
    ...(facts.onEvent !== undefined ? { onEvent: facts.onEvent } : {}),
    ...(settings.ok ? { link: { mqtt: { random: m.random, broker: settings.broker, trustedKeys: settings.trustedKeys, onErase } } } : {}),
  });
  const { dispenser, link } = device;
  device.start();
  if (!settings.ok) dispenser.log(EV.FAULT, "alert", { code: settings.code, detail: settings.detail });

  const sntp = createSntp({
    SNTP: m.SNTP,
    hosts: [m.config.sntp1 ?? "pool.ntp.org", m.config.sntp2 ?? "time.cloudflare.com"],
    timers,
    setTime: (s) => m.Time.set(s),
    onSynced: () => {
      clock.markSynced();
      dispenser.clockChanged();
    },
  });

  const ssid = netKv.get("ssid") ?? m.config.wifiSsid;
  const password = netKv.get("password") ?? m.config.wifiPassword;
  const wifi = ssid
    ? startWifi({
        WiFi: m.WiFi,
        ssid,
        ...(password !== undefined ? { password } : {}),
        timers,
        onUp: () => {
          sntp.start();
          if (link) link.start();
        },
      })
    : undefined;

  return { device, ports, deviceId, wifi, sntp };
}
