// Runs scenario texts inside the real XS engine (xsnap-worker built from source by @agoric/xsnap).
// A separate process because @agoric/xsnap needs SES (lockdown) in the Node host.
// Protocol: stdin = JSON { bundle: string, scenarios: [{ name, text }] }
//           stdout = JSON { results: [{ name, timeline, meter }] }
import "@endo/init";
import { spawn } from "node:child_process";
import os from "node:os";
import fs from "node:fs";
import tmp from "tmp";

const { xsnap } = await import("@agoric/xsnap");
const input = JSON.parse(fs.readFileSync(0, "utf8"));
const enc = new TextEncoder();
const dec = new TextDecoder();

const results = [];
for (const sc of input.scenarios) {
  // A fresh engine per scenario: nothing leaks between runs and the heap figure is per scenario.
  const worker = await xsnap({
    os: os.type(),
    spawn,
    fs: { ...fs.promises, tmpName: tmp.tmpName },
    name: `dk-${sc.name}`,
    stdout: "inherit",
    stderr: "inherit",
    meteringLimit: 0,
  });
  try {
    await worker.evaluate(input.bundle);
    await worker.evaluate(`
      globalThis.handleCommand = (bytes) => {
        if (bytes.byteLength === 0) return new ArrayBuffer(0);
        const text = new TextDecoder().decode(bytes);
        const out = DK.runScenarioText(text, ${sc.measure ? "true" : "false"});
        return new TextEncoder().encode(out).buffer;
      };
    `);
    const r = await worker.issueCommand(enc.encode(sc.text));
    const result = { name: sc.name, timeline: dec.decode(r.reply), meter: r.meterUsage ?? null };
    if (sc.measure) {
      // Live slots after a full GC, with the last device still referenced, then without it.
      await worker.evaluate("gc()");
      const held = await worker.issueCommand(new Uint8Array(0));
      await worker.evaluate("DK.releaseHeld(); gc()");
      const base = await worker.issueCommand(new Uint8Array(0));
      result.heap = { heldSlots: held.meterUsage?.currentHeapCount ?? null, baseSlots: base.meterUsage?.currentHeapCount ?? null };
    }
    results.push(result);
  } catch (e) {
    results.push({ name: sc.name, timeline: null, error: String(e && e.message ? e.message : e) });
  } finally {
    await worker.close().catch(() => worker.terminate());
  }
}
process.stdout.write(JSON.stringify({ results }));
