import { describe, expect, it } from "vitest";
import {
  CONFIG_ERROR_CODES,
  CONFIG_MAX_ERRORS,
  isWellFormedText,
  utf8ByteLength,
  validateConfig,
} from "../../../../firmware/core/config/validate";
import { canonicalJson } from "../../../../firmware/core/config/canonical";
import { HW4, fixtureNames, loadFixture } from "./support";

function isDeepFrozen(v: unknown): boolean {
  if (typeof v !== "object" || v === null) return true;
  if (!Object.isFrozen(v)) return false;
  return Object.values(v).every(isDeepFrozen);
}

describe("validateConfig on the fixtures", () => {
  it("has the required fixtures", () => {
    expect(fixtureNames()).toEqual(expect.arrayContaining(["dk-0001-4x.json", "prn.json", "minimal.json"]));
  });

  for (const name of fixtureNames()) {
    it(`${name} is valid, normalized, frozen and idempotent`, () => {
      const input = loadFixture(name);
      const before = JSON.stringify(input);
      const r = validateConfig(input, HW4);
      expect(r.ok, JSON.stringify(r)).toBe(true);
      if (!r.ok) return;
      expect(JSON.stringify(input)).toBe(before); // input untouched
      expect(r.config).not.toBe(input);
      expect(isDeepFrozen(r.config)).toBe(true);
      // every dose has days, window and ladder filled
      for (const d of r.config.doses) {
        expect(d.days!.length).toBeGreaterThan(0);
        expect(d.window).toBeDefined();
        expect(typeof d.ladder).toBe("string");
      }
      expect(Array.isArray(r.config.prn)).toBe(true);
      expect(typeof r.config.defaults.silenceS).toBe("number");
      // normalizing a normalized config changes nothing
      const again = validateConfig(JSON.parse(JSON.stringify(r.config)), HW4);
      expect(again.ok).toBe(true);
      if (again.ok) expect(canonicalJson(again.config)).toBe(canonicalJson(r.config));
    });
  }

  it("fills defaults in a stable key order", () => {
    const r = validateConfig(loadFixture("minimal.json"), HW4);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const c = r.config;
    expect(Object.keys(c)).toEqual(["schema", "device", "version", "tz", "compartments", "doses", "prn", "ladders", "defaults"]);
    expect(c.prn).toEqual([]);
    expect(c.defaults).toEqual({ window: { earlyMin: 30, lateMin: 30, missedMin: 60 }, silenceS: 120 });
    const d = c.doses[0]!;
    expect(Object.keys(d)).toEqual(["id", "compartment", "at", "days", "window", "ladder"]);
    expect(d.days).toEqual(["mon", "tue", "wed", "thu", "fri", "sat", "sun"]);
    expect(d.ladder).toBe("default");
    expect(d.window).toEqual(c.defaults.window);
  });

  it("sorts days into week order and keeps explicit fields", () => {
    const r = validateConfig(loadFixture("prn.json"), HW4);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const we = r.config.doses.find((d) => d.id === "biso-we")!;
    expect(we.days).toEqual(["sat", "sun"]);
    expect(we.ladder).toBe("weekend");
    const amox = r.config.doses.find((d) => d.id === "amox-am")!;
    expect(Object.keys(amox)).toEqual(["id", "compartment", "at", "days", "start", "end", "window", "ladder"]);
    expect(r.config.doses.find((d) => d.id === "levo")!.window).toEqual({ earlyMin: 30, lateMin: 30, missedMin: 90 });
  });

  it("the frozen result cannot be modified", () => {
    const r = validateConfig(loadFixture("dk-0001-4x.json"), HW4);
    if (!r.ok) throw new Error("fixture invalid");
    expect(() => {
      (r.config.doses as any[]).push({});
    }).toThrow(TypeError);
    expect(() => {
      (r.config.compartments[0] as any).channel = 9;
    }).toThrow(TypeError);
  });

  it("accepts hardware with more channels and refuses fewer", () => {
    const c = loadFixture("dk-0001-4x.json");
    expect(validateConfig(c, { channels: 8, leds: 8 }).ok).toBe(true);
    const r = validateConfig(c, { channels: 3, leds: 4 });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.errors).toEqual([expect.objectContaining({ code: "CFG_HW", path: "compartments[3].channel" })]);
  });

  it("lists every failing field, not only the first", () => {
    const c = loadFixture("dk-0001-4x.json");
    c.version = -1;
    c.compartments[0].meds[1].unitMg = 5;
    c.doses[2].at = "7pm";
    c.ladders[1].steps[1].volume = 0;
    c.defaults.silenceS = 1000;
    const r = validateConfig(c, HW4);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.errors.map((e) => `${e.code} ${e.path}`)).toEqual([
      "CFG_RANGE version",
      "CFG_RANGE compartments[0].meds[1].unitMg",
      "CFG_FORMAT doses[2].at",
      "CFG_RANGE ladders[1].steps[1].volume",
      "CFG_RANGE defaults.silenceS",
    ]);
  });

  it("reports the TZ error position", () => {
    const c = loadFixture("minimal.json");
    c.tz = "CET-1CEST,M3.5.0,M13.5.0/3";
    const r = validateConfig(c, HW4);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.errors).toHaveLength(1);
    expect(r.errors[0]!.code).toBe("CFG_TZ");
    expect(r.errors[0]!.message).toMatch(/position \d+/);
  });

  it("remote step exactly at missedMin + 60 is accepted, one minute later refused", () => {
    const c = loadFixture("minimal.json"); // missedMin 60
    c.ladders[0].steps[1].afterMin = 120;
    expect(validateConfig(c, HW4).ok).toBe(true);
    c.ladders[0].steps[1].afterMin = 121;
    expect(validateConfig(c, HW4).ok).toBe(false);
  });

  it("an unused ladder needs no remote step, but still must start locally", () => {
    const c = loadFixture("minimal.json");
    c.ladders.push({ id: "spare", steps: [{ afterMin: 0, channel: "sound", pattern: "beep", volume: 10 }] });
    expect(validateConfig(c, HW4).ok).toBe(true);
    c.ladders[1].steps[0].afterMin = 1;
    const r = validateConfig(c, HW4);
    expect(!r.ok && r.errors.map((e) => e.code)).toEqual(["CFG_LADDER"]);
  });

  it("a config with only PRN doses needs no default ladder", () => {
    const c = loadFixture("prn.json");
    c.doses = [];
    c.ladders = [];
    expect(validateConfig(c, HW4).ok).toBe(true);
  });

  it("doses on one compartment with disjoint dates or days do not conflict", () => {
    const c = loadFixture("minimal.json");
    c.doses = [
      { id: "a1", compartment: "a", at: "09:00", end: "2025-01-31" },
      { id: "a2", compartment: "a", at: "09:00", start: "2025-02-01" },
      { id: "a3", compartment: "a", at: "12:00", days: ["mon"] },
      { id: "a4", compartment: "a", at: "12:00", days: ["tue"] },
    ];
    expect(validateConfig(c, HW4).ok).toBe(true);
    c.doses[1].start = "2025-01-31";
    const r = validateConfig(c, HW4);
    expect(!r.ok && r.errors.map((e) => `${e.code} ${e.path}`)).toEqual(["CFG_CONFLICT doses[1].at"]);
  });

  it("takes the household language from the shared list, and nothing else", () => {
    const c = loadFixture("minimal.json");
    const plain = validateConfig(c, HW4);
    expect(plain.ok && "lang" in plain.config).toBe(false);
    c.lang = "fr";
    const r = validateConfig(c, HW4);
    expect(r.ok && r.config.lang).toBe("fr");
    expect(r.ok && canonicalJson(r.config)).toContain('"lang":"fr"');
    for (const bad of ["de", "FR", "", 1, null]) {
      c.lang = bad;
      const e = validateConfig(c, HW4);
      expect(!e.ok && e.errors.map((x) => x.path)).toEqual(["lang"]);
    }
  });

  it("accepts the leap day only in leap years", () => {
    const c = loadFixture("minimal.json");
    c.doses[0].start = "2028-02-29";
    expect(validateConfig(c, HW4).ok).toBe(true);
    c.doses[0].start = "2100-01-01";
    expect(validateConfig(c, HW4).ok).toBe(false);
    c.doses[0].start = "2027-02-29";
    expect(validateConfig(c, HW4).ok).toBe(false);
  });
});

describe("validateConfig never throws on hostile input", () => {
  const hostile: [string, () => unknown][] = [
    ["undefined", () => undefined],
    ["null", () => null],
    ["NaN", () => NaN],
    ["number", () => 1e308],
    ["bigint", () => 10n],
    ["symbol", () => Symbol("x")],
    ["function", () => () => 1],
    ["emoji string", () => "💊".repeat(1000)],
    ["empty array", () => []],
    ["Date", () => new Date(0)],
    ["Map", () => new Map()],
    ["class instance", () => Object.assign(new (class X {})(), loadFixture("minimal.json"))],
    ["inherited fields", () => Object.create(loadFixture("minimal.json"))],
    [
      "throwing getter",
      () => {
        const c = loadFixture("minimal.json");
        Object.defineProperty(c, "version", {
          enumerable: true,
          get: () => {
            throw new Error("boom");
          },
        });
        return c;
      },
    ],
    [
      "throwing proxy",
      () =>
        new Proxy(
          {},
          {
            ownKeys: () => {
              throw new Error("boom");
            },
            getPrototypeOf: () => Object.prototype,
          },
        ),
    ],
    [
      "revoked proxy",
      () => {
        const p = Proxy.revocable({}, {});
        p.revoke();
        return p.proxy;
      },
    ],
    [
      "deep nesting in an unknown field",
      () => {
        let deep: any = {};
        for (let i = 0; i < 100000; i++) deep = { x: deep };
        const c = loadFixture("minimal.json");
        c.extra = deep;
        return c;
      },
    ],
    [
      "deep nesting in a known field",
      () => {
        let deep: any = [];
        for (let i = 0; i < 100000; i++) deep = [deep];
        const c = loadFixture("minimal.json");
        c.compartments[0].meds = deep;
        return c;
      },
    ],
    [
      "huge sparse arrays",
      () => {
        const c = loadFixture("minimal.json");
        c.doses = new Array(2 ** 32 - 1);
        c.ladders[0].steps = new Array(1e7);
        return c;
      },
    ],
    [
      "megabyte strings",
      () => {
        const c = loadFixture("minimal.json");
        c.compartments[0].label = "é".repeat(1 << 20);
        c.tz = "A".repeat(1 << 20);
        c.device = "x".repeat(1 << 20);
        return c;
      },
    ],
    ["prototype-pollution keys", () => JSON.parse('{"__proto__":{"polluted":1},"constructor":{"prototype":{"polluted":1}},"prototype":1}')],
    [
      "emoji everywhere",
      () => {
        const c = loadFixture("dk-0001-4x.json");
        c.device = "💊";
        c.compartments[0].id = "🌅";
        c.doses[0].at = "⏰";
        c.ladders[0].steps[3].to = ["👵"];
        c["💥"] = "💥";
        return c;
      },
    ],
    [
      "wrong types everywhere",
      () => {
        const c = loadFixture("dk-0001-4x.json");
        const walk = (o: any) => {
          for (const k of Object.keys(o)) {
            if (typeof o[k] === "object" && o[k] !== null) walk(o[k]);
            else o[k] = typeof o[k] === "string" ? 1 : "1";
          }
        };
        walk(c);
        return c;
      },
    ],
  ];

  for (const [name, make] of hostile) {
    it(name, () => {
      const input = make();
      let r!: ReturnType<typeof validateConfig>;
      expect(() => {
        r = validateConfig(input, HW4);
      }).not.toThrow();
      expect(r.ok).toBe(false);
      if (r.ok) return;
      expect(r.errors.length).toBeGreaterThan(0);
      expect(r.errors.length).toBeLessThanOrEqual(CONFIG_MAX_ERRORS);
      for (const e of r.errors) {
        expect(CONFIG_ERROR_CODES).toContain(e.code);
        expect(typeof e.path).toBe("string");
        expect(e.path.length).toBeLessThan(200);
        expect(e.message.length).toBeLessThan(300);
      }
    });
  }

  it("accepts a null-prototype root object (plain data)", () => {
    expect(validateConfig(Object.assign(Object.create(null), loadFixture("minimal.json")), HW4).ok).toBe(true);
  });

  it("does not pollute Object.prototype", () => {
    validateConfig(JSON.parse('{"__proto__":{"polluted":1}}'), HW4);
    expect(({} as any).polluted).toBeUndefined();
  });

  it("bogus hardware limits are treated as no hardware", () => {
    for (const hw of [null, {}, { channels: -1, leds: NaN }, { channels: "4", leds: 4 }] as any[]) {
      const r = validateConfig(loadFixture("minimal.json"), hw);
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.errors.every((e) => e.code === "CFG_HW")).toBe(true);
    }
  });

  it("caps the error list with a final CFG_TRUNCATED", () => {
    const c: any = loadFixture("minimal.json");
    for (let i = 0; i < 500; i++) c[`junk${i}`] = i;
    const r = validateConfig(c, HW4);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.errors).toHaveLength(CONFIG_MAX_ERRORS);
    expect(r.errors[CONFIG_MAX_ERRORS - 2]!.code).toBe("CFG_UNKNOWN_FIELD");
    expect(r.errors[CONFIG_MAX_ERRORS - 1]!.code).toBe("CFG_TRUNCATED");
  });

  it("exactly 49 errors are all listed, without CFG_TRUNCATED", () => {
    const c: any = loadFixture("minimal.json");
    for (let i = 0; i < 49; i++) c[`junk${i}`] = i;
    const r = validateConfig(c, HW4);
    expect(!r.ok && r.errors.length).toBe(49);
    expect(!r.ok && r.errors.some((e) => e.code === "CFG_TRUNCATED")).toBe(false);
  });

  it("names odd keys safely in paths", () => {
    const c: any = loadFixture("minimal.json");
    c["a.b"] = 1;
    c["x".repeat(100)] = 1;
    const r = validateConfig(c, HW4);
    expect(!r.ok && r.errors.map((e) => e.path)).toEqual(['["a.b"]', `${"x".repeat(32)}…`.replace(/^(.*)$/, '["$1"]')]);
  });
});

describe("utf8ByteLength / isWellFormedText", () => {
  it("matches Buffer.byteLength on well-formed strings", () => {
    for (const s of ["", "a", "é", "€", "💊", "Matin ☀️", "Paracétamol 500 mg", "日本語", "a\u0000b", "\u{10FFFF}"]) {
      expect(utf8ByteLength(s)).toBe(Buffer.byteLength(s, "utf8"));
    }
  });
  it("counts a lone surrogate as 3 bytes (U+FFFD)", () => {
    expect(utf8ByteLength("\ud800")).toBe(3);
    expect(utf8ByteLength("a\udc00b")).toBe(5);
    expect(utf8ByteLength("\ud800\ud800\udc00")).toBe(7);
  });
  it("flags control characters and lone surrogates", () => {
    expect(isWellFormedText("Soirée 💊")).toBe(true);
    for (const s of ["\n", "a\tb", "\u007f", "\u0085", "\ud800", "x\udfff", "\ud83d"]) expect(isWellFormedText(s)).toBe(false);
  });
});
