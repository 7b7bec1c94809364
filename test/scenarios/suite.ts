/** The scenario suite shared by the Node golden test, the XS lane and the update script. */
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { loadScenarioText } from "../../host-sim/scenario-file";
import { runScenarioText } from "../../host-sim/kernel/xs-entry";

export const SCENARIO_DIR = path.dirname(fileURLToPath(import.meta.url));

export interface SuiteEntry {
  name: string;
  file: string;
  expectedFile: string;
  text: string;
}

export function suite(): SuiteEntry[] {
  return fs
    .readdirSync(SCENARIO_DIR)
    .filter((f) => f.endsWith(".json"))
    .sort()
    .map((f) => {
      const file = path.join(SCENARIO_DIR, f);
      return {
        name: f.replace(/\.json$/, ""),
        file,
        expectedFile: file.replace(/\.json$/, ".expected.jsonl"),
        text: loadScenarioText(file),
      };
    });
}

export function runNode(text: string): string {
  return runScenarioText(text);
}
