/**
 * Device schedules as the relay knows them (the configs pushed by pharmacists, docs/config.md),
 * with due instants computed by the firmware's own code (core/tz.ts, core/schedule.ts).
 */
import { validateConfig, DEFAULT_LADDER_ID } from "../../firmware/core/config/validate";
import type { DispenserConfig, DoseWindow, FixedDose } from "../../firmware/core/config/types";
import { occurrencesBetween } from "../../firmware/core/schedule/occurrences";
import { parsePosixTz, utcToLocal, type PosixTz } from "../../firmware/core/schedule/tz";

/** Generous hardware limits: the relay checks the schedule, the device checks its hardware. */
const HW = { channels: 256, leds: 256 };

export interface DeviceSchedule {
  config: DispenserConfig;
  tz: PosixTz;
}

export type ScheduleResult = { ok: true; schedule: DeviceSchedule } | { ok: false; errors: { code: string; path: string }[] };

/** Validates a config with the firmware validator and parses its time zone. */
export function scheduleFromConfig(input: unknown): ScheduleResult {
  const r = validateConfig(input, HW);
  if (!r.ok) return { ok: false, errors: r.errors.map((e) => ({ code: e.code, path: e.path })) };
  const tz = parsePosixTz(r.config.tz);
  if (!tz.ok) return { ok: false, errors: [{ code: "CFG_TZ", path: "tz" }] };
  return { ok: true, schedule: { config: r.config, tz: tz.tz } };
}

export interface DueSlot {
  dose: FixedDose;
  slot: string;
  dueMs: number;
  window: DoseWindow;
}

export function windowOf(cfg: DispenserConfig, dose: FixedDose): DoseWindow {
  return dose.window ?? cfg.defaults.window;
}

/** Slots of every fixed dose due in [fromMs, toMs), ascending by due time. */
export function dueSlots(s: DeviceSchedule, fromMs: number, toMs: number, max = 256): DueSlot[] {
  const out: DueSlot[] = [];
  for (const dose of s.config.doses) {
    for (const o of occurrencesBetween(dose, s.tz, fromMs, toMs, max))
      out.push({ dose, slot: o.slotId, dueMs: o.dueUtcMs, window: windowOf(s.config, dose) });
  }
  return out.sort((a, b) => a.dueMs - b.dueMs || (a.slot < b.slot ? -1 : 1));
}

/** Recipient references of the remote steps (push/sms/call) of a dose's ladder, in order. */
export function ladderRecipients(cfg: DispenserConfig, dose: FixedDose): string[] {
  const id = dose.ladder ?? DEFAULT_LADDER_ID;
  const ladder = cfg.ladders.find((l) => l.id === id);
  const out: string[] = [];
  for (const st of ladder?.steps ?? []) for (const r of st.to ?? []) if (!out.includes(r)) out.push(r);
  return out;
}

/** Dose of a slot id ("am@2026-03-10"). */
export function doseOfSlot(cfg: DispenserConfig, slot: string): FixedDose | undefined {
  const at = slot.indexOf("@");
  return at < 0 ? undefined : cfg.doses.find((d) => d.id === slot.slice(0, at));
}

/** "HH:MM" local to the schedule's zone (UTC with a Z when unknown). */
export function localHm(s: DeviceSchedule | undefined, utcMs: number): string {
  const ms = s ? utcToLocal(s.tz, utcMs).localMs : utcMs;
  const d = new Date(ms);
  const hm = String(d.getUTCHours()).padStart(2, "0") + ":" + String(d.getUTCMinutes()).padStart(2, "0");
  return s ? hm : hm + "Z";
}

/** In-memory view of the configs stored in the relay database. */
export class ScheduleBook {
  private readonly map = new Map<string, { version: number; schedule: DeviceSchedule }>();
  get(device: string): DeviceSchedule | undefined {
    return this.map.get(device)?.schedule;
  }
  devices(): string[] {
    return [...this.map.keys()].sort();
  }
  /** Replaces a device's schedule when the version differs; false if the config is invalid. */
  set(device: string, version: number, json: string): boolean {
    if (this.map.get(device)?.version === version) return true;
    let input: unknown;
    try {
      input = JSON.parse(json);
    } catch {
      return false;
    }
    const r = scheduleFromConfig(input);
    if (!r.ok || r.schedule.config.device !== device) return false;
    this.map.set(device, { version, schedule: r.schedule });
    return true;
  }
}
