/**
 * Entry of the XS bundle (host-sim/xs/bundle.ts): the scenario runner as one function that takes
 * the scenario file's text and returns the timeline text, exactly as the Node CLI prints it.
 */
import { parseScenario } from "./scenario";
import { runScenario } from "./runner";

export function runScenarioText(text: string): string {
  let input: unknown;
  try {
    input = JSON.parse(text);
  } catch {
    return "ERROR scenario is not JSON\n";
  }
  const p = parseScenario(input);
  if (!p.ok) return `ERROR ${JSON.stringify(p.errors)}\n`;
  const lines = runScenario(p.scenario);
  return lines.join("\n") + "\n";
}
