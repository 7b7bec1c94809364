/**
 * Bundles XS-clean TypeScript into one script for the XS engine (and, identically, for a bare V8
 * context). The bundle defines one global, `globalName`, holding the entry's exports; run-in-xs.ts
 * calls one of them with a string argument.
 */
import { build, buildSync, type BuildOptions } from "esbuild";
import { fileURLToPath } from "node:url";
import path from "node:path";
import vm from "node:vm";

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

/**
 * What to bundle: a file, or source text whose relative imports resolve from the repository root
 * (e.g. `import { x } from "./firmware/core/x"`).
 */
export type XsEntry = { file: string } | { source: string; loader?: "ts" | "js" };

function options(entry: XsEntry, globalName: string): BuildOptions & { write: false } {
  const where =
    "file" in entry
      ? { entryPoints: [path.resolve(repoRoot, entry.file)] }
      : {
          stdin: {
            contents: entry.source,
            resolveDir: repoRoot,
            loader: entry.loader ?? "ts",
            sourcefile: `${globalName}-entry.${entry.loader ?? "ts"}`,
          },
        };
  return {
    ...where,
    bundle: true,
    format: "iife",
    globalName,
    target: "es2022",
    platform: "neutral",
    write: false,
    logLevel: "silent",
    footer: { js: `globalThis.${globalName} = ${globalName};` },
  };
}

/** One IIFE script (ES2022) that leaves the entry's exports on `globalThis[globalName]`. */
export async function bundleForXs(entry: XsEntry, globalName: string): Promise<string> {
  return (await build(options(entry, globalName))).outputFiles[0].text;
}

/** bundleForXs, synchronously. */
export function bundleForXsSync(entry: XsEntry, globalName: string): string {
  return buildSync(options(entry, globalName)).outputFiles[0].text;
}

/**
 * The Node side of a parity test: evaluates the same bundle in a fresh, bare V8 context (ES
 * built-ins only: no Node globals) and calls `fn` (an expression such as "MQTTXS.run") with `arg`.
 */
export function callBundleInNode(bundle: string, fn: string, arg: string): string {
  const f = vm.runInNewContext(`${bundle}\n;(${fn})`, {}) as (a: string) => unknown;
  const out = f(arg);
  if (typeof out !== "string") throw new Error(`${fn} returned ${typeof out}, not a string`);
  return out;
}

/** The XS-clean simulator kernel: a global `DK` with runScenarioText() and releaseHeld(). */
export function bundleKernel(): Promise<string> {
  return bundleForXs({ file: "host-sim/kernel/xs-entry.ts" }, "DK");
}
