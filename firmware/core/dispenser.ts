/**
 * The dispenser: composes schedule, slots, escalation, dose detection, event log and outbox
 * over the ports it is given. No platform module is imported here.
 *
 * Data path: load cell → detector → dose slot → escalation → event log (persisted) → uplink.
 *
 * Time: all dose logic runs on the wall clock (UTC ms); timers run on the monotonic clock.
 * The planner sets one timer for the next deadline, capped at PLAN_CAP_MS so a wall-clock step
 * (SNTP) is noticed within that time even if the platform does not call clockChanged().
 * Until the wall clock is set the schedule cannot run: a TIME_UNSET fault is logged and the
 * device waits (the relay's dead-man alert covers that case).
 */
import type { LoadEvent } from "./load/events";
import { noteLoad } from "./load/notes";
import type { Ports, PressKind, TimerId } from "./ports";
import type { ConfigOutcome, DeviceIdentity, Dispenser, DispenserOptions, DispenserStatus } from "./device-api";
import type { ConfigError } from "./config/validate";
import { activate, admitConfig, type Active, type ApplyRecord, parseState, safeToApply, type StateRecord } from "./config/active";
import { versionOf } from "./protocol/json";
import { Store } from "./log/store";
import { EventLog, type EventClass, type LoggedEvent } from "./log/eventlog";
import { Outbox } from "./log/outbox";
import { Journal, type WalEntry } from "./log/journal";
import { LoadChannels } from "./load/channels";
import { advance, type EscalationDeps, nextDeadline } from "./escalation/escalator";
import { Outputs, type SoundWish } from "./outputs/outputs";
import { wantedOutputs } from "./outputs/arbiter";
import { recordRemoval } from "./dose/intake";
import { firstLook, materialise } from "./dose/materialise";
import { rebaseSlots } from "./dose/rebase";
import { checkAllStock, checkStockOf, onRefill, refillCommand } from "./dose/stock";
import { UntimedRemovals } from "./dose/untimed";
import { type Removal, WhileOff } from "./dose/while-off";
import { requestHelp } from "./escalation/help";
import { calibrateCommand, type LoadCommandDeps, statusOf, tareCommand } from "./load/commands";
import { isCalling } from "./dose/slots";
import { isoUtc } from "./schedule/civil";
import { ClockWatch } from "./schedule/clock-watch";
import { EV, type EventType } from "./protocol/events";

export type { ConfigOutcome, DeviceIdentity, Dispenser, DispenserOptions, DispenserStatus, Uplink } from "./device-api";

const PLAN_CAP_MS = 60_000;
const CUE_MS = 10_000;

export function createDispenser(ports: Ports, identity: DeviceIdentity, options: DispenserOptions = {}): Dispenser {
  const { clock, timers } = ports;
  // Storage faults found while the log itself loads are logged once it exists.
  const earlyFaults: { code: string; detail: string }[] = [];
  let logReady = false;
  const onStoreFault = (code: string, detail: string): void => {
    if (logReady) logEvent(EV.FAULT, "alert", { code, detail });
    else if (earlyFaults.length < 8) earlyFaults.push({ code, detail });
  };
  const store = new Store(ports.kv, { onFault: onStoreFault });
  const log = new EventLog(store, { deviceId: identity.deviceId, capacity: options.logCapacity ?? 256, onFault: onStoreFault });
  logReady = true;
  const outputs = new Outputs(ports.leds, ports.buzzer);
  const outbox = new Outbox(log, options.uplink, () => running);
  const journal = new Journal(log, (ev) => {
    if (options.onEvent) options.onEvent(ev);
    outbox.pump();
  });
  /** A state change and its events, persisted together (core/log/journal). */
  const tx = (fn: () => boolean): void => journal.tx(fn, saveState);

  let running = false;
  let active: Active | undefined;
  let pending: ApplyRecord | undefined;
  let st: StateRecord = { cursor: 0, slots: [], silencedUntil: 0, prn: {} };
  let planTimer: TimerId | undefined;
  let cueTimer: TimerId | undefined;
  let cue: SoundWish | undefined;
  const clockWatch = new ClockWatch(clock, (t, c, d) => void logEvent(t, c, d));
  const channels = new LoadChannels(
    ports,
    store,
    identity,
    () => running,
    (ev) => onLoad(ev),
    (ch, g, sigma) => onSettled(ch, g, sigma),
  );
  const whileOff = new WhileOff();
  const faults = new Map<number, string>();
  const untimed = new UntimedRemovals();
  const escDeps: EscalationDeps = { deviceId: identity.deviceId, log: (t, c, d) => void logEvent(t, c, d) };

  function logEvent(type: EventType, cls: EventClass, data: Record<string, unknown>): LoggedEvent {
    return journal.append(type, cls, data, clock.monoMs(), clock.wallMs() ?? null);
  }

  // ---------------------------------------------------------------- config

  function receiveConfig(raw: unknown, by: string): ConfigOutcome {
    const adm = admitConfig(raw, identity, pending ?? (active ? { config: active.cfg, hash: active.hash } : undefined));
    if (!adm.ok) return refuse(adm.code, adm.errors, raw);
    const rec = adm.rec;
    const cfg = rec.config;
    // Persist as pending first: a power cut from here on leaves the old or the new, never a mix.
    store.save("cfgnext", rec);
    pending = rec;
    const deferred = !safeToApply(active, st.slots, rec.config);
    logEvent(EV.CONFIG_ACCEPTED, "alert", { version: cfg.version, hash: rec.hash, by, deferred });
    if (!deferred) applyPending();
    return { ok: true, version: cfg.version, hash: rec.hash, deferred };
  }

  function refuse(code: string, errors: readonly ConfigError[], raw: unknown): ConfigOutcome {
    logEvent(EV.CONFIG_REFUSED, "alert", {
      code,
      version: versionOf(raw),
      errors: errors.slice(0, 8).map((e) => ({ code: e.code, path: e.path })),
      running: active ? active.cfg.version : null,
    });
    return { ok: false, code, errors };
  }

  function applyPending(): void {
    const rec = pending;
    if (rec === undefined) return;
    const prev = active;
    const next = activate(rec);
    // The rebased state first: a cut before "cfg" is saved applies the same config again at
    // boot, and rebasing an already rebased state changes nothing.
    tx(() => {
      rebaseSlots(escDeps, prev, next, st, clock.wallMs());
      return true;
    });
    active = next;
    store.save("cfg", rec);
    store.remove("cfgnext");
    pending = undefined;
    channels.rebuild(active?.cfg.compartments);
    logEvent(EV.CONFIG_APPLIED, "alert", { version: rec.config.version, hash: rec.hash });
    evaluate();
  }

  function saveState(wal: WalEntry[] = []): void {
    store.save("state", { ...st, wal });
  }

  function loadState(): void {
    st = parseState(store.load<StateRecord>("state")) ?? st;
    journal.recover(st.wal);
    st.wal = undefined;
  }

  // ---------------------------------------------------------------- schedule & escalation

  function refreshOutputs(a: Active | undefined, now: number): void {
    const w = wantedOutputs(a, st.slots, st.silencedUntil, cue, now);
    outputs.setLeds(w.leds);
    outputs.setSound(w.sound);
  }

  /** A transient sound (fault, wrong compartment, PRN limit, identify) over the escalation sound. */
  function playCue(w: SoundWish, ms = CUE_MS): void {
    cue = w;
    if (cueTimer !== undefined) timers.cancel(cueTimer);
    cueTimer = timers.once(ms, () => {
      cueTimer = undefined;
      cue = undefined;
      refreshOutputs(active, clock.wallMs() ?? 0);
    });
    refreshOutputs(active, clock.wallMs() ?? 0);
  }

  function evaluate(): void {
    if (!running) return;
    const now = clockWatch.check();
    const a = active;
    // Nothing is judged before the trays were looked at (what happened while off comes first).
    if (!channels.settled(clock.monoMs())) return plan(undefined, 1000);
    if (now !== undefined && a !== undefined) {
      tx(() => {
        if (st.cursor === 0) firstLook(escDeps, a, st, now);
        // What the trays show happened while the box was off is credited before anything is judged.
        whileOff.credit(escDeps, a, st, now, clock.monoMs(), (x, at) => onRemoval(a, x, at));
        materialise(escDeps, a, st, now);
        // The clock is known again: removals seen without it are dated and recorded now.
        for (const u of untimed.date(now, clock.monoMs())) {
          logEvent(EV.REMOVAL_DATED, "dose", { comp: u.r.comp, pills: u.r.pills, mg: u.r.mg, at: isoUtc(u.at) });
          onRemoval(a, u.r, u.at);
        }
        let changed = advance(escDeps, a, st, now);
        if (st.silencedUntil !== 0 && now >= st.silencedUntil) st.silencedUntil = 0;
        if (whileOff.refresh(st, (ch) => channels.quietGrams(ch), channels.channels(), now, clock.monoMs())) changed = true;
        if (checkAllStock(a, st, channels, escDeps.log)) changed = true;
        return changed;
      });
      if (pending !== undefined && safeToApply(active, st.slots, pending.config)) {
        applyPending();
        return;
      }
    }
    refreshOutputs(a, now ?? 0);
    plan(now);
  }

  function plan(now: number | undefined, cap = PLAN_CAP_MS): void {
    if (planTimer !== undefined) timers.cancel(planTimer);
    let delay = cap;
    if (now !== undefined && active !== undefined) delay = Math.max(0, Math.min(cap, nextDeadline(active, st, now, cap) - now));
    planTimer = timers.once(delay, () => {
      planTimer = undefined;
      evaluate();
    });
  }

  // ---------------------------------------------------------------- load cells

  function onLoad(ev: LoadEvent): void {
    const a = active;
    if (a === undefined) return;
    const comp = a.cfg.compartments.find((c) => c.channel === ev.channel);
    if (comp === undefined) return;
    const now = clock.wallMs();
    switch (ev.kind) {
      case "fault":
        faults.set(ev.channel, ev.code);
        logEvent(EV.FAULT, "alert", { code: `LOADCELL_${ev.code}`, comp: comp.id, channel: ev.channel });
        playCue({ pattern: "fault", volume: 60 });
        return;
      case "recovered":
        faults.delete(ev.channel);
        logEvent(EV.FAULT_CLEARED, "alert", { code: "LOADCELL", comp: comp.id, channel: ev.channel });
        // Pills may have left while the channel could not be trusted: as after a power-off.
        onSettled(ev.channel, channels.get(ev.channel)?.grams() ?? Number.NaN, channels.levelSigma(ev.channel));
        return;
      case "lift":
      case "bump":
      case "uncertain":
        return noteLoad(ev, comp.id, logEvent);
      case "addition":
        tx(() => {
          onRefill(a, st, comp, ev.grams, channels.contentGrams(ev.channel), now, escDeps.log);
          whileOff.remember(st, ev.channel, channels.get(ev.channel)?.grams() ?? Number.NaN, now ?? null);
          return true;
        });
        channels.persist();
        return;
      case "removal": {
        const mg = Math.round(ev.grams * 1000);
        if (now === undefined) {
          logEvent(EV.REMOVAL_UNTIMED, "dose", { comp: comp.id, pills: ev.pills, mg });
          untimed.add({ comp: comp.id, pills: ev.pills, mg, mono: clock.monoMs(), perMed: ev.perMed, ch: ev.channel });
          return;
        }
        onRemoval(a, { comp: comp.id, pills: ev.pills, mg, perMed: ev.perMed, ch: ev.channel }, now);
        return;
      }
    }
  }

  /** A channel settled after the box could not see it (boot, fault): what changed meanwhile. */
  function onSettled(ch: number, grams: number, sigmaG: number): void {
    const comp = active?.cfg.compartments.find((c) => c.channel === ch);
    if (comp === undefined) return;
    tx(() => {
      whileOff.settled(st, comp, ch, grams, sigmaG, clock.monoMs(), clock.wallMs() ?? null);
      return true;
    });
    if (clock.wallMs() !== undefined) evaluate();
  }

  function onRemoval(a: Active, x: Removal, now: number): void {
    let r = "unscheduled" as ReturnType<typeof recordRemoval>;
    tx(() => {
      r = recordRemoval(escDeps, a, st, x.comp, x.pills, x.mg, now, x.perMed, x.tag);
      if (r === "slot") advance(escDeps, a, st, now);
      if (x.ch !== undefined) whileOff.remember(st, x.ch, channels.get(x.ch)?.grams() ?? Number.NaN, now);
      if (x.ch !== undefined) checkStockOf(a, st, x.ch, channels, escDeps.log);
      return true;
    });
    if (r === "slot") {
      refreshOutputs(a, now);
      plan(now);
    } else if (r === "wrong" || r === "mismatch" || r === "prn-limit") playCue({ pattern: "alarm", volume: 80 });
  }

  // ---------------------------------------------------------------- button

  function onButton(kind: PressKind): void {
    if (!running) return;
    const now = clock.wallMs();
    const a = active;
    logEvent(EV.BUTTON, "info", { kind });
    if (cue !== undefined) {
      cue = undefined;
      if (cueTimer !== undefined) timers.cancel(cueTimer);
      cueTimer = undefined;
    }
    if (now !== undefined && a !== undefined && st.slots.some((s) => isCalling(s))) silenceFrom(a, now, {});
    let helped = false as boolean; // a long press asks for help (config `help`); two beeps say it went
    if (kind === "long" && a !== undefined) tx(() => (helped = requestHelp(escDeps, a, now, log.nextSeq())));
    if (helped) playCue({ pattern: "beep", volume: 60 }, 2000);
    refreshOutputs(a, now ?? 0);
    plan(now);
  }

  // ---------------------------------------------------------------- lifecycle

  function start(): void {
    if (running) return;
    running = true;
    const cfgRec = store.load<ApplyRecord>("cfg");
    const next = store.load<ApplyRecord>("cfgnext");
    loadState();
    if (cfgRec !== undefined) active = activate(cfgRec);
    if (next !== undefined && (active === undefined || next.config.version > active.cfg.version)) pending = next;
    logEvent(EV.BOOT, "alert", {
      reason: identity.resetReason,
      fw: identity.firmware,
      cfg: active ? active.cfg.version : null,
      outbox: log.depth(),
    });
    for (const f of earlyFaults.splice(0)) logEvent(EV.FAULT, "alert", f);
    ports.button.onPress(onButton);
    channels.rebuild(active?.cfg.compartments);
    if (pending !== undefined && (active === undefined || safeToApply(active, st.slots, pending.config))) applyPending();
    else evaluate();
  }

  function stop(): void {
    running = false;
    if (planTimer !== undefined) timers.cancel(planTimer);
    if (cueTimer !== undefined) timers.cancel(cueTimer);
    channels.stopSampling();
    planTimer = undefined;
    cueTimer = undefined;
    outputs.off();
  }

  function status(): DispenserStatus {
    const timeSet = clock.wallMs() !== undefined;
    return statusOf({ identity, active, outbox: log.depth(), dropped: log.dropped(), timeSet, st, faults, channels });
  }

  const loadCmd: LoadCommandDeps = {
    channels,
    log: escDeps.log,
    rememberAll: () => tx(() => whileOff.rememberAll(st, channels, clock.wallMs() ?? null)),
  };

  function identify(seconds: number): string {
    if (!(seconds >= 1 && seconds <= 120)) return "CMD_RANGE";
    logEvent(EV.IDENTIFY, "info", { seconds });
    playCue({ pattern: "beep", volume: 40 }, seconds * 1000);
    return "OK";
  }

  function silence(): string {
    const now = clock.wallMs();
    if (now === undefined || active === undefined) return "CMD_NOT_READY";
    silenceFrom(active, now, { remote: true });
    refreshOutputs(active, now);
    plan(now);
    return "OK";
  }

  /** Mutes the sound for the config's silence time (the LED stays lit; sound resumes after). */
  function silenceFrom(a: Active, now: number, extra: Record<string, unknown>): void {
    tx(() => {
      st.silencedUntil = now + a.cfg.defaults.silenceS * 1000;
      logEvent(EV.SOUND_SILENCED, "info", { until: isoUtc(st.silencedUntil), ...extra });
      return true;
    });
  }

  function decommission(): void {
    logEvent(EV.DECOMMISSION, "alert", {});
    stop();
    for (const key of ["cfg", "cfgnext", "state", "tare"]) store.remove(key);
    log.erase();
    active = undefined;
    pending = undefined;
    st = { cursor: 0, slots: [], silencedUntil: 0, prn: {} };
    channels.clear();
    faults.clear();
  }

  return {
    start,
    stop,
    receiveConfig,
    acked: (seq) => outbox.acked(seq),
    uplinkReady: () => outbox.ready(),
    clockChanged: () => evaluate(),
    log: logEvent,
    status,
    currentConfig: () => active?.cfg,
    tare: (channel) => tareCommand(loadCmd, channel),
    calibrate: (channel, grams) => calibrateCommand(loadCmd, channel, grams),
    identify,
    silence,
    refill: (args) => refillCommand(tx, active, st, args, channels, clock.wallMs(), escDeps.log),
    decommission,
  };
}
