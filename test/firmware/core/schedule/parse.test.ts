import { describe, expect, it } from "vitest";
import {
  formatPosixTz,
  localToUtc,
  parsePosixTz,
  transitionsBetween,
  utcToLocal,
  type PosixTz,
} from "../../../../firmware/core/schedule/tz";
import { mulberry32 as rng } from "../../../support/prng";

function ok(s: string): PosixTz {
  const r = parsePosixTz(s);
  if (!r.ok) throw new Error(`${s}: ${r.error.message} at ${r.error.pos}`);
  return r.tz;
}

const EXAMPLES = [
  "CET-1CEST,M3.5.0,M10.5.0/3",
  "EST5EDT,M3.2.0,M11.1.0",
  "AEST-10AEDT,M10.1.0,M4.1.0/3",
  "IST-5:30",
  "<-03>3",
  "NZST-12NZDT,M9.5.0,M4.1.0/3",
  "<+1030>-10:30<+11>-11,M10.1.0,M4.1.0",
  "UTC0",
  "GMT0BST,M3.5.0/1,M10.5.0",
  "IST-1GMT0,M10.5.0,M3.5.0/1",
  "<-02>2<-01>,M3.5.0/-1,M10.5.0/0",
  "<+0545>-5:45",
  "IST-2IDT,M3.4.4/26,M10.5.0",
  "EET-2EEST,M4.5.5/0,M10.5.4/24",
  "<-04>4<-03>,M9.1.6/24,M4.1.6/24",
  "EST5EDT4,0/0,J365/25",
  "ABC+1:02:03DEF,J60/-167,300/167:59:59",
];

describe("parsePosixTz: accepted syntax", () => {
  it("parses every example and formats it back to the same zone", () => {
    for (const s of EXAMPLES) {
      const tz = ok(s);
      expect(ok(formatPosixTz(tz))).toEqual({ ...tz, source: formatPosixTz(tz) });
    }
  });

  it("decodes fields with east-positive offsets", () => {
    expect(ok("CET-1CEST,M3.5.0,M10.5.0/3")).toEqual({
      source: "CET-1CEST,M3.5.0,M10.5.0/3",
      stdAbbr: "CET",
      stdOffsetS: 3600,
      dst: {
        abbr: "CEST",
        offsetS: 7200,
        start: { date: { kind: "M", month: 3, week: 5, wday: 0 }, timeS: 7200 },
        end: { date: { kind: "M", month: 10, week: 5, wday: 0 }, timeS: 10800 },
      },
    });
    expect(ok("<-03>3")).toEqual({ source: "<-03>3", stdAbbr: "-03", stdOffsetS: -10800 });
    expect(ok("IST-5:30").stdOffsetS).toBe(19800);
    expect(ok("<+0545>-5:45").stdOffsetS).toBe(20700);
    expect(ok("UTC0").stdOffsetS).toBe(0);
    expect(Object.is(ok("UTC0").stdOffsetS, 0)).toBe(true); // not -0
    const lh = ok("<+1030>-10:30<+11>-11,M10.1.0,M4.1.0");
    expect([lh.stdOffsetS, lh.dst?.offsetS, lh.dst?.abbr]).toEqual([37800, 39600, "+11"]);
    const ie = ok("IST-1GMT0,M10.5.0,M3.5.0/1");
    expect([ie.stdOffsetS, ie.dst?.offsetS, ie.dst?.end.timeS]).toEqual([3600, 0, 3600]);
    const gl = ok("<-02>2<-01>,M3.5.0/-1,M10.5.0/0");
    expect([gl.dst?.offsetS, gl.dst?.start.timeS, gl.dst?.end.timeS]).toEqual([-3600, -3600, 0]);
    expect(ok("IST-2IDT,M3.4.4/26,M10.5.0").dst?.start.timeS).toBe(26 * 3600);
    const j = ok("ABC+1:02:03DEF,J60/-167,300/167:59:59");
    expect(j.stdOffsetS).toBe(-3723);
    expect(j.dst?.offsetS).toBe(-3723 + 3600); // default: one hour ahead of std
    expect(j.dst?.start).toEqual({ date: { kind: "J", day: 60 }, timeS: -167 * 3600 });
    expect(j.dst?.end).toEqual({ date: { kind: "n", day: 300 }, timeS: 167 * 3600 + 59 * 60 + 59 });
  });
});

describe("parsePosixTz: errors", () => {
  const cases: Array<[string, number]> = [
    ["", 0],
    ["5", 0], // no name
    ["ES5", 2], // name shorter than 3
    ["<ab>3", 3], // quoted name shorter than 3
    ["<-03", 4], // unterminated quote
    ["<-0 3>3", 3], // space inside quotes
    ["CET", 3], // missing offset
    ["CET+", 4], // sign without digits
    ["CET-1:", 6], // ':' without minutes
    ["CET-1:60", 6], // minutes out of range
    ["CET-25", 4], // hours out of range
    ["CET-100", 6], // too many digits
    ["CET-1,M3.5.0,M10.5.0", 5], // rules without DST name
    ["CET-1CEST", 9], // DST name without rules
    ["CET-1CEST;", 9], // junk instead of ','
    ["CET-1CEST,M3.5.0", 16], // missing end rule
    ["CET-1CEST,M13.5.0,M10.5.0", 11], // month 13
    ["CET-1CEST,M3.6.0,M10.5.0", 13], // week 6
    ["CET-1CEST,M3.5.7,M10.5.0", 15], // weekday 7
    ["CET-1CEST,M3.5,M10.5.0", 14], // missing weekday
    ["CET-1CEST,J0,M10.5.0", 11], // J0
    ["CET-1CEST,J366,M10.5.0", 11], // J366
    ["CET-1CEST,366,M10.5.0", 10], // n > 365
    ["CET-1CEST,M3.5.0/168,M10.5.0", 17], // rule time > 167 h
    ["CET-1CEST,M3.5.0,M10.5.0/3x", 26], // trailing junk
    ["CET-1CEST,X,M10.5.0", 10], // bad date kind
    ["CET-1 ", 5], // trailing space
    ["CÉT-1", 1], // non-ASCII stops the parse at its index
    ["CET-1CÉST,M3.5.0,M10.5.0", 6],
    ["ABCDEFGHIJKLMNOPQ-1", 16], // name > 16 characters
    ["CET-1CEST,M3.5.0,M10.5.0/", 25], // '/' without time
  ];
  for (const [s, pos] of cases) {
    it(`${JSON.stringify(s)} fails at ${pos}`, () => {
      const r = parsePosixTz(s);
      expect(r.ok).toBe(false);
      if (!r.ok) {
        expect(r.error.code).toBe("TZ_SYNTAX");
        expect(r.error.pos).toBe(pos);
        expect(r.error.message.length).toBeGreaterThan(0);
      }
    });
  }

  it("never throws, even for non-strings", () => {
    for (const v of [undefined, null, 42, {}, [], Symbol("x")]) {
      expect(parsePosixTz(v as unknown as string).ok).toBe(false);
    }
  });
});

describe("parsePosixTz: fuzz", () => {
  it("20,000 random and mutated strings never throw; results are consistent", () => {
    const r = rng(2026);
    const alphabet = "CETSDAMJ<>+-0123456789:,./ abcxyz\u00e9\u4e2d\ud83d\ude00\u0000";
    const pick = (n: number): number => Math.floor(r() * n);
    let accepted = 0;
    let rejected = 0;
    const probes = [0, Date.UTC(2026, 2, 29, 1), Date.UTC(2040, 9, 1), -Date.UTC(2300, 0, 1)];
    for (let i = 0; i < 20_000; i++) {
      let s: string;
      if (i % 2 === 0) {
        s = "";
        const len = pick(40);
        for (let k = 0; k < len; k++) s += alphabet[pick(alphabet.length)];
      } else {
        // mutate a valid string: replace, insert or delete a few characters
        s = EXAMPLES[pick(EXAMPLES.length)];
        const edits = 1 + pick(3);
        for (let k = 0; k < edits; k++) {
          const at = pick(s.length + 1);
          const ch = alphabet[pick(alphabet.length)];
          const op = pick(3);
          s =
            op === 0
              ? s.slice(0, at) + ch + s.slice(at + 1)
              : op === 1
                ? s.slice(0, at) + ch + s.slice(at)
                : s.slice(0, at) + s.slice(at + 1);
        }
      }
      let res: ReturnType<typeof parsePosixTz>;
      try {
        res = parsePosixTz(s);
      } catch (e) {
        throw new Error(`threw on ${JSON.stringify(s)}: ${String(e)}`);
      }
      if (res.ok) {
        accepted++;
        const tz = res.tz;
        expect(ok(formatPosixTz(tz))).toEqual({ ...tz, source: formatPosixTz(tz) });
        for (const t of probes) {
          const l = utcToLocal(tz, t);
          expect(Number.isFinite(l.localMs)).toBe(true);
          const back = localToUtc(tz, l.localMs);
          expect(Number.isFinite(back.utcMs)).toBe(true);
        }
        expect(transitionsBetween(tz, probes[0], probes[2], 200).length).toBeLessThanOrEqual(200);
      } else {
        rejected++;
        expect(res.error.code).toBe("TZ_SYNTAX");
        expect(Number.isInteger(res.error.pos)).toBe(true);
        expect(res.error.pos).toBeGreaterThanOrEqual(0);
        expect(res.error.pos).toBeLessThanOrEqual(s.length);
      }
    }
    expect(accepted + rejected).toBe(20_000);
    expect(accepted).toBeGreaterThan(500); // the mutations keep many strings valid
  });
});
