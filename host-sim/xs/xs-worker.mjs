// Calls functions of a bundle inside the real XS engine (xsnap-worker built from source by @agoric/xsnap).
// A separate process because @agoric/xsnap needs SES (lockdown) in the Node host.
// Protocol: stdin  = JSON { bundle: string, calls: [{ name, fn, arg, args?, release? }] }
//                    fn: an expression naming a function of the bundle (e.g. "DK.runScenarioText"),
//                    called as fn(arg, ...args) with arg a string; it must return a string.
//                    release (optional): measure the heap after the call; this code drops what the
//                    call kept alive, between the two measures. Needs a non-empty arg (an empty
//                    command is then the no-op that reads the meter).
//           stdout = MARK + JSON { results: [{ name, output, meter, error?, heap? }] } (MARK: see below)
import "@endo/init";
import { spawn } from "node:child_process";
import os from "node:os";
import fs from "node:fs";
import tmp from "tmp";

/** Anything XS prints goes to our stdout too (stdout: "inherit"); the result follows the last mark. */
const MARK = "\n@@dk-xs-result@@\n";
/** With `release`: the empty command does nothing (allocates nothing), to read the meter after a GC. */
const NOOP = new Uint8Array(0);

const { xsnap } = await import("@agoric/xsnap");
const input = JSON.parse(fs.readFileSync(0, "utf8"));
const enc = new TextEncoder();
const dec = new TextDecoder();

const results = [];
for (const call of input.calls) {
  // A fresh engine per call: nothing leaks between runs and the heap figure is per call.
  const worker = await xsnap({
    os: os.type(),
    spawn,
    fs: { ...fs.promises, tmpName: tmp.tmpName },
    name: `dk-${call.name}`,
    stdout: "inherit",
    stderr: "inherit",
    meteringLimit: 0,
  });
  try {
    if (call.release !== undefined && call.arg === "") throw new Error("a call with release needs a non-empty arg");
    await worker.evaluate(input.bundle);
    const extra = (call.args ?? []).map((a) => ", " + JSON.stringify(a)).join("");
    await worker.evaluate(`
      globalThis.handleCommand = (bytes) => {
        ${call.release !== undefined ? "if (bytes.byteLength === 0) return new ArrayBuffer(0);" : ""}
        const text = new TextDecoder().decode(bytes);
        const out = (${call.fn})(text${extra});
        if (typeof out !== "string") throw new TypeError("${call.fn.replace(/["\\]/g, "")} returned " + typeof out);
        return new TextEncoder().encode(out).buffer;
      };
    `);
    const r = await worker.issueCommand(enc.encode(call.arg));
    const result = { name: call.name, output: dec.decode(r.reply), meter: r.meterUsage ?? null };
    if (call.release !== undefined) {
      // Live slots after a full GC, with what the call kept still referenced, then without it.
      await worker.evaluate("gc()");
      const held = await worker.issueCommand(NOOP);
      await worker.evaluate(`${call.release}; gc()`);
      const base = await worker.issueCommand(NOOP);
      result.heap = { heldSlots: held.meterUsage?.currentHeapCount ?? null, baseSlots: base.meterUsage?.currentHeapCount ?? null };
    }
    results.push(result);
  } catch (e) {
    results.push({ name: call.name, output: null, meter: null, error: String(e && e.message ? e.message : e) });
  } finally {
    await worker.close().catch(() => worker.terminate());
  }
}
process.stdout.write(MARK + JSON.stringify({ results }));
