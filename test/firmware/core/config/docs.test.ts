import { describe, expect, it } from "vitest";
import { CONFIG_ERROR_CODES, CONFIG_LIMITS, CONFIG_MAX_ERRORS, validateConfig } from "../../../../firmware/core/config/validate";
import { HW4, loadFixture, readDoc, schemaValidator } from "./support";

const md = readDoc("config.md");

describe("docs/config.md", () => {
  it("documents every error code in the code table", () => {
    for (const code of CONFIG_ERROR_CODES) expect(md, code).toMatch(new RegExp(`^\\| \`${code}\` \\|`, "m"));
  });

  it("states the error cap and the item limits that the code uses", () => {
    expect(md).toContain(`at most **${CONFIG_MAX_ERRORS}** entries`);
    const L = CONFIG_LIMITS;
    expect(md).toContain(
      `> ${L.compartments} compartments, ${L.meds} meds, ${L.doses} doses, ${L.prn} prn, ${L.ladders} ladders, ${L.steps} steps, ${L.recipients} recipients`,
    );
  });

  it("its full example is the 4-compartment fixture, valid for validateConfig and the schema", () => {
    const m = /## Full example[\s\S]*?```json\n([\s\S]*?)\n```/.exec(md);
    expect(m).not.toBeNull();
    const example = JSON.parse(m![1]!);
    expect(example).toEqual(loadFixture("dk-0001-4x.json"));
    expect(validateConfig(example, HW4).ok).toBe(true);
    expect(schemaValidator()(example)).toBe(true);
  });

  it("its CFG_TZ example message matches what validateConfig says", () => {
    const c = loadFixture("minimal.json");
    c.tz = "CET-1CEST,M3.5.0,M13.5.0/3";
    const r = validateConfig(c, HW4);
    if (r.ok) throw new Error("accepted");
    const prefix = r.errors[0]!.message.split(":")[0]!;
    expect(md).toContain(`\`${prefix}: …\``);
  });
});
