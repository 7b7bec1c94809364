/**
 * The emulated Moddable modules the whole-board simulation hands to firmware/app/board.ts, each
 * checked against the contract the real platform adapters rely on, and driven through those
 * adapters where the board uses them.
 */
import { describe, expect, it } from "vitest";
import type { Network, StreamHandlers } from "../../../../firmware/core/ports";
import { createClock } from "../../../../firmware/platform/clock";
import { createFirmwareSlots } from "../../../../firmware/platform/firmware-slots";
import { createKv } from "../../../../firmware/platform/kv";
import { createNetwork } from "../../../../firmware/platform/network";
import { readResetReason } from "../../../../firmware/platform/reset";
import { createSntp } from "../../../../firmware/platform/sntp";
import { deviceSockets } from "../../../../firmware/platform/sockets";
import { createTimers } from "../../../../firmware/platform/timers";
import { startWifi } from "../../../../firmware/platform/wifi";
import { SimFirmwareSlots } from "../../../../host-sim/kernel/hw/firmware-slots";
import { KvEmulator } from "../../../../host-sim/kernel/hw/kv-emulator";
import {
  type ModuleHost,
  WIFI_ASSOCIATE_MS,
  WifiRadio,
  preferenceModule,
  resetReasonModule,
  sntpModule,
  timeModule,
  timerModule,
} from "../../../../host-sim/kernel/moddable/modules";
import { socketModules } from "../../../../host-sim/kernel/moddable/sockets";
import { Scheduler } from "../../../../host-sim/kernel/time/scheduler";

const T0 = Date.UTC(2026, 2, 10, 6, 30);

function host(o: { up?: () => boolean; reason?: string } = {}) {
  const sched = new Scheduler(T0);
  const group = sched.newGroup();
  const spaces = new Map<string, KvEmulator>();
  let rtc = 0;
  const h: ModuleHost = {
    sched,
    group,
    bootAt: T0,
    rtc: () => rtc + (sched.now - T0),
    setRtc: (ms) => {
      rtc = ms - (sched.now - T0);
    },
    resetReason: o.reason ?? "power_on",
    prefs: (d) => {
      let kv = spaces.get(d);
      if (kv === undefined) spaces.set(d, (kv = new KvEmulator()));
      return kv;
    },
    networkUp: o.up ?? (() => true),
    ssid: "ap",
    mac: "24:0a:c4:00:00:01",
  };
  const run = (ms: number) =>
    sched.runUntil(sched.now + ms, (e) => {
      throw e;
    });
  return { h, sched, run, spaces };
}

describe("emulated Moddable modules", () => {
  it("timer: first delay, then the repeat period; clear stops it (through platform/timers)", () => {
    const { h, run, sched } = host();
    const timers = createTimers(timerModule(h));
    const at: number[] = [];
    const id = timers.repeat(100, () => at.push(sched.now - T0));
    run(350);
    timers.cancel(id);
    run(500);
    expect(at).toEqual([100, 200, 300]);
    const raw = timerModule(h);
    const seen: number[] = [];
    const t = raw.set(() => seen.push(sched.now - T0), 50, 200);
    run(500);
    raw.clear(t);
    run(1000);
    expect(seen).toEqual([900, 1100, 1300]);
  });

  it("time: ticks since boot and the wall clock Time.set sets (through platform/clock)", () => {
    const { h, run } = host();
    const Time = timeModule(h);
    const clock = createClock(Time, h.rtc);
    run(1234);
    expect(clock.monoMs()).toBe(1234);
    expect(clock.wallMs()).toBeUndefined();
    Time.set(T0 / 1000 + 60);
    clock.markSynced();
    expect(clock.wallMs()).toBe(T0 + 60_000);
  });

  it("preference: NVS names of 1..15 printable characters, values back as bytes (through platform/kv)", () => {
    const { h, spaces } = host();
    const P = preferenceModule(h);
    const kv = createKv(P, "dosekeeper");
    kv.set("k", "héllo");
    expect(P.get("dosekeeper", "k")).toBeInstanceOf(ArrayBuffer);
    expect(kv.get("k")).toBe("héllo");
    expect(spaces.get("dosekeeper")?.get("k")).toBe("héllo");
    expect(() => P.set("dosekeeper", "a-key-too-long-x", new ArrayBuffer(1))).toThrow();
    expect(() => P.set("dosekeeper", "k", "text" as unknown as ArrayBuffer)).toThrow(TypeError);
    kv.delete("k");
    expect(kv.keys()).toEqual([]);
  });

  it("reset reason: esp_reset_reason codes the platform maps back", () => {
    for (const r of ["power_on", "software", "panic", "watchdog", "brownout"]) {
      expect(readResetReason(resetReasonModule(host({ reason: r }).h))).toBe(r);
    }
  });

  it("sntp: answers the true time when the network is up; fails over to the next host when not", () => {
    let up = false;
    const { h, run, sched } = host({ up: () => up });
    const timers = createTimers(timerModule(h));
    const set: number[] = [];
    const sntp = createSntp({
      SNTP: sntpModule(h),
      hosts: ["a", "b"],
      timers,
      setTime: (s) => set.push(s),
      onSynced: () => undefined,
      retryMs: 1000,
    });
    sntp.start();
    run(900);
    expect(set).toEqual([]);
    up = true;
    run(2000);
    expect(set.length).toBe(1);
    expect(set[0]).toBeGreaterThanOrEqual(Math.floor(T0 / 1000));
    expect(set[0]).toBeLessThanOrEqual(Math.floor(sched.now / 1000));
  });

  it("wifi: associates after WIFI_ASSOCIATE_MS with the right SSID; the AP going away drops it (through platform/wifi)", () => {
    let up = true;
    const { h, run } = host({ up: () => up });
    const radio = new WifiRadio(h);
    const timers = createTimers(timerModule(h));
    const log: string[] = [];
    const wifi = startWifi({ WiFi: radio.module(), ssid: "ap", timers, onUp: () => log.push("up"), onDown: () => log.push("down") });
    run(WIFI_ASSOCIATE_MS - 1);
    expect(wifi.up).toBe(false);
    run(2);
    expect(log).toEqual(["up"]);
    up = false;
    radio.apChanged(false);
    expect(log).toEqual(["up", "down"]);
    up = true;
    run(10_000);
    expect(log).toEqual(["up", "down", "up"]);
    const other = startWifi({ WiFi: radio.module(), ssid: "elsewhere", timers });
    run(60_000);
    expect(other.up).toBe(false);
  });

  it("sockets: bytes cross the bridge both ways in order; the peer closing is onError (through platform/network)", () => {
    const { h, run, sched } = host();
    const timers = createTimers(timerModule(h));
    let peer: StreamHandlers | undefined;
    const got: number[] = [];
    const fake: Network = {
      connect: (_host, _port, _tls, handlers) => {
        peer = handlers;
        sched.at(sched.now + 10, () => handlers.onConnect(), h.group);
        return { write: (b) => (got.push(...b), true), close: () => undefined };
      },
    };
    const net = createNetwork({ open: deviceSockets(socketModules(fake, timers)), resolve: (n, cb) => cb(n, "10.0.0.2"), timers });
    const rx: number[] = [];
    const closes: string[] = [];
    const conn = net.connect("10.0.0.2", 1883, false, {
      onConnect: () => undefined,
      onData: (b) => rx.push(...b),
      onClose: (r) => closes.push(r),
    });
    run(20);
    const big = new Uint8Array(12_000).map((_, i) => i & 0xff);
    expect(conn.write(big)).toBe(true);
    run(10);
    expect(got.length).toBe(12_000);
    expect(got.slice(5_740, 5_750)).toEqual(Array.from(big.subarray(5_740, 5_750)));
    peer?.onData(new Uint8Array([1, 2, 3]));
    peer?.onData(new Uint8Array([4]));
    expect(rx).toEqual([1, 2, 3, 4]);
    peer?.onClose("reset");
    run(10);
    expect(closes).toEqual(["reset"]);
  });

  it("ota + dk-ota: an image goes to the other slot, boots on trial, is kept, and the next update is not refused as on trial", () => {
    const resets: string[] = [];
    const slots = new SimFirmwareSlots(
      "0.1.0",
      (r) => resets.push(r),
      () => undefined,
    );
    const m = slots.moddable();
    const port = createFirmwareSlots(slots.version, m.OTA, m.rollback);
    const image = new TextEncoder().encode("DKSIMFW1 good\nversion 0.2.0\n" + "x".repeat(100));
    port.begin(image.length, "0.2.0");
    port.write(image.subarray(0, 50));
    port.write(image.subarray(50));
    port.finish();
    slots.boot();
    expect(slots.version).toBe("0.2.0");
    const after = createFirmwareSlots(slots.version, m.OTA, m.rollback);
    expect(after.running()).toEqual({ version: "0.2.0", trial: true });
    after.accept();
    expect(after.running().trial).toBe(false);
    slots.boot();
    expect(slots.version).toBe("0.2.0");
    expect(resets).toEqual([]);
  });
});
