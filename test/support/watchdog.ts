/**
 * Vitest setup file: a watchdog thread per test worker. A test that blocks the event loop (a
 * synchronous child process or loop that never ends) cannot be stopped by vitest's own timeouts,
 * which need the loop; the whole run would then hang until CI gives up, printing nothing. The
 * thread sees the heartbeat stop, names the test on stderr and kills the worker, so vitest reports
 * that file as failed and goes on.
 */
import { Worker } from "node:worker_threads";
import { beforeEach } from "vitest";

const LIMIT_S = Number(process.env.DK_WATCHDOG_S ?? 300);
const beat = new Int32Array(new SharedArrayBuffer(4));
const label = new Uint8Array(new SharedArrayBuffer(512));
const now = (): number => Math.floor(Date.now() / 1000) & 0x7fffffff;
Atomics.store(beat, 0, now());
setInterval(() => Atomics.store(beat, 0, now()), 1000).unref();

const WATCH = `
const { workerData } = require("node:worker_threads");
const fs = require("node:fs");
const { beat, label, limit, pid } = workerData;
setInterval(() => {
  const stale = (Math.floor(Date.now() / 1000) & 0x7fffffff) - Atomics.load(beat, 0);
  if (stale < limit) return;
  const n = label.indexOf(0);
  const name = Buffer.from(label.slice(0, n < 0 ? label.length : n)).toString("utf8");
  fs.writeSync(2, "\\nwatchdog: event loop blocked " + stale + " s in " + name + "; killing this test worker\\n");
  process.kill(pid, "SIGKILL");
}, 5000);
`;
new Worker(WATCH, { eval: true, workerData: { beat, label, limit: LIMIT_S, pid: process.pid } }).unref();

beforeEach((ctx) => {
  const text = new TextEncoder().encode(`${ctx.task.file?.name ?? "?"} > ${ctx.task.name}`).slice(0, label.length - 1);
  label.fill(0);
  label.set(text);
});
