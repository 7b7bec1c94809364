/**
 * Bundles the XS-clean simulator kernel (and with it the firmware core) into one script for the
 * XS engine. The bundle defines a global `DK` with runScenarioText().
 */
import { build } from "esbuild";
import { fileURLToPath } from "node:url";
import path from "node:path";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

export async function bundleKernel(): Promise<string> {
  const r = await build({
    entryPoints: [path.join(root, "host-sim/kernel/xs-entry.ts")],
    bundle: true,
    format: "iife",
    globalName: "DK",
    target: "es2022",
    platform: "neutral",
    write: false,
    logLevel: "silent",
    footer: { js: "globalThis.DK = DK;" },
  });
  return r.outputFiles[0].text;
}
