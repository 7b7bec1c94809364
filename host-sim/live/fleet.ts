import { parsePosixTz, localToUtc, utcToLocal } from "../../firmware/core/schedule/tz";
import { nextOccurrence } from "../../firmware/core/schedule/occurrences";
import { WarpScheduler } from "./warp-scheduler";
import type { DeviceTransport } from "./transport";
import { type Action, DEFAULT_CHANNELS, DEFAULT_LEDS, type LoggedEv, type TimelineLine } from "./types";
import { FleetDevice } from "./fleet-device";

export const RING_SIZE = 400;
export const MAX_DEVICES = 12;

export type { Action, LoggedEv, TimelineLine };
export { DEFAULT_CHANNELS, DEFAULT_LEDS, FleetDevice };

export interface FleetOptions {
  /** Virtual start (UTC ms). Default: today 07:55 local time of the base config's tz. */
  readonly start?: number;
  readonly warp?: number;
  readonly devices?: number;
  /** Base config (test/scenarios/configs/home.json); adapted per device id. */
  readonly baseConfig: Record<string, unknown>;
  readonly transport: DeviceTransport;
  /** Doses loaded per compartment at start. Default 7. */
  readonly loadedDoses?: number;
  readonly ringSize?: number;
}

/** Today (of `realNow`) at hh:mm local time in `tz`, as UTC ms. */
export function localTodayAt(tzString: string, hh: number, mm: number, realNow = Date.now()): number {
  const p = parsePosixTz(tzString);
  if (!p.ok) return realNow;
  const local = utcToLocal(p.tz, realNow).localMs;
  const day = Math.floor(local / 86_400_000);
  return localToUtc(p.tz, day * 86_400_000 + (hh * 60 + mm) * 60_000).utcMs;
}

/** The base config for device `index` (1-based): its id, dose times shifted by 5 min per device. */
export function configFor(base: Record<string, unknown>, id: string, index: number): Record<string, unknown> {
  const cfg = JSON.parse(JSON.stringify(base)) as Record<string, unknown>;
  cfg.device = id;
  cfg.version = 1;
  const shift = ((index - 1) % 12) * 5;
  if (Array.isArray(cfg.doses)) {
    for (const d of cfg.doses as { at?: unknown }[]) {
      if (typeof d.at !== "string" || !/^\d\d:\d\d$/.test(d.at)) continue;
      const m = (Number(d.at.slice(0, 2)) * 60 + Number(d.at.slice(3)) + shift) % 1440;
      d.at = `${String(Math.floor(m / 60)).padStart(2, "0")}:${String(m % 60).padStart(2, "0")}`;
    }
  }
  return cfg;
}

export class Fleet {
  readonly sched: WarpScheduler;
  readonly transport: DeviceTransport;
  readonly devices = new Map<string, FleetDevice>();
  private readonly base: Record<string, unknown>;
  private readonly loadedDoses: number;
  private readonly ringSize: number;
  private listeners: (() => void)[] = [];
  private acceptedListeners: ((dev: FleetDevice, version: number) => void)[] = [];
  private nextIndex = 1;
  /** Errors that were not power cuts (kept for the UI; bounded). */
  readonly errors: string[] = [];

  constructor(o: FleetOptions) {
    this.base = o.baseConfig;
    this.transport = o.transport;
    this.loadedDoses = o.loadedDoses ?? 7;
    this.ringSize = o.ringSize ?? RING_SIZE;
    const tz = typeof o.baseConfig.tz === "string" ? o.baseConfig.tz : "UTC0";
    const start = o.start ?? localTodayAt(tz, 7, 55);
    this.sched = new WarpScheduler({ start, warp: o.warp ?? 60, onError: (e) => this.onError(e) });
    this.sched.onBatch = () => this.changed();
    const n = o.devices ?? 3;
    for (let i = 0; i < n; i++) this.addDevice();
  }

  /** Error of device code run outside the scheduler. */
  reportError(e: unknown): void {
    this.onError(e);
  }

  private onError(e: unknown): void {
    for (const d of this.devices.values()) if (d.sim.handle(e)) return;
    const msg = e instanceof Error ? (e.stack ?? e.message) : String(e);
    this.errors.push(msg);
    if (this.errors.length > 20) this.errors.shift();
    console.error("[sim] device callback threw:", msg);
  }

  /** Add and boot a dispenser dk-sim-<n>. */
  addDevice(): FleetDevice {
    if (this.devices.size >= MAX_DEVICES) throw new RangeError(`at most ${MAX_DEVICES} devices`);
    const index = this.nextIndex++;
    const id = `dk-sim-${index}`;
    const dev = new FleetDevice(this, id, index, configFor(this.base, id, index), this.loadedDoses, this.ringSize);
    this.devices.set(id, dev);
    this.sched.sync();
    dev.sim.guard(() => dev.sim.boot("power_on"));
    this.changed();
    return dev;
  }

  get(id: string): FleetDevice | undefined {
    return this.devices.get(id);
  }

  start(): void {
    this.sched.start();
  }

  stop(): void {
    this.sched.stop();
  }

  setWarp(w: number): void {
    this.sched.sync();
    this.sched.setWarp(w);
    this.changed();
  }

  /** Earliest future due instant of a fixed dose across the fleet (undefined when none). */
  nextDoseAt(): number | undefined {
    const now = this.sched.now;
    let best: number | undefined;
    for (const d of this.devices.values()) {
      const cfg = d.normalizedConfig();
      if (cfg === undefined) continue;
      const tz = parsePosixTz(cfg.tz);
      if (!tz.ok) continue;
      for (const dose of cfg.doses) {
        const o = nextOccurrence(dose, tz.tz, now);
        if (o !== undefined && (best === undefined || o.dueUtcMs < best)) best = o.dueUtcMs;
      }
    }
    return best;
  }

  /** Run virtual time fast up to `t` (never backwards). */
  async jumpTo(t: number): Promise<void> {
    this.sched.sync();
    await this.sched.advanceTo(t);
    this.changed();
  }

  /** Devices with a dose calling now (due or late, not taken): "Next dose" must not run past it. */
  calling(): string[] {
    const out: string[] = [];
    for (const d of this.devices.values()) {
      const st = d.sim.status();
      if (st.alive && st.slots.some((x) => x.state === "due" || x.state === "late" || x.state === "partial")) out.push(d.id);
    }
    return out;
  }

  /**
   * Jump to the next due dose of any device (plus `afterMs`); returns the instant. While a dose is
   * calling on some device nothing is skipped: no jump (undefined), the caller says which device.
   */
  async jumpToNextDose(afterMs = 0): Promise<number | undefined> {
    this.sched.sync();
    if (this.calling().length > 0) return undefined;
    const t = this.nextDoseAt();
    if (t !== undefined) await this.jumpTo(t + afterMs);
    return t;
  }

  /** Called when a device accepted a config (provisioning included), after lastConfig follows it. */
  onConfigAccepted(cb: (dev: FleetDevice, version: number) => void): void {
    this.acceptedListeners.push(cb);
  }

  configAccepted(dev: FleetDevice, version: number): void {
    for (const l of this.acceptedListeners) {
      try {
        l(dev, version);
      } catch (e) {
        console.error("[sim] config listener threw:", e);
      }
    }
  }

  onChange(cb: () => void): () => void {
    this.listeners.push(cb);
    return () => {
      this.listeners = this.listeners.filter((x) => x !== cb);
    };
  }

  changed(): void {
    for (const l of this.listeners) l();
  }

  snapshot(): Record<string, unknown> {
    return {
      now: this.sched.now,
      warp: this.sched.warp,
      lagMs: this.sched.lagMs,
      transport: this.transport.kind,
      devices: [...this.devices.values()].map((d) => d.snapshot()),
      errors: this.errors.slice(-3),
    };
  }
}
