/**
 * docs/config.schema.json against validateConfig: every accepted config is schema-valid,
 * and 2,000 seeded random mutations of the fixtures never make validateConfig throw nor
 * make it accept something the schema refuses.
 */
import { describe, expect, it } from "vitest";
import { CONFIG_ERROR_CODES, CONFIG_MAX_ERRORS, validateConfig } from "../../../../firmware/core/config/validate";
import { canonicalJson } from "../../../../firmware/core/config/canonical";
import { HW4, clone, fixtureNames, loadFixture, prng, readDoc, schemaValidator } from "./support";

const schemaOk = schemaValidator();

describe("JSON Schema", () => {
  it("is a draft 2020-12 schema", () => {
    const s = JSON.parse(readDoc("config.schema.json"));
    expect(s.$schema).toBe("https://json-schema.org/draft/2020-12/schema");
  });

  for (const name of fixtureNames()) {
    it(`accepts fixture ${name} and its normalized form`, () => {
      const input = loadFixture(name);
      const r = validateConfig(input, HW4);
      expect(r.ok).toBe(true);
      expect(schemaOk(input)).toBe(true);
      if (r.ok) expect(schemaOk(JSON.parse(JSON.stringify(r.config)))).toBe(true);
    });
  }
});

type Mutator = (root: any, rnd: () => number) => void;

interface Site {
  parent: any;
  key: string | number;
}

function sites(root: any): Site[] {
  const out: Site[] = [];
  const walk = (o: any) => {
    if (Array.isArray(o)) o.forEach((v, i) => (out.push({ parent: o, key: i }), typeof v === "object" && v !== null && walk(v)));
    else for (const k of Object.keys(o)) out.push({ parent: o, key: k }), typeof o[k] === "object" && o[k] !== null && walk(o[k]);
  };
  walk(root);
  return out;
}

const pick = <T>(rnd: () => number, xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;

const ODD_VALUES: readonly unknown[] = [
  null,
  true,
  false,
  0,
  -0,
  -1,
  1,
  1.5,
  1e308,
  -1e308,
  NaN,
  Infinity,
  Number.MAX_SAFE_INTEGER + 2,
  "",
  "x",
  "💊",
  "😀".repeat(30),
  "default",
  "morning",
  "08:00",
  "mon",
  "led",
  "push",
  "2025-03-03",
  [],
  [1],
  ["mon", "mon"],
  {},
  { earlyMin: 1 },
  "CET-1CEST",
  "__proto__",
];

const mutators: Record<string, Mutator> = {
  delete(root, rnd) {
    const s = pick(rnd, sites(root));
    if (Array.isArray(s.parent)) s.parent.splice(s.key as number, 1);
    else delete s.parent[s.key];
  },
  changeType(root, rnd) {
    const s = pick(rnd, sites(root));
    s.parent[s.key] = clone(pick(rnd, ODD_VALUES) as any) ?? pick(rnd, ODD_VALUES);
  },
  outOfRange(root, rnd) {
    const nums = sites(root).filter((s) => typeof s.parent[s.key] === "number");
    const s = pick(rnd, nums);
    const v = s.parent[s.key] as number;
    s.parent[s.key] = pick(rnd, [v + 1, v - 1, -v - 1, v * 100 + 1, v + 0.5, 0, -1, 241, 721, 1441, 2 ** 31, 1e21]);
  },
  boundary(root, rnd) {
    const nums = sites(root).filter((s) => typeof s.parent[s.key] === "number");
    const s = pick(rnd, nums);
    s.parent[s.key] = pick(rnd, [0, 1, 2, 9, 10, 11, 12, 13, 20, 59, 60, 100, 120, 180, 181, 240, 255, 256, 719, 720, 900, 1440, 3000]);
  },
  changeString(root, rnd) {
    const strs = sites(root).filter((s) => typeof s.parent[s.key] === "string");
    const s = pick(rnd, strs);
    const v = s.parent[s.key] as string;
    s.parent[s.key] = pick(rnd, [
      v + "x",
      v.toUpperCase(),
      v.slice(1),
      "",
      " " + v,
      v + "\n",
      "é".repeat(20),
      "default",
      "quiet",
      "morning",
      "sms",
      "sound",
      "23:59",
      "2025-03-10",
    ]);
  },
  addField(root, rnd) {
    const objs = [root, ...sites(root).map((s) => s.parent[s.key])].filter((o) => typeof o === "object" && o !== null && !Array.isArray(o));
    const o = pick(rnd, objs);
    const k = pick(rnd, [
      "extra",
      "__proto__",
      "constructor",
      "repeat",
      "everyMin",
      "to",
      "pattern",
      "volume",
      "days",
      "window",
      "ladder",
      "start",
      "end",
      "silenceS",
      "prn",
    ]);
    Object.defineProperty(o, k, { value: clone(pick(rnd, ODD_VALUES) as any) ?? 1, enumerable: true, writable: true, configurable: true });
  },
  duplicateItem(root, rnd) {
    const arrs = [root, ...sites(root).map((s) => s.parent[s.key])].filter((o) => Array.isArray(o) && o.length > 0);
    if (arrs.length === 0) return;
    const a = pick(rnd, arrs);
    a.push(clone(pick(rnd, a)));
  },
};

describe("property: 2,000 random mutations of the fixtures", () => {
  it("validateConfig never throws, and whenever it accepts, the schema accepts too", () => {
    const rnd = prng(0xd05e);
    const bases = fixtureNames().map(loadFixture);
    const names = Object.keys(mutators);
    let accepted = 0;
    let refused = 0;
    const codes = new Map<string, number>();
    const t0 = performance.now();
    for (let i = 0; i < 2000; i++) {
      const c = clone(bases[i % bases.length]);
      const n = 1 + Math.floor(rnd() * 3);
      const applied: string[] = [];
      for (let m = 0; m < n; m++) {
        const name = pick(rnd, names);
        applied.push(name);
        mutators[name]!(c, rnd);
      }
      let r: ReturnType<typeof validateConfig> | undefined;
      try {
        r = validateConfig(c, HW4);
      } catch (e) {
        throw new Error(`threw after ${applied.join("+")} on case ${i}: ${String(e)}`);
      }
      if (r.ok) {
        accepted++;
        const plain = JSON.parse(canonicalJson(r.config));
        expect(schemaOk(plain), `case ${i} (${applied.join("+")}): accepted but schema refuses\n${JSON.stringify(c)}`).toBe(true);
        // normalization is idempotent
        const again = validateConfig(plain, HW4);
        expect(again.ok && canonicalJson(again.config)).toBe(canonicalJson(r.config));
      } else {
        refused++;
        expect(r.errors.length).toBeGreaterThan(0);
        expect(r.errors.length).toBeLessThanOrEqual(CONFIG_MAX_ERRORS);
        for (const e of r.errors) {
          expect(CONFIG_ERROR_CODES).toContain(e.code);
          codes.set(e.code, (codes.get(e.code) ?? 0) + 1);
        }
      }
      // contrapositive check on the raw mutated input too (schema is looser than validateConfig)
      if (!schemaOk(JSON.parse(JSON.stringify(c)))) expect(r.ok).toBe(false);
    }
    const ms = performance.now() - t0;
    console.info(
      `mutations: 2000 (accepted ${accepted}, refused ${refused}) in ${ms.toFixed(0)} ms; codes seen: ` +
        [...codes.entries()]
          .sort((a, b) => b[1] - a[1])
          .map(([k, v]) => `${k}=${v}`)
          .join(" "),
    );
    expect(accepted).toBeGreaterThan(50); // the mutations must also produce valid variants
    expect(refused).toBeGreaterThan(1000);
  });
});
