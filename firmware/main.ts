/**
 * Device entry (ESP32, Moddable SDK).
 *
 * Moddable convention: the manifest's main module ("main", see
 * manifests/esp32/manifest.json) is imported once the setup modules have run, and if its
 * default export is a function it is called with no arguments (xs/platforms/mc/xsHosts.c,
 * setStepDone). So this module only declares things; all I/O starts in main().
 *
 * Order: ports first (pins claimed, outputs dark and silent), then the dispenser starts
 * at once, offline. Wi-Fi and SNTP come up in the background; until SNTP succeeds the
 * clock's wallMs() is undefined and the core knows the time is unset.
 */
import Digital from "embedded:io/digital";
import PWM from "embedded:io/pwm";
import WiFi from "embedded:network/interface/wifi";
import Net from "net";
import NeoPixel from "neopixel";
import SNTP from "sntp";
import Time from "time";
import config from "mc/config";

import { createDevice, prepareBoot } from "./app/device";
import { EV } from "./core/protocol/events";
import { NET_PREF_KEYS, linkSettingsFrom } from "./core/link/settings";
import type { LoadCells, Ports } from "./core/ports";
import { PushButton } from "./drivers/button/button";
import { PiezoBuzzer, type PwmClass } from "./drivers/buzzer/buzzer";
import { HX711, SharedClock, type DigitalClass } from "./drivers/hx711/hx711";
import { CompartmentLeds } from "./drivers/led/led";
import { BOARD } from "./platform/board";
import { createClock } from "./platform/clock";
import { createFirmwareSlots } from "./platform/firmware-slots";
import { createKv } from "./platform/kv";
import { createLoadCells } from "./platform/loadcells";
import { pixelWriter } from "./platform/neopixel";
import { createNetwork } from "./platform/network";
import { readResetReason } from "./platform/reset";
import { createSntp } from "./platform/sntp";
import { deviceSockets } from "./platform/sockets";
import { createTimers } from "./platform/timers";
import { startWifi } from "./platform/wifi";

export const FIRMWARE_VERSION = "0.1.0";

function str(key: string): string | undefined {
  const v = config[key];
  return typeof v === "string" && v.length > 0 ? v : undefined;
}

function deviceIdFromMac(): string {
  const mac = Net.get("MAC");
  return "dk-" + (mac ? mac.split(":").join("").toLowerCase() : "unknown");
}

export function startDevice() {
  const clock = createClock();
  const timers = createTimers();
  clock.keepAlive(timers);

  const kv = createKv("dosekeeper");
  const firmware = createFirmwareSlots(FIRMWARE_VERSION);
  const resetReason = readResetReason();
  // Crash loop → safe boot (core/update/boot-guard): decided before any driver starts, so a safe
  // boot never clocks the HX711s (the load-cell path is the likeliest culprit).
  const boot = prepareBoot({ kv, timers, clock, firmware }, resetReason);
  const netKv = createKv("dk-net"); // provisioning (core/link/settings; never in the core's namespace)
  const deviceId = str("deviceId") ?? deviceIdFromMac();
  const settings = linkSettingsFrom((k) => netKv.get(k), deviceId);

  const leds = str("ledStrip")
    ? new CompartmentLeds({ strip: pixelWriter(new NeoPixel({ length: BOARD.channels, pin: BOARD.stripPin, order: "GRB" })) })
    : new CompartmentLeds({ io: Digital, pins: BOARD.ledPins });
  // The SDK's typings/embedded_io/pwm.d.ts omit close() (and the resolution option), which the
  // ESP32 PWM implements (modules/io/pwm/esp32: xs_pwm_close_, resolution default 10).
  const buzzer = new PiezoBuzzer({ io: PWM as unknown as PwmClass, pin: BOARD.buzzerPin, timers });
  const button = new PushButton({ io: Digital, pin: BOARD.buttonPin, timers, clock });

  // ---- LOAD CELLS: firmware/drivers/hx711.ts and firmware/platform/loadcells.ts belong to the
  // HX711 driver's author; adjust here if their constructors change. ----
  // The driver's pin type is number | string, the SDK's Digital typing takes numbers only: the BOARD pins are numbers.
  let loadCells: LoadCells;
  if (boot.guard.safe) {
    // Safe boot: no HX711 is clocked; the core reads no load cell either (identity.safeMode).
    loadCells = { channels: BOARD.hx711Dout.length, sps: BOARD.hx711Sps, read: () => NaN };
  } else {
    const sck = new SharedClock({ pin: BOARD.hx711Sck, timers, io: Digital as unknown as DigitalClass });
    const chips = BOARD.hx711Dout.map((dout) => new HX711({ dout, clock: sck, rate: BOARD.hx711Sps }));
    loadCells = createLoadCells({ chips, sps: BOARD.hx711Sps });
  }
  // ---- end LOAD CELLS ----

  // TLS trusts the provisioned broker CA (NVS "mqttCa"), else the SDK's built-in CA list; the
  // certificate's dates are checked, so the first handshake succeeds once SNTP has set the clock.
  const ca = settings.ok ? settings.broker.ca : undefined;
  const network = createNetwork({
    open: deviceSockets(ca !== undefined ? { certificate: ca.slice().buffer } : undefined),
    resolve: (h, cb) => Net.resolve(h, cb),
    timers,
  });

  const ports: Ports = { clock, timers, leds, buzzer, loadCells, button, kv, network, firmware };
  const identity = {
    deviceId,
    firmware: FIRMWARE_VERSION,
    resetReason,
    target: "esp32",
    hw: { channels: loadCells.channels, leds: leds.count },
    trayGrams: BOARD.trayGrams,
  };

  // ---- LINK (firmware/core/link.ts): MQTT session; settings from the "dk-net" preferences
  // (keys in firmware/core/link-settings.ts and docs/protocol.md). Without them the device runs offline. ----
  const device = createDevice({
    ports,
    identity,
    boot,
    ...(settings.ok
      ? {
          link: {
            mqtt: {
              random: () => Math.random(), // platform: XS Math.random on the ESP32 is seeded from the hardware RNG
              broker: settings.broker,
              trustedKeys: settings.trustedKeys,
              onErase: () => {
                for (const k of NET_PREF_KEYS) netKv.delete(k);
              },
            },
          },
        }
      : {}),
  });
  const { dispenser, link } = device;
  device.start();
  if (!settings.ok) dispenser.log(EV.FAULT, "alert", { code: settings.code, detail: settings.detail });
  // ---- end LINK ----

  const sntp = createSntp({
    SNTP,
    hosts: [str("sntp1") ?? "pool.ntp.org", str("sntp2") ?? "time.cloudflare.com"],
    timers,
    setTime: (s) => Time.set(s),
    onSynced: () => {
      clock.markSynced();
      dispenser.clockChanged();
    },
  });

  const ssid = netKv.get("ssid") ?? str("wifiSsid");
  const wifi = ssid
    ? startWifi({
        WiFi,
        ssid,
        password: netKv.get("password") ?? str("wifiPassword"),
        timers,
        onUp: () => {
          sntp.start();
          if (link) link.start();
        },
      })
    : undefined;

  return { ports, dispenser, link, wifi, sntp };
}

export default function main(): void {
  startDevice();
}
