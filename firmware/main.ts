/**
 * Device entry (ESP32, Moddable SDK).
 *
 * Moddable convention: the manifest's main module ("main", see
 * manifests/esp32/manifest.json) is imported once the setup modules have run, and if its
 * default export is a function it is called with no arguments (xs/platforms/mc/xsHosts.c,
 * setStepDone). So this module only declares things; all I/O starts in main().
 *
 * It only hands the SDK's modules to the board composition (firmware/app/board.ts), which the
 * simulator builds too, over emulated modules (host-sim/kernel/moddable).
 */
import Digital from "embedded:io/digital";
import PWM from "embedded:io/pwm";
import TCP from "embedded:io/socket/tcp";
import TLSSocket from "embedded:io/socket/tcp/tls";
import WiFi from "embedded:network/interface/wifi";
import Net from "net";
import NeoPixel from "neopixel";
import OTA from "ota";
import Preference from "preference";
import getResetReason from "resetReason";
import SNTP from "sntp";
import Time from "time";
import Timer from "timer";
import config from "mc/config";
import { markValid, pendingVerify, restart, rollback, slotBytes } from "dk-ota";

import { type Board, type BoardModules, startBoard } from "./app/board";
import type { PwmClass } from "./drivers/buzzer/buzzer";
import type { SocketClass } from "./platform/sockets";

export const FIRMWARE_VERSION = "0.1.0";

/** A manifest config string ("mc/config"); empty or missing is undefined. */
function str(key: string): string | undefined {
  const v = (config as Record<string, unknown>)[key];
  return typeof v === "string" && v.length > 0 ? v : undefined;
}

export function startDevice(): Board {
  const modules: BoardModules = {
    Time,
    now: () => Date.now(),
    Timer,
    Preference,
    getResetReason,
    // The SDK's typings of the sockets declare write(ArrayBufferLike) and omit TLSSocket's `TCP`
    // option; the implementations take both (examples/io/tcp/tlssocket).
    TCP: TCP as unknown as SocketClass,
    TLSSocket: TLSSocket as unknown as SocketClass,
    Digital: Digital as unknown as BoardModules["Digital"],
    // The SDK's typings/embedded_io/pwm.d.ts omit close() (and the resolution option), which the
    // ESP32 PWM implements (modules/io/pwm/esp32: xs_pwm_close_, resolution default 10).
    PWM: PWM as unknown as PwmClass,
    WiFi,
    Net: { get: (k) => Net.get(k), resolve: (h, cb) => Net.resolve(h, cb) },
    NeoPixel: NeoPixel as unknown as BoardModules["NeoPixel"],
    SNTP,
    OTA,
    rollback: { markValid, pendingVerify, restart, rollback, slotBytes },
    config: {
      deviceId: str("deviceId"),
      ledStrip: str("ledStrip"),
      wifiSsid: str("wifiSsid"),
      wifiPassword: str("wifiPassword"),
      sntp1: str("sntp1"),
      sntp2: str("sntp2"),
    },
    random: () => Math.random(), // XS Math.random on the ESP32 is seeded from the hardware RNG
  };
  return startBoard(modules, { firmware: FIRMWARE_VERSION, target: "esp32" });
}

export default function main(): void {
  startDevice();
}
