/**
 * Our own declarations of the (non ECMA-419) Moddable SDK modules the firmware uses.
 * Semantics from the SDK documentation (documentation/base/base.md, files/files.md,
 * network/network.md) and sources; only what we use is declared.
 */

declare module "timer" {
  type TimerHandle = { readonly __timer: unique symbol };
  const Timer: {
    /** One shot after `ms` (0 or omitted: next turn of the event loop); with `repeat` > 0: repeating. */
    set(callback: (t: TimerHandle) => void, ms?: number, repeat?: number): TimerHandle;
    repeat(callback: (t: TimerHandle) => void, ms: number): TimerHandle;
    /** undefined/null accepted; one-shot timers clear themselves after firing. */
    clear(timer: TimerHandle | undefined | null): void;
  };
  export default Timer;
}

declare module "time" {
  const Time: {
    /** Millisecond counter; a signed 32-bit integer on microcontrollers (wraps after ~24.8 days). */
    readonly ticks: number;
    /** Wrap-safe difference of two `ticks` values (end defaults to now). */
    delta(start: number, end?: number): number;
    /** Set the system (wall) time, seconds since 1970. */
    set(seconds: number): void;
  };
  export default Time;
}

declare module "preference" {
  /** ESP32: NVS. Domain and key at most 15 characters; string values < 4000 bytes incl. NUL. */
  const Preference: {
    get(domain: string, key: string): string | number | boolean | ArrayBuffer | undefined;
    set(domain: string, key: string, value: string | number | boolean | ArrayBuffer): void;
    delete(domain: string, key: string): void;
    keys(domain: string): string[];
  };
  export default Preference;
}

declare module "sntp" {
  export default class SNTP {
    /** 1: time retrieved (value = seconds since 1970); 2: retrying; -1: failed (value = reason). */
    static readonly time: 1;
    static readonly retry: 2;
    static readonly error: -1;
    /** Return a host name from the callback on error to try another server. */
    constructor(options: { host: string }, callback: (message: number, value?: number | string) => string | void);
  }
}

declare module "net" {
  const Net: {
    get(property: "IP" | "MAC" | "SSID"): string | undefined;
    /** Asynchronous DNS look-up; address undefined when it fails. Throws when lwIP's queue is full. */
    resolve(host: string, callback: (name: string, address?: string) => void): void;
  };
  export default Net;
}

declare module "neopixel" {
  export default class NeoPixel {
    constructor(options: { length: number; pin: number; order?: "RGB" | "GRB" | "RGBW" });
    readonly length: number;
    brightness: number;
    makeRGB(r: number, g: number, b: number): number;
    setPixel(index: number, color: number): void;
    fill(color: number, index?: number, count?: number): void;
    update(): void;
    close(): void;
  }
}

/* "resetReason" is declared in reset-reason.d.ts: the SDK ships no typing for it, so the
   device build (mcconfig) also loads that file (manifests/esp32/manifest.json, typescript.types). */

/** The manifest's "config" object. */
declare module "mc/config" {
  const config: { readonly [key: string]: unknown };
  export default config;
}
