/**
 * Entry of the XS bundle (host-sim/xs/bundle.ts): the scenario runner as one function that takes
 * the scenario file's text and returns the timeline text, exactly as the Node CLI prints it.
 */
import { parseScenario } from "./scenario/scenario";
import { runScenario } from "./scenario/runner";

/**
 * The device of the last run, kept alive on request (heap measurement: after a GC, what is still
 * live is the code plus this device's state — core, emulators, stored records).
 */
const held: { device: unknown } = { device: undefined };

export function releaseHeld(): void {
  held.device = undefined;
}

export function runScenarioText(text: string, keep = false): string {
  let input: unknown;
  try {
    input = JSON.parse(text);
  } catch {
    return "ERROR scenario is not JSON\n";
  }
  const p = parseScenario(input);
  if (!p.ok) return `ERROR ${JSON.stringify(p.errors)}\n`;
  const lines = runScenario(p.scenario, undefined, keep ? (d) => void (held.device = d) : undefined);
  return lines.join("\n") + "\n";
}
