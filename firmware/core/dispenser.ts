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
import type { Calibration, LoadEvent } from "./load/events";
import type { DispenserConfig, FixedDose, Ladder, PrnDose } from "./config/types";
import type { Ports, PressKind, TimerId } from "./ports";
import { validateConfig, type ConfigError } from "./config/validate";
import { canonicalJson } from "./config/canonical";
import { configHash } from "./config/hash";
import { parsePosixTz, type PosixTz } from "./schedule/tz";
import { occurrencesBetween } from "./schedule/occurrences";
import { Store } from "./log/store";
import { EventLog, type EventClass, type LoggedEvent } from "./log/eventlog";
import { ChannelDetector, type DetectorSnapshot } from "./load/detector";
import { flattenLadder, isRemote, type Firing } from "./escalation/ladder";
import { Outputs, type SoundWish } from "./outputs/outputs";
import { attributeRemoval, checkPrn, creditSlot } from "./dose/removal";
import { REACHED_DUE, REACHED_LATE, REACHED_MISSED, doseSize, isCalling, isOpen, makeSlot, windowOf, type Slot } from "./dose/slots";
import { isoUtc } from "./schedule/civil";
import { EV } from "./protocol/events";

export interface DeviceIdentity {
  readonly deviceId: string;
  readonly firmware: string;
  /** "power_on", "software", "watchdog", "brownout", "panic", … */
  readonly resetReason: string;
  readonly hw: { readonly channels: number; readonly leds: number };
  /** Factory calibration per load-cell channel (used until a calibrate command replaces it). */
  readonly calibration?: readonly Calibration[];
}

/** Where events go after they are persisted (the MQTT session on the device, a fake in tests). */
export interface Uplink {
  /** True when events can be offered now. */
  ready(): boolean;
  /** Offer an event; delivery is confirmed later through Dispenser.acked(seq). False = not now. */
  send(ev: LoggedEvent): boolean;
}

export interface DispenserOptions {
  readonly uplink?: Uplink;
  /** Every logged event, after it is persisted (simulator timeline, dashboard). */
  readonly onEvent?: (ev: LoggedEvent) => void;
  /** Event log capacity (events). */
  readonly logCapacity?: number;
}

export type ConfigOutcome =
  | { readonly ok: true; readonly version: number; readonly hash: string; readonly deferred: boolean }
  | { readonly ok: false; readonly code: string; readonly errors: readonly ConfigError[] };

export interface DispenserStatus {
  readonly device: string;
  readonly firmware: string;
  readonly resetReason: string;
  readonly config: { readonly version: number; readonly hash: string } | null;
  readonly outbox: number;
  readonly dropped: number;
  readonly timeSet: boolean;
  readonly silencedUntil: number;
  readonly faults: readonly { readonly channel: number; readonly code: string }[];
  readonly slots: readonly {
    readonly id: string;
    readonly comp: string;
    readonly state: string;
    readonly due: number;
    readonly fired: number;
  }[];
  readonly grams: readonly number[];
}

export interface Dispenser {
  start(): void;
  stop(): void;
  /** A config that passed authentication (or a local/factory one). */
  receiveConfig(raw: unknown, by: string): ConfigOutcome;
  /** The uplink delivered event `seq`. */
  acked(seq: number): void;
  /** The uplink became ready: offer what is pending. */
  uplinkReady(): void;
  /** The platform stepped the wall clock (SNTP). */
  clockChanged(): void;
  /** Log a technical event from outside the core (platform faults, MQTT faults). */
  log(type: string, cls: EventClass, data: Record<string, unknown>): LoggedEvent;
  status(): DispenserStatus;
  /** The config running now (validated and frozen), if any. */
  currentConfig(): DispenserConfig | undefined;
  /** Remote commands (authenticated by the caller). Each returns a result code ("OK" or a coded refusal). */
  tare(channel?: number): string;
  calibrate(channel: number, knownGrams: number): string;
  identify(seconds: number): string;
  silence(): string;
  /** Wipe schedule, history, tare; leaves the device unprovisioned. */
  decommission(): void;
}

const PLAN_CAP_MS = 60_000;
/** A remote firing overdue by more than this is collapsed into a later overdue one (catch-up). */
const CATCHUP_GRACE_MS = 120_000;
const INFLIGHT_MAX = 8;
const CUE_MS = 10_000;
/** At most this many past occurrences are materialised at once (after a long power-off). */
const CATCHUP_MAX = 32;
const MIN = 60_000;
/** A wall-clock jump larger than this against the monotonic clock is logged as a step. */
const STEP_TOLERANCE_MS = 2_000;

interface ApplyRecord {
  readonly config: DispenserConfig;
  readonly hash: string;
}

interface StateRecord {
  /** Occurrences whose window opened at or before this wall time are materialised. */
  cursor: number;
  slots: Slot[];
  silencedUntil: number;
  prn: Record<string, number[]>;
}

interface Active {
  readonly cfg: DispenserConfig;
  readonly hash: string;
  readonly tz: PosixTz;
  readonly ladders: Map<string, Firing[]>;
  readonly doses: Map<string, FixedDose>;
  readonly prnByComp: Map<string, PrnDose>;
}

function sameDose(a: FixedDose | undefined, b: FixedDose | undefined): boolean {
  return a !== undefined && b !== undefined && canonicalJson(a) === canonicalJson(b);
}

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

  let running = false;
  let active: Active | undefined;
  let pending: ApplyRecord | undefined;
  let st: StateRecord = { cursor: 0, slots: [], silencedUntil: 0, prn: {} };
  let planTimer: TimerId | undefined;
  let cueTimer: TimerId | undefined;
  let cue: SoundWish | undefined;
  let timeWasSet = false;
  let lastWall = 0;
  let lastMono = 0;
  const inflight: number[] = [];
  const detectors = new Map<number, ChannelDetector>();
  const sampleTimers = new Map<number, TimerId>();
  const faults = new Map<number, string>();

  // ---------------------------------------------------------------- events & outbox

  function wallOrNull(): number | null {
    const w = clock.wallMs();
    return w === undefined ? null : w;
  }

  function logEvent(type: string, cls: EventClass, data: Record<string, unknown>): LoggedEvent {
    const ev = log.append(type, cls, data, clock.monoMs(), wallOrNull());
    if (options.onEvent) options.onEvent(ev);
    pump();
    return ev;
  }

  function pump(): void {
    const up = options.uplink;
    if (!running || up === undefined || !up.ready()) return;
    if (inflight.length >= INFLIGHT_MAX) return;
    const batch = log.pending(INFLIGHT_MAX + inflight.length);
    for (const ev of batch) {
      if (inflight.length >= INFLIGHT_MAX) break;
      if (inflight.indexOf(ev.seq) >= 0) continue;
      if (!up.send(ev)) break;
      inflight.push(ev.seq);
    }
  }

  // ---------------------------------------------------------------- config

  function activate(rec: ApplyRecord): Active {
    const cfg = rec.config;
    const tzr = parsePosixTz(cfg.tz);
    if (!tzr.ok) throw new RangeError("validated config with bad tz");
    const ladders = new Map<string, Firing[]>();
    for (const l of cfg.ladders) ladders.set(l.id, flattenLadder(l as Ladder));
    const doses = new Map<string, FixedDose>();
    for (const d of cfg.doses) doses.set(d.id, d);
    const prnByComp = new Map<string, PrnDose>();
    for (const p of cfg.prn) prnByComp.set(p.compartment, p);
    return { cfg, hash: rec.hash, tz: tzr.tz, ladders, doses, prnByComp };
  }

  function firingsOf(a: Active, slot: Slot): Firing[] {
    const dose = a.doses.get(slot.dose);
    return a.ladders.get(dose?.ladder ?? "default") ?? [];
  }

  function receiveConfig(raw: unknown, by: string): ConfigOutcome {
    const v = validateConfig(raw, identity.hw);
    if (!v.ok) return refuse("CFG_INVALID", v.errors, raw);
    const cfg = v.config;
    if (cfg.device !== identity.deviceId) {
      return refuse("CFG_WRONG_DEVICE", [{ code: "CFG_WRONG_DEVICE", path: "device", message: `addressed to ${cfg.device}` }], raw);
    }
    const newest = pending ?? (active ? { config: active.cfg, hash: active.hash } : undefined);
    if (newest !== undefined && cfg.version <= newest.config.version) {
      return refuse(
        "CFG_STALE",
        [{ code: "CFG_STALE", path: "version", message: `version ${cfg.version} is not above ${newest.config.version}` }],
        raw,
      );
    }
    const rec: ApplyRecord = { config: cfg, hash: configHash(canonicalJson(cfg)) };
    // Persist as pending first: a power cut from here on leaves the old or the new, never a mix.
    store.save("cfgnext", rec);
    pending = rec;
    const deferred = !safeToApply(rec.config);
    logEvent(EV.CONFIG_ACCEPTED, "alert", { version: cfg.version, hash: rec.hash, by, deferred });
    if (!deferred) applyPending();
    return { ok: true, version: cfg.version, hash: rec.hash, deferred };
  }

  function refuse(code: string, errors: readonly ConfigError[], raw: unknown): ConfigOutcome {
    const version =
      typeof raw === "object" && raw !== null && typeof (raw as { version?: unknown }).version === "number"
        ? (raw as { version: number }).version
        : null;
    logEvent(EV.CONFIG_REFUSED, "alert", {
      code,
      version,
      errors: errors.slice(0, 8).map((e) => ({ code: e.code, path: e.path })),
      running: active ? active.cfg.version : null,
    });
    return { ok: false, code, errors };
  }

  /**
   * A new config is applied at a safe point: when no slot is calling for its dose, or at once
   * when every calling slot's dose is changed or removed by the new config (the change concerns it).
   */
  function safeToApply(next: DispenserConfig): boolean {
    if (!active) return true;
    for (const s of st.slots) {
      if (!isCalling(s)) continue;
      const before = active.doses.get(s.dose);
      const after = next.doses.find((d) => d.id === s.dose);
      if (sameDose(before, after)) return false;
    }
    return true;
  }

  function applyPending(): void {
    const rec = pending;
    if (rec === undefined) return;
    const prev = active;
    const next = activate(rec);
    // Keep slots whose dose is unchanged; cancel the others (with a resolve if the relay was asked).
    const kept: Slot[] = [];
    for (const s of st.slots) {
      const before = prev?.doses.get(s.dose);
      const after = next.doses.get(s.dose);
      if (sameDose(before, after)) {
        kept.push(s);
      } else if (isOpen(s) || s.remote) {
        logEvent(EV.SLOT_CANCELLED, "dose", { slot: s.id, reason: "config" });
        if (s.remote) logEvent(EV.RELAY_RESOLVE, "dose", { slot: s.id, outcome: "cancelled" });
      }
    }
    st.slots = kept;
    const now = clock.wallMs();
    if (now !== undefined) {
      // New or changed doses are not made retroactive: nothing already due is created, but a
      // window that is open and not yet due is (the patient may still take it early).
      for (const dose of next.cfg.doses) {
        if (prev !== undefined && sameDose(prev.doses.get(dose.id), dose)) continue;
        const w = windowOf(next.cfg, dose);
        for (const o of occurrencesBetween(dose, next.tz, now + 1, now + w.earlyMin * MIN + 1, 2)) {
          if (!st.slots.some((x) => x.id === o.slotId)) {
            const slot = makeSlot(o.slotId, dose, o.dueUtcMs, w);
            st.slots.push(slot);
            logEvent(EV.SLOT_OPEN, "info", { slot: slot.id, comp: slot.comp, due: isoUtc(slot.due) });
          }
        }
      }
      if (prev === undefined || st.cursor === 0 || st.cursor > now) st.cursor = now;
    }
    active = next;
    store.save("cfg", rec);
    store.remove("cfgnext");
    pending = undefined;
    saveState();
    rebuildDetectors();
    logEvent(EV.CONFIG_APPLIED, "alert", { version: rec.config.version, hash: rec.hash });
    evaluate();
  }

  // ---------------------------------------------------------------- persistence

  function saveState(): void {
    store.save("state", st);
  }

  function loadState(): void {
    const rec = store.load<StateRecord>("state");
    if (rec && typeof rec === "object" && Array.isArray(rec.slots)) {
      st = {
        cursor: typeof rec.cursor === "number" ? rec.cursor : 0,
        slots: rec.slots,
        silencedUntil: typeof rec.silencedUntil === "number" ? rec.silencedUntil : 0,
        prn: rec.prn ?? {},
      };
    }
  }

  // ---------------------------------------------------------------- schedule & escalation

  function materialise(a: Active, now: number): void {
    // Occurrences whose window opened in (cursor, now].
    const from = st.cursor;
    if (now <= from) return;
    const fresh: Slot[] = [];
    for (const dose of a.cfg.doses) {
      const w = windowOf(a.cfg, dose);
      const occ = occurrencesBetween(dose, a.tz, from + w.earlyMin * MIN + 1, now + w.earlyMin * MIN + 1, CATCHUP_MAX);
      for (const o of occ) {
        if (st.slots.some((s) => s.id === o.slotId)) continue;
        fresh.push(makeSlot(o.slotId, dose, o.dueUtcMs, w));
      }
    }
    fresh.sort((x, y) => x.due - y.due || (x.id < y.id ? -1 : 1));
    const keep = fresh.length > CATCHUP_MAX ? fresh.slice(fresh.length - CATCHUP_MAX) : fresh;
    for (const s of keep) {
      if (s.missed <= now) {
        // Closed while the device could not act (power off): record the miss once, no alarm storm.
        logEvent(EV.DOSE_MISSED, "dose", { slot: s.id, comp: s.comp, due: isoUtc(s.due), catchUp: true });
        continue;
      }
      st.slots.push(s);
      logEvent(EV.SLOT_OPEN, "info", { slot: s.id, comp: s.comp, due: isoUtc(s.due) });
    }
    st.cursor = now;
  }

  /** Advance every slot to `now`, in time order: milestones and escalation firings. */
  function advance(a: Active, now: number): boolean {
    let changed = false;
    for (const s of st.slots) {
      const firings = firingsOf(a, s);
      for (;;) {
        // Next moment of this slot: a milestone or a firing, whichever is earlier.
        const mDue = (s.reached & REACHED_DUE) === 0 ? s.due : Infinity;
        const mLate = (s.reached & REACHED_LATE) === 0 ? s.late : Infinity;
        const mMissed = (s.reached & REACHED_MISSED) === 0 ? s.missed : Infinity;
        const f = s.fired < firings.length && !(s.state === "taken" || s.state === "taken_early") ? firings[s.fired] : undefined;
        const mFire = f !== undefined ? s.due + f.atMs : Infinity;
        const t = Math.min(mDue, mLate, mMissed, mFire);
        if (t > now || t === Infinity) break;
        changed = true;
        if (t === mDue) {
          s.reached |= REACHED_DUE;
          if (s.state === "upcoming") s.state = "due";
          logEvent(EV.DOSE_DUE, "dose", { slot: s.id, comp: s.comp });
        } else if (t === mLate) {
          s.reached |= REACHED_LATE;
          if (isOpen(s)) {
            if (s.state === "due") s.state = "late";
            logEvent(EV.DOSE_LATE, "dose", { slot: s.id, comp: s.comp });
          }
        } else if (t === mMissed) {
          s.reached |= REACHED_MISSED;
          if (s.state !== "taken" && s.state !== "taken_early") {
            const expected = doseSize(a.cfg, s.comp).pills;
            if (s.pills > 0) {
              s.state = "partial";
              logEvent(EV.DOSE_PARTIAL, "dose", { slot: s.id, comp: s.comp, pills: s.pills, expected, final: true });
            } else {
              s.state = "missed";
              logEvent(EV.DOSE_MISSED, "dose", { slot: s.id, comp: s.comp });
            }
          }
        } else if (f !== undefined) {
          if (isRemote(f.channel) && mFire < now - CATCHUP_GRACE_MS && laterRemoteDue(s, firings, now)) {
            // The box was off or asleep through several rungs: send only the rung it should be at
            // now, and record the ones it passed so nothing is forgotten silently.
            logEvent(EV.ESC_SKIPPED, "alert", { slot: s.id, step: s.fired, ch: f.channel });
          } else fire(s, f, s.fired);
          s.fired++;
        }
      }
    }
    // Drop slots that are finished: resolved, or closed with the ladder run out.
    const before = st.slots.length;
    st.slots = st.slots.filter((s) => {
      if (s.state === "taken" || s.state === "taken_early") return false;
      if ((s.reached & REACHED_MISSED) === 0) return true;
      return s.fired < firingsOf(a, s).length;
    });
    return changed || before !== st.slots.length;
  }

  /** A later remote firing of this slot is also already due. */
  function laterRemoteDue(s: Slot, firings: Firing[], now: number): boolean {
    for (let i = s.fired + 1; i < firings.length; i++) {
      if (s.due + firings[i].atMs > now) return false;
      if (isRemote(firings[i].channel)) return true;
    }
    return false;
  }

  function fire(s: Slot, f: Firing, index: number): void {
    if (isRemote(f.channel)) {
      s.remote = true;
      logEvent(EV.RELAY_REQUEST, "dose", {
        key: `${identity.deviceId}/${s.id}/${f.step}.${f.rep}`,
        ch: f.channel,
        to: f.to ?? [],
        slot: s.id,
        comp: s.comp,
        step: index,
        state: s.state,
        due: isoUtc(s.due),
      });
    } else if ((s.reached & REACHED_MISSED) === 0) {
      const data: Record<string, unknown> = { slot: s.id, step: index, ch: f.channel };
      if (f.channel === "sound") {
        data.pattern = f.pattern;
        data.volume = f.volume;
      }
      logEvent(EV.ESC_STEP, "info", data);
    }
  }

  /** LEDs and sound wanted by the slots, the transient cue and the silence. */
  function refreshOutputs(a: Active | undefined, now: number): void {
    const wantLeds: boolean[] = [];
    let sound: SoundWish | undefined;
    if (a !== undefined) {
      for (const s of st.slots) {
        if (!isCalling(s)) continue;
        const comp = a.cfg.compartments.find((c) => c.id === s.comp);
        const firings = firingsOf(a, s);
        for (let i = 0; i < s.fired && i < firings.length; i++) {
          const f = firings[i];
          if (f.channel === "led" && comp !== undefined) wantLeds[comp.led] = true;
          if (f.channel === "sound" && f.pattern !== undefined) {
            const vol = f.volume ?? 50;
            // Latest sound step of the loudest slot wins.
            if (sound === undefined || vol >= sound.volume) sound = { pattern: f.pattern, volume: vol };
          }
        }
      }
    }
    if (now < st.silencedUntil) sound = undefined;
    if (cue !== undefined) sound = cue;
    outputs.setLeds(wantLeds);
    outputs.setSound(sound);
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

  // ---------------------------------------------------------------- time

  function checkClock(): number | undefined {
    const w = clock.wallMs();
    const m = clock.monoMs();
    if (w === undefined) {
      if (timeWasSet || lastMono === 0) {
        // Only log once per unset period.
        if (timeWasSet || !unsetLogged) logEvent(EV.FAULT, "alert", { code: "TIME_UNSET" });
        unsetLogged = true;
      }
      timeWasSet = false;
      lastMono = m;
      return undefined;
    }
    if (!timeWasSet) {
      timeWasSet = true;
      logEvent(EV.TIME_SYNC, "info", { wall: isoUtc(w) });
    } else {
      const expected = lastWall + (m - lastMono);
      const delta = w - expected;
      if (delta > STEP_TOLERANCE_MS || delta < -STEP_TOLERANCE_MS) {
        logEvent(EV.TIME_STEP, "alert", { deltaS: Math.round(delta / 1000) });
      }
    }
    lastWall = w;
    lastMono = m;
    return w;
  }
  let unsetLogged = false;

  function evaluate(): void {
    if (!running) return;
    const now = checkClock();
    const a = active;
    if (now !== undefined && a !== undefined) {
      if (st.cursor === 0) st.cursor = now;
      materialise(a, now);
      const changed = advance(a, now);
      if (st.silencedUntil !== 0 && now >= st.silencedUntil) {
        st.silencedUntil = 0;
      }
      if (changed) saveState();
      if (pending !== undefined && safeToApply(pending.config)) {
        applyPending();
        return;
      }
    }
    refreshOutputs(a, now ?? 0);
    plan(now);
  }

  function nextDeadline(a: Active, now: number): number {
    let t = now + PLAN_CAP_MS;
    for (const s of st.slots) {
      if ((s.reached & REACHED_DUE) === 0) t = Math.min(t, s.due);
      if ((s.reached & REACHED_LATE) === 0) t = Math.min(t, s.late);
      if ((s.reached & REACHED_MISSED) === 0) t = Math.min(t, s.missed);
      const firings = firingsOf(a, s);
      if (s.fired < firings.length) t = Math.min(t, s.due + firings[s.fired].atMs);
    }
    for (const dose of a.cfg.doses) {
      const w = windowOf(a.cfg, dose);
      const occ = occurrencesBetween(dose, a.tz, now + w.earlyMin * MIN + 1, now + w.earlyMin * MIN + PLAN_CAP_MS + 1, 1);
      if (occ.length > 0) t = Math.min(t, occ[0].dueUtcMs - w.earlyMin * MIN);
    }
    if (st.silencedUntil > now) t = Math.min(t, st.silencedUntil);
    return t;
  }

  function plan(now: number | undefined): void {
    if (planTimer !== undefined) timers.cancel(planTimer);
    let delay = PLAN_CAP_MS;
    if (now !== undefined && active !== undefined) delay = Math.max(0, Math.min(PLAN_CAP_MS, nextDeadline(active, now) - now));
    planTimer = timers.once(delay, () => {
      planTimer = undefined;
      evaluate();
    });
  }

  // ---------------------------------------------------------------- load cells

  function rebuildDetectors(): void {
    for (const id of sampleTimers.values()) timers.cancel(id);
    sampleTimers.clear();
    const prevSnap = new Map<number, DetectorSnapshot>();
    for (const [ch, d] of detectors) prevSnap.set(ch, d.snapshot());
    detectors.clear();
    const a = active;
    if (a === undefined) return;
    const saved = store.load<Record<string, DetectorSnapshot>>("tare") ?? {};
    for (const comp of a.cfg.compartments) {
      const ch = comp.channel;
      const cal = identity.calibration?.[ch] ?? { offset: 0, countsPerGram: 420 };
      const snap = prevSnap.get(ch) ?? saved[String(ch)];
      const det = new ChannelDetector({ channel: ch, sps: ports.loadCells.sps, calibration: cal, meds: comp.meds }, snap);
      detectors.set(ch, det);
      scheduleSample(ch, det);
    }
  }

  function scheduleSample(ch: number, det: ChannelDetector): void {
    const id = timers.once(det.nextIntervalMs(), () => {
      sampleTimers.delete(ch);
      if (!running || detectors.get(ch) !== det) return;
      const ev = det.push(ports.loadCells.read(ch), clock.monoMs());
      if (ev !== undefined) onLoad(ev);
      if (running && detectors.get(ch) === det) scheduleSample(ch, det);
    });
    sampleTimers.set(ch, id);
  }

  function persistTare(): void {
    const rec: Record<string, DetectorSnapshot> = {};
    for (const [ch, d] of detectors) rec[String(ch)] = d.snapshot();
    store.save("tare", rec);
  }

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
        return;
      case "lift":
      case "bump":
        logEvent(ev.kind === "lift" ? EV.LOAD_LIFT : EV.LOAD_BUMP, "info", { comp: comp.id });
        return;
      case "addition": {
        const size = doseSize(a.cfg, comp.id);
        const mg = Math.round(ev.grams * 1000);
        const whole = size.mg > 0 ? Math.round(mg / size.mg) : 0;
        let lightest = Infinity;
        for (const m of comp.meds) lightest = Math.min(lightest, m.unitMg);
        logEvent(EV.REFILL, "info", { comp: comp.id, mg, doses: whole });
        // A refill must be a whole number of doses: off by more than a quarter of the lightest
        // pill means a missing or extra pill, or a wrong medication, in the compartment.
        if (whole < 1 || Math.abs(mg - whole * size.mg) > 0.25 * lightest) {
          logEvent(EV.REFILL_MISMATCH, "alert", { comp: comp.id, mg, doseMg: size.mg, doses: whole });
        }
        persistTare();
        return;
      }
      case "removal":
        if (now === undefined) {
          logEvent(EV.REMOVAL_UNTIMED, "dose", { comp: comp.id, pills: ev.pills, mg: Math.round(ev.grams * 1000) });
          return;
        }
        onRemoval(a, comp.id, ev.pills, Math.round(ev.grams * 1000), now);
        return;
    }
  }

  function onRemoval(a: Active, compId: string, pills: number, mg: number, now: number): void {
    const expected = doseSize(a.cfg, compId).pills;
    const where = attributeRemoval(st.slots, compId, now, a.prnByComp.get(compId));
    switch (where.kind) {
      case "slot": {
        const target = where.slot;
        const c = creditSlot(target, pills, mg, expected, now);
        logEvent(c.type, "dose", c.data);
        if (c.resolved) {
          if (c.excess > 0) logEvent(EV.DOSE_EXCESS, "alert", { slot: target.id, pills: target.pills, expected });
          if (target.remote) logEvent(EV.RELAY_RESOLVE, "dose", { slot: target.id, outcome: target.state });
          if (st.silencedUntil !== 0 && !st.slots.some((s) => s !== target && isCalling(s))) st.silencedUntil = 0;
        }
        advance(a, now);
        saveState();
        refreshOutputs(a, now);
        plan(now);
        return;
      }
      case "prn":
        onPrn(where.prn, pills, mg, expected, now);
        return;
      case "wrong":
        for (const s of where.calling) {
          s.state = "wrong_compartment";
          s.wrong = compId;
          logEvent(EV.DOSE_WRONG_COMPARTMENT, "dose", { slot: s.id, expectedComp: s.comp, from: compId, pills, mg });
        }
        saveState();
        playCue({ pattern: "alarm", volume: 80 });
        return;
      case "unscheduled":
        logEvent(EV.REMOVAL_UNSCHEDULED, "dose", { comp: compId, pills, mg });
        return;
    }
  }

  function onPrn(prn: PrnDose, pills: number, mg: number, expected: number, now: number): void {
    const doses = Math.max(1, Math.round(pills / Math.max(1, expected)));
    const verdict = checkPrn(st.prn[prn.id] ?? [], prn, doses, now);
    st.prn[prn.id] = verdict.history;
    const count24h = verdict.history.length;
    const reason = verdict.reason;
    if (reason === undefined) {
      logEvent(EV.PRN_TAKEN, "dose", { prn: prn.id, comp: prn.compartment, pills, mg, count24h });
    } else {
      logEvent(EV.PRN_LIMIT, "dose", { prn: prn.id, comp: prn.compartment, pills, mg, count24h, reason });
      logEvent(EV.RELAY_REQUEST, "dose", {
        key: `${identity.deviceId}/${prn.id}@${isoUtc(now)}/limit`,
        ch: "push",
        to: prn.alert,
        prn: prn.id,
        reason,
      });
      playCue({ pattern: "alarm", volume: 80 });
    }
    saveState();
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
    if (now !== undefined && a !== undefined && st.slots.some((s) => isCalling(s))) {
      st.silencedUntil = now + a.cfg.defaults.silenceS * 1000;
      logEvent(EV.SOUND_SILENCED, "info", { until: isoUtc(st.silencedUntil) });
      saveState();
    }
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
    rebuildDetectors();
    if (pending !== undefined && (active === undefined || safeToApply(pending.config))) applyPending();
    else evaluate();
  }

  function stop(): void {
    running = false;
    if (planTimer !== undefined) timers.cancel(planTimer);
    if (cueTimer !== undefined) timers.cancel(cueTimer);
    for (const id of sampleTimers.values()) timers.cancel(id);
    sampleTimers.clear();
    planTimer = undefined;
    cueTimer = undefined;
    outputs.off();
  }

  function acked(seq: number): void {
    const i = inflight.indexOf(seq);
    if (i >= 0) inflight.splice(i, 1);
    log.ack(seq);
    pump();
  }

  function uplinkReady(): void {
    inflight.length = 0;
    pump();
  }

  function status(): DispenserStatus {
    const grams: number[] = [];
    for (let ch = 0; ch < identity.hw.channels; ch++) {
      const d = detectors.get(ch);
      grams.push(d ? Math.round(d.grams() * 1000) / 1000 : 0);
    }
    return {
      device: identity.deviceId,
      firmware: identity.firmware,
      resetReason: identity.resetReason,
      config: active ? { version: active.cfg.version, hash: active.hash } : null,
      outbox: log.depth(),
      dropped: log.dropped(),
      timeSet: clock.wallMs() !== undefined,
      silencedUntil: st.silencedUntil,
      faults: [...faults].map(([channel, code]) => ({ channel, code })),
      slots: st.slots.map((s) => ({ id: s.id, comp: s.comp, state: s.state, due: s.due, fired: s.fired })),
      grams,
    };
  }

  function tare(channel?: number): string {
    let n = 0;
    for (const [ch, d] of detectors) {
      if (channel !== undefined && ch !== channel) continue;
      d.tare();
      n++;
    }
    if (n === 0) return "CMD_NO_CHANNEL";
    persistTare();
    logEvent(EV.TARE, "alert", { channel: channel ?? null });
    return "OK";
  }

  function calibrate(channel: number, knownGrams: number): string {
    const d = detectors.get(channel);
    if (d === undefined) return "CMD_NO_CHANNEL";
    if (!(knownGrams >= 1 && knownGrams <= 5000)) return "CMD_RANGE";
    if (d.faulty) return "CMD_CHANNEL_FAULT";
    const cal = d.calibrate(knownGrams);
    persistTare();
    logEvent(EV.CALIBRATED, "alert", { channel, knownGrams, countsPerGram: Math.round(cal.countsPerGram * 1000) / 1000 });
    return "OK";
  }

  function identify(seconds: number): string {
    if (!(seconds >= 1 && seconds <= 120)) return "CMD_RANGE";
    logEvent(EV.IDENTIFY, "info", { seconds });
    playCue({ pattern: "beep", volume: 40 }, seconds * 1000);
    return "OK";
  }

  function silence(): string {
    const now = clock.wallMs();
    if (now === undefined || active === undefined) return "CMD_NOT_READY";
    st.silencedUntil = now + active.cfg.defaults.silenceS * 1000;
    logEvent(EV.SOUND_SILENCED, "info", { until: isoUtc(st.silencedUntil), remote: true });
    saveState();
    refreshOutputs(active, now);
    plan(now);
    return "OK";
  }

  function decommission(): void {
    logEvent(EV.DECOMMISSION, "alert", {});
    stop();
    for (const key of ["cfg", "cfgnext", "state", "tare"]) store.remove(key);
    log.erase();
    active = undefined;
    pending = undefined;
    st = { cursor: 0, slots: [], silencedUntil: 0, prn: {} };
    detectors.clear();
    faults.clear();
  }

  return {
    start,
    stop,
    receiveConfig,
    acked,
    uplinkReady,
    clockChanged: () => evaluate(),
    log: logEvent,
    status,
    currentConfig: () => active?.cfg,
    tare,
    calibrate,
    identify,
    silence,
    decommission,
  };
}
