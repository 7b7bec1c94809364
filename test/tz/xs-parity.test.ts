/**
 * civil.ts, tz.ts and schedule.ts give byte-identical results in the real XS engine (xsnap) and in V8.
 */
import { describe, expect, it } from "vitest";
import { build } from "esbuild";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import path from "node:path";
import { digest } from "./xs-digest";

const here = path.dirname(fileURLToPath(import.meta.url));

async function runInXs(): Promise<string> {
  const r = await build({
    entryPoints: [path.join(here, "xs-digest.ts")], bundle: true, format: "iife", globalName: "TZX",
    target: "es2022", platform: "neutral", write: false, logLevel: "silent", footer: { js: "globalThis.TZX = TZX;" },
  });
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(here, "xs-tz-worker.mjs")], { stdio: ["pipe", "pipe", "inherit"] });
    let out = "";
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (d: string) => (out += d));
    child.on("error", reject);
    child.on("close", (code) => (code === 0 ? resolve(out) : reject(new Error(`xs worker exited ${code}`))));
    child.stdin.end(r.outputFiles[0].text);
  });
}

describe("XS parity", () => {
  it("digest of civil/tz/schedule results is byte-identical in XS and V8", async () => {
    const v8 = digest();
    const xs = await runInXs();
    expect(v8.split("\n").length).toBeGreaterThan(6000);
    expect(xs).toBe(v8);
  }, 120_000);
});
