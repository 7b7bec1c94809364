/**
 * Reads a scenario file for the Node side (CLI, tests, XS lane): resolves `configFile`
 * (a path relative to the scenario) into `config` and merges `configPatch` over it, so the
 * kernel, on Node or XS, always receives one self-contained JSON text.
 */
import fs from "node:fs";
import path from "node:path";
import { resolveSignedSteps, SignedStepError } from "./scenario-signing";

export class ScenarioFileError extends Error {
  override get name(): string {
    return "ScenarioFileError";
  }
}

export function loadScenarioText(file: string): string {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (e) {
    throw new ScenarioFileError(`cannot read ${file}: ${(e as Error).message}`);
  }
  let input: unknown;
  try {
    input = JSON.parse(text);
  } catch (e) {
    throw new ScenarioFileError(`${file}: not JSON: ${(e as Error).message}`);
  }
  if (typeof input !== "object" || input === null || Array.isArray(input)) return text;
  const obj = input as Record<string, unknown>;
  if (obj.configFile === undefined && obj.configPatch === undefined) return signed(file, obj, text);
  let config: unknown = obj.config;
  if (obj.configFile !== undefined) {
    if (typeof obj.configFile !== "string") throw new ScenarioFileError(`${file}: configFile: must be a path string`);
    const p = path.resolve(path.dirname(file), obj.configFile);
    try {
      config = JSON.parse(fs.readFileSync(p, "utf8"));
    } catch (e) {
      throw new ScenarioFileError(`${file}: configFile: cannot load ${p}: ${(e as Error).message}`);
    }
  }
  if (obj.configPatch !== undefined) {
    if (typeof obj.configPatch !== "object" || obj.configPatch === null || Array.isArray(obj.configPatch)) {
      throw new ScenarioFileError(`${file}: configPatch: must be an object`);
    }
    config = { ...(config as Record<string, unknown>), ...(obj.configPatch as Record<string, unknown>) };
  }
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) {
    if (k === "configFile" || k === "configPatch") continue;
    out[k] = v;
  }
  out.config = config;
  return signed(file, out, JSON.stringify(out));
}

function signed(file: string, obj: Record<string, unknown>, text: string): string {
  try {
    const r = resolveSignedSteps(obj);
    return r === obj ? text : JSON.stringify(r);
  } catch (e) {
    if (e instanceof SignedStepError) throw new ScenarioFileError(`${file}: ${e.message}`);
    throw e;
  }
}
