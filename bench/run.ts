/**
 * npm run bench — figures, not a timed test.
 * Runs a 1-day and a 30-day scenario in Node and inside the real XS engine (xsnap), checks the
 * timelines are identical and reports the XS heap: live slots after a full GC with the simulated
 * device still referenced, minus the same engine without it (= the device's state: core plus
 * emulators and stored records). The 30-day minus 1-day difference shows whether anything grows.
 * Results also go to bench/results/xs-heap.md. BENCH_DAYS changes the long run (default 30).
 * Other benchmarks: npm run bench:detect, npm run bench:relay.
 */
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { monthScenario } from "./month";
import { runScenarioText } from "../host-sim/kernel/xs-entry";
import { runInXs } from "../host-sim/xs/run-in-xs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const days = Number(process.env.BENCH_DAYS ?? 30);
/** Bytes per XS slot on the ESP32 (32-bit build); 32 on 64-bit hosts. */
const SLOT_BYTES_ESP32 = 16;

interface Row {
  days: number;
  events: number;
  nodeS: number;
  xsS: number;
  identical: boolean;
  deviceSlots: number | null;
}

async function measure(d: number): Promise<Row> {
  const text = monthScenario(d);
  const t0 = performance.now();
  const node = runScenarioText(text);
  const nodeS = (performance.now() - t0) / 1000;
  const t1 = performance.now();
  const [xs] = await runInXs([{ name: `month-${d}`, text, measure: true }]);
  const xsS = (performance.now() - t1) / 1000;
  const held = xs.heap?.heldSlots ?? null;
  const base = xs.heap?.baseSlots ?? null;
  return {
    days: d,
    events: node.split("\n").filter((l) => l.includes('"k":"ev"')).length,
    nodeS,
    xsS,
    identical: xs.timeline === node,
    deviceSlots: held !== null && base !== null ? held - base : null,
  };
}

const rows = [await measure(1), await measure(days)];
const kib = (slots: number | null): string => (slots === null ? "n/a" : `${((slots * SLOT_BYTES_ESP32) / 1024).toFixed(1)} KiB`);
const report = [
  `# XS heap after a ${days}-day scenario`,
  "",
  "Home config (3 bays, 2 fixed doses a day + PRN); removals, misses, partials, bumps, a reboot,",
  "a power cut and a day offline. Live XS slots after a full GC with the simulated device held,",
  "minus the engine without it; KiB at 16 bytes per slot (ESP32). Chunk memory (strings, array",
  "bodies) is not counted by xsnap's meter.",
  "",
  "| days | events | live device slots | ≈ heap (ESP32 slots) | Node / XS wall | identical |",
  "|---|---|---|---|---|---|",
  ...rows.map(
    (r) =>
      `| ${r.days} | ${r.events} | ${r.deviceSlots ?? "n/a"} | ${kib(r.deviceSlots)} | ${r.nodeS.toFixed(1)} s / ${r.xsS.toFixed(1)} s | ${r.identical ? "yes" : "NO"} |`,
  ),
  "",
  `Growth from 1 to ${days} days: ${rows[0].deviceSlots !== null && rows[1].deviceSlots !== null ? rows[1].deviceSlots - rows[0].deviceSlots : "n/a"} slots.`,
  "",
].join("\n");
process.stdout.write(report);
fs.mkdirSync(path.join(root, "bench/results"), { recursive: true });
fs.writeFileSync(path.join(root, "bench/results/xs-heap.md"), report);
if (!rows.every((r) => r.identical)) process.exitCode = 1;
