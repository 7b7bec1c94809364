/**
 * One dispenser of the live fleet: a SimDevice on the fleet's warp scheduler, its timeline ring
 * and dose history for the dashboard, and the dashboard's actions on it.
 */
import { SimDevice, compartmentsOf } from "../kernel/device/sim-device";
import { validateConfig } from "../../firmware/core/config/validate";
import { isLanguage } from "../../firmware/core/protocol/channels";
import type { DispenserConfig, FixedDose } from "../../firmware/core/config/types";
import { parsePosixTz, utcToLocal } from "../../firmware/core/schedule/tz";
import { nextOccurrence } from "../../firmware/core/schedule/occurrences";
import { DoseHistory, type DoseRecord } from "./history";
import { type Action, DEFAULT_CHANNELS, DEFAULT_LEDS, type LoggedEv, type PushTarget, type TimelineLine } from "./types";
import { runDeviceStep } from "../kernel/scenario/steps";
import type { DeviceTransport } from "./transport";
import type { WarpScheduler } from "./warp-scheduler";

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}

function localString(localMs: number): string {
  return new Date(localMs).toISOString().slice(0, 16).replace("T", " ");
}

/** What a fleet device needs of its fleet. */
export interface FleetHost {
  readonly sched: WarpScheduler;
  readonly transport: DeviceTransport;
  reportError(e: unknown): void;
  changed(): void;
  configAccepted(dev: FleetDevice, version: number): void;
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
  /** Seq of the last dose outcome (what the adherence chart shows): the console re-reads history only then. */
  lastOutcomeSeq = 0;
  private readonly fleet: FleetHost;

  constructor(fleet: FleetHost, id: string, index: number, config: Record<string, unknown>, loadedDoses: number, ringSize: number) {
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
    if (typeof d.seq === "number" && type.startsWith("dose.") && type !== "dose.due" && type !== "dose.late") this.lastOutcomeSeq = d.seq;
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
    if (type === "config.applied" && typeof data.version === "number") {
      // Whoever pushed it (the console, the pharmacist CLI, another tool): follow what the core runs.
      const cur = this.sim.core?.currentConfig();
      if (cur !== undefined && cur.version === data.version && this.sim.lastConfig.version !== cur.version)
        this.sim.lastConfig = JSON.parse(JSON.stringify(cur)) as Record<string, unknown>;
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
    const comp = a.compartment ?? "";
    switch (a.do) {
      case "remove":
      case "add": {
        const c = this.compInfo().find((x) => x.id === comp);
        if (c === undefined) return { ok: false, error: `no compartment ${comp}` };
        const mg = a.mg ?? (a.pills !== undefined ? a.pills * c.pillMg : (a.doses ?? 1) * c.doseMg);
        // In milligrams from the running config (a config pushed over the link may change the doses).
        if (a.do === "remove") {
          if (c.netGrams * 1000 < mg - 1) return { ok: false, error: `compartment ${comp} holds too little` };
          return s.remove(comp, { mg }) ? { ok: true } : { ok: false, error: `no compartment ${comp}` };
        }
        return s.add(comp, { mg }) ? { ok: true } : { ok: false, error: `no compartment ${comp}` };
      }
      case "lift":
      case "bump":
      case "fault":
        if (this.compInfo().find((x) => x.id === comp) === undefined) return { ok: false, error: `no compartment ${comp}` };
        runDeviceStep(s, a, 0);
        return { ok: true };
      case "button":
      case "reboot":
        if (!s.alive) return { ok: false, error: "device is off" };
        runDeviceStep(s, a, 0);
        return { ok: true };
      case "power-cut":
        if (!s.alive) return { ok: false, error: "device is already off" };
        s.powerCut(Math.max(1000, Math.min(a.offMs ?? 600_000, 7 * 86_400_000)));
        return { ok: true };
      case "network":
        s.setNetwork(a.up === true);
        this.fleet.transport.networkChanged?.(this.id, a.up === true);
        this.fleet.changed();
        return { ok: true };
      default:
        return { ok: false, error: `not a device action: ${a.do}` };
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
        // Whole doses × pills per dose (a mean pill mass miscounts a dose of unequal pills).
        estPills: measuredNet === null || c.doseMg <= 0 ? null : Math.max(0, Math.round((measuredNet * 1000) / c.doseMg)) * c.pillsPerDose,
        // What the device itself reports (core/dose/stock): doses and days left.
        stock: (st.alive ? st.stock?.find((x) => x.comp === c.id) : undefined) ?? null,
        lowDays: cfg?.stock?.lowDays ?? 3,
        // Can the weight confirm this compartment's pills (core/load weighZ; null while unknown)?
        weigh: (st.alive ? st.weigh?.find((x) => x.comp === c.id) : undefined) ?? null,
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
      // The household language of the last config it ran: its card keeps it while the box is off.
      lang: isLanguage(this.sim.lastConfig.lang) ? this.sim.lastConfig.lang : null,
      timeSet: st.alive ? st.timeSet : false,
      silencedUntil: st.alive && st.silencedUntil > now ? st.silencedUntil : null,
      faults: st.alive ? st.faults : [],
      outbox,
      dropped: st.alive ? st.dropped : null,
      lastEvSeq: this.lastEvSeq,
      lastOutcomeSeq: this.lastOutcomeSeq,
      lastAckedSeq: this.lastAckedSeq,
      slots: st.alive ? st.slots : [],
      compartments: comps,
      localTime: tz !== undefined && tz.ok ? localString(utcToLocal(tz.tz, now).localMs) : null,
    };
  }
}
