/**
 * A fleet of simulated dispensers for the live simulator (Node only): N SimDevices running the real
 * firmware core on one WarpScheduler, each with a bounded timeline ring for the UI, dose history,
 * and the controls of the dashboard (remove pills, lift, bump, button, power cut, network, warp).
 */
import { SimDevice, compartmentsOf } from "../kernel/device/sim-device";
import { validateConfig } from "../../firmware/core/config/validate";
import type { DispenserConfig, FixedDose } from "../../firmware/core/config/types";
import { parsePosixTz, localToUtc, utcToLocal } from "../../firmware/core/schedule/tz";
import { nextOccurrence } from "../../firmware/core/schedule/occurrences";
import { WarpScheduler } from "./warp-scheduler";
import { DoseHistory, type DoseRecord } from "./history";
import type { DeviceTransport } from "./transport";
import type { LoggedEv, PushTarget } from "./types";

export const DEFAULT_CHANNELS = 4;
export const DEFAULT_LEDS = 4;
export const RING_SIZE = 400;
export const MAX_DEVICES = 12;

export interface TimelineLine {
  /** Line number within the device (monotonic, for incremental UI updates). */
  readonly n: number;
  /** Virtual UTC ms. */
  readonly t: number;
  readonly k: string;
  readonly d: Record<string, unknown>;
}

export type { LoggedEv };

export type Action =
  | { readonly do: "remove" | "add"; readonly comp: string; readonly doses?: number; readonly pills?: number }
  | { readonly do: "lift" | "bump"; readonly comp: string }
  | { readonly do: "button"; readonly kind: "short" | "long" }
  | { readonly do: "power-cut"; readonly offMs: number }
  | { readonly do: "reboot" }
  | { readonly do: "network"; readonly up: boolean };

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

export class FleetDevice implements PushTarget {
  readonly id: string;
  readonly index: number;
  readonly sim: SimDevice;
  readonly history = new DoseHistory();
  private readonly ring: TimelineLine[] = [];
  private readonly ringSize: number;
  private lineNo = 0;
  private capturing: LoggedEv[] | undefined;
  /** Per calling slot: the last escalation step taken (esc.step or relay.request). */
  readonly escalation = new Map<string, { step: number; ch: string; pattern?: string; volume?: number; to?: unknown }>();
  /** Net grams of the empty tray on each channel (derived at creation). */
  private readonly tray: number[];
  lastAckedSeq = 0;
  lastEvSeq = 0;
  private readonly fleet: Fleet;

  constructor(fleet: Fleet, id: string, index: number, config: Record<string, unknown>, loadedDoses: number, ringSize: number) {
    this.fleet = fleet;
    this.id = id;
    this.index = index;
    this.ringSize = ringSize;
    const sched = fleet.sched;
    this.sim = new SimDevice({
      sched,
      id,
      channels: DEFAULT_CHANNELS,
      leds: DEFAULT_LEDS,
      sps: 10,
      seed: 1000 + index * 17,
      loadedDoses,
      clockErrorMs: 0,
      config,
      network: true,
      emit: (k, body) => this.onLine(k, body),
      link: fleet.transport.linkFor(id, {
        sync: () => fleet.sched.sync(),
        guard: (fn) => this.guard(fn),
      }),
    });
    const g0 = this.sim.trueGrams();
    const comps = compartmentsOf(config);
    this.tray = g0.map((g, ch) => {
      let loaded = 0;
      for (const c of comps.values()) if (c.channel === ch) for (const m of c.meds) loaded += (loadedDoses * m.count * m.unitMg) / 1000;
      return g - loaded;
    });
  }

  now(): number {
    return this.fleet.sched.now;
  }

  /** Run device code from outside the scheduler (link callbacks): torn writes cut the power, other errors are reported. */
  guard(fn: () => void): void {
    try {
      this.sim.guard(fn);
    } catch (e) {
      this.fleet.reportError(e);
    }
  }

  /** Bring virtual time up to the real-time mapping before acting. */
  sync(): void {
    this.fleet.sched.sync();
  }

  /** Run fn and return the core events it logged synchronously. */
  capture(fn: () => void): LoggedEv[] {
    const out: LoggedEv[] = [];
    this.capturing = out;
    try {
      fn();
    } finally {
      this.capturing = undefined;
    }
    return out;
  }

  private onLine(k: string, body: string): void {
    let d: Record<string, unknown>;
    try {
      d = JSON.parse(`{${body}}`) as Record<string, unknown>;
    } catch {
      d = { raw: body };
    }
    const t = this.fleet.sched.now;
    if (k === "tx") {
      // Deliveries are frequent and carry no news for the UI: keep only the high-water mark.
      if (typeof d.seq === "number" && d.seq > this.lastAckedSeq) this.lastAckedSeq = d.seq;
      return;
    }
    if (k === "ev") this.onEvent(d, t);
    if (k === "power" && d.on === false) this.fleet.transport.powerOff?.(this.id);
    this.ring.push({ n: ++this.lineNo, t, k, d });
    if (this.ring.length > this.ringSize) this.ring.shift();
    this.fleet.changed();
  }

  private onEvent(d: Record<string, unknown>, t: number): void {
    const type = String(d.type);
    const data = (typeof d.data === "object" && d.data !== null ? d.data : {}) as Record<string, unknown>;
    if (typeof d.seq === "number") this.lastEvSeq = d.seq;
    this.capturing?.push({ seq: typeof d.seq === "number" ? d.seq : 0, type, data });
    const slot = typeof data.slot === "string" ? data.slot : undefined;
    if (slot !== undefined) {
      if (type === "esc.step" || type === "relay.request") {
        const step = typeof data.step === "number" ? data.step : 0;
        this.escalation.set(slot, {
          step,
          ch: String(data.ch),
          ...(typeof data.pattern === "string" ? { pattern: data.pattern } : {}),
          ...(typeof data.volume === "number" ? { volume: data.volume } : {}),
          ...(data.to !== undefined ? { to: data.to } : {}),
        });
        if (this.escalation.size > 16) this.escalation.delete(this.escalation.keys().next().value as string);
      } else if (
        /^dose\.(taken|taken_early|missed)$/.test(type) ||
        type === "relay.resolve" ||
        type === "slot.cancelled" ||
        (type === "dose.partial" && data.final === true)
      ) {
        this.escalation.delete(slot);
      }
    }
    if (type === "power") this.escalation.clear();
    if (type === "config.accepted" && typeof data.version === "number") {
      // A config that came over the link: follow it (the dashboard and the physics read lastConfig).
      const pushed = this.fleet.transport.pushedConfig?.(this.id, data.version);
      if (pushed !== undefined) this.sim.lastConfig = pushed;
      this.fleet.configAccepted(this, data.version);
    }
    this.history.onEvent(type, data, t, (comp) => this.medsOf(comp));
  }

  private medsOf(comp: string): DoseRecord["meds"] {
    const list = (this.sim.lastConfig.compartments ?? []) as { id?: string; meds?: { name: string; count: number; unitMg: number }[] }[];
    const c = list.find((x) => x.id === comp);
    return c?.meds?.map((m) => ({ name: m.name, count: m.count, unitMg: m.unitMg })) ?? [];
  }

  /** Timeline lines after line number `after`. */
  linesAfter(after: number): TimelineLine[] {
    if (this.ring.length === 0 || this.ring[this.ring.length - 1].n <= after) return [];
    return this.ring.filter((l) => l.n > after);
  }

  /** Running config, normalized (undefined if the last accepted one does not validate). */
  normalizedConfig(): DispenserConfig | undefined {
    const v = validateConfig(this.sim.lastConfig, { channels: DEFAULT_CHANNELS, leds: DEFAULT_LEDS });
    return v.ok ? v.config : undefined;
  }

  act(a: Action): { ok: boolean; error?: string } {
    this.sync();
    const s = this.sim;
    switch (a.do) {
      case "remove":
      case "add": {
        const amount: { pills: number } | { doses: number } = a.pills !== undefined ? { pills: a.pills } : { doses: a.doses ?? 1 };
        if (a.do === "remove") {
          const c = this.compInfo().find((x) => x.id === a.comp);
          if (c === undefined) return { ok: false, error: `no compartment ${a.comp}` };
          const wantMg = "pills" in amount ? amount.pills * c.pillMg : amount.doses * c.doseMg;
          if (c.netGrams * 1000 < wantMg - 1) return { ok: false, error: `compartment ${a.comp} holds too little` };
          // In milligrams from the running config (a config pushed over the link may change the doses).
          return s.remove(a.comp, { mg: wantMg }) ? { ok: true } : { ok: false, error: `no compartment ${a.comp}` };
        }
        const c = this.compInfo().find((x) => x.id === a.comp);
        if (c === undefined) return { ok: false, error: `no compartment ${a.comp}` };
        const addMg = "pills" in amount ? amount.pills * c.pillMg : amount.doses * c.doseMg;
        return s.add(a.comp, { mg: addMg }) ? { ok: true } : { ok: false, error: `no compartment ${a.comp}` };
      }
      case "lift":
        return s.lift(a.comp) ? { ok: true } : { ok: false, error: `no compartment ${a.comp}` };
      case "bump":
        return s.bump(a.comp) ? { ok: true } : { ok: false, error: `no compartment ${a.comp}` };
      case "button":
        if (!s.alive) return { ok: false, error: "device is off" };
        s.press(a.kind);
        return { ok: true };
      case "power-cut":
        if (!s.alive) return { ok: false, error: "device is already off" };
        s.powerCut(Math.max(1000, Math.min(a.offMs, 7 * 86_400_000)));
        return { ok: true };
      case "reboot":
        if (!s.alive) return { ok: false, error: "device is off" };
        s.reboot("software");
        return { ok: true };
      case "network":
        s.setNetwork(a.up);
        this.fleet.transport.networkChanged?.(this.id, a.up);
        this.fleet.changed();
        return { ok: true };
    }
  }

  private compInfo(): {
    id: string;
    label: string;
    channel: number;
    led: number;
    doseMg: number;
    pillMg: number;
    pillsPerDose: number;
    netGrams: number;
  }[] {
    const list = (this.sim.lastConfig.compartments ?? []) as {
      id: string;
      label: string;
      channel: number;
      led: number;
      meds: { count: number; unitMg: number }[];
    }[];
    const g = this.sim.trueGrams();
    return list.map((c) => {
      let mg = 0;
      let pills = 0;
      for (const m of c.meds ?? []) {
        mg += m.count * m.unitMg;
        pills += m.count;
      }
      return {
        id: c.id,
        label: c.label,
        channel: c.channel,
        led: c.led,
        doseMg: mg,
        pillMg: pills > 0 ? mg / pills : 0,
        pillsPerDose: pills,
        netGrams: (g[c.channel] ?? 0) - (this.tray[c.channel] ?? 0),
      };
    });
  }

  /** Everything the dashboard draws for this device. */
  snapshot(): Record<string, unknown> {
    const st = this.sim.status();
    const now = this.fleet.sched.now;
    const cfg = this.normalizedConfig();
    const tz = cfg !== undefined ? parsePosixTz(cfg.tz) : undefined;
    const comps = this.compInfo().map((c) => {
      const measured = st.alive ? st.grams[c.channel] : null;
      const measuredNet =
        measured !== null && measured !== undefined && Number.isFinite(measured) ? measured - (this.tray[c.channel] ?? 0) : null;
      const slot = st.alive ? st.slots.filter((x) => x.comp === c.id).sort((a, b) => a.due - b.due)[0] : undefined;
      let next: { slot: string; due: number; state: string } | null =
        slot !== undefined ? { slot: slot.id, due: slot.due, state: slot.state } : null;
      if (next === null && cfg !== undefined && tz !== undefined && tz.ok) {
        let best: { slot: string; due: number } | undefined;
        for (const d of cfg.doses as readonly FixedDose[]) {
          if (d.compartment !== c.id) continue;
          const o = nextOccurrence(d, tz.tz, now);
          if (o !== undefined && (best === undefined || o.dueUtcMs < best.due)) best = { slot: o.slotId, due: o.dueUtcMs };
        }
        if (best !== undefined) next = { ...best, state: "scheduled" };
      }
      const prn = cfg?.prn.find((p) => p.compartment === c.id);
      const esc = next !== null ? this.escalation.get(next.slot) : undefined;
      return {
        id: c.id,
        label: c.label,
        channel: c.channel,
        led: c.led,
        ledOn: st.alive ? st.leds[c.led] === true : false,
        doseMg: c.doseMg,
        pillsPerDose: c.pillsPerDose,
        trueNetGrams: round3(c.netGrams),
        measuredNetGrams: measuredNet === null ? null : round3(measuredNet),
        estDoses: measuredNet === null || c.doseMg <= 0 ? null : Math.max(0, Math.round(((measuredNet * 1000) / c.doseMg) * 10) / 10),
        estPills: measuredNet === null || c.pillMg <= 0 ? null : Math.max(0, Math.round((measuredNet * 1000) / c.pillMg)),
        next,
        prn: prn !== undefined ? { id: prn.id, maxPer24h: prn.maxPer24h, minIntervalMin: prn.minIntervalMin } : null,
        escalation: esc ?? null,
      };
    });
    const outbox = st.alive ? st.outbox : null;
    const link = this.fleet.transport.linkState?.(this.id);
    const connection = !st.alive
      ? "off"
      : !st.network
        ? "offline"
        : link !== undefined && link !== "connected"
          ? "connecting"
          : outbox !== null && outbox > 0
            ? "syncing"
            : "online";
    return {
      id: this.id,
      alive: st.alive,
      network: st.network,
      connection,
      link: link ?? null,
      buzzer: st.alive ? st.buzzer : null,
      config: st.alive ? st.config : null,
      timeSet: st.alive ? st.timeSet : false,
      silencedUntil: st.alive && st.silencedUntil > now ? st.silencedUntil : null,
      faults: st.alive ? st.faults : [],
      outbox,
      dropped: st.alive ? st.dropped : null,
      lastEvSeq: this.lastEvSeq,
      lastAckedSeq: this.lastAckedSeq,
      slots: st.alive ? st.slots : [],
      compartments: comps,
      localTime: tz !== undefined && tz.ok ? localString(utcToLocal(tz.tz, now).localMs) : null,
    };
  }
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}

function localString(localMs: number): string {
  return new Date(localMs).toISOString().slice(0, 16).replace("T", " ");
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

  /** Jump to the next due dose of any device (plus `afterMs`); returns the instant. */
  async jumpToNextDose(afterMs = 0): Promise<number | undefined> {
    this.sched.sync();
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
