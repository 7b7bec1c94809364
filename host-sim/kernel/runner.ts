/**
 * Scenario runner: runs the firmware core in virtual time against emulated hardware and
 * writes a deterministic JSON-lines timeline (docs/scenarios.md). XS-clean, so the very same
 * code runs in Node and inside the XS engine (the XS lane compares the two byte for byte).
 */
import type { Buzzer, Button, Clock, KeyValue, Leds, LoadCells, Network, PressKind, Ports, ToneStep } from "../../firmware/core/ports";
import type { Calibration } from "../../firmware/core/load-events";
import type { LoggedEvent } from "../../firmware/core/eventlog";
import { createDispenser, type Dispenser, type Uplink } from "../../firmware/core/dispenser";
import { tonePattern } from "../../firmware/core/ladder";
import { isoUtc } from "../../firmware/core/civil";
import { Scheduler } from "./scheduler";
import { BayModel } from "./mass-model";
import { KvEmulator, PowerCut } from "./kv-emulator";
import type { Scenario, Step } from "./scenario";

export const FIRMWARE_VERSION = "0.1.0-sim";

/** Factory calibration of the simulated channels (offset counts, counts per gram). */
export function simCalibration(channel: number): Calibration {
  // A 1 kg, 1 mV/V cell at gain 128 gives about 2147.5 counts per gram; each cell differs a little.
  return { offset: 52_000 + 7_919 * channel, countsPerGram: 2147.5 * (1 - 0.013 * channel) };
}

/** Empty tray on each bay, grams. */
const TRAY_GRAMS = 18;
/** Uplink: connection set-up after the network comes up, and broker round trip. */
const LINK_UP_MS = 1_000;
const ACK_MS = 40;
/** SNTP answers this long after the network is usable. */
const SNTP_MS = 2_000;
const BOOT_MS = 1_000;
/** A power cut armed to tear a write happens at the latest this long after its step. */
const TEAR_WAIT_MS = 600_000;

interface Med {
  count: number;
  unitMg: number;
}

interface CompInfo {
  channel: number;
  meds: Med[];
}

function compartmentsOf(config: Record<string, unknown>): Map<string, CompInfo> {
  const out = new Map<string, CompInfo>();
  const list = Array.isArray(config.compartments) ? config.compartments : [];
  for (const c of list) {
    if (typeof c !== "object" || c === null) continue;
    const r = c as Record<string, unknown>;
    if (typeof r.id !== "string" || typeof r.channel !== "number") continue;
    const meds: Med[] = [];
    if (Array.isArray(r.meds)) {
      for (const m of r.meds) {
        const mr = m as Record<string, unknown>;
        if (typeof mr.count === "number" && typeof mr.unitMg === "number") meds.push({ count: mr.count, unitMg: mr.unitMg });
      }
    }
    out.set(r.id, { channel: r.channel, meds });
  }
  return out;
}

function doseMg(c: CompInfo): number {
  let mg = 0;
  for (const m of c.meds) mg += m.count * m.unitMg;
  return mg;
}

function patternName(steps: readonly ToneStep[]): string {
  for (const name of ["chime", "beep", "alarm", "fault"] as const) {
    const p = tonePattern(name);
    if (p.length === steps.length && p.every((s, i) => s.hz === steps[i].hz && s.ms === steps[i].ms)) return name;
  }
  return "custom";
}

export interface RunResult {
  readonly lines: string[];
}

/** Run a parsed scenario; every timeline line goes to `sink` (default: collected and returned). */
export function runScenario(sc: Scenario, sink?: (line: string) => void): string[] {
  const lines: string[] = [];
  const out = sink ?? ((l: string) => void lines.push(l));
  const sched = new Scheduler(sc.start);
  const kv = new KvEmulator();
  const comps = compartmentsOf(sc.config);
  const rel = (t: number): number => t - sc.start;

  const emit = (k: string, body: string): void => {
    out(`{"t":"${isoUtc(sched.now)}","k":"${k}"${body.length > 0 ? "," + body : ""}}`);
  };

  // ---- hardware that outlives a boot: bays, network, clock error
  const bays: BayModel[] = [];
  for (let ch = 0; ch < sc.device.channels; ch++) {
    let grams = TRAY_GRAMS;
    for (const c of comps.values()) if (c.channel === ch) grams += (sc.loadedDoses * doseMg(c)) / 1000;
    bays.push(new BayModel({ seed: sc.device.seed * 7919 + ch * 104_729 + 1, sps: sc.device.sps, calibration: simCalibration(ch), initialGrams: grams }));
  }
  let networkUp = sc.network;
  let clockError = sc.clockErrorMs;
  let timeSet = true;

  // ---- one device incarnation (a boot)
  let group = 0;
  let alive = false;
  let bootAt = sc.start;
  let dispenser: Dispenser | undefined;
  let linkUp = false;
  let linkEpoch = 0;
  let buttonCb: ((k: PressKind) => void) | undefined;
  const ledOn: boolean[] = [];
  let buzzing = false;
  let provisioned = false;
  let tearFallback = 0;
  let lastConfig: Record<string, unknown> = sc.config;

  const clock: Clock = {
    monoMs: () => sched.now - bootAt,
    wallMs: () => (timeSet ? sched.now + clockError : undefined),
  };
  const leds: Leds = {
    count: sc.device.leds,
    set(i: number, on: boolean): void {
      if (!alive || i < 0 || i >= sc.device.leds) return;
      ledOn[i] = on;
      emit("led", `"i":${i},"on":${on}`);
    },
  };
  const buzzer: Buzzer = {
    play(steps: readonly ToneStep[], volume: number): void {
      if (!alive) return;
      buzzing = true;
      emit("buzzer", `"on":true,"pattern":"${patternName(steps)}","volume":${volume}`);
    },
    stop(): void {
      if (!alive || !buzzing) return;
      buzzing = false;
      emit("buzzer", `"on":false`);
    },
  };
  const loadCells: LoadCells = {
    channels: sc.device.channels,
    sps: sc.device.sps,
    read: (ch: number): number => (ch >= 0 && ch < bays.length ? bays[ch].raw(rel(sched.now)) : NaN),
  };
  const button: Button = {
    onPress(cb: (k: PressKind) => void): void {
      buttonCb = cb;
    },
  };
  const network: Network = {
    // The scenario suite exercises delivery through the Uplink below; the byte-stream port is
    // exercised by the MQTT tests. A connection attempt here fails like an unreachable host.
    connect(_h, _p, _tls, handlers) {
      sched.at(sched.now + 1, () => handlers.onClose("unreachable"), group);
      return { write: () => false, close: () => undefined };
    },
  };
  const uplink: Uplink = {
    ready: () => alive && linkUp,
    send(ev: LoggedEvent): boolean {
      if (!alive || !linkUp) return false;
      const epoch = linkEpoch;
      const d = dispenser;
      sched.at(
        sched.now + ACK_MS,
        () => {
          if (!alive || epoch !== linkEpoch || d !== dispenser || d === undefined) return;
          emit("tx", `"seq":${ev.seq},"id":${JSON.stringify(ev.id)}`);
          d.acked(ev.seq);
        },
        group,
      );
      return true;
    },
  };

  function bringLinkUp(): void {
    if (!alive || !networkUp || linkUp) return;
    const g = group;
    sched.at(
      sched.now + LINK_UP_MS,
      () => {
        if (!alive || !networkUp || g !== group) return;
        linkUp = true;
        linkEpoch++;
        dispenser?.uplinkReady();
      },
      group,
    );
    if (!timeSet) {
      sched.at(
        sched.now + LINK_UP_MS + SNTP_MS,
        () => {
          if (!alive || !networkUp || g !== group || timeSet) return;
          timeSet = true;
          emit("sim", `"sntp":${JSON.stringify(isoUtc(sched.now + clockError))}`);
          dispenser?.clockChanged();
        },
        group,
      );
    }
  }

  function boot(reason: string): void {
    group++;
    alive = true;
    bootAt = sched.now;
    linkUp = false;
    buttonCb = undefined;
    kv.reboot();
    const ports: Ports = { clock, timers: sched.timers(group), leds, buzzer, loadCells, button, kv, network };
    const calibration: Calibration[] = [];
    for (let ch = 0; ch < sc.device.channels; ch++) calibration.push(simCalibration(ch));
    emit("power", `"on":true,"reason":"${reason}"`);
    const d = createDispenser(
      ports,
      { deviceId: sc.device.id, firmware: FIRMWARE_VERSION, resetReason: reason, hw: { channels: sc.device.channels, leds: sc.device.leds }, calibration },
      {
        uplink,
        onEvent: (ev: LoggedEvent) => {
          emit("ev", `"seq":${ev.seq},"id":${JSON.stringify(ev.id)},"type":${JSON.stringify(ev.type)},"data":${JSON.stringify(ev.data)}`);
        },
      },
    );
    dispenser = d;
    d.start();
    if (!provisioned) {
      provisioned = true;
      d.receiveConfig(sc.config, "provisioning");
    }
    bringLinkUp();
  }

  /** Power is gone: every timer of this incarnation dies, outputs fall dark. */
  function kill(how: string): void {
    if (!alive) return;
    sched.cancelGroup(group);
    for (let i = 0; i < ledOn.length; i++) {
      if (ledOn[i]) {
        ledOn[i] = false;
        emit("led", `"i":${i},"on":false`);
      }
    }
    if (buzzing) {
      buzzing = false;
      emit("buzzer", `"on":false`);
    }
    alive = false;
    linkUp = false;
    dispenser = undefined;
    emit("power", `"on":false,"how":"${how}"`);
  }

  function onError(e: unknown): void {
    if (e instanceof PowerCut) {
      if (tearFallback !== 0) sched.cancel(tearFallback);
      tearFallback = 0;
      kill("torn-write");
      timeSet = false;
      sched.at(sched.now + pendingOffMs, () => boot("power_on"));
      return;
    }
    throw e;
  }
  let pendingOffMs = 0;

  function pressed(kind: PressKind): void {
    if (alive && buttonCb !== undefined) buttonCb(kind);
  }

  function doStep(s: Step): void {
    emit("sim", `"step":${JSON.stringify(s.raw)}`);
    const c = s.compartment !== undefined ? comps.get(s.compartment) : undefined;
    const t = rel(s.t);
    switch (s.do) {
      case "remove":
      case "add": {
        if (c === undefined) return;
        const unit = c.meds.length > 0 ? c.meds[0].unitMg : 0;
        const mg = s.doses !== undefined ? s.doses * doseMg(c) : s.pills !== undefined ? s.pills * unit : s.mg ?? 0;
        const dur = s.durationMs ?? 4000;
        if (s.do === "remove") bays[c.channel].removePills(t, mg / 1000, dur);
        else bays[c.channel].addMass(t, mg / 1000, dur);
        return;
      }
      case "bump":
        if (c !== undefined) bays[c.channel].bump(t, s.grams ?? 300, s.durationMs ?? 300);
        return;
      case "lift":
        if (c !== undefined) bays[c.channel].liftAndReturn(t, s.durationMs ?? 2500);
        return;
      case "fault":
        if (c !== undefined) {
          const kind = s.kind as "disconnect" | "stuck" | "saturate" | "noisy";
          if (s.durationMs !== undefined) bays[c.channel].fault(t, kind, t + s.durationMs);
          else bays[c.channel].fault(t, kind);
        }
        return;
      case "button":
        pressed((s.kind ?? "short") as PressKind);
        return;
      case "power-cut": {
        pendingOffMs = s.offMs ?? 5000;
        if (s.tear !== undefined) {
          kv.armPowerCut({ afterWrites: s.afterWrites ?? 0, tear: s.tear });
          tearFallback = sched.at(sched.now + TEAR_WAIT_MS, () => {
            tearFallback = 0;
            kv.disarm();
            kill("cut");
            timeSet = false;
            sched.at(sched.now + pendingOffMs, () => boot("power_on"));
          });
          return;
        }
        kill("cut");
        timeSet = false;
        sched.at(sched.now + pendingOffMs, () => boot("power_on"));
        return;
      }
      case "reboot":
        if (!alive) return;
        dispenser?.stop();
        kill("reset");
        sched.at(sched.now + BOOT_MS, () => boot(s.reason ?? "software"));
        return;
      case "network":
        networkUp = s.up === true;
        if (!networkUp) {
          linkUp = false;
          linkEpoch++;
        } else bringLinkUp();
        return;
      case "ntp-sync":
        clockError = 0;
        if (alive) timeSet = networkUp || timeSet;
        dispenser?.clockChanged();
        return;
      case "clock-step":
        clockError += s.deltaMs ?? 0;
        dispenser?.clockChanged();
        return;
      case "config": {
        // A patch applies over the last config the device accepted.
        const raw = s.config !== undefined ? s.config : { ...lastConfig, ...(s.patch ?? {}) };
        if (dispenser !== undefined && dispenser.receiveConfig(raw, "scenario").ok) lastConfig = raw as Record<string, unknown>;
        return;
      }
    }
  }

  for (const s of sc.steps) sched.at(s.t, () => doStep(s));
  emit("sim", `"scenario":${JSON.stringify(sc.name)},"device":${JSON.stringify(sc.device.id)}`);
  try {
    boot("power_on");
  } catch (e) {
    onError(e);
  }
  sched.runUntil(sc.end, (e) => onError(e));
  const st = dispenser?.status();
  emit(
    "end",
    st === undefined
      ? `"alive":false`
      : `"outbox":${st.outbox},"dropped":${st.dropped},"config":${JSON.stringify(st.config)},"slots":${JSON.stringify(st.slots.map((x) => [x.id, x.state]))},"kvWrites":${kv.stats().writes}`,
  );
  return lines;
}
