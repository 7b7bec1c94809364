/**
 * npm run bench — figures, not a timed test.
 * Runs a 30-day scenario in Node and inside the real XS engine (xsnap), checks the two timelines
 * are identical and reports the XS heap after the run. Results also go to bench/results/xs-heap.md.
 * Other benchmarks: npm run bench:detect (dose detection accuracy), npm run bench:relay.
 */
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { monthScenario } from "./month";
import { runScenarioText } from "../host-sim/kernel/xs-entry";
import { runInXs } from "../host-sim/xs/run-in-xs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const days = Number(process.env.BENCH_DAYS ?? 30);
const text = monthScenario(days);

const t0 = performance.now();
const node = runScenarioText(text);
const nodeMs = performance.now() - t0;

const t1 = performance.now();
const [xs] = await runInXs([{ name: `month-${days}`, text }]);
const xsMs = performance.now() - t1;

const lines = node.trimEnd().split("\n");
const events = lines.filter((l) => l.includes('"k":"ev"')).length;
const identical = xs.timeline === node;
const m = xs.meter ?? {};
const kib = (n: unknown): string => (typeof n === "number" ? `${(n / 1024).toFixed(1)} KiB` : "n/a");
const report = [
  `# XS heap after a ${days}-day scenario`,
  "",
  `Scenario: home config (3 bays, 2 fixed doses a day + PRN), ${days} simulated days, ${events} events, ${lines.length} timeline lines.`,
  "",
  "| figure | value |",
  "|---|---|",
  `| XS heap allocated at the end (xsnap \`allocate\`) | ${kib(m.allocate)} |`,
  `| XS live slots/chunks count (\`currentHeapCount\`) | ${m.currentHeapCount ?? "n/a"} |`,
  `| XS compute (metered steps) | ${m.compute ?? "n/a"} |`,
  `| wall time Node / XS | ${(nodeMs / 1000).toFixed(1)} s / ${(xsMs / 1000).toFixed(1)} s |`,
  `| timelines identical | ${identical ? "yes" : "NO"} |`,
  "",
  "The heap figure covers the whole simulated process inside XS: the firmware core plus the",
  "simulator kernel (bay physics, NVS emulator holding the stored records, timeline buffer).",
  "",
].join("\n");
process.stdout.write(report);
fs.mkdirSync(path.join(root, "bench/results"), { recursive: true });
fs.writeFileSync(path.join(root, "bench/results/xs-heap.md"), report);
if (!identical) process.exitCode = 1;
