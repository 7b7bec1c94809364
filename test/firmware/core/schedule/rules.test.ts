import { describe, expect, it } from "vitest";
import {
  localToUtc,
  parsePosixTz,
  ruleDay,
  transitionsBetween,
  utcToLocal,
  type PosixTz,
  type TzDateRule,
} from "../../../../firmware/core/schedule/tz";
import { mulberry32 as rng } from "../../../support/prng";

const DAY = 86_400_000;
const _H = 3_600_000;

function ok(s: string): PosixTz {
  const r = parsePosixTz(s);
  if (!r.ok) throw new Error(`${s}: ${r.error.message} at ${r.error.pos}`);
  return r.tz;
}

// ---- independent reference built on Date (test only) ----
function refRuleDay(r: TzDateRule, y: number): number {
  const jan1 = Date.UTC(y, 0, 1) / DAY;
  const leap = new Date(Date.UTC(y, 1, 29)).getUTCMonth() === 1;
  if (r.kind === "J") return jan1 + r.day - 1 + (leap && r.day >= 60 ? 1 : 0);
  if (r.kind === "n") return jan1 + r.day;
  const hits: number[] = [];
  for (let d = 1; d <= 31; d++) {
    const t = Date.UTC(y, r.month - 1, d);
    const dt = new Date(t);
    if (dt.getUTCMonth() !== r.month - 1) break;
    if (dt.getUTCDay() === r.wday) hits.push(t / DAY);
  }
  return r.week === 5 ? hits[hits.length - 1] : hits[r.week - 1];
}

function refChanges(tz: PosixTz, y0: number, y1: number): Array<{ t: number; dst: boolean }> {
  const d = tz.dst!;
  const out: Array<{ t: number; dst: boolean }> = [];
  for (let y = y0; y <= y1; y++) {
    out.push({ t: refRuleDay(d.start.date, y) * DAY + (d.start.timeS - tz.stdOffsetS) * 1000, dst: true });
    out.push({ t: refRuleDay(d.end.date, y) * DAY + (d.end.timeS - d.offsetS) * 1000, dst: false });
  }
  // on equal instants an end sorts before a start
  return out.sort((a, b) => a.t - b.t || (a.dst ? 1 : 0) - (b.dst ? 1 : 0));
}

/** DST state from a precomputed, sorted change list (last change at or before t). */
function refIsDst(changes: ReadonlyArray<{ t: number; dst: boolean }>, t: number): boolean {
  let lo = 0;
  let hi = changes.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (changes[mid].t <= t) lo = mid + 1;
    else hi = mid;
  }
  return lo === 0 ? false : changes[lo - 1].dst;
}

function hms(sec: number): string {
  const neg = sec < 0;
  let v = Math.abs(sec);
  const h = Math.floor(v / 3600);
  v -= h * 3600;
  const m = Math.floor(v / 60);
  const s = v - m * 60;
  return (neg ? "-" : "") + h + ":" + String(m).padStart(2, "0") + ":" + String(s).padStart(2, "0");
}

describe("DST rules against an independent Date-based reference", () => {
  it("ruleDay: every Jn, n and Mm.w.d for 1999..2030", () => {
    let n = 0;
    for (let y = 1999; y <= 2030; y++) {
      const rules: TzDateRule[] = [];
      for (let d = 1; d <= 365; d++) rules.push({ kind: "J", day: d });
      for (let d = 0; d <= 365; d++) rules.push({ kind: "n", day: d });
      for (let m = 1; m <= 12; m++)
        for (let w = 1; w <= 5; w++) for (let wd = 0; wd <= 6; wd++) rules.push({ kind: "M", month: m, week: w, wday: wd });
      for (const r of rules) {
        if (ruleDay(r, y) !== refRuleDay(r, y)) throw new Error(`${JSON.stringify(r)} ${y}: ${ruleDay(r, y)} vs ${refRuleDay(r, y)}`);
        n++;
      }
    }
    expect(n).toBe(32 * (365 + 366 + 420));
    // February 29 is never counted by Jn, always by n
    const y2024 = Date.UTC(2024, 0, 1) / DAY;
    expect(ruleDay({ kind: "J", day: 59 }, 2024) - y2024).toBe(58); // Feb 28
    expect(ruleDay({ kind: "J", day: 60 }, 2024) - y2024).toBe(60); // Mar 1
    expect(ruleDay({ kind: "n", day: 59 }, 2024) - y2024).toBe(59); // Feb 29
  });

  it("random rules (J, n, M; times -167..167 h) agree at random instants and at every change", () => {
    const r = rng(99);
    const pick = (n: number): number => Math.floor(r() * n);
    const ruleText = (): string => {
      const k = pick(3);
      const date = k === 0 ? "J" + (1 + pick(365)) : k === 1 ? String(pick(366)) : `M${1 + pick(12)}.${1 + pick(5)}.${pick(7)}`;
      const q = pick(4);
      const time = q === 0 ? "" : q === 1 ? "/" + hms((pick(335) - 167) * 3600 + pick(4) * 900) : "/" + hms(pick(27) * 3600);
      return date + time;
    };
    let instants = 0;
    let zones = 0;
    for (let i = 0; i < 300; i++) {
      const std = (pick(105) - 48) * 900; // -12:00 .. +14:00 east
      const dst = std + [3600, 1800, -3600, 7200][pick(4)];
      const s = `<S${i}x>${hms(-std)}<D${i}x>${hms(-dst)},${ruleText()},${ruleText()}`;
      const tz = ok(s);
      zones++;
      const all = refChanges(tz, 1890, 2210);
      const probe = (t: number): void => {
        const want = refIsDst(all, t);
        const got = utcToLocal(tz, t);
        if (got.dst !== want || got.offsetS !== (want ? dst : std) || got.localMs !== t + got.offsetS * 1000) {
          throw new Error(`${s} at ${new Date(t).toISOString()}: want dst=${want}, got ${JSON.stringify(got)}`);
        }
        instants++;
      };
      for (let k = 0; k < 200; k++) probe(Date.UTC(1900 + pick(300), 0, 1) + pick(366) * DAY + pick(86400) * 1000);
      for (const c of refChanges(tz, 2019, 2031)) {
        probe(c.t - 1);
        probe(c.t);
      }
      // transitionsBetween agrees with the state changes of the reference
      const from = Date.UTC(2020, 0, 1);
      const to = Date.UTC(2030, 0, 1);
      const mine = transitionsBetween(tz, from, to, 100);
      let prev = refIsDst(all, from - 1);
      const want: number[] = [];
      for (const c of refChanges(tz, 2018, 2031)) {
        if (c.t < from || c.t >= to) continue;
        const now = refIsDst(all, c.t);
        if (now !== prev && !want.includes(c.t)) want.push(c.t);
        prev = now;
      }
      expect(
        mine.map((x) => x.utcMs),
        s,
      ).toEqual(want);
    }
    expect(zones).toBe(300);
    expect(instants).toBeGreaterThan(60_000);
  });
});

describe("utcToLocal flags and abbreviations", () => {
  it("CET summer/winter", () => {
    const tz = ok("CET-1CEST,M3.5.0,M10.5.0/3");
    expect(utcToLocal(tz, Date.UTC(2026, 6, 1))).toEqual({ localMs: Date.UTC(2026, 6, 1, 2), offsetS: 7200, dst: true, abbr: "CEST" });
    expect(utcToLocal(tz, Date.UTC(2026, 0, 1))).toEqual({ localMs: Date.UTC(2026, 0, 1, 1), offsetS: 3600, dst: false, abbr: "CET" });
    expect(utcToLocal(tz, Date.UTC(2026, 2, 29, 1) - 1).abbr).toBe("CET");
    expect(utcToLocal(tz, Date.UTC(2026, 2, 29, 1)).abbr).toBe("CEST");
  });

  it("Ireland: negative DST (summer is standard IST, winter is 'DST' GMT)", () => {
    const tz = ok("IST-1GMT0,M10.5.0,M3.5.0/1");
    expect(utcToLocal(tz, Date.UTC(2026, 6, 1))).toMatchObject({ offsetS: 3600, dst: false, abbr: "IST" });
    expect(utcToLocal(tz, Date.UTC(2026, 0, 1))).toMatchObject({ offsetS: 0, dst: true, abbr: "GMT" });
  });

  it("southern hemisphere: Sydney DST spans the new year", () => {
    const tz = ok("AEST-10AEDT,M10.1.0,M4.1.0/3");
    expect(utcToLocal(tz, Date.UTC(2026, 0, 1))).toMatchObject({ offsetS: 39600, dst: true });
    expect(utcToLocal(tz, Date.UTC(2026, 6, 1))).toMatchObject({ offsetS: 36000, dst: false });
  });

  it("permanent DST encoding (0/0,J365/25) is DST all year without transitions", () => {
    const tz = ok("EST5EDT4,0/0,J365/25");
    for (let m = 0; m < 12; m++) expect(utcToLocal(tz, Date.UTC(2026, m, 1)).offsetS).toBe(-4 * 3600);
    expect(utcToLocal(tz, Date.UTC(2027, 0, 1, 5))).toMatchObject({ dst: true });
    expect(transitionsBetween(tz, Date.UTC(2020, 0, 1), Date.UTC(2030, 0, 1))).toEqual([]);
  });
});

describe("localToUtc policy", () => {
  const L = (y: number, mo: number, d: number, h: number, mi = 0): number => Date.UTC(y, mo - 1, d, h, mi);

  it("CET: gap -> transition instant, fold -> first occurrence", () => {
    const tz = ok("CET-1CEST,M3.5.0,M10.5.0/3");
    expect(localToUtc(tz, L(2026, 3, 29, 1, 59))).toEqual({ utcMs: L(2026, 3, 29, 0, 59), kind: "normal" });
    expect(localToUtc(tz, L(2026, 3, 29, 2, 0))).toEqual({ utcMs: L(2026, 3, 29, 1), kind: "gap" });
    expect(localToUtc(tz, L(2026, 3, 29, 2, 30))).toEqual({ utcMs: L(2026, 3, 29, 1), kind: "gap" });
    expect(localToUtc(tz, L(2026, 3, 29, 3, 0))).toEqual({ utcMs: L(2026, 3, 29, 1), kind: "normal" });
    expect(localToUtc(tz, L(2026, 10, 25, 1, 59))).toEqual({ utcMs: L(2026, 10, 24, 23, 59), kind: "normal" });
    expect(localToUtc(tz, L(2026, 10, 25, 2, 0))).toEqual({ utcMs: L(2026, 10, 25, 0), kind: "fold" });
    expect(localToUtc(tz, L(2026, 10, 25, 2, 30))).toEqual({ utcMs: L(2026, 10, 25, 0, 30), kind: "fold" });
    expect(localToUtc(tz, L(2026, 10, 25, 3, 0))).toEqual({ utcMs: L(2026, 10, 25, 2), kind: "normal" });
  });

  it("Lord Howe: 30-minute gap and fold", () => {
    const tz = ok("<+1030>-10:30<+11>-11,M10.1.0,M4.1.0");
    // 2026-10-04 02:00 +10:30 = 2026-10-03 15:30Z; local 02:00..02:29 skipped
    expect(localToUtc(tz, L(2026, 10, 4, 2, 15))).toEqual({ utcMs: L(2026, 10, 3, 15, 30), kind: "gap" });
    expect(localToUtc(tz, L(2026, 10, 4, 2, 30))).toEqual({ utcMs: L(2026, 10, 3, 15, 30), kind: "normal" });
    // 2026-04-05 02:00 +11 = 2026-04-04 15:00Z; local 01:30..01:59 repeated
    expect(localToUtc(tz, L(2026, 4, 5, 1, 45))).toEqual({ utcMs: L(2026, 4, 4, 14, 45), kind: "fold" });
    expect(localToUtc(tz, L(2026, 4, 5, 1, 29))).toEqual({ utcMs: L(2026, 4, 4, 14, 29), kind: "normal" });
  });

  it("Ireland: the October fold resolves to IST (first), the March gap to 01:00Z", () => {
    const tz = ok("IST-1GMT0,M10.5.0,M3.5.0/1");
    expect(localToUtc(tz, L(2026, 10, 25, 1, 30))).toEqual({ utcMs: L(2026, 10, 25, 0, 30), kind: "fold" });
    expect(localToUtc(tz, L(2026, 3, 29, 1, 30))).toEqual({ utcMs: L(2026, 3, 29, 1), kind: "gap" });
  });

  it("Greenland-style negative rule time (/-1): change on Saturday 23:00 local", () => {
    const tz = ok("<-02>2<-01>,M3.5.0/-1,M10.5.0/0");
    // last Sunday of March 2026 is the 29th; -1:00 = Saturday 28th 23:00 -02 = 29th 01:00Z
    expect(transitionsBetween(tz, L(2026, 1, 1, 0), L(2027, 1, 1, 0)).map((t) => t.utcMs)).toEqual([L(2026, 3, 29, 1), L(2026, 10, 25, 1)]);
    expect(localToUtc(tz, L(2026, 3, 28, 23, 30))).toEqual({ utcMs: L(2026, 3, 29, 1), kind: "gap" });
    expect(localToUtc(tz, L(2026, 10, 24, 23, 30))).toEqual({ utcMs: L(2026, 10, 25, 0, 30), kind: "fold" });
  });

  it("no-DST zones are always normal", () => {
    const tz = ok("<+0545>-5:45");
    expect(localToUtc(tz, L(2026, 1, 1, 0))).toEqual({ utcMs: L(2025, 12, 31, 18, 15), kind: "normal" });
  });

  it("transitionsBetween honours max and an empty range", () => {
    const tz = ok("CET-1CEST,M3.5.0,M10.5.0/3");
    expect(transitionsBetween(tz, 0, 8.64e15, 5)).toHaveLength(5);
    expect(transitionsBetween(tz, 10, 10)).toEqual([]);
    expect(transitionsBetween(ok("UTC0"), 0, 8.64e15)).toEqual([]);
  });
});
