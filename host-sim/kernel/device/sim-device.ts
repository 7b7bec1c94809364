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
import type { Calibration } from "../../../firmware/core/load/events";
import type { LoggedEvent } from "../../../firmware/core/log/eventlog";
import type { DeviceIdentity, Dispenser, DispenserStatus, Uplink } from "../../../firmware/core/dispenser";
import { isoUtc } from "../../../firmware/core/schedule/civil";
import type { BayModel } from "../hw/mass-model";
import { KvEmulator, PowerCut } from "../hw/kv-emulator";
import { createDevice, type DeviceLink } from "../../../firmware/app/device";
import type { SchedulerLike } from "../time/scheduler";
import { mulberry32 } from "../prng";
import { SimBays } from "./sim-bays";
import { SimOutputs } from "./sim-outputs";
import {
  type Amount,
  type BayFault,
  compartmentsOf,
  type LinkFactory,
  type SimDeviceOptions,
  simCalibration,
  TRAY_GRAMS,
} from "./sim-config";

export { compartmentsOf, simCalibration, type Amount, type BayFault, type LinkFactory, type SimDeviceOptions };

export const FIRMWARE_VERSION = "0.1.0-sim";

export type { SchedulerLike };

/** What a boot's link needs and gives (firmware/app/device's DeviceLink). */
export type SimLink = DeviceLink;

/** Small deterministic PRNG (mulberry32) for the link's reconnect jitter. */
export const seededRandom: (seed: number) => () => number = mulberry32;

/** Built-in uplink: connection set-up after the network comes up, and broker round trip. */
const LINK_UP_MS = 1_000;
const ACK_MS = 40;
/** SNTP answers this long after the network is usable. */
const SNTP_MS = 2_000;
const BOOT_MS = 1_000;

export class SimDevice {
  readonly kv = new KvEmulator();
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
  private link: SimLink | undefined;
  private linkUp = false;
  private linkEpoch = 0;
  private buttonCb: ((k: PressKind) => void) | undefined;
  private readonly out: SimOutputs;
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

  /** Built-in uplink: a broker stand-in that acknowledges every event after ACK_MS while the network is up. */
  private readonly standIn: Uplink = {
    ready: () => this.alive && this.linkUp,
    send: (ev: LoggedEvent): boolean => {
      if (!this.alive || !this.linkUp) return false;
      const epoch = this.linkEpoch;
      const d = this.dispenser;
      this.sched.at(
        this.sched.now + ACK_MS,
        () => {
          if (!this.alive || epoch !== this.linkEpoch || d !== this.dispenser || d === undefined) return;
          this.emit("tx", `"seq":${ev.seq},"id":${JSON.stringify(ev.id)}`);
          d.acked(ev.seq);
        },
        this.group,
      );
      return true;
    },
  };

  // ------------------------------------------------------------------ life cycle

  /** Power on (first boot provisions the factory config). */
  boot(reason: string): void {
    this.group = this.sched.newGroup();
    this.boots++;
    this.alive = true;
    this.bootAt = this.sched.now;
    this.linkUp = false;
    this.buttonCb = undefined;
    this.kv.reboot();
    const o = this.o;
    const leds = { ...this.out.leds, count: o.leds, set: this.out.leds.set };
    const loadCells = { ...this.loadCells, channels: o.channels, sps: o.sps, read: this.loadCells.read };
    const ports: Ports = {
      clock: this.clock,
      timers: this.sched.timers(this.group),
      leds,
      buzzer: this.out.buzzer,
      loadCells,
      button: this.button,
      kv: this.kv,
      network: o.broker !== undefined ? o.broker.network(() => this.group) : (o.networkPort ?? this.unreachable),
    };
    const calibration: Calibration[] = [];
    for (let ch = 0; ch < o.channels; ch++) calibration.push(simCalibration(ch));
    const identity: DeviceIdentity = {
      deviceId: o.id,
      firmware: FIRMWARE_VERSION,
      resetReason: reason,
      hw: { channels: o.channels, leds: o.leds },
      calibration,
      trayGrams: TRAY_GRAMS,
    };
    this.emit("power", `"on":true,"reason":"${reason}"`);
    const { dispenser: d, link } = createDevice({
      ports,
      identity,
      link:
        o.link !== undefined
          ? { custom: o.link({ ports, identity, networkUp: () => this.networkUp }) }
          : o.broker !== undefined
            ? {
                mqtt: {
                  random: seededRandom(o.seed * 7919 + this.boots),
                  broker: { host: "broker.sim", port: 1883, tls: false, username: o.id, password: "sim" },
                  trustedKeys: o.trustedKeys ?? [],
                },
              }
            : { uplink: this.standIn },
      onEvent: (ev: LoggedEvent) => {
        this.emit(
          "ev",
          `"seq":${ev.seq},"id":${JSON.stringify(ev.id)},"type":${JSON.stringify(ev.type)},"data":${JSON.stringify(ev.data)}`,
        );
      },
    });
    this.link = link;
    this.dispenser = d;
    d.start();
    if (!this.provisioned) {
      this.provisioned = true;
      d.receiveConfig(o.config, "provisioning");
    }
    link?.start();
    this.bringNetworkUp();
  }

  private bringNetworkUp(): void {
    if (!this.alive || !this.networkUp) return;
    const g = this.group;
    if (this.link === undefined && !this.linkUp) {
      this.sched.at(
        this.sched.now + LINK_UP_MS,
        () => {
          if (!this.alive || !this.networkUp || g !== this.group) return;
          this.linkUp = true;
          this.linkEpoch++;
          this.dispenser?.uplinkReady();
        },
        g,
      );
    }
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
    this.linkUp = false;
    this.dispenser = undefined;
    this.link = undefined;
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
    if (!up) {
      this.linkUp = false;
      this.linkEpoch++;
    } else this.bringNetworkUp();
  }

  get network(): boolean {
    return this.networkUp;
  }

  press(kind: PressKind): void {
    if (this.alive && this.buttonCb !== undefined) this.guard(() => this.buttonCb!(kind));
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
