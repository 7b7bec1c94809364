/**
 * A simulated dispenser: the real firmware core (createDispenser) on emulated hardware —
 * load-cell bays driven by the physics model, NVS emulator with torn writes, LEDs, buzzer,
 * button, a wall clock that is lost at a power cut and set again by SNTP.
 *
 * It runs on any scheduler with the SchedulerLike shape: the virtual-time Scheduler of the
 * scenario runner (deterministic, also inside XS) or a warpable real-time one (live simulator).
 * Everything observable goes to `emit(kind, jsonBody)` as timeline lines (docs/scenarios.md).
 * XS-clean.
 */
import type { Button, Clock, LoadCells, Network, PressKind, Ports } from "../../../firmware/core/ports";
import type { LoggedEvent } from "../../../firmware/core/log/eventlog";
import type { Dispenser, DispenserStatus } from "../../../firmware/core/dispenser";
import { isoUtc } from "../../../firmware/core/schedule/civil";
import type { BayModel } from "../hw/mass-model";
import { KvEmulator, PowerCut } from "../hw/kv-emulator";
import { createDevice, type DeviceLink, prepareBoot } from "../../../firmware/app/device";
import { linkSettingsFrom } from "../../../firmware/core/link/settings";
import { EV } from "../../../firmware/core/protocol/events";
import { SimFirmwareSlots } from "../hw/firmware-slots";
import type { SchedulerLike } from "../time/scheduler";
import { mulberry32 } from "../prng";
import { SimBays } from "./sim-bays";
import { SimOutputs } from "./sim-outputs";
import { LINK_UP_MS, StandInUplink } from "./sim-standin";
import { type SimBoard, bootSimBoard } from "./sim-board";
import {
  type Amount,
  type BayFault,
  compartmentsOf,
  eventLine,
  linkSpec,
  provisionNet,
  type LinkFactory,
  type SimDeviceOptions,
  simCalibration,
  simIdentity,
} from "./sim-config";

export { compartmentsOf, simCalibration, type Amount, type BayFault, type LinkFactory, type SimDeviceOptions };

export const FIRMWARE_VERSION = "0.1.0-sim";

export type { SchedulerLike };

/** Small deterministic PRNG (mulberry32) for the link's reconnect jitter. */
export const seededRandom: (seed: number) => () => number = mulberry32;

/** SNTP answers this long after the network is usable. */
const SNTP_MS = 2_000;
const BOOT_MS = 1_000;

export class SimDevice {
  readonly kv = new KvEmulator();
  /** The "dk-net" preferences (provisioning: broker, credentials, trusted keys), as on the board. */
  readonly netKv = new KvEmulator();
  readonly firmware = new SimFirmwareSlots(
    FIRMWARE_VERSION,
    (r) => this.reboot(r),
    (b) => this.emit("sim", b),
  );
  readonly bays: BayModel[];
  private readonly bayOps: SimBays;
  private readonly sched: SchedulerLike;
  private readonly o: SimDeviceOptions;
  private readonly origin: number;
  private networkUp: boolean;
  private clockError: number;
  private timeSet = true;
  /** Timer group of the running boot, from the scheduler (unique across the devices sharing it). */
  private group = 0;
  /** Boots so far (seeds the link's reconnect jitter). */
  private boots = 0;
  private bootAt = 0;
  private dispenser: Dispenser | undefined;
  private link: DeviceLink | undefined;
  private buttonCb: ((k: PressKind) => void) | undefined;
  private readonly out: SimOutputs;
  /** The running whole-board boot (options.board). */
  private simBoard: SimBoard | undefined;
  private provisioned = false;
  private tearFallback = 0;
  private offMs = 0;
  /** Last config the device accepted (patches apply over it). */
  lastConfig: Record<string, unknown>;
  alive = false;

  constructor(o: SimDeviceOptions) {
    this.o = o;
    this.sched = o.sched;
    this.origin = o.sched.now;
    this.bayOps = new SimBays(o, () => this.dispenser?.currentConfig());
    this.bays = this.bayOps.bays;
    this.out = new SimOutputs(
      o.leds,
      () => this.alive,
      (k, b) => this.emit(k, b),
    );
    this.lastConfig = o.config;
    this.networkUp = o.network;
    this.clockError = o.clockErrorMs;
    provisionNet(this.netKv, o);
    const [alive, group, core, networkUp] = [() => this.alive, () => this.group, () => this.dispenser, () => this.networkUp];
    this.standIn = new StandInUplink({ sched: o.sched, alive, group, core, networkUp, emit: (k, b) => this.emit(k, b) });
  }

  private emit(kind: string, body: string): void {
    this.o.emit(kind, body);
  }

  private rel(t: number): number {
    return t - this.origin;
  }

  // ------------------------------------------------------------------ ports

  private readonly clock: Clock = {
    monoMs: () => this.sched.now - this.bootAt,
    wallMs: () => (this.timeSet ? this.sched.now + this.clockError : undefined),
  };

  private readonly loadCells: LoadCells = {
    channels: 0,
    sps: 10,
    read: (ch: number): number => (ch >= 0 && ch < this.bays.length ? this.bays[ch].raw(this.rel(this.sched.now)) : NaN),
  };

  private readonly button: Button = {
    onPress: (cb: (k: PressKind) => void): void => {
      this.buttonCb = cb;
    },
  };

  private readonly unreachable: Network = {
    connect: (_h, _p, _tls, handlers) => {
      this.sched.at(this.sched.now + 1, () => handlers.onClose("unreachable"), this.group);
      return { write: () => false, close: () => undefined };
    },
  };

  /** Built-in uplink ("stand-in" transport). */
  private readonly standIn: StandInUplink;

  // ------------------------------------------------------------------ life cycle

  /** Power on (first boot provisions the factory config). */
  boot(reason: string): void {
    this.group = this.sched.newGroup();
    this.boots++;
    this.alive = true;
    this.bootAt = this.sched.now;
    this.standIn.drop();
    this.buttonCb = undefined;
    this.kv.reboot();
    this.firmware.boot();
    const bad = this.firmware.behaviour;
    const o = this.o;
    if (o.board === true) return this.bootBoard(reason);
    const leds = { ...this.out.leds, count: o.leds, set: this.out.leds.set };
    const read = bad === "no-detector" ? () => NaN : this.loadCells.read;
    const loadCells = { ...this.loadCells, channels: o.channels, sps: o.sps, read };
    const ports: Ports = {
      clock: this.clock,
      timers: this.sched.timers(this.group),
      leds,
      buzzer: this.out.buzzer,
      loadCells,
      button: this.button,
      kv: this.kv,
      network: bad !== "no-broker" && o.broker !== undefined ? o.broker.network(() => this.group) : (o.networkPort ?? this.unreachable),
      firmware: this.firmware.port(),
    };
    const identity = simIdentity(o, this.firmware.version, reason);
    this.emit("power", `"on":true,"reason":"${reason}"`);
    const net = linkSettingsFrom((k) => this.netKv.get(k), o.id);
    const boot = prepareBoot(ports, reason);
    const dev = createDevice({
      ports,
      identity,
      boot,
      link: linkSpec(o, net, this.netKv, seededRandom(o.seed * 7919 + this.boots), this.standIn, () => ({
        ports,
        identity,
        store: boot.store,
        networkUp: () => this.networkUp,
      })),
      onEvent: (ev: LoggedEvent) => this.emit("ev", eventLine(ev)),
    });
    const { dispenser: d, link } = dev;
    this.link = link;
    this.dispenser = d;
    dev.start();
    if (o.broker !== undefined && !net.ok) d.log(EV.FAULT, "alert", { code: net.code, detail: net.detail });
    this.booted(dev.safe);
    link?.start();
    this.bringNetworkUp();
  }

  /** The same box built whole: firmware/app/board.ts over emulated Moddable modules (sim-board.ts). */
  private bootBoard(reason: string): void {
    const o = this.o;
    const bad = this.firmware.behaviour;
    this.emit("power", `"on":true,"reason":"${reason}"`);
    const raw = (ch: number, t: number): number =>
      ch >= 0 && ch < this.bays.length && bad !== "no-detector" ? this.bays[ch].raw(this.rel(t)) : NaN;
    const sb = bootSimBoard({
      ...{ sched: this.sched, group: this.group, id: o.id, reason, kv: this.kv, netKv: this.netKv, slots: this.firmware, out: this.out },
      ...{ raw, pins: o.hx711Pins === true },
      network: bad !== "no-broker" ? o.broker?.network(() => this.group) : undefined,
      networkUp: () => this.networkUp,
      // No battery on the board: after a power cut its RTC counts from 1970 until SNTP sets it.
      rtc: () => (this.timeSet ? this.sched.now + this.clockError : this.sched.now - this.bootAt),
      setRtc: (ms) => {
        this.timeSet = true;
        this.clockError = ms - this.sched.now;
      },
      random: seededRandom(o.seed * 7919 + this.boots),
      onEvent: (ev: LoggedEvent) => this.emit("ev", eventLine(ev)),
    });
    [this.simBoard, this.dispenser, this.link] = [sb, sb.board.device.dispenser, sb.board.device.link];
    this.booted(sb.board.device.safe);
  }

  /** After either kind of boot: the emulated image's faults, the factory config at the first boot. */
  private booted(safe: boolean): void {
    const d = this.dispenser;
    if (this.firmware.behaviour === "crash" && !safe) this.sched.at(this.sched.now + 5_000, () => this.reboot("panic"), this.group);
    if (!this.provisioned && d !== undefined) {
      this.provisioned = true;
      d.receiveConfig(this.o.config, "provisioning");
    }
  }

  private bringNetworkUp(): void {
    if (!this.alive || !this.networkUp) return;
    const g = this.group;
    if (this.link === undefined) this.standIn.connect();
    if (!this.timeSet) {
      this.sched.at(
        this.sched.now + LINK_UP_MS + SNTP_MS,
        () => {
          if (!this.alive || !this.networkUp || g !== this.group || this.timeSet) return;
          this.timeSet = true;
          this.emit("sim", `"sntp":${JSON.stringify(isoUtc(this.sched.now + this.clockError))}`);
          this.dispenser?.clockChanged();
        },
        g,
      );
    }
  }

  /** Power is gone: every timer of this incarnation dies, outputs fall dark, the RTC is lost. */
  private kill(how: string): void {
    if (!this.alive) return;
    // No goodbye on the wire: the power is gone (the broker finds out by keep-alive).
    this.sched.cancelGroup(this.group);
    this.out.dark();
    this.alive = false;
    this.standIn.drop();
    this.dispenser = undefined;
    this.link = undefined;
    this.simBoard = undefined;
    this.emit("power", `"on":false,"how":"${how}"`);
  }

  /**
   * Cut the power for offMs. With `tear`, the cut happens during the (afterWrites+1)-th storage
   * write from now (that write is torn), or after maxWaitMs if no write comes.
   */
  powerCut(offMs: number, tear?: { mode: "lost" | "truncated"; afterWrites: number; maxWaitMs: number }): void {
    this.offMs = offMs;
    if (tear !== undefined) {
      this.kv.armPowerCut({ afterWrites: tear.afterWrites, tear: tear.mode });
      this.tearFallback = this.sched.at(this.sched.now + tear.maxWaitMs, () => {
        this.tearFallback = 0;
        this.kv.disarm();
        this.cutNow("cut");
      });
      return;
    }
    this.cutNow("cut");
  }

  private cutNow(how: string): void {
    if (!this.alive) return;
    this.kill(how);
    this.timeSet = false;
    this.sched.at(this.sched.now + this.offMs, () => this.guard(() => this.boot("power_on")));
  }

  /** Run device code; a torn write (PowerCut) ends this incarnation. Other errors propagate. */
  guard(fn: () => void): void {
    try {
      fn();
    } catch (e) {
      if (!this.handle(e)) throw e;
    }
  }

  /** Scheduler error hook: true if the error was a simulated power cut. */
  handle(e: unknown): boolean {
    if (!(e instanceof PowerCut)) return false;
    if (this.tearFallback !== 0) this.sched.cancel(this.tearFallback);
    this.tearFallback = 0;
    this.cutNow("torn-write");
    return true;
  }

  /** Watchdog/software reset: the RTC keeps time. */
  reboot(reason: string): void {
    if (!this.alive) return;
    this.dispenser?.stop();
    this.kill("reset");
    this.sched.at(this.sched.now + BOOT_MS, () => this.guard(() => this.boot(reason)));
  }

  setNetwork(up: boolean): void {
    this.networkUp = up;
    this.o.broker?.setNetwork(up);
    this.simBoard?.radio.apChanged(up);
    if (!up) this.standIn.drop();
    else this.bringNetworkUp();
  }

  get network(): boolean {
    return this.networkUp;
  }

  press(kind: PressKind): void {
    if (this.alive && this.simBoard !== undefined) this.simBoard.press(kind);
    else if (this.alive && this.buttonCb !== undefined) this.guard(() => this.buttonCb!(kind));
  }

  /** Remove pills: a hand presses, picks and leaves over durationMs. */
  remove(comp: string, amount: Amount, durationMs = 4000): boolean {
    return this.bayOps.remove(this.rel(this.sched.now), comp, amount, durationMs);
  }

  add(comp: string, amount: Amount, durationMs = 4000): boolean {
    return this.bayOps.add(this.rel(this.sched.now), comp, amount, durationMs);
  }

  bump(comp: string, grams = 300, durationMs = 300): boolean {
    return this.bayOps.bump(this.rel(this.sched.now), comp, grams, durationMs);
  }

  lift(comp: string, durationMs = 2500): boolean {
    return this.bayOps.lift(this.rel(this.sched.now), comp, durationMs);
  }

  fault(comp: string, kind: BayFault, durationMs?: number): boolean {
    return this.bayOps.fault(this.rel(this.sched.now), comp, kind, durationMs);
  }

  ntpSync(): void {
    this.clockError = 0;
    const sntp = this.simBoard?.board.sntp;
    if (sntp !== undefined) return this.guard(() => (sntp.stop(), sntp.start())); // the board asks its SNTP server now
    if (this.alive && this.networkUp) this.timeSet = true;
    this.guard(() => this.dispenser?.clockChanged());
  }

  clockStep(deltaMs: number): void {
    this.clockError += deltaMs;
    this.guard(() => this.dispenser?.clockChanged());
  }

  /** Push a config through the local path (as after authentication); a patch applies over the last accepted one. */
  pushConfig(raw: unknown): boolean {
    const d = this.dispenser;
    if (d === undefined) return false;
    let ok = false;
    this.guard(() => {
      ok = d.receiveConfig(raw, "scenario").ok;
    });
    if (ok && typeof raw === "object" && raw !== null && !Array.isArray(raw)) {
      this.lastConfig = raw as Record<string, unknown>;
    }
    return ok;
  }

  /** The running core (undefined while the power is off). */
  get core(): Dispenser | undefined {
    return this.dispenser;
  }

  status():
    | (DispenserStatus & { alive: true; leds: boolean[]; buzzer: string | null; network: boolean })
    | { alive: false; network: boolean } {
    const d = this.dispenser;
    if (!this.alive || d === undefined) return { alive: false, network: this.networkUp };
    return { ...d.status(), alive: true, ...this.out.state(), network: this.networkUp };
  }

  /** True mass on each bay (grams), for dashboards. */
  trueGrams(): number[] {
    return this.bayOps.trueGrams(this.rel(this.sched.now));
  }
}
