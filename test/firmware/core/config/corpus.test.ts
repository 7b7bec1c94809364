/**
 * Invalid-config corpus: each entry breaks exactly one rule of docs/config.md.
 * validateConfig must refuse it with the expected code at the expected path; the JSON
 * Schema must refuse it exactly when `schema` is true (the rule is expressible there),
 * and accept it otherwise (so the docs' list of schema-inexpressible rules stays honest).
 */
import { describe, expect, it } from "vitest";
import { CONFIG_ERROR_CODES, validateConfig, type HardwareLimits } from "../../../../firmware/core/config/validate";
import { HW4, clone, loadFixture, schemaValidator } from "./support";

type Base = "4x" | "prn" | "min";
interface Case {
  name: string;
  base?: Base;
  /** Mutates the clone in place, or returns a replacement value. */
  mutate: (c: any) => unknown;
  code: string;
  path: string;
  schema: boolean;
  hw?: HardwareLimits;
}

const bases: Record<Base, any> = {
  "4x": loadFixture("dk-0001-4x.json"),
  prn: loadFixture("prn.json"),
  min: loadFixture("minimal.json"),
};

const step0 = (c: any) => c.ladders[0].steps;

export const CORPUS: Case[] = [
  // root
  { name: "root null", mutate: () => null, code: "CFG_TYPE", path: "", schema: true },
  { name: "root array", mutate: (c) => [c], code: "CFG_TYPE", path: "", schema: true },
  { name: "root string", mutate: () => "{}", code: "CFG_TYPE", path: "", schema: true },
  { name: "missing device", mutate: (c) => void delete c.device, code: "CFG_REQUIRED", path: "device", schema: true },
  { name: "unknown root field", mutate: (c) => void (c.owner = "x"), code: "CFG_UNKNOWN_FIELD", path: "owner", schema: true },
  {
    name: "__proto__ key",
    mutate: (c) => JSON.parse(JSON.stringify(c).replace(/^\{/, '{"__proto__":{"admin":true},')),
    code: "CFG_UNKNOWN_FIELD",
    path: "__proto__",
    schema: true,
  },
  { name: "schema 2", mutate: (c) => void (c.schema = 2), code: "CFG_SCHEMA", path: "schema", schema: true },
  { name: "version 0", mutate: (c) => void (c.version = 0), code: "CFG_RANGE", path: "version", schema: true },
  { name: "version 1.5", mutate: (c) => void (c.version = 1.5), code: "CFG_TYPE", path: "version", schema: true },
  { name: "version string", mutate: (c) => void (c.version = "8"), code: "CFG_TYPE", path: "version", schema: true },
  { name: "device with space", mutate: (c) => void (c.device = "dk 0001"), code: "CFG_FORMAT", path: "device", schema: true },
  { name: "device with topic wildcard", mutate: (c) => void (c.device = "dk/#"), code: "CFG_FORMAT", path: "device", schema: true },
  { name: "tz bad month", mutate: (c) => void (c.tz = "CET-1CEST,M3.5.0,M13.5.0/3"), code: "CFG_TZ", path: "tz", schema: false },
  { name: "tz empty", mutate: (c) => void (c.tz = ""), code: "CFG_RANGE", path: "tz", schema: true },
  { name: "tz number", mutate: (c) => void (c.tz = 1), code: "CFG_TYPE", path: "tz", schema: true },
  // compartments
  { name: "no compartment", mutate: (c) => void (c.compartments = []), code: "CFG_RANGE", path: "compartments", schema: true },
  {
    name: "9 compartments",
    mutate: (c) => {
      c.compartments = Array.from({ length: 9 }, (_, i) => ({ ...clone(c.compartments[i % 4]), id: `c${i}`, channel: i, led: i }));
      c.doses = [];
      c.prn = [];
    },
    hw: { channels: 16, leds: 16 },
    code: "CFG_LIMIT",
    path: "compartments",
    schema: true,
  },
  {
    name: "compartment id uppercase",
    base: "min",
    mutate: (c) => void (c.compartments[0].id = "A"),
    code: "CFG_FORMAT",
    path: "compartments[0].id",
    schema: true,
  },
  {
    name: "compartment is an array",
    base: "min",
    mutate: (c) => void (c.compartments[0] = []),
    code: "CFG_TYPE",
    path: "compartments[0]",
    schema: true,
  },
  {
    name: "duplicate compartment id",
    mutate: (c) => void (c.compartments[1].id = "morning"),
    code: "CFG_DUPLICATE",
    path: "compartments[1].id",
    schema: false,
  },
  {
    name: "duplicate channel",
    mutate: (c) => void (c.compartments[2].channel = 0),
    code: "CFG_DUPLICATE",
    path: "compartments[2].channel",
    schema: false,
  },
  {
    name: "duplicate led",
    mutate: (c) => void (c.compartments[3].led = 1),
    code: "CFG_DUPLICATE",
    path: "compartments[3].led",
    schema: false,
  },
  {
    name: "channel beyond hardware",
    mutate: (c) => void (c.compartments[3].channel = 4),
    code: "CFG_HW",
    path: "compartments[3].channel",
    schema: false,
  },
  {
    name: "led beyond hardware",
    mutate: (c) => void (c.compartments[0].led = 7),
    code: "CFG_HW",
    path: "compartments[0].led",
    schema: false,
  },
  {
    name: "channel negative",
    mutate: (c) => void (c.compartments[0].channel = -1),
    code: "CFG_RANGE",
    path: "compartments[0].channel",
    schema: true,
  },
  {
    name: "label empty",
    mutate: (c) => void (c.compartments[0].label = ""),
    code: "CFG_RANGE",
    path: "compartments[0].label",
    schema: true,
  },
  {
    name: "label 26 UTF-8 bytes in 13 chars",
    mutate: (c) => void (c.compartments[0].label = "é".repeat(13)),
    code: "CFG_RANGE",
    path: "compartments[0].label",
    schema: false,
  },
  {
    name: "label with newline",
    mutate: (c) => void (c.compartments[0].label = "Ma\ntin"),
    code: "CFG_FORMAT",
    path: "compartments[0].label",
    schema: true,
  },
  {
    name: "label lone surrogate",
    mutate: (c) => void (c.compartments[0].label = "Ma\ud800tin"),
    code: "CFG_FORMAT",
    path: "compartments[0].label",
    schema: false,
  },
  {
    name: "no medication",
    mutate: (c) => void (c.compartments[1].meds = []),
    code: "CFG_RANGE",
    path: "compartments[1].meds",
    schema: true,
  },
  {
    name: "9 medications",
    mutate: (c) => void (c.compartments[1].meds = Array.from({ length: 9 }, (_, i) => ({ name: `Med ${i}`, count: 1, unitMg: 100 }))),
    code: "CFG_LIMIT",
    path: "compartments[1].meds",
    schema: true,
  },
  {
    name: "count 0",
    mutate: (c) => void (c.compartments[0].meds[1].count = 0),
    code: "CFG_RANGE",
    path: "compartments[0].meds[1].count",
    schema: true,
  },
  {
    name: "count 2.5",
    mutate: (c) => void (c.compartments[0].meds[1].count = 2.5),
    code: "CFG_TYPE",
    path: "compartments[0].meds[1].count",
    schema: true,
  },
  {
    name: "unitMg 10",
    mutate: (c) => void (c.compartments[0].meds[0].unitMg = 10),
    code: "CFG_RANGE",
    path: "compartments[0].meds[0].unitMg",
    schema: true,
  },
  {
    name: "unitMg NaN",
    mutate: (c) => void (c.compartments[0].meds[0].unitMg = NaN),
    code: "CFG_TYPE",
    path: "compartments[0].meds[0].unitMg",
    schema: true,
  },
  {
    name: "medication name 41 bytes",
    mutate: (c) => void (c.compartments[0].meds[0].name = "x".repeat(41)),
    code: "CFG_RANGE",
    path: "compartments[0].meds[0].name",
    schema: true,
  },
  {
    name: "duplicate medication name",
    mutate: (c) => void c.compartments[2].meds.push(clone(c.compartments[2].meds[0])),
    code: "CFG_DUPLICATE",
    path: "compartments[2].meds[2].name",
    schema: false,
  },
  {
    name: "unknown medication field",
    mutate: (c) => void (c.compartments[0].meds[0].dose = "1g"),
    code: "CFG_UNKNOWN_FIELD",
    path: "compartments[0].meds[0].dose",
    schema: true,
  },
  // doses
  { name: "at 8:00", mutate: (c) => void (c.doses[0].at = "8:00"), code: "CFG_FORMAT", path: "doses[0].at", schema: true },
  { name: "at 24:00", mutate: (c) => void (c.doses[0].at = "24:00"), code: "CFG_FORMAT", path: "doses[0].at", schema: true },
  { name: "at missing", mutate: (c) => void delete c.doses[2].at, code: "CFG_REQUIRED", path: "doses[2].at", schema: true },
  { name: "days empty", mutate: (c) => void (c.doses[0].days = []), code: "CFG_RANGE", path: "doses[0].days", schema: true },
  {
    name: "days duplicate",
    mutate: (c) => void (c.doses[0].days = ["mon", "mon"]),
    code: "CFG_DUPLICATE",
    path: "doses[0].days[1]",
    schema: true,
  },
  { name: "days unknown", mutate: (c) => void (c.doses[0].days = ["monday"]), code: "CFG_FORMAT", path: "doses[0].days[0]", schema: true },
  {
    name: "start 30 February",
    base: "prn",
    mutate: (c) => void (c.doses[2].start = "2025-02-30"),
    code: "CFG_FORMAT",
    path: "doses[2].start",
    schema: false,
  },
  {
    name: "start with slashes",
    base: "prn",
    mutate: (c) => void (c.doses[2].start = "2025/03/03"),
    code: "CFG_FORMAT",
    path: "doses[2].start",
    schema: true,
  },
  {
    name: "start after end",
    base: "prn",
    mutate: (c) => void (c.doses[3].start = "2025-03-10"),
    code: "CFG_DATES",
    path: "doses[3].end",
    schema: false,
  },
  {
    name: "unknown compartment",
    mutate: (c) => void (c.doses[1].compartment = "lunch"),
    code: "CFG_REFERENCE",
    path: "doses[1].compartment",
    schema: false,
  },
  {
    name: "unknown ladder",
    mutate: (c) => void (c.doses[3].ladder = "loud"),
    code: "CFG_REFERENCE",
    path: "doses[3].ladder",
    schema: false,
  },
  { name: "duplicate dose id", mutate: (c) => void (c.doses[1].id = "am"), code: "CFG_DUPLICATE", path: "doses[1].id", schema: false },
  {
    name: "prn id equals a dose id",
    base: "prn",
    mutate: (c) => void (c.prn[0].id = "levo"),
    code: "CFG_DUPLICATE",
    path: "prn[0].id",
    schema: false,
  },
  {
    name: "25 doses",
    base: "min",
    mutate: (c) => {
      const hhmm = (m: number) => `${String(Math.floor(m / 60)).padStart(2, "0")}:${String(m % 60).padStart(2, "0")}`;
      const window = { earlyMin: 0, lateMin: 1, missedMin: 30 };
      c.doses = Array.from({ length: 25 }, (_, i) => ({ id: `d${i}`, compartment: "a", at: hhmm(i * 57), window }));
    },
    code: "CFG_LIMIT",
    path: "doses",
    schema: true,
  },
  { name: "unknown dose field", mutate: (c) => void (c.doses[0].dose = 2), code: "CFG_UNKNOWN_FIELD", path: "doses[0].dose", schema: true },
  // windows
  {
    name: "lateMin == missedMin",
    mutate: (c) => void (c.defaults.window.lateMin = 120),
    code: "CFG_WINDOW",
    path: "defaults.window",
    schema: false,
  },
  {
    name: "lateMin > missedMin in dose",
    mutate: (c) => void (c.doses[3].window.lateMin = 200),
    code: "CFG_WINDOW",
    path: "doses[3].window",
    schema: false,
  },
  {
    name: "earlyMin 300",
    mutate: (c) => void (c.defaults.window.earlyMin = 300),
    code: "CFG_RANGE",
    path: "defaults.window.earlyMin",
    schema: true,
  },
  {
    name: "missedMin 721",
    mutate: (c) => void (c.doses[3].window.missedMin = 721),
    code: "CFG_RANGE",
    path: "doses[3].window.missedMin",
    schema: true,
  },
  {
    name: "lateMin 0",
    mutate: (c) => void (c.doses[3].window.lateMin = 0),
    code: "CFG_RANGE",
    path: "doses[3].window.lateMin",
    schema: true,
  },
  {
    name: "window missing missedMin",
    mutate: (c) => void delete c.doses[3].window.missedMin,
    code: "CFG_REQUIRED",
    path: "doses[3].window.missedMin",
    schema: true,
  },
  // prn
  {
    name: "5 prn",
    base: "prn",
    mutate: (c) => void (c.prn = Array.from({ length: 5 }, (_, i) => ({ ...clone(c.prn[0]), id: `p${i}` }))),
    code: "CFG_LIMIT",
    path: "prn",
    schema: true,
  },
  {
    name: "maxPer24h 0",
    base: "prn",
    mutate: (c) => void (c.prn[0].maxPer24h = 0),
    code: "CFG_RANGE",
    path: "prn[0].maxPer24h",
    schema: true,
  },
  {
    name: "prn alert missing",
    base: "prn",
    mutate: (c) => void delete c.prn[0].alert,
    code: "CFG_REQUIRED",
    path: "prn[0].alert",
    schema: true,
  },
  {
    name: "prn alert phone number",
    base: "prn",
    mutate: (c) => void (c.prn[0].alert = ["+33612345678"]),
    code: "CFG_FORMAT",
    path: "prn[0].alert[0]",
    schema: true,
  },
  {
    name: "prn compartment shared",
    base: "prn",
    mutate: (c) => void (c.prn[0].compartment = "evening"),
    code: "CFG_CONFLICT",
    path: "prn[0].compartment",
    schema: false,
  },
  {
    name: "prn unknown compartment",
    base: "prn",
    mutate: (c) => void (c.prn[0].compartment = "box"),
    code: "CFG_REFERENCE",
    path: "prn[0].compartment",
    schema: false,
  },
  {
    name: "overlapping windows on one compartment",
    mutate: (c) => void c.doses.push({ id: "am2", compartment: "morning", at: "09:30", days: ["wed"] }),
    code: "CFG_CONFLICT",
    path: "doses[4].at",
    schema: false,
  },
  {
    name: "overlap across midnight and week end",
    base: "min",
    mutate: (c) => {
      c.doses = [
        { id: "sun", compartment: "a", at: "23:50", days: ["sun"] },
        { id: "mon", compartment: "a", at: "00:10", days: ["mon"] },
      ];
    },
    code: "CFG_CONFLICT",
    path: "doses[1].at",
    schema: false,
  },
  // ladders
  {
    name: "5 ladders",
    mutate: (c) =>
      void (c.ladders = Array.from({ length: 5 }, (_, i) => ({ ...clone(c.ladders[0]), id: ["default", "quiet", "l2", "l3", "l4"][i] }))),
    code: "CFG_LIMIT",
    path: "ladders",
    schema: true,
  },
  {
    name: "13 steps",
    mutate: (c) =>
      void (c.ladders[1].steps = [
        { afterMin: 0, channel: "led" },
        ...Array.from({ length: 12 }, (_, i) => ({ afterMin: 10 + i, channel: "push", to: ["patient"] })),
      ]),
    code: "CFG_LIMIT",
    path: "ladders[1].steps",
    schema: true,
  },
  { name: "empty ladder", mutate: (c) => void (c.ladders[1].steps = []), code: "CFG_RANGE", path: "ladders[1].steps", schema: true },
  {
    name: "ladder starts with push",
    mutate: (c) => void step0(c).splice(0, 2),
    code: "CFG_LADDER",
    path: "ladders[0].steps[0]",
    schema: true,
  },
  {
    name: "ladder starts late",
    mutate: (c) => void (step0(c)[0].afterMin = 5),
    code: "CFG_LADDER",
    path: "ladders[0].steps[0]",
    schema: true,
  },
  {
    name: "steps out of order",
    mutate: (c) => void (step0(c)[4].afterMin = 20),
    code: "CFG_LADDER",
    path: "ladders[0].steps[4].afterMin",
    schema: false,
  },
  {
    name: "sound without volume",
    mutate: (c) => void delete step0(c)[1].volume,
    code: "CFG_REQUIRED",
    path: "ladders[0].steps[1].volume",
    schema: true,
  },
  {
    name: "sound pattern siren",
    mutate: (c) => void (step0(c)[1].pattern = "siren"),
    code: "CFG_FORMAT",
    path: "ladders[0].steps[1].pattern",
    schema: true,
  },
  {
    name: "volume 101",
    mutate: (c) => void (step0(c)[2].volume = 101),
    code: "CFG_RANGE",
    path: "ladders[0].steps[2].volume",
    schema: true,
  },
  {
    name: "channel email",
    mutate: (c) => void (step0(c)[3].channel = "email"),
    code: "CFG_FORMAT",
    path: "ladders[0].steps[3].channel",
    schema: true,
  },
  {
    name: "push without to",
    mutate: (c) => void delete step0(c)[3].to,
    code: "CFG_REQUIRED",
    path: "ladders[0].steps[3].to",
    schema: true,
  },
  {
    name: "push with empty to",
    mutate: (c) => void (step0(c)[3].to = []),
    code: "CFG_RANGE",
    path: "ladders[0].steps[3].to",
    schema: true,
  },
  {
    name: "led with to",
    mutate: (c) => void (step0(c)[0].to = ["patient"]),
    code: "CFG_NOT_ALLOWED",
    path: "ladders[0].steps[0].to",
    schema: true,
  },
  {
    name: "sound with to",
    mutate: (c) => void (step0(c)[1].to = ["patient"]),
    code: "CFG_NOT_ALLOWED",
    path: "ladders[0].steps[1].to",
    schema: true,
  },
  {
    name: "sms with pattern",
    mutate: (c) => void (step0(c)[4].pattern = "beep"),
    code: "CFG_NOT_ALLOWED",
    path: "ladders[0].steps[4].pattern",
    schema: true,
  },
  {
    name: "repeat without everyMin",
    mutate: (c) => void delete step0(c)[1].everyMin,
    code: "CFG_REQUIRED",
    path: "ladders[0].steps[1].everyMin",
    schema: true,
  },
  {
    name: "everyMin without repeat",
    mutate: (c) => void (step0(c)[4].everyMin = 10),
    code: "CFG_NOT_ALLOWED",
    path: "ladders[0].steps[4].everyMin",
    schema: true,
  },
  {
    name: "everyMin with repeat 0",
    mutate: (c) => void Object.assign(step0(c)[4], { repeat: 0, everyMin: 10 }),
    code: "CFG_NOT_ALLOWED",
    path: "ladders[0].steps[4].everyMin",
    schema: true,
  },
  { name: "repeat 11", mutate: (c) => void (step0(c)[1].repeat = 11), code: "CFG_RANGE", path: "ladders[0].steps[1].repeat", schema: true },
  {
    name: "repetitions beyond 24 h",
    mutate: (c) => void Object.assign(step0(c)[5], { repeat: 10, everyMin: 130 }),
    code: "CFG_RANGE",
    path: "ladders[0].steps[5].repeat",
    schema: false,
  },
  {
    name: "recipient phone number",
    mutate: (c) => void (step0(c)[4].to = ["+33612345678"]),
    code: "CFG_FORMAT",
    path: "ladders[0].steps[4].to[0]",
    schema: true,
  },
  {
    name: "recipient e-mail",
    mutate: (c) => void (step0(c)[4].to = ["jean@example.org"]),
    code: "CFG_FORMAT",
    path: "ladders[0].steps[4].to[0]",
    schema: true,
  },
  {
    name: "6 recipients",
    mutate: (c) => void (step0(c)[4].to = ["a", "b", "c", "d", "e", "f"]),
    code: "CFG_LIMIT",
    path: "ladders[0].steps[4].to",
    schema: true,
  },
  {
    name: "duplicate recipient",
    mutate: (c) => void (step0(c)[5].to = ["nurse:42", "nurse:42"]),
    code: "CFG_DUPLICATE",
    path: "ladders[0].steps[5].to[1]",
    schema: true,
  },
  {
    name: "duplicate ladder id",
    mutate: (c) => void (c.ladders[1].id = "default"),
    code: "CFG_DUPLICATE",
    path: "ladders[1].id",
    schema: false,
  },
  // safety
  {
    name: "ladder used by a dose has no remote step",
    mutate: (c) => void c.ladders[1].steps.splice(2),
    code: "CFG_NO_MISSED_ESCALATION",
    path: "ladders[1]",
    schema: false,
  },
  {
    name: "first remote step too late for the window",
    base: "min",
    mutate: (c) => void (c.ladders[0].steps[1].afterMin = 121), // missedMin 60 + 60 = 120
    code: "CFG_NO_MISSED_ESCALATION",
    path: "doses[0].ladder",
    schema: false,
  },
  {
    name: "no default ladder while a dose omits ladder",
    mutate: (c) => void (c.ladders[0].id = "std"),
    code: "CFG_NO_MISSED_ESCALATION",
    path: "doses[0].ladder",
    schema: false,
  },
  // defaults
  { name: "defaults missing", mutate: (c) => void delete c.defaults, code: "CFG_REQUIRED", path: "defaults", schema: true },
  { name: "silenceS 5", mutate: (c) => void (c.defaults.silenceS = 5), code: "CFG_RANGE", path: "defaults.silenceS", schema: true },
  {
    name: "defaults window missing",
    mutate: (c) => void delete c.defaults.window,
    code: "CFG_REQUIRED",
    path: "defaults.window",
    schema: true,
  },
  {
    name: "remote step late for one dose's own window",
    mutate: (c) => {
      c.doses[3].window = { earlyMin: 30, lateMin: 10, missedMin: 30 }; // limit 30 + 60 = 90
      c.ladders[1].steps[2].afterMin = 100; // "quiet": first remote step at 100
    },
    code: "CFG_NO_MISSED_ESCALATION",
    path: "doses[3].ladder",
    schema: false,
  },
];

function build(k: Case): unknown {
  const c = clone(bases[k.base ?? "4x"]);
  const r = k.mutate(c);
  return r === undefined ? c : r;
}

describe("invalid-config corpus", () => {
  const schemaOk = schemaValidator();

  it("has at least 40 cases and covers every rule code", () => {
    expect(CORPUS.length).toBeGreaterThanOrEqual(40);
    const codes = new Set(CORPUS.map((k) => k.code));
    for (const code of CONFIG_ERROR_CODES) {
      if (code === "CFG_TRUNCATED") continue; // covered in validate.test.ts
      expect(codes.has(code), code).toBe(true);
    }
  });

  it("bases are valid", () => {
    for (const b of Object.values(bases)) expect(validateConfig(clone(b), HW4).ok).toBe(true);
  });

  for (const k of CORPUS) {
    it(`${k.code} ${k.path || "(root)"}: ${k.name}`, () => {
      const input = build(k);
      const r = validateConfig(input, k.hw ?? HW4);
      expect(r.ok).toBe(false);
      if (r.ok) return;
      const hit = r.errors.find((e) => e.code === k.code && e.path === k.path);
      expect(hit, JSON.stringify(r.errors, null, 1)).toBeDefined();
      expect(hit!.message.length).toBeGreaterThan(0);
      expect(schemaOk(input)).toBe(!k.schema);
    });
  }

  it("most cases yield exactly the one expected error (no cascades)", () => {
    let single = 0;
    for (const k of CORPUS) {
      const r = validateConfig(build(k), k.hw ?? HW4);
      if (!r.ok && r.errors.length === 1) single++;
      else if (!r.ok && process.env.DK_SHOW_CASCADES) console.info(k.name, JSON.stringify(r.errors));
    }
    // Printed for the report; cascades are allowed but must stay rare.
    console.info(`corpus: ${CORPUS.length} cases, ${single} with exactly one error`);
    expect(single / CORPUS.length).toBeGreaterThan(0.8);
  });
});
