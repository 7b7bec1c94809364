/** What the device core (createDispenser) offers and needs: identity, uplink, status, commands. */
import type { ConfigError } from "./config/limits";
import type { DispenserConfig } from "./config/types";
import type { EventClass, LoggedEvent } from "./log/eventlog";
import type { Calibration } from "./load/events";
import type { EventType } from "./protocol/events";

export interface DeviceIdentity {
  readonly deviceId: string;
  readonly firmware: string;
  /** "power_on", "software", "watchdog", "brownout", "panic", … */
  readonly resetReason: string;
  readonly hw: { readonly channels: number; readonly leds: number };
  /** Factory calibration per load-cell channel (used until a calibrate command replaces it). */
  readonly calibration?: readonly Calibration[];
  /** Mass of an empty tray (grams, the same molded cup on every bay): pills = level − this. Default 0 (trays tared empty). */
  readonly trayGrams?: number;
  /** Safe boot after a crash loop (core/update/boot-guard): the load cells are not read. */
  readonly safeMode?: boolean;
  /** Board an update image must be built for (core/update/image). Default "esp32". */
  readonly target?: string;
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
  /** Safe boot after a crash loop (core/update/boot-guard): no load cell is read. */
  readonly safe: boolean;
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
  /** Doses and days left per compartment (core/dose/stock). */
  readonly stock: readonly { readonly comp: string; readonly doses: number | null; readonly days: number | null }[];
  /**
   * Per compartment, whether the weight can count one pill of its lightest medication surely
   * (`z` ≥ 2.6, core/load/detector-base weighZ): `sure: false` means its removals are reported
   * `removal.uncertain`, never taken, at this cell and rate. null until the noise is measured.
   */
  readonly weigh: readonly { readonly comp: string; readonly z: number | null; readonly sure: boolean | null }[];
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
  log(type: EventType, cls: EventClass, data: Record<string, unknown>): LoggedEvent;
  status(): DispenserStatus;
  /** The config running now (validated and frozen), if any. */
  currentConfig(): DispenserConfig | undefined;
  /** Remote commands (authenticated by the caller). Each returns a result code ("OK" or a coded refusal). */
  tare(channel?: number): string;
  calibrate(channel: number, knownGrams: number): string;
  identify(seconds: number): string;
  silence(): string;
  /** The refill command {comp, doses}: verify now, or expect that count at the next refill (core/dose/stock). */
  refill(args: Record<string, unknown>): string;
  /** Wipe schedule, history, tare; leaves the device unprovisioned. */
  decommission(): void;
}
