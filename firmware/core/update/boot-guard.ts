/**
 * What a boot means for the firmware (docs/ota.md): crash-loop counting and safe boot, the
 * self-test of an image on trial after an update, and the report of a rollback.
 *
 * Crash loop: a boot whose reset reason is a crash (panic, watchdog) adds one to the "bootcrash"
 * record; any other reset clears it, and so do STABLE_MS of uptime outside safe mode. At
 * SAFE_BOOT_AFTER crash boots in a row the device boots safe: no load cell is read (the likeliest
 * culprit and most of the CPU), every reminder still runs (schedule from NVS, LEDs, buzzer,
 * escalation: doses no weight can confirm escalate to a person), the link reports the loop
 * (`boot.safe_mode`) and accepts commands and updates. Safe mode lasts until a reset that is not a
 * crash (power cycle, restart into an update).
 *
 * Trial: a staged image boots once on trial. Within TRIAL_MS it must reach the broker, run the
 * schedule the previous image ran (same config version or newer), and read every configured load
 * cell without a fault, and it must have run TRIAL_MIN_MS without a reset; then it is accepted
 * (`ota.valid`). Otherwise it is rejected
 * (`ota.rejected`, which checks failed) and the previous image boots; there, `ota.rolled_back`
 * says what was tried and why it is not running (OTA_SELFTEST, or OTA_TRIAL_RESET when the trial
 * image reset before it passed: a crash, a watchdog, a power cut). XS-clean.
 */
import type { Store } from "../log/store";
import type { Clock, FirmwareSlots, Timers } from "../ports";
import type { DispenserStatus } from "../device-api";
import { EV, type EventType } from "../protocol/events";
import { OTA_RECORD, type OtaRecord, RESTART_DELAY_MS } from "./ota";

export const SAFE_BOOT_AFTER = 5;
export const STABLE_MS = 10 * 60_000;
export const TRIAL_MS = 3 * 60_000;
/** A trial image is accepted only after it has run this long with every check passing. */
export const TRIAL_MIN_MS = 60_000;
export const TRIAL_CHECK_MS = 2_000;
const BOOT_RECORD = "bootcrash";
const CRASH_REASONS: readonly string[] = Object.freeze(["panic", "watchdog"]);

export interface BootTarget {
  log(type: EventType, cls: "alert" | "info", data: Record<string, unknown>): void;
  status(): DispenserStatus;
}

export interface GuardDeps {
  readonly store: Store;
  readonly timers: Timers;
  readonly clock: Clock;
  readonly slots: FirmwareSlots | undefined;
  readonly resetReason: string;
}

export class BootGuard {
  /** Crash boots in a row, this one included. */
  readonly crashes: number;
  readonly safe: boolean;
  private readonly trialRec: OtaRecord | undefined;

  constructor(private readonly d: GuardDeps) {
    const prev = d.store.load<{ n?: unknown }>(BOOT_RECORD);
    const before = prev !== undefined && typeof prev.n === "number" && prev.n >= 0 ? prev.n : 0;
    const crash = CRASH_REASONS.indexOf(d.resetReason) >= 0;
    this.crashes = crash ? before + 1 : 0;
    if (this.crashes !== before) d.store.save(BOOT_RECORD, { n: this.crashes });
    this.safe = this.crashes >= SAFE_BOOT_AFTER;
    this.trialRec = d.store.load<OtaRecord>(OTA_RECORD);
  }

  /** After the dispenser started: report what this boot is, run a trial's self-test. */
  start(t: BootTarget, brokerReached: () => boolean): void {
    const d = this.d;
    if (this.safe) t.log(EV.SAFE_MODE, "alert", { crashes: this.crashes, reason: d.resetReason });
    else if (this.crashes > 0) {
      d.timers.once(STABLE_MS, () => {
        d.store.save(BOOT_RECORD, { n: 0 });
      });
    }
    const slots = d.slots;
    if (slots === undefined) return;
    const run = slots.running();
    const rec = this.trialRec;
    if (run.trial) return this.trial(t, slots, rec, brokerReached);
    if (rec === undefined) return;
    d.store.remove(OTA_RECORD);
    if (rec.version === run.version) return; // accepted; the record outlived a reset
    const rejected = rec.state === "rejected";
    t.log(EV.OTA_ROLLED_BACK, "alert", {
      tried: rec.version,
      running: run.version,
      reason: rejected ? (rec.reason ?? "OTA_SELFTEST") : "OTA_TRIAL_RESET",
      ...(rejected && rec.failed !== undefined ? { failed: rec.failed } : { reset: d.resetReason }),
    });
  }

  private trial(t: BootTarget, slots: FirmwareSlots, rec: OtaRecord | undefined, brokerReached: () => boolean): void {
    const d = this.d;
    const version = slots.running().version;
    const from = rec?.from ?? null;
    const minCfg = rec?.cfg ?? null;
    t.log(EV.OTA_TRIAL, "info", { version, from, withinS: TRIAL_MS / 1000 });
    const began = d.clock.monoMs();
    let broker = false;
    const failing = (): string[] => {
      const s = t.status();
      const out: string[] = [];
      if (!broker) out.push("broker");
      if (minCfg !== null && (s.config === null || s.config.version < minCfg)) out.push("config");
      if (!this.safe) {
        let sane = s.faults.length === 0;
        for (const w of s.weigh) if (w.z === null) sane = false;
        if (!sane) out.push("detector");
      }
      return out;
    };
    const timer = d.timers.repeat(TRIAL_CHECK_MS, () => {
      if (brokerReached()) broker = true;
      const failed = failing();
      const elapsed = d.clock.monoMs() - began;
      if (failed.length === 0 && elapsed >= TRIAL_MIN_MS) {
        d.timers.cancel(timer);
        try {
          slots.accept();
        } catch {
          // The boot loader could not be told: this image goes back at the next reset. Said, not hidden.
          t.log(EV.OTA_FAILED, "alert", { version, code: "OTA_ACCEPT" });
          return;
        }
        d.store.remove(OTA_RECORD);
        t.log(EV.OTA_VALID, "alert", { version, from, afterS: Math.round(elapsed / 1000) });
        return;
      }
      if (elapsed < TRIAL_MS) return;
      d.timers.cancel(timer);
      const r: OtaRecord = { version, from: from ?? "", state: "rejected", reason: "OTA_SELFTEST", failed };
      d.store.save(OTA_RECORD, r);
      t.log(EV.OTA_REJECTED, "alert", { version, from, failed });
      d.timers.once(RESTART_DELAY_MS, () => {
        try {
          slots.reject();
        } catch {
          // No previous image to go back to: keep running this one (reminders go on), say so.
          d.store.remove(OTA_RECORD);
          t.log(EV.OTA_FAILED, "alert", { version, code: "OTA_NO_PREVIOUS" });
        }
      });
    });
  }
}
