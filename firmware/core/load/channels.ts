/**
 * The load-cell channels of the compartments in the running config: one detector each, sampled
 * on its own timer at the rate the detector asks for, with tare and calibration persisted
 * under the "tare" record (so they survive reboots and config changes).
 */
import type { Compartment } from "../config/types";
import type { Store } from "../log/store";
import type { Ports, TimerId } from "../ports";
import type { DeviceIdentity } from "../device-api";
import { ChannelDetector, type DetectorSnapshot } from "./detector";
import type { Calibration, LoadEvent } from "./events";

const TARE_RECORD = "tare";
/** Longest wait for the trays' first look after a (re)build. */
export const SETTLE_MAX_MS = 15_000;
/** Used when a channel has no factory calibration. */
const DEFAULT_CALIBRATION = Object.freeze({ offset: 0, countsPerGram: 420 });

export class LoadChannels {
  private readonly detectors = new Map<number, ChannelDetector>();
  private readonly sampleTimers = new Map<number, TimerId>();
  private builtAt = 0;
  /** The first look after boot is done (later rebuilds, by a config, do not hold anything). */
  private looked = false;

  constructor(
    private readonly ports: Ports,
    private readonly store: Store,
    private readonly identity: DeviceIdentity,
    private readonly running: () => boolean,
    private readonly onLoad: (ev: LoadEvent) => void,
    /** A channel found its first stable level since it was built (boot): grams and the level's σ. */
    private readonly onSettled: (channel: number, grams: number, sigmaGrams: number) => void = () => {},
  ) {}

  /** One detector per compartment; a channel kept across configs keeps its state. */
  rebuild(compartments: readonly Compartment[] | undefined): void {
    this.stopSampling();
    if (!this.looked) this.builtAt = this.ports.clock.monoMs();
    const prevSnap = new Map<number, DetectorSnapshot>();
    for (const [ch, d] of this.detectors) prevSnap.set(ch, d.snapshot());
    this.detectors.clear();
    // Safe boot (core/update/boot-guard): no detector runs; doses stay open and escalate.
    if (compartments === undefined || this.identity.safeMode === true) return;
    const saved = this.store.load<Record<string, DetectorSnapshot>>(TARE_RECORD) ?? {};
    for (const comp of compartments) {
      const ch = comp.channel;
      const cal = this.identity.calibration?.[ch] ?? DEFAULT_CALIBRATION;
      const snap = prevSnap.get(ch) ?? saved[String(ch)];
      const det = new ChannelDetector({ channel: ch, sps: this.ports.loadCells.sps, calibration: cal, meds: comp.meds }, snap);
      this.detectors.set(ch, det);
      this.schedule(ch, det);
    }
  }

  stopSampling(): void {
    for (const id of this.sampleTimers.values()) this.ports.timers.cancel(id);
    this.sampleTimers.clear();
  }

  clear(): void {
    this.stopSampling();
    this.detectors.clear();
  }

  get(channel: number): ChannelDetector | undefined {
    return this.detectors.get(channel);
  }

  /** Grams on each channel 0..channels-1 (0 where there is no detector), to the mg. */
  grams(channels: number): number[] {
    const out: number[] = [];
    for (let ch = 0; ch < channels; ch++) {
      const d = this.detectors.get(ch);
      out.push(d ? Math.round(d.grams() * 1000) / 1000 : 0);
    }
    return out;
  }

  /**
   * Every channel has looked at its tray since boot (settled, or found faulty), or SETTLE_MAX_MS
   * passed: until then nothing is judged (a removal made while off is seen first).
   */
  settled(monoNow: number): boolean {
    if (this.looked) return true;
    if (monoNow - this.builtAt < SETTLE_MAX_MS) for (const d of this.detectors.values()) if (d.state === "init") return false;
    this.looked = true;
    return true;
  }

  /** Net grams of a channel at rest (watch mode), else undefined. */
  quietGrams(channel: number): number | undefined {
    const d = this.detectors.get(channel);
    if (d === undefined || d.state !== "watch") return undefined;
    const g = d.grams();
    return Number.isFinite(g) ? g : undefined;
  }

  /**
   * Grams of pills in a channel's tray: the level net of the empty tray (identity.trayGrams), or
   * undefined unless the channel is at rest (not looked at yet, a hand on it, or faulty).
   */
  contentGrams(channel: number): number | undefined {
    const d = this.detectors.get(channel);
    if (d === undefined || d.state !== "watch") return undefined;
    const g = d.grams();
    return Number.isFinite(g) ? g - (this.identity.trayGrams ?? 0) : undefined;
  }

  /** Detectability of one pill on a channel (detector weighZ; NaN while unknown). */
  weighZ(channel: number): number {
    const d = this.detectors.get(channel);
    return d === undefined ? Number.NaN : d.weighZ();
  }

  /** σ (grams) of a settled level of the channel: the per-reading noise over a 1-s mean. */
  levelSigma(channel: number): number {
    const d = this.detectors.get(channel);
    return d === undefined ? 0 : d.noiseGrams() / Math.sqrt(Math.max(1, this.ports.loadCells.sps));
  }

  channels(): number[] {
    return [...this.detectors.keys()];
  }

  /** Tares one channel or all; false when there is none. */
  tare(channel?: number): boolean {
    let n = 0;
    for (const [ch, d] of this.detectors) {
      if (channel !== undefined && ch !== channel) continue;
      d.tare();
      n++;
    }
    if (n > 0) this.persist();
    return n > 0;
  }

  /** Calibrates a channel with a known mass on the empty bay: the new calibration, or a refusal code. */
  calibrate(channel: number, knownGrams: number): Calibration | "CMD_NO_CHANNEL" | "CMD_RANGE" | "CMD_CHANNEL_FAULT" {
    const d = this.detectors.get(channel);
    if (d === undefined) return "CMD_NO_CHANNEL";
    if (!(knownGrams >= 1 && knownGrams <= 5000)) return "CMD_RANGE";
    if (d.faulty) return "CMD_CHANNEL_FAULT";
    const cal = d.calibrate(knownGrams);
    this.persist();
    return cal;
  }

  persist(): void {
    const rec: Record<string, DetectorSnapshot> = {};
    for (const [ch, d] of this.detectors) rec[String(ch)] = d.snapshot();
    this.store.save(TARE_RECORD, rec);
  }

  private schedule(ch: number, det: ChannelDetector): void {
    const { timers, loadCells, clock } = this.ports;
    const id = timers.once(det.nextIntervalMs(), () => {
      this.sampleTimers.delete(ch);
      if (!this.running() || this.detectors.get(ch) !== det) return;
      const was = det.state;
      const ev = det.push(loadCells.read(ch), clock.monoMs());
      if (ev !== undefined) this.onLoad(ev);
      if (was === "init" && det.state === "watch" && this.detectors.get(ch) === det) this.onSettled(ch, det.grams(), this.levelSigma(ch));
      if (this.running() && this.detectors.get(ch) === det) this.schedule(ch, det);
    });
    this.sampleTimers.set(ch, id);
  }
}
