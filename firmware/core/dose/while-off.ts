/**
 * What happened to the trays while the box could not see them — off, rebooting, or a channel in
 * fault (docs/scenarios.md, "Power-off reconciliation").
 *
 * The last settled mass of every bay is part of the state record (`mass`: channel → [grams, wall
 * time it was last known]), so it is saved atomically with the events that account for it: a
 * removal or refill recorded, a settle with no change, a refresh every MASS_REFRESH_MS while the
 * channel is quiet. When a channel settles after a boot (or recovers from a fault), its mass is
 * compared with that record:
 * - less than half the lightest pill: nothing happened;
 * - within 3 σ of what two settled levels and the zero's drift explain (σ² = 2 σ_level² + drift²,
 *   drift = 10 mg + 10 mg per hour blind, at most 200 mg): `load.changed_off` with the tolerance —
 *   said, never credited;
 * - lighter by whole pills of the compartment (the pill fit, ≥ 90 % sure): a removal while off —
 *   `removal.off` with the interval (from = when the mass was last known, to = boot), then credited
 *   like any removal once the clock is known: dose by dose to the slots of that compartment whose
 *   window overlaps the interval, oldest first (the remainder to the last one, as excess), dated
 *   at the slot's due instant clamped to the interval; with no such slot, at the end of the
 *   interval (for PRN limits the conservative choice: a recent intake);
 * - heavier: a refill while off (the refill check, `refill` / `refill.mismatch`, `while: "off"`);
 * - lighter by a mass the fit cannot resolve: `load.changed_off` (alert, `mg` negative, the best
 *   count and its confidence) — never taken.
 * The change is judged once the clock is known, since the drift allowance depends on how long
 * the box was blind.
 * The record of a channel with a removal still to credit is not touched, so a second power cut
 * before the clock is known finds the same evidence again.
 */
import type { LoadChannels } from "../load/channels";
import type { Active, StateRecord } from "../config/active";
import type { Compartment } from "../config/types";
import type { EscalationDeps } from "../escalation/escalator";
import { PILL_CV } from "../load/detector-params";
import { fitPills } from "../load/fit";
import { EV } from "../protocol/events";
import { isoUtc, MS_PER_MINUTE } from "../schedule/civil";
import { occurrencesBetween } from "../schedule/occurrences";
import { refillEvents } from "./refill";
import { known } from "./retired";
import { doseSize, makeSlot, REACHED_DUE, REACHED_LATE, type Slot, windowOf } from "./slots";

/** A quiet channel's remembered mass is refreshed this often (bounds the drift it carries). */
export const MASS_REFRESH_MS = 30 * MS_PER_MINUTE;
/** Zero drift allowed between two settles (grams), besides the noise. */
export const DRIFT_ALLOWANCE_G = 0.01;
/** …growing with the time nothing tracked it (a load cell's zero follows the temperature)… */
export const DRIFT_G_PER_H = 0.01;
/** …up to this (1 σ). */
export const DRIFT_MAX_G = 0.2;
/** A lighter tray is a removal only when the pill fit is at least this sure (else `load.changed_off`). */
export const MIN_CONFIDENCE = 0.9;
/** When the mass had no wall time (remembered before the clock was ever known): assumed off this long. */
export const UNKNOWN_OFF_MS = 24 * 60 * MS_PER_MINUTE;
const MAX_PENDING = 8;

export type MassRecord = Record<string, [number, number | null]>;

export interface OffChange {
  readonly ch: number;
  readonly comp: string;
  /** Settled grams now, and the remembered [grams, wall time] before. */
  readonly grams: number;
  readonly prev: readonly [number, number | null];
  /** σ of one settled level, grams. */
  readonly sigmaG: number;
  /** Monotonic time of the settle (this boot). */
  readonly mono: number;
}

/** A removal to record: where from, how much, and what the credit event should carry. */
export interface Removal {
  readonly comp: string;
  readonly pills: number;
  readonly mg: number;
  readonly perMed?: readonly number[];
  /** Load-cell channel: its remembered mass follows once the removal is recorded. */
  readonly ch?: number;
  readonly tag?: Readonly<Record<string, unknown>>;
}

/** Record a removal found while off as any removal at `at`. */
export type RecordFn = (removal: Removal, at: number) => void;

export class WhileOff {
  private pending: OffChange[] = [];
  private lastRefresh = Number.NEGATIVE_INFINITY;

  /** The channel's mass is accounted for: remember it (the caller saves the state). */
  remember(st: StateRecord, ch: number, grams: number, wall: number | null): void {
    if (!Number.isFinite(grams) || this.waiting(ch)) return;
    const m: MassRecord = st.mass ?? {};
    // Without the clock the time it was last seen stays the older one (a wider, safe interval).
    m[String(ch)] = [Math.round(grams * 10000) / 10000, wall ?? m[String(ch)]?.[1] ?? null];
    st.mass = m;
  }

  /** remember() every channel's current mass (a new zero or scale is not a change while off); true for tx(). */
  rememberAll(st: StateRecord, channels: LoadChannels, wall: number | null): boolean {
    for (const ch of channels.channels()) this.remember(st, ch, channels.get(ch)?.grams() ?? Number.NaN, wall);
    return true;
  }

  waiting(ch: number): boolean {
    return this.pending.some((p) => p.ch === ch);
  }

  /**
   * Channel `ch` of compartment `comp` settled at `grams` (σ `sigmaG` of the level) after the box
   * could not see it. A change of half the lightest pill or more is judged by credit(), once the
   * clock tells how long the box was blind (the drift it may carry grows with that time).
   */
  settled(st: StateRecord, comp: Compartment, ch: number, grams: number, sigmaG: number, mono: number, wall: number | null): void {
    const prev = st.mass?.[String(ch)];
    if (!Number.isFinite(grams) || this.waiting(ch)) return;
    if (prev !== undefined && Math.abs(prev[0] - grams) >= 0.5 * lightestG(comp) && this.pending.length < MAX_PENDING) {
      this.pending.push({ ch, comp: comp.id, grams, prev: [prev[0], prev[1]], sigmaG, mono });
      return;
    }
    this.remember(st, ch, grams, wall);
  }

  /** The clock is known: judge and record every change found (inside the caller's transaction). */
  credit(d: EscalationDeps, a: Active, st: StateRecord, now: number, monoNow: number, record: RecordFn): void {
    const list = this.pending;
    this.pending = [];
    for (const c of list) {
      const comp = a.cfg.compartments.find((x) => x.id === c.comp);
      if (comp !== undefined) judge(d, a, st, comp, c, now - Math.max(0, monoNow - c.mono), record);
      this.remember(st, c.ch, c.grams, now);
    }
  }

  /** Every MASS_REFRESH_MS: the quiet channels' current masses (true when the state changed). */
  refresh(st: StateRecord, grams: (ch: number) => number | undefined, channels: readonly number[], now: number, mono: number): boolean {
    if (mono - this.lastRefresh < MASS_REFRESH_MS) return false;
    this.lastRefresh = mono;
    let changed = false;
    for (const ch of channels) {
      const g = grams(ch);
      if (g === undefined || this.waiting(ch)) continue;
      this.remember(st, ch, g, now);
      changed = true;
    }
    return changed;
  }
}

function lightestG(comp: Compartment): number {
  let g = Number.POSITIVE_INFINITY;
  for (const m of comp.meds) g = Math.min(g, m.unitMg / 1000);
  return g === Number.POSITIVE_INFINITY ? 0.1 : g;
}

/** One change found after the box was blind from `from` (mass last known) to `to` (the settle). */
function judge(d: EscalationDeps, a: Active, st: StateRecord, comp: Compartment, c: OffChange, to: number, record: RecordFn): void {
  const from = c.prev[1] !== null && c.prev[1] <= to ? c.prev[1] : to - UNKNOWN_OFF_MS;
  const hours = (to - from) / 3_600_000;
  // Two settled levels, plus what the zero may have drifted while nothing tracked it (1 σ).
  const drift = Math.min(DRIFT_MAX_G, DRIFT_ALLOWANCE_G + DRIFT_G_PER_H * hours);
  const sd = Math.sqrt(2 * c.sigmaG * c.sigmaG + drift * drift);
  const delta = c.prev[0] - c.grams; // > 0: lighter than before
  const mg = Math.round(Math.abs(delta) * 1000);
  const since = isoUtc(from);
  if (Math.abs(delta) < 3 * sd || comp.meds.length === 0) {
    // Half a pill or more, but no more than the zero may have drifted: said, never credited.
    d.log(EV.LOAD_CHANGED_OFF, "alert", { comp: comp.id, mg: delta > 0 ? -mg : mg, since, toleranceMg: Math.round(3000 * sd) });
    return;
  }
  if (delta < 0) {
    // Heavier: a refill, checked like one made while the box was on (with the drift's tolerance).
    for (const e of refillEvents(a.cfg, comp, -delta, 2 * sd)) d.log(e.type, e.cls, { ...e.data, while: "off" });
    return;
  }
  const fit = fitPills(delta, comp.meds, { sigmaGrams: sd, pillCv: PILL_CV, maxFactor: 8, overDosePenalty: 0 });
  if (!(fit.pills > 0 && fit.confidence >= MIN_CONFIDENCE)) {
    const conf = Math.round(fit.confidence * 100) / 100;
    d.log(EV.LOAD_CHANGED_OFF, "alert", { comp: comp.id, mg: -mg, since, pills: fit.pills, confidence: conf });
    return;
  }
  d.log(EV.REMOVAL_OFF, "dose", { comp: comp.id, pills: fit.pills, mg, from: isoUtc(from), to: isoUtc(to) });
  const tag = { while: "off", from: isoUtc(from), to: isoUtc(to) };
  const slots = candidates(a, st, comp.id, from, to);
  const expected = Math.max(1, doseSize(a.cfg, comp.id).pills);
  let left = fit.pills;
  for (let i = 0; i < slots.length && left > 0; i++) {
    const s = slots[i];
    const give = i === slots.length - 1 ? left : Math.min(left, Math.max(0, expected - s.pills));
    if (give <= 0) continue;
    left -= give;
    if (st.slots.indexOf(s) < 0) st.slots.push(s);
    const at = Math.min(Math.max(s.due, from, s.open), to, s.missed);
    // What the box could not announce while off is not announced after (no late `dose.due`).
    s.reached |= REACHED_DUE | REACHED_LATE;
    const perMed = slots.length === 1 ? fit.perMed : undefined;
    record({ comp: comp.id, pills: give, mg: Math.round((mg * give) / fit.pills), perMed, tag }, at);
  }
  if (left > 0) {
    const perMed = slots.length === 0 ? fit.perMed : undefined;
    record({ comp: comp.id, pills: left, mg: Math.round((mg * left) / fit.pills), perMed, tag }, to);
  }
}

/**
 * The slots of `comp` not taken whose window overlaps [from, to], oldest first — those in the
 * state and those not made yet (made here, and kept by the caller only when credited).
 */
function candidates(a: Active, st: StateRecord, comp: string, from: number, to: number): Slot[] {
  const out = st.slots.filter(
    (s) => s.comp === comp && s.state !== "taken" && s.state !== "taken_early" && s.open <= to && s.missed >= from,
  );
  for (const dose of a.cfg.doses) {
    if (dose.compartment !== comp) continue;
    const w = windowOf(a.cfg, dose);
    const lo = from - w.missedMin * MS_PER_MINUTE;
    const hi = to + w.earlyMin * MS_PER_MINUTE + 1;
    for (const o of occurrencesBetween(dose, a.tz, lo, hi, 16)) {
      if (!known(st, o.slotId)) out.push(makeSlot(o.slotId, dose, o.dueUtcMs, w));
    }
  }
  return out.sort((x, y) => x.due - y.due);
}
