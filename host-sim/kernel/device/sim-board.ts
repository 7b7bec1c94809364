/**
 * A simulated boot of the whole board: firmware/app/board.ts — the composition firmware/main.ts
 * runs on an ESP32 — built over emulated Moddable modules (../moddable), so the platform
 * adapters (clock, timers, NVS, sockets, Wi-Fi, SNTP, OTA, reset reason) and the LED, buzzer and
 * button drivers run at pin level on an emulated ESP32 pin board. The load cells are read at
 * sample level from the bay physics (the fast path; the HX711 driver at pin level is covered by
 * its own suite against the datasheet-enforcing chip emulator).
 *
 * The timeline sees what a person would: LED pins going high or low, the piezo sounding or
 * silent (no tone for QUIET_MS: a pattern repeats within it), and everything the core logs. XS-clean.
 */
import { type Board, type BoardModules, startBoard } from "../../../firmware/app/board";
import type { LoggedEvent } from "../../../firmware/core/log/eventlog";
import type { LoadCells, Network, PressKind } from "../../../firmware/core/ports";
import type { DigitalClass } from "../../../firmware/drivers/hx711/hx711";
import { BOARD } from "../../../firmware/platform/board";
import { createDigitalClass } from "../hw/digital";
import type { SimFirmwareSlots } from "../hw/firmware-slots";
import type { SimDigitalClass } from "../hw/sim-digital";
import type { KvEmulator } from "../hw/kv-emulator";
import { PinBoard, type PinLogEntry } from "../hw/pins";
import { createPWMClass } from "../hw/pwm";
import {
  type ModuleHost,
  WifiRadio,
  netModule,
  preferenceModule,
  resetReasonModule,
  sntpModule,
  timeModule,
  timerModule,
} from "../moddable/modules";
import { socketModules } from "../moddable/sockets";
import { pinLoadCells } from "./sim-hx711";
import type { SchedulerLike } from "../time/scheduler";
import { simCalibration } from "./sim-config";
import type { SimOutputs } from "./sim-outputs";

/** The piezo counts as silent after this long without a tone (patterns have short gaps). */
export const QUIET_MS = 6_000;
/** How long the simulated finger holds the button. */
export const PRESS_MS: Readonly<Record<PressKind, number>> = Object.freeze({ short: 150, long: 2_000 });
/** The access point the simulated boxes are provisioned for. */
export const SIM_SSID = "dosekeeper-sim";

export interface BoardBoot {
  readonly sched: SchedulerLike;
  readonly group: number;
  readonly id: string;
  readonly reason: string;
  readonly kv: KvEmulator;
  readonly netKv: KvEmulator;
  readonly slots: SimFirmwareSlots;
  readonly out: SimOutputs;
  /** The bays' raw counts (channel, ms UTC). */
  readonly raw: (channel: number, tMs: number) => number;
  /** The HX711 driver at pin level against the chip emulators (sim-hx711.ts); else sample level. */
  readonly pins: boolean;
  /** The network behind the access point (the simulated broker's), or none. */
  readonly network: Network | undefined;
  networkUp(): boolean;
  rtc(): number;
  setRtc(ms: number): void;
  random(): number;
  onEvent(ev: LoggedEvent): void;
}

export interface SimBoard {
  readonly board: Board;
  readonly radio: WifiRadio;
  press(kind: PressKind): void;
}

function macOf(id: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193) >>> 0;
  const b = [0x24, 0x0a, 0xc4, (h >>> 16) & 0xff, (h >>> 8) & 0xff, h & 0xff];
  return b.map((x) => (x < 16 ? "0" : "") + x.toString(16)).join(":");
}

/**
 * The fast path: the bays read as the HX711 gives them — the latest conversion, one per period
 * since power-on — so a scenario reads alike at sample level and at pin level (41 and 43).
 */
function sampleLevel(c: BoardBoot, bootAt: number): LoadCells {
  const period = 1000 / BOARD.hx711Sps;
  return {
    channels: BOARD.channels,
    sps: BOARD.hx711Sps,
    read: (ch) => c.raw(ch, bootAt + Math.floor((c.sched.now - bootAt - 1) / period) * period),
  };
}

export function bootSimBoard(c: BoardBoot): SimBoard {
  const { sched, group } = c;
  const timers = sched.timers(group);
  const host: ModuleHost = {
    sched,
    group,
    bootAt: sched.now,
    rtc: c.rtc,
    setRtc: c.setRtc,
    resetReason: c.reason,
    prefs: (domain) => (domain === "dk-net" ? c.netKv : c.kv),
    networkUp: c.networkUp,
    ssid: SIM_SSID,
    mac: macOf(c.id),
  };
  const lit = BOARD.ledPins.map(() => false);
  let sounding = false;
  let quiet = 0;
  const observe = (e: PinLogEntry): void => {
    const led = BOARD.ledPins.indexOf(e.pin as (typeof BOARD.ledPins)[number]);
    if (led >= 0 && e.kind === "level" && lit[led] !== (e.value === 1)) {
      lit[led] = e.value === 1;
      c.out.leds.set(led, lit[led]);
    }
    if (e.pin !== BOARD.buzzerPin || e.kind !== "pwm-duty") return;
    if ((e.frac ?? 0) > 0) {
      if (quiet !== 0) sched.cancel(quiet);
      quiet = 0;
      if (!sounding) c.out.tone(true, Math.round((e.frac ?? 0) * 200));
      sounding = true;
    } else if (sounding && quiet === 0) {
      quiet = sched.at(
        sched.now + QUIET_MS,
        () => {
          quiet = 0;
          sounding = false;
          c.out.tone(false, 0);
        },
        group,
      );
    }
  };
  const pins = new PinBoard({ time: { now: () => sched.now }, timers, observe });
  const unreachable: Network = {
    connect: (_h, _p, _tls, handlers) => {
      timers.once(1, () => handlers.onClose("unreachable"));
      return { write: () => false, close: () => undefined };
    },
  };
  const radio = new WifiRadio(host);
  const gpio = createDigitalClass(pins);
  const hx = c.pins ? pinLoadCells(sched, group, timers, c.raw, gpio as unknown as SimDigitalClass) : undefined;
  const digital = hx !== undefined ? hx.Digital : gpio;
  const { OTA, rollback } = c.slots.moddable();
  const modules: BoardModules = {
    Time: timeModule(host),
    now: c.rtc,
    Timer: timerModule(host),
    Preference: preferenceModule(host),
    getResetReason: resetReasonModule(host),
    ...socketModules(c.network ?? unreachable, timers),
    Digital: digital as unknown as DigitalClass & BoardModules["Digital"],
    PWM: createPWMClass(pins),
    WiFi: radio.module(),
    Net: netModule(host),
    SNTP: sntpModule(host),
    OTA,
    rollback,
    config: { deviceId: c.id },
    random: c.random,
  };
  const calibration = [];
  for (let ch = 0; ch < BOARD.channels; ch++) calibration.push(simCalibration(ch));
  const board = startBoard(modules, {
    firmware: c.slots.version,
    target: "sim",
    calibration,
    ...(hx === undefined ? { loadCells: sampleLevel(c, sched.now) } : {}),
    onEvent: c.onEvent,
  });
  return {
    board,
    radio,
    press(kind: PressKind): void {
      pins.drive(BOARD.buttonPin, 0);
      sched.at(sched.now + PRESS_MS[kind], () => pins.drive(BOARD.buttonPin, -1), group);
    },
  };
}
