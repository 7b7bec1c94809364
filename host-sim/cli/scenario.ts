/**
 * npm run scenario -- path/to/scenario.json [--out file]
 * Prints the JSON-lines timeline (docs/scenarios.md). A bad scenario file exits 2 naming the field path.
 */
import fs from "node:fs";
import { parseScenario } from "../kernel/scenario/scenario";
import { loadScenarioText, ScenarioFileError } from "../scenario-file";
import { runScenario } from "../kernel/scenario/runner";

function fail(msg: string): never {
  process.stderr.write(`scenario: ${msg}\n`);
  process.exit(2);
}

const args = process.argv.slice(2);
if (args.length === 0 || args.includes("--help")) {
  process.stdout.write("usage: npm run scenario -- path/to/scenario.json [--out timeline.jsonl]\n");
  process.exit(args.length === 0 ? 2 : 0);
}
const file = args[0];
const outIdx = args.indexOf("--out");
let text: string;
try {
  text = loadScenarioText(file);
} catch (e) {
  if (e instanceof ScenarioFileError) fail(e.message);
  throw e;
}
let input: unknown;
try {
  input = JSON.parse(text);
} catch (e) {
  fail(`${file}: not JSON: ${(e as Error).message}`);
}
const p = parseScenario(input);
if (!p.ok) fail(`${file}: invalid scenario:\n` + p.errors.map((e) => `  ${e.path}: ${e.message}`).join("\n"));
const lines = runScenario(p.scenario);
const body = lines.join("\n") + "\n";
if (outIdx >= 0 && args[outIdx + 1]) fs.writeFileSync(args[outIdx + 1], body);
else process.stdout.write(body);
