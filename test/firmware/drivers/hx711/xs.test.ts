import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { callEntryInXs } from "../../../../host-sim/xs/run-in-xs";
import { xsnapAvailable } from "../../../support/xs";
import { runScenario } from "./xs-scenario";

const haveXs = xsnapAvailable("test/firmware/drivers/hx711/xs.test.ts");

const SOURCES = ["firmware/drivers/hx711/hx711.ts", "firmware/platform/loadcells.ts", "host-sim/kernel/hw/hx711-chip.ts"];
const FORBIDDEN =
  /\b(console|setTimeout|setInterval|queueMicrotask|structuredClone|Buffer|process|fetch|TextEncoder|TextDecoder|Intl|Date\.now|Math\.random|require)\b|from\s+["']node:/;

describe("XS cleanliness", () => {
  it("driver, port and emulator use no forbidden API", () => {
    for (const f of SOURCES) {
      const code = readFileSync(f, "utf8")
        .replace(/\/\*[\s\S]*?\*\//g, "")
        .replace(/\/\/.*$/gm, "");
      expect(code.match(FORBIDDEN)?.[0] ?? null, f).toBeNull();
    }
  });

  const node = runScenario();

  it("the Node run of the scenario gives the expected readings", () => {
    expect(node.values).toEqual([0, 1, -1, 500, -500, 0x555555, -0x555555, 0x7ffffe, 0x7fffff, -0x800000]);
    expect(node.afterStall).toBe(2121);
    // the rest of the train clocks a chip that has just reset: clock-while-busy
    expect(node.violations).toEqual(["T3max", "powerdown-mid-read", "clock-while-busy"]);
    expect(node.disconnected).toEqual(["disconnected", NaN]);
    expect(node.shared).toEqual([-123_457, 0, 123_457]);
    expect(node.sharedViolations).toEqual([0, 0, 0]);
  });

  it.skipIf(!haveXs)(
    "the same scenario gives the same result in Node and in the XS engine",
    async () => {
      const xs = await callEntryInXs({ file: "test/firmware/drivers/hx711/xs-scenario.ts" }, "HXS", "runScenarioJson", "", 60_000);
      expect(xs).toBe(JSON.stringify(node));
      expect(JSON.parse(xs)).toEqual(JSON.parse(JSON.stringify(node)));
    },
    120_000,
  );
});
