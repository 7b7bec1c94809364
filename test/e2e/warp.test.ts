/**
 * WarpScheduler: same timeline as the kernel's virtual-time Scheduler for the same device run,
 * warp changes without jumps, CPU-budgeted batches that let time slip instead of blocking.
 */
import { describe, it, expect } from "vitest";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { Scheduler } from "../../host-sim/kernel/time/scheduler";
import { SimDevice, type SchedulerLike } from "../../host-sim/kernel/device/sim-device";
import { isoUtc } from "../../firmware/core/schedule/civil";
import { WarpScheduler } from "../../host-sim/live/warp-scheduler";

const ROOT = path.resolve(__dirname, "../..");
const config = JSON.parse(readFileSync(path.join(ROOT, "test/scenarios/configs/home.json"), "utf8")) as Record<string, unknown>;
const START = Date.parse("2026-03-10T06:30:00Z");

function device(sched: SchedulerLike, lines: string[]): SimDevice {
  return new SimDevice({
    sched,
    id: "dk-sim-1",
    channels: 4,
    leds: 4,
    sps: 10,
    seed: 1,
    loadedDoses: 7,
    clockErrorMs: 0,
    config,
    network: true,
    emit: (k, body) => lines.push(`${isoUtc(sched.now)} ${k} ${body}`),
  });
}

describe("WarpScheduler", () => {
  it("runs a device exactly like the kernel Scheduler (removal, power cut, missed dose)", async () => {
    const a: string[] = [];
    const ks = new Scheduler(START);
    const da = device(ks, a);
    const b: string[] = [];
    const ws = new WarpScheduler({ start: START, warp: 0 });
    const db = device(ws, b);
    ws.onError = (e) => {
      if (!db.handle(e)) throw e;
    };
    for (const [s, d] of [
      [ks, da],
      [ws, db],
    ] as const) {
      d.guard(() => d.boot("power_on"));
      s.at(Date.parse("2026-03-10T07:03:00Z"), () => d.remove("morning", { doses: 1 }));
      s.at(Date.parse("2026-03-10T12:00:00Z"), () => d.powerCut(600_000));
    }
    const end = Date.parse("2026-03-11T02:00:00Z");
    ks.runUntil(end, (e) => {
      if (!da.handle(e)) throw e;
    });
    // Several hops of different sizes: the result must not depend on how time is sliced.
    await ws.advanceTo(Date.parse("2026-03-10T07:03:02.5Z"));
    ws.runUntil(Date.parse("2026-03-10T09:00:00Z"));
    await ws.advanceTo(end);
    expect(b.length).toBeGreaterThan(40);
    expect(b).toEqual(a);
    expect(a.some((l) => l.includes('"type":"dose.taken"'))).toBe(true);
    expect(a.some((l) => l.includes('"type":"dose.missed"'))).toBe(true);
  });

  it("changes warp without a jump in virtual time and paces against the real clock", () => {
    let real = 1000;
    const ws = new WarpScheduler({ start: START, warp: 60, realNow: () => real });
    real += 1000; // 1 s real at 60× = 60 s virtual
    expect(ws.ideal()).toBe(START + 60_000);
    ws.runUntil(Math.floor(ws.ideal()));
    ws.setWarp(3600);
    expect(ws.ideal()).toBe(START + 60_000); // no jump at the change
    real += 500;
    expect(ws.ideal()).toBe(START + 60_000 + 1_800_000);
    ws.runUntil(Math.floor(ws.ideal()));
    ws.setWarp(0);
    real += 10_000;
    expect(ws.ideal()).toBe(START + 1_860_000); // paused
  });

  it("cancels repeating timers and whole groups", () => {
    const ws = new WarpScheduler({ start: 0, warp: 0 });
    const t = ws.timers(7);
    let n = 0;
    let m = 0;
    const id = t.repeat(100, () => {
      if (++n === 3) t.cancel(id);
    });
    ws.timers(8).repeat(50, () => m++);
    ws.runUntil(1000);
    expect(n).toBe(3);
    expect(m).toBe(20);
    ws.cancelGroup(8);
    ws.runUntil(2000);
    expect(m).toBe(20);
    expect(ws.pending).toBe(0);
  });

  it("keeps each batch within its CPU budget: virtual time slips instead of blocking", () => {
    let real = 0;
    const ws = new WarpScheduler({ start: 0, warp: 0, realNow: () => real });
    // 10 000 callbacks that each "cost" 0.1 ms of real time.
    for (let i = 0; i < 10_000; i++) ws.at(i, () => void (real += 0.1));
    const done = ws.runUntil(20_000, 30);
    expect(done).toBe(false);
    expect(ws.executed).toBeGreaterThan(250);
    expect(ws.executed).toBeLessThan(400);
    expect(ws.now).toBeLessThan(400);
    expect(ws.runUntil(20_000)).toBe(true);
    expect(ws.executed).toBe(10_000);
  });
});
