/**
 * The pharmacist configuration (schedule) as the device holds it.
 * docs/config.md documents every field; core/config.ts validates it.
 * Times are local to `tz` (a POSIX TZ string, see core/tz.ts).
 * The device holds no names or phone numbers of people: recipients are opaque references
 * resolved by the cloud relay.
 */

export const CONFIG_SCHEMA = 1;

export interface Medication {
  /** Medication name as on the box (not patient data). 1..40 chars. */
  readonly name: string;
  /** Pills of this medication in one dose (1..10). */
  readonly count: number;
  /** Mass of one pill in milligrams (20..3000). */
  readonly unitMg: number;
}

export interface Compartment {
  /** Identifier, [a-z0-9_-]{1,12}. */
  readonly id: string;
  /** Label printed on the bay ("Morning"), 1..24 chars. */
  readonly label: string;
  /** Load-cell channel index (0..channels-1), unique. */
  readonly channel: number;
  /** LED index (0..leds-1), unique. */
  readonly led: number;
  /** What one dose from this compartment is made of (at least one medication). */
  readonly meds: readonly Medication[];
}

/** Dose window, in minutes relative to the due time. */
export interface DoseWindow {
  /** A removal up to this many minutes before due counts as taken-early (0..240). */
  readonly earlyMin: number;
  /** After this many minutes past due the dose is late (1..lateMin < missedMin). */
  readonly lateMin: number;
  /** After this many minutes past due the dose is missed and the slot closes (.. 720). */
  readonly missedMin: number;
}

export type Weekday = "mon" | "tue" | "wed" | "thu" | "fri" | "sat" | "sun";

export interface FixedDose {
  /** Identifier, [a-z0-9_-]{1,12}, unique among doses and prn. */
  readonly id: string;
  /** Compartment the pills are taken from. */
  readonly compartment: string;
  /** Local time "HH:MM" (24 h). */
  readonly at: string;
  /** Days of week; omitted = every day. */
  readonly days?: readonly Weekday[];
  /** First local date "YYYY-MM-DD" the dose applies (inclusive); omitted = from now. */
  readonly start?: string;
  /** Last local date (inclusive); omitted = open-ended. */
  readonly end?: string;
  /** Overrides `defaults.window`. */
  readonly window?: DoseWindow;
  /** Ladder id; omitted = "default". */
  readonly ladder?: string;
}

/** As-needed dose: taken when the patient needs it, within limits. */
export interface PrnDose {
  readonly id: string;
  readonly compartment: string;
  /** Maximum doses in any rolling 24 h (1..12). */
  readonly maxPer24h: number;
  /** Minimum minutes between two doses (0..1440). */
  readonly minIntervalMin: number;
  /** Most doses (tablets of the PRN's unit) taken at once (1..12; absent: 1, kept absent so the config hash does not change). */
  readonly maxPerIntake?: number;
  /** Recipient references told when a limit is exceeded. */
  readonly alert: readonly string[];
}

import type { Channel, Language, RemoteChannel, SoundPattern } from "../protocol/channels";

export type { Channel, SoundPattern };

export interface EscalationStep {
  /** Minutes after the due time (0..1440). Steps are ordered by this value. */
  readonly afterMin: number;
  readonly channel: Channel;
  /** sound only: pattern name and volume 1..100. */
  readonly pattern?: SoundPattern;
  readonly volume?: number;
  /** push/sms/call only: recipient references (1..5). */
  readonly to?: readonly string[];
  /** Extra repetitions of this step (0..10), every `everyMin` minutes (>= 1). */
  readonly repeat?: number;
  readonly everyMin?: number;
}

export interface Ladder {
  readonly id: string;
  readonly steps: readonly EscalationStep[];
}

export interface ConfigDefaults {
  readonly window: DoseWindow;
  /** How long the button silences sound, in seconds (10..900; 120 by default). */
  readonly silenceS: number;
}

export interface DispenserConfig {
  /** Always CONFIG_SCHEMA. */
  readonly schema: number;
  /** Device this config is addressed to. */
  readonly device: string;
  /** Strictly increasing integer (>= 1). */
  readonly version: number;
  /** POSIX TZ string, e.g. "CET-1CEST,M3.5.0,M10.5.0/3". */
  readonly tz: string;
  readonly compartments: readonly Compartment[];
  readonly doses: readonly FixedDose[];
  readonly prn: readonly PrnDose[];
  readonly ladders: readonly Ladder[];
  readonly defaults: ConfigDefaults;
  /** What a long press of the button does (absent: the same as a short press). */
  readonly help?: HelpConfig;
  /** Low-stock alerts (absent: below 3 days of doses). */
  readonly stock?: StockConfig;
  /** The household's language: the dashboard's card of this dispenser (absent: the viewer's). */
  readonly lang?: Language;
}

/** `stock.low` when a compartment's doses last fewer than `lowDays` days at the schedule's pace. */
export interface StockConfig {
  readonly lowDays: number;
}

/** A long press asks these people for help at once. */
export interface HelpConfig {
  readonly to: readonly string[];
  readonly channel: RemoteChannel;
}
