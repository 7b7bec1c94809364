/**
 * Emulated Moddable modules for one simulated boot: what firmware/app/board.ts is given in the
 * simulator instead of the SDK's ("time", "timer", "preference", "resetReason", "net", "sntp",
 * embedded:network/interface/wifi, "ota" and dk-ota; sockets in ./sockets, pins in ../hw).
 * Each keeps the SDK's contract where the board relies on it: Timer.set's first delay and
 * repeat, Preference's NVS limits (key and domain 1..15 printable ASCII, values as bytes),
 * SNTP's fail-over callback (a returned string is the next host), Wi-Fi's connection states
 * and onChanged, lwIP's asynchronous resolve. Everything runs on the boot's timer group, so a
 * power cut stops it all. XS-clean.
 */
import { utf8Decode, utf8Encode } from "../../../firmware/core/crypto/utf8";
import type { KeyValue } from "../../../firmware/core/ports";
import type { TimeModule } from "../../../firmware/platform/clock";
import type { PreferenceModule } from "../../../firmware/platform/kv";
import type { SntpClass } from "../../../firmware/platform/sntp";
import type { TimerModule } from "../../../firmware/platform/timers";
import type { WifiClass, WifiInterface } from "../../../firmware/platform/wifi";
import type { SchedulerLike } from "../time/scheduler";

/** What the emulated modules see of the simulated box. */
export interface ModuleHost {
  readonly sched: SchedulerLike;
  /** This boot's timer group. */
  readonly group: number;
  readonly bootAt: number;
  /** The board's RTC (ms UTC, whatever it holds: it is what Date.now reads on the board). */
  rtc(): number;
  setRtc(ms: number): void;
  readonly resetReason: string;
  /** The NVS namespaces. */
  prefs(domain: string): KeyValue;
  /** Is the access point (and everything behind it) reachable? */
  networkUp(): boolean;
  readonly ssid: string;
  readonly mac: string;
}

/** Wi-Fi association time, DNS answer time and SNTP round trip in the simulation. */
export const WIFI_ASSOCIATE_MS = 1_500;
export const DNS_MS = 5;
export const SNTP_MS = 100;
/** Moddable's Wi-Fi connection values (embedded:network/interface/wifi): disconnected, connected with an address. */
export const WIFI_DISCONNECTED = 0;
export const WIFI_CONNECTED = 500;

const RESET_CODES: Readonly<Record<string, number>> = Object.freeze({
  unknown: 0,
  power_on: 1,
  external: 2,
  software: 3,
  panic: 4,
  watchdog: 5,
  deep_sleep: 8,
  brownout: 9,
});

export function timeModule(h: ModuleHost): TimeModule & { set(seconds: number): void } {
  return {
    get ticks(): number {
      return (h.sched.now - h.bootAt) % 0x100000000;
    },
    delta: (start: number, end: number) => (end - start + 0x100000000) % 0x100000000,
    set: (seconds: number) => h.setRtc(seconds * 1000),
  };
}

export function timerModule(h: ModuleHost): TimerModule {
  const timers = h.sched.timers(h.group);
  interface Handle {
    id: number;
    live: boolean;
  }
  return {
    set(callback: () => void, interval: number, repeat?: number): Handle {
      const handle: Handle = { id: 0, live: true };
      const every = repeat !== undefined && repeat > 0 ? repeat : 0;
      handle.id = timers.once(interval > 0 ? interval : 0, () => {
        if (!handle.live) return;
        if (every === 0) handle.live = false;
        else handle.id = timers.repeat(every, callback);
        callback();
      });
      return handle;
    },
    clear(t: unknown): void {
      const handle = t as Handle;
      if (handle === null || typeof handle !== "object" || !handle.live) return;
      handle.live = false;
      timers.cancel(handle.id);
    },
  };
}

function checkName(s: unknown): string {
  if (typeof s !== "string" || s.length < 1 || s.length > 15) throw new Error("invalid name");
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) < 0x20 || s.charCodeAt(i) > 0x7e) throw new Error("invalid name");
  return s;
}

/** "preference" over the NVS emulators: values are stored as the bytes given and read back as an ArrayBuffer. */
export function preferenceModule(h: ModuleHost): PreferenceModule {
  return {
    get(domain: string, key: string): unknown {
      const v = h.prefs(checkName(domain)).get(checkName(key));
      return v === undefined ? undefined : utf8Encode(v).buffer;
    },
    set(domain: string, key: string, value: ArrayBuffer): void {
      if (!(value instanceof ArrayBuffer)) throw new TypeError("ArrayBuffer expected");
      const text = utf8Decode(new Uint8Array(value));
      if (text === undefined) throw new RangeError("not UTF-8"); // the NVS emulator keeps text
      h.prefs(checkName(domain)).set(checkName(key), text);
    },
    delete(domain: string, key: string): void {
      h.prefs(checkName(domain)).delete(checkName(key));
    },
    keys(domain: string): string[] {
      return h.prefs(checkName(domain)).keys();
    },
  };
}

export function resetReasonModule(h: ModuleHost): () => { reason: number } {
  return () => ({ reason: RESET_CODES[h.resetReason] ?? 0 });
}

export function netModule(h: ModuleHost): {
  get(key: "MAC"): string | undefined;
  resolve(host: string, cb: (name: string, address?: string) => void): void;
} {
  return {
    get: (key) => (key === "MAC" ? h.mac : undefined),
    resolve: (host, cb) => {
      h.sched.at(h.sched.now + DNS_MS, () => (h.networkUp() ? cb(host, "10.0.0.2") : cb(host)), h.group);
    },
  };
}

/** "sntp": one request per instance; on failure the callback may return the next host to try. */
export function sntpModule(h: ModuleHost): SntpClass {
  return class SNTP {
    constructor(_options: { host: string }, cb: (message: number, value?: number | string) => string | void) {
      const ask = (): void => {
        h.sched.at(
          h.sched.now + SNTP_MS,
          () => {
            if (h.networkUp()) {
              cb(1, Math.floor(h.sched.now / 1000));
              return;
            }
            const next = cb(-1, "timeout");
            if (typeof next === "string" && next.length > 0) ask();
          },
          h.group,
        );
      };
      ask();
    }
  };
}

/** The live Wi-Fi interfaces of a boot, told when the access point comes and goes. */
export class WifiRadio {
  private readonly live: { set(c: number): void }[] = [];

  constructor(private readonly h: ModuleHost) {}

  /** The access point went away or came back (a connected interface drops; a new attempt is up to the driver). */
  apChanged(up: boolean): void {
    if (up) return;
    for (const w of this.live.slice()) w.set(WIFI_DISCONNECTED);
  }

  module(): WifiClass {
    const h = this.h;
    const live = this.live;
    return class WiFi implements WifiInterface {
      #connection = WIFI_DISCONNECTED;
      #attempt = 0;
      readonly #onChanged: ((p: "connection" | "address") => void) | undefined;
      readonly #me = { set: (c: number) => this.#set(c) };

      constructor(options: { onChanged?: (property: "connection" | "address") => void }) {
        this.#onChanged = options.onChanged;
        live.push(this.#me);
      }
      get connection(): number {
        return this.#connection;
      }
      connect(options: { SSID: string; password?: string }): void {
        if (typeof options.SSID !== "string" || options.SSID.length < 1 || options.SSID.length > 32) throw new RangeError("invalid SSID");
        const attempt = ++this.#attempt;
        h.sched.at(
          h.sched.now + WIFI_ASSOCIATE_MS,
          () => {
            if (attempt === this.#attempt && h.networkUp() && options.SSID === h.ssid) this.#set(WIFI_CONNECTED);
          },
          h.group,
        );
      }
      disconnect(): void {
        this.#attempt++;
        this.#connection = WIFI_DISCONNECTED;
      }
      close(): void {
        this.disconnect();
        const i = live.indexOf(this.#me);
        if (i >= 0) live.splice(i, 1);
      }
      #set(c: number): void {
        if (c === this.#connection) return;
        this.#connection = c;
        this.#onChanged?.("connection");
      }
    };
  }
}
