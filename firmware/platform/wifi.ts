/**
 * Wi-Fi station bring-up on ECMA-419 `embedded:network/interface/wifi` (SDK
 * modules/io/wifi/esp32). `connection`: 200 disconnected, 300 connecting, 400
 * associated, 500 has an IP address.
 *
 * Runs in the background and never blocks start-up: the dispenser keeps reminding
 * offline. (That is why the manifest does not set `config.ssid`: the SDK's
 * setup/network would hold back main() until Wi-Fi is up.) After a disconnect or a
 * connect attempt that does not reach an address within `attemptMs`, it retries with
 * exponential back-off from `minBackoffMs` to `maxBackoffMs`.
 */
import type { TimerId, Timers } from "../core/ports";

export interface WifiInterface {
  readonly connection: number;
  connect(options: { SSID: string; password?: string }): void;
  disconnect(): void;
  close(): void;
}
export type WifiClass = new (options: { onChanged?: (property: "connection" | "address") => void }) => WifiInterface;

export interface WifiOptions {
  WiFi: WifiClass;
  ssid: string;
  password?: string;
  timers: Timers;
  onUp?(): void;
  onDown?(): void;
  attemptMs?: number;
  minBackoffMs?: number;
  maxBackoffMs?: number;
}

export interface WifiLink {
  readonly up: boolean;
  close(): void;
}

export function startWifi(o: WifiOptions): WifiLink {
  const attemptMs = o.attemptMs ?? 30_000;
  const minB = o.minBackoffMs ?? 2_000;
  const maxB = o.maxBackoffMs ?? 120_000;
  let backoff = minB;
  let up = false;
  let closed = false;
  let timer: TimerId | undefined;
  const arm = (ms: number, fn: () => void): void => {
    if (timer !== undefined) o.timers.cancel(timer);
    timer = o.timers.once(ms, () => {
      timer = undefined;
      fn();
    });
  };
  const attempt = (): void => {
    if (closed) return;
    try {
      wifi.connect(o.password ? { SSID: o.ssid, password: o.password } : { SSID: o.ssid });
    } catch {
      /* "already connecting": the watchdog below will retry */
    }
    arm(attemptMs, () => {
      if (up || closed) return;
      try {
        wifi.disconnect();
      } catch {
        /* ignore */
      }
      retry();
    });
  };
  const retry = (): void => {
    arm(backoff, attempt);
    backoff = Math.min(maxB, backoff * 2);
  };
  const wifi = new o.WiFi({
    onChanged(property) {
      if (closed || property !== "connection") return;
      const c = wifi.connection;
      if (c >= 500 && !up) {
        up = true;
        backoff = minB;
        if (timer !== undefined) o.timers.cancel(timer);
        timer = undefined;
        o.onUp?.();
      } else if (c <= 200) {
        if (up) {
          up = false;
          o.onDown?.();
        }
        retry();
      }
    },
  });
  attempt();
  return {
    get up() {
      return up;
    },
    close(): void {
      closed = true;
      if (timer !== undefined) o.timers.cancel(timer);
      timer = undefined;
      wifi.close();
    },
  };
}
