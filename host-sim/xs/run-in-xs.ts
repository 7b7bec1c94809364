/**
 * Node-side driver of the XS engine (xsnap): call functions of a bundle (bundle.ts) inside XS, one
 * fresh engine per call, in a child process (xs-worker.mjs). runInXs() is the XS lane built on it:
 * bundle the kernel, run scenario texts, collect timelines.
 */
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import path from "node:path";
import { bundleForXs, bundleKernel, type XsEntry } from "./bundle";

const here = path.dirname(fileURLToPath(import.meta.url));
const MARK = "\n@@dk-xs-result@@\n";

export interface XsCall {
  /** Label of the call (also the xsnap worker's name). */
  name: string;
  /** Expression naming a function of the bundle, e.g. "DK.runScenarioText"; called as fn(arg, ...args). */
  fn: string;
  arg: string;
  /** Further JSON arguments. */
  args?: (string | number | boolean | null)[];
  /** Measure the heap after the call; this code (evaluated in XS) drops what the call kept alive. */
  release?: string;
}

export interface XsCallResult {
  name: string;
  /** The string fn returned, or null on error. */
  output: string | null;
  error?: string;
  meter: Record<string, number> | null;
  /** With `release`: live XS slots after a GC, with what the call kept, and without it. */
  heap?: { heldSlots: number | null; baseSlots: number | null };
}

/** Calls each of `calls` in a fresh XS engine that has evaluated `bundle`. */
export function callInXs(bundle: string, calls: XsCall[], timeoutMs = 0): Promise<XsCallResult[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(here, "xs-worker.mjs")], { stdio: ["pipe", "pipe", "inherit"], timeout: timeoutMs });
    let out = "";
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (d: string) => (out += d));
    child.on("error", reject);
    child.on("close", (code, signal) => {
      if (code !== 0) return reject(new Error(`xs worker exited ${code ?? signal}`));
      const at = out.lastIndexOf(MARK);
      if (at < 0) return reject(new Error("xs worker gave no result"));
      try {
        resolve((JSON.parse(out.slice(at + MARK.length)) as { results: XsCallResult[] }).results);
      } catch (e) {
        reject(e);
      }
    });
    child.stdin.end(JSON.stringify({ bundle, calls }));
  });
}

/**
 * Bundles `entry` as `globalName`, calls `globalName.fn(arg)` inside XS and returns its string;
 * throws if the call failed.
 */
export async function callEntryInXs(entry: XsEntry, globalName: string, fn: string, arg = "", timeoutMs = 0): Promise<string> {
  const [r] = await callInXs(await bundleForXs(entry, globalName), [{ name: globalName, fn: `${globalName}.${fn}`, arg }], timeoutMs);
  if (r.output === null) throw new Error(`XS: ${r.error ?? "no output"}`);
  return r.output;
}

/** A lane run: the timeline (null on error); with `measure`, `heap` counts the run's device held, then released. */
export type XsResult = Omit<XsCallResult, "output"> & { timeline: string | null };

/** The XS lane: runs scenario texts in the kernel inside XS; timelines as the Node CLI prints them. */
export async function runInXs(scenarios: { name: string; text: string; measure?: boolean }[]): Promise<XsResult[]> {
  const calls: XsCall[] = scenarios.map((s) => ({
    name: s.name,
    fn: "DK.runScenarioText",
    arg: s.text,
    args: [s.measure === true],
    ...(s.measure ? { release: "DK.releaseHeld()" } : {}),
  }));
  const results = await callInXs(await bundleKernel(), calls);
  return results.map(({ output, ...r }) => ({ ...r, timeline: output }));
}
