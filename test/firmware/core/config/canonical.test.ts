import { describe, expect, it } from "vitest";
import { CANONICAL_MAX_DEPTH, canonicalJson } from "../../../../firmware/core/config/canonical";
import { validateConfig } from "../../../../firmware/core/config/validate";
import { HW4, fixtureNames, loadFixture, prng } from "./support";

describe("canonicalJson", () => {
  it("sorts keys, drops whitespace", () => {
    expect(canonicalJson({ b: 1, a: [3, { d: true, c: null }], "": "x" })).toBe('{"":"x","a":[3,{"c":null,"d":true}],"b":1}');
    expect(canonicalJson([])).toBe("[]");
    expect(canonicalJson({})).toBe("{}");
    expect(canonicalJson('é\n"')).toBe('"é\\n\\""');
  });

  it("orders keys by UTF-16 code units, not code points", () => {
    // U+1F48A is D83D DC8A in UTF-16: before U+FF5E by code unit, after it by code point.
    expect(canonicalJson({ "\uff5e": 1, "💊": 2, Z: 3, a: 4, "10": 5, "9": 6 })).toBe('{"10":5,"9":6,"Z":3,"a":4,"💊":2,"～":1}');
  });

  it("formats numbers like JSON.stringify", () => {
    expect(canonicalJson([0, -0, 1.5, 1e21, 1e-7, 0.1 + 0.2, -5, 2 ** 53])).toBe(
      `[0,0,1.5,1e+21,1e-7,${JSON.stringify(0.1 + 0.2)},-5,9007199254740992]`,
    );
  });

  it("omits undefined properties, escapes odd keys and lone surrogates", () => {
    expect(canonicalJson({ a: undefined, b: 1 })).toBe('{"b":1}');
    expect(canonicalJson({ 'a"b': "\ud800" })).toBe('{"a\\"b":"\\ud800"}');
    expect(canonicalJson(JSON.parse('{"__proto__":1,"a":2}'))).toBe('{"__proto__":1,"a":2}');
  });

  it("does not depend on insertion order and round-trips", () => {
    const rnd = prng(7);
    for (let i = 0; i < 200; i++) {
      const keys = Array.from({ length: 1 + Math.floor(rnd() * 10) }, (_, k) => `k${Math.floor(rnd() * 50)}_${k}`);
      const a: Record<string, unknown> = {};
      const b: Record<string, unknown> = {};
      for (const k of keys) a[k] = { n: rnd(), s: String(rnd()) };
      for (const k of [...keys].reverse()) b[k] = { s: (a[k] as any).s, n: (a[k] as any).n };
      const ca = canonicalJson(a);
      expect(canonicalJson(b)).toBe(ca);
      expect(canonicalJson(JSON.parse(ca))).toBe(ca);
    }
  });

  it("gives each fixture one stable form (config hash input)", () => {
    for (const name of fixtureNames()) {
      const r = validateConfig(loadFixture(name), HW4);
      if (!r.ok) throw new Error(name);
      const c = canonicalJson(r.config);
      expect(c).not.toMatch(/\s(?=(?:[^"]*"[^"]*")*[^"]*$)/); // no whitespace outside strings
      expect(canonicalJson(JSON.parse(c))).toBe(c);
    }
  });

  it("accepts shared (non-cyclic) sub-objects and null-prototype objects", () => {
    const shared = { x: 1 };
    expect(canonicalJson({ a: shared, b: [shared, shared] })).toBe('{"a":{"x":1},"b":[{"x":1},{"x":1}]}');
    expect(canonicalJson(Object.assign(Object.create(null), { b: 2, a: 1 }))).toBe('{"a":1,"b":2}');
  });

  const bad: [string, () => unknown][] = [
    ["NaN", () => NaN],
    ["Infinity inside", () => ({ a: [1, -Infinity] })],
    ["undefined", () => undefined],
    ["undefined in array", () => [1, undefined]],
    ["sparse array", () => [1, , 3]], // eslint-disable-line no-sparse-arrays
    ["function", () => ({ f: () => 1 })],
    ["symbol", () => Symbol("s")],
    ["bigint", () => ({ n: 1n })],
    ["Date", () => ({ d: new Date(0) })],
    ["Map", () => new Map()],
    [
      "class instance",
      () =>
        new (class P {
          x = 1;
        })(),
    ],
    ["boxed string", () => Object("s")],
    ["getter", () => Object.defineProperty({}, "g", { enumerable: true, get: () => 1 })],
    [
      "cycle",
      () => {
        const a: any = { b: {} };
        a.b.a = a;
        return a;
      },
    ],
    [
      "array cycle",
      () => {
        const a: any[] = [];
        a.push([a]);
        return a;
      },
    ],
    [
      "too deep",
      () => {
        let d: any = 1;
        for (let i = 0; i < CANONICAL_MAX_DEPTH + 1; i++) d = [d];
        return d;
      },
    ],
  ];
  for (const [name, make] of bad) {
    it(`throws RangeError on ${name}`, () => {
      expect(() => canonicalJson(make())).toThrow(RangeError);
    });
  }

  it(`accepts exactly ${CANONICAL_MAX_DEPTH} levels of nesting`, () => {
    let d: any = 1;
    for (let i = 0; i < CANONICAL_MAX_DEPTH; i++) d = [d];
    expect(canonicalJson(d)).toBe("[".repeat(CANONICAL_MAX_DEPTH) + "1" + "]".repeat(CANONICAL_MAX_DEPTH));
  });
});
