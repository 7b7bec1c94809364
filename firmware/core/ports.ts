/**
 * Ports: the only things the firmware core may touch.
 *
 * firmware/core imports nothing but this file (and its own modules). The device
 * wires Moddable modules to these interfaces (firmware/platform), the host
 * simulator wires emulators and a virtual clock (host-sim/).
 *
 * All callbacks are invoked from the event loop (never re-entrantly from inside a
 * port call), so the core is single-threaded and deterministic for a given input.
 */

/** Monotonic time since boot plus an optional wall clock (UTC). */
export interface Clock {
  /** Milliseconds since boot; never goes backwards; restarts at 0 on reboot. */
  monoMs(): number;
  /** UTC milliseconds since the Unix epoch, or undefined until time is synced (SNTP). */
  wallMs(): number | undefined;
}

/** Opaque handle of a scheduled timer. */
export type TimerId = number;

/**
 * Timers on the monotonic clock. Callbacks run from the event loop.
 * Names avoid the browser globals on purpose (XS has none).
 */
export interface Timers {
  /** Run `cb` once after `ms` milliseconds (0 allowed: next turn). */
  once(ms: number, cb: () => void): TimerId;
  /** Run `cb` every `ms` milliseconds (ms >= 1), first run after `ms`. */
  repeat(ms: number, cb: () => void): TimerId;
  /** Cancel a timer; unknown or already-fired ids are ignored. */
  cancel(id: TimerId): void;
}

/** One LED per compartment (GPIO or addressable strip). */
export interface Leds {
  readonly count: number;
  /** Set LED `index` on or off. Colour is chosen by the platform (e.g. amber for due, red for fault). */
  set(index: number, on: boolean): void;
}

/** One step of a tone pattern: frequency in Hz (0 = silence) for `ms` milliseconds. */
export interface ToneStep {
  readonly hz: number;
  readonly ms: number;
}

/** Piezo buzzer on a PWM pin. */
export interface Buzzer {
  /**
   * Play `steps` in a loop until stop() or play() is called again.
   * volume: 0..100 (% duty of the maximum the hardware allows).
   */
  play(steps: readonly ToneStep[], volume: number): void;
  stop(): void;
}

/**
 * Load-cell channels (one load-cell ADC per compartment bay: HX711, NAU7802, …).
 * `read` is a poll: it returns the newest signed raw count the driver has, or NaN when the
 * channel has no fresh reading (timeout, disconnected chip). Saturation shows as the chip's
 * extreme counts and is left to the detector.
 */
export interface LoadCells {
  readonly channels: number;
  /** Samples per second the chips are converting at (the HX711: 10 or 80). */
  readonly sps: number;
  read(channel: number): number;
}

export type PressKind = "short" | "long";

/** The single push button; debouncing and press classification are done below the port. */
export interface Button {
  onPress(cb: (kind: PressKind) => void): void;
}

/**
 * Key-value storage with the ESP32 NVS limits:
 * keys are 1..15 ASCII characters, values at most 4000 bytes once UTF-8 encoded.
 * A `set` either fully replaces the value or (power cut) leaves the old one;
 * callers that need multi-key atomicity build it on top (see core/store.ts).
 * Violating a limit throws a RangeError with a message starting "KV_".
 */
export interface KeyValue {
  get(key: string): string | undefined;
  set(key: string, value: string): void;
  delete(key: string): void;
  /** All keys currently stored (order unspecified). */
  keys(): string[];
}

export const KV_MAX_KEY = 15;
export const KV_MAX_VALUE_BYTES = 4000;

/** Callbacks of a byte-stream connection. */
export interface StreamHandlers {
  onConnect(): void;
  onData(bytes: Uint8Array): void;
  /** Connection closed or failed (reason is a short code such as "refused", "reset", "tls"). */
  onClose(reason: string): void;
}

export interface StreamConnection {
  /** Queue bytes for sending; returns false if the connection is closed. */
  write(bytes: Uint8Array): boolean;
  close(): void;
}

/** Byte-stream network (TCP or TLS). */
export interface Network {
  connect(host: string, port: number, tls: boolean, handlers: StreamHandlers): StreamConnection;
}

/**
 * The two firmware slots (ESP32: the ota_0/ota_1 partitions and the boot loader's rollback,
 * docs/ota.md). One image runs; the other slot takes an update. A staged image boots once on
 * trial; it stays only once accept() is called, and the boot loader goes back to the previous
 * image if the trial image resets first or calls reject(). Failures throw a RangeError whose
 * message starts "OTA_".
 */
export interface FirmwareSlots {
  /** The running image: its version, and whether it is on trial (not yet accepted). */
  running(): { readonly version: string; readonly trial: boolean };
  /** Largest image the inactive slot holds (bytes). */
  readonly slotBytes: number;
  /** Erase the inactive slot for an image of `size` bytes (`version` from the signed header). */
  begin(size: number, version: string): void;
  write(bytes: Uint8Array): void;
  /** All bytes written: boot the new image next, on trial. */
  finish(): void;
  /** Drop a partly written image (the running one stays the boot image). */
  abort(): void;
  /** The trial image passed its self-test: keep it. */
  accept(): void;
  /** The trial image failed its self-test: boot the previous image now. */
  reject(): void;
  /** Reset into the boot image (after finish()). */
  restart(): void;
}

/** Everything the core is given. */
export interface Ports {
  readonly clock: Clock;
  readonly timers: Timers;
  readonly leds: Leds;
  readonly buzzer: Buzzer;
  readonly loadCells: LoadCells;
  readonly button: Button;
  readonly kv: KeyValue;
  readonly network: Network;
  /** Firmware update slots; absent where the platform has none (the core refuses updates). */
  readonly firmware?: FirmwareSlots;
}
