import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { build } from "esbuild";
import { runScenario } from "./xs-scenario";

const SOURCES = ["firmware/drivers/hx711.ts", "firmware/platform/loadcells.ts", "host-sim/kernel/hx711-chip.ts"];
const FORBIDDEN = /\b(console|setTimeout|setInterval|queueMicrotask|structuredClone|Buffer|process|fetch|TextEncoder|TextDecoder|Intl|Date\.now|Math\.random|require)\b|from\s+["']node:/;

describe("XS cleanliness", () => {
  it("driver, port and emulator use no forbidden API", () => {
    for (const f of SOURCES) {
      const code = readFileSync(f, "utf8")
        .replace(/\/\*[\s\S]*?\*\//g, "")
        .replace(/\/\/.*$/gm, "");
      expect(code.match(FORBIDDEN)?.[0] ?? null, f).toBeNull();
    }
  });

  it("the same scenario gives the same result in Node and in the XS engine", async () => {
    const node = runScenario();
    expect(node.values).toEqual([0, 1, -1, 500, -500, 0x555555, -0x555555, 0x7ffffe, 0x7fffff, -0x800000]);
    expect(node.afterStall).toBe(2121);
    // the rest of the train clocks a chip that has just reset: clock-while-busy
    expect(node.violations).toEqual(["T3max", "powerdown-mid-read", "clock-while-busy"]);
    expect(node.disconnected).toEqual(["disconnected", NaN]);
    expect(node.shared).toEqual([-123_457, 0, 123_457]);
    expect(node.sharedViolations).toEqual([0, 0, 0]);
    const bundle = await build({
      entryPoints: ["test/hx711/xs-entry.ts"],
      bundle: true,
      format: "iife",
      target: "es2022",
      platform: "neutral",
      write: false,
    });
    const r = spawnSync(process.execPath, ["test/hx711/xs-run.mjs"], { input: bundle.outputFiles[0].text, encoding: "utf8", timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual(JSON.parse(JSON.stringify(node)));
  });
});
