/** Node-side driver of the XS lane: bundle the kernel, run scenario texts in xsnap, collect timelines. */
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import path from "node:path";
import { bundleKernel } from "./bundle";

const here = path.dirname(fileURLToPath(import.meta.url));

export interface XsResult {
  name: string;
  timeline: string | null;
  error?: string;
  meter: Record<string, number> | null;
  /** With `measure`: live XS slots after a GC with the run's device held, and without it. */
  heap?: { heldSlots: number | null; baseSlots: number | null };
}

export async function runInXs(scenarios: { name: string; text: string; measure?: boolean }[]): Promise<XsResult[]> {
  const bundle = await bundleKernel();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(here, "xs-worker.mjs")], { stdio: ["pipe", "pipe", "inherit"] });
    let out = "";
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (d: string) => (out += d));
    child.on("error", reject);
    child.on("close", (code) => {
      if (code !== 0) return reject(new Error(`xs worker exited ${code}`));
      try {
        resolve((JSON.parse(out) as { results: XsResult[] }).results);
      } catch (e) {
        reject(e);
      }
    });
    child.stdin.end(JSON.stringify({ bundle, scenarios }));
  });
}
