import { describe, expect, it } from "vitest";
import type { FixedDose, Weekday } from "../../../../firmware/core/config/types";
import { nextOccurrence, occurrencesBetween, OCCURRENCES_MAX, type Occurrence } from "../../../../firmware/core/schedule/occurrences";
import { localToUtc, parsePosixTz, utcToLocal, type PosixTz } from "../../../../firmware/core/schedule/tz";
import { formatDate, parseDate, parseHm } from "../../../../firmware/core/schedule/civil";
import { mulberry32 as rng } from "../../../support/prng";

const DAY = 86_400_000;
const H = 3_600_000;
const U = (y: number, mo: number, d: number, h = 0, mi = 0): number => Date.UTC(y, mo - 1, d, h, mi);

function tzOf(s: string): PosixTz {
  const r = parsePosixTz(s);
  if (!r.ok) throw new Error(r.error.message);
  return r.tz;
}

const CET = tzOf("CET-1CEST,M3.5.0,M10.5.0/3");
const NY = tzOf("EST5EDT,M3.2.0,M11.1.0");
const SYD = tzOf("AEST-10AEDT,M10.1.0,M4.1.0/3");
const LHI = tzOf("<+1030>-10:30<+11>-11,M10.1.0,M4.1.0");

function dose(at: string, extra: Partial<FixedDose> = {}): FixedDose {
  return { id: "am", compartment: "c1", at, ...extra };
}

describe("DST policy", () => {
  it("CET 02:30 on the spring-forward day fires once, at 01:00Z (03:00 local)", () => {
    const occ = occurrencesBetween(dose("02:30"), CET, U(2026, 3, 28), U(2026, 3, 31), 10);
    expect(occ.map((o) => [o.slotId, o.dueUtcMs, o.kind])).toEqual([
      ["am@2026-03-28", U(2026, 3, 28, 1, 30), "normal"],
      ["am@2026-03-29", U(2026, 3, 29, 1, 0), "gap"],
      ["am@2026-03-30", U(2026, 3, 30, 0, 30), "normal"],
    ]);
    expect(utcToLocal(CET, occ[1].dueUtcMs).localMs).toBe(U(2026, 3, 29, 3, 0));
  });

  it("CET 02:30 on the fall-back day fires once, at the first 02:30 (00:30Z)", () => {
    const occ = occurrencesBetween(dose("02:30"), CET, U(2026, 10, 24), U(2026, 10, 27), 10);
    expect(occ.map((o) => [o.localDate, o.dueUtcMs, o.kind])).toEqual([
      ["2026-10-24", U(2026, 10, 24, 0, 30), "normal"],
      ["2026-10-25", U(2026, 10, 25, 0, 30), "fold"],
      ["2026-10-26", U(2026, 10, 26, 1, 30), "normal"],
    ]);
    // asking just after the first 02:30 does not give the second 02:30 again
    expect(nextOccurrence(dose("02:30"), CET, U(2026, 10, 25, 0, 30))?.slotId).toBe("am@2026-10-26");
  });

  it("New York 01:30 on the fall-back day fires once (EDT, 05:30Z)", () => {
    const occ = occurrencesBetween(dose("01:30"), NY, U(2026, 10, 31), U(2026, 11, 3), 10);
    expect(occ.map((o) => [o.localDate, o.dueUtcMs, o.kind])).toEqual([
      ["2026-10-31", U(2026, 10, 31, 5, 30), "normal"],
      ["2026-11-01", U(2026, 11, 1, 5, 30), "fold"],
      ["2026-11-02", U(2026, 11, 2, 6, 30), "normal"],
    ]);
    expect(occ.filter((o) => o.localDate === "2026-11-01")).toHaveLength(1);
  });

  it("New York 02:30 on the spring-forward day moves to 03:00 EDT", () => {
    const o = nextOccurrence(dose("02:30"), NY, U(2026, 3, 7, 12));
    expect([o?.slotId, o?.dueUtcMs, o?.kind]).toEqual(["am@2026-03-08", U(2026, 3, 8, 7), "gap"]);
  });

  it("Lord Howe 02:15 (inside the 30-minute gap) moves to 02:30 local", () => {
    const o = nextOccurrence(dose("02:15"), LHI, U(2026, 10, 3, 0));
    expect([o?.localDate, o?.dueUtcMs, o?.kind]).toEqual(["2026-10-04", U(2026, 10, 3, 15, 30), "gap"]);
  });

  it("every local date of a year has exactly one slot, in CET and Sydney, for every quarter hour", () => {
    for (const tz of [CET, SYD]) {
      for (let m = 0; m < 1440; m += 15) {
        const at = `${String(Math.floor(m / 60)).padStart(2, "0")}:${String(m % 60).padStart(2, "0")}`;
        const occ = occurrencesBetween(dose(at), tz, U(2026, 1, 1) - 2 * DAY, U(2027, 1, 1) + 2 * DAY, 1000);
        const dates = occ.map((o) => o.localDate).filter((d) => d.startsWith("2026"));
        expect(dates.length).toBe(365);
        expect(new Set(dates).size).toBe(365);
        let sorted = true;
        for (let i = 1; i < occ.length; i++) if (!(occ[i].dueUtcMs > occ[i - 1].dueUtcMs)) sorted = false;
        expect(sorted).toBe(true);
      }
    }
  });
});

describe("days of week, start and end", () => {
  it("days-of-week are local days and survive DST changes", () => {
    const d = dose("02:30", { days: ["sun", "wed"] });
    const occ = occurrencesBetween(d, CET, U(2026, 3, 1), U(2026, 11, 30), 200);
    for (const o of occ) {
      const wd = new Date(Date.parse(o.localDate + "T00:00:00Z")).getUTCDay();
      expect([0, 3]).toContain(wd);
    }
    expect(occ.find((o) => o.localDate === "2026-03-29")?.kind).toBe("gap");
    expect(occ.find((o) => o.localDate === "2026-10-25")?.kind).toBe("fold");
    // 2026-03-01 (a Sunday) .. 2026-11-29: 40 Sundays + 39 Wednesdays
    expect(occ.length).toBe(79);
  });

  it("start and end are inclusive local dates", () => {
    const d = dose("08:00", { start: "2026-03-28", end: "2026-03-30" });
    const occ = occurrencesBetween(d, CET, U(2026, 1, 1), U(2027, 1, 1), 100);
    expect(occ.map((o) => o.localDate)).toEqual(["2026-03-28", "2026-03-29", "2026-03-30"]);
    expect(occ.map((o) => o.dueUtcMs)).toEqual([U(2026, 3, 28, 7), U(2026, 3, 29, 6), U(2026, 3, 30, 6)]);
    expect(nextOccurrence(d, CET, U(2026, 3, 30, 6))).toBeUndefined();
    expect(nextOccurrence(d, CET, U(2020, 1, 1))?.localDate).toBe("2026-03-28");
  });

  it("start, end and days combine", () => {
    const d = dose("21:00", { days: ["fri"], start: "2026-10-20", end: "2026-11-06" });
    const occ = occurrencesBetween(d, NY, 0, Infinity, 100);
    expect(occ.map((o) => o.localDate)).toEqual(["2026-10-23", "2026-10-30", "2026-11-06"]);
    expect(occ.map((o) => o.dueUtcMs)).toEqual([U(2026, 10, 24, 1), U(2026, 10, 31, 1), U(2026, 11, 7, 2)]);
  });
});

describe("local dates vs UTC dates", () => {
  it("a Sydney 08:00 dose belongs to its local date though it is due the previous UTC day", () => {
    const o = nextOccurrence(dose("08:00"), SYD, U(2026, 6, 1, 12));
    expect(o).toEqual({
      doseId: "am",
      slotId: "am@2026-06-02",
      localDate: "2026-06-02",
      at: "08:00",
      dueUtcMs: U(2026, 6, 1, 22),
      kind: "normal",
    });
  });

  it("a New York 23:30 dose is due the next UTC day", () => {
    const o = nextOccurrence(dose("23:30"), NY, U(2026, 1, 15, 12));
    expect([o?.slotId, o?.dueUtcMs]).toEqual(["am@2026-01-15", U(2026, 1, 16, 4, 30)]);
  });

  it("a UTC window crossing local midnight returns slots of two local dates", () => {
    const occ = occurrencesBetween(dose("23:50", { id: "pm" }), SYD, U(2026, 6, 1, 13), U(2026, 6, 2, 14), 10);
    expect(occ.map((o) => o.slotId)).toEqual(["pm@2026-06-01", "pm@2026-06-02"]);
  });
});

describe("bounds and efficiency", () => {
  it("from is inclusive, to is exclusive, max bounds the result", () => {
    const d = dose("08:00");
    const due = U(2026, 6, 2, 6); // CEST
    expect(occurrencesBetween(d, CET, due, due + 1, 5).map((o) => o.dueUtcMs)).toEqual([due]);
    expect(occurrencesBetween(d, CET, due - DAY + 1, due, 5)).toEqual([]);
    expect(occurrencesBetween(d, CET, 0, Infinity, 3)).toHaveLength(3);
    expect(occurrencesBetween(d, CET, 0, Infinity, 1e9)).toHaveLength(OCCURRENCES_MAX);
    expect(occurrencesBetween(d, CET, 10, 5, 5)).toEqual([]);
    expect(occurrencesBetween(d, CET, 0, Infinity, 0)).toEqual([]);
    expect(nextOccurrence(d, CET, due - 1)?.dueUtcMs).toBe(due);
    expect(nextOccurrence(d, CET, due)?.dueUtcMs).toBe(due + DAY);
  });

  it("invalid doses have no occurrences", () => {
    for (const bad of [
      dose("24:00"),
      dose("8:00"),
      dose("08:00", { days: [] }),
      dose("08:00", { start: "2026-02-30" }),
      dose("08:00", { start: "2026-03-02", end: "2026-03-01" }),
      dose("08:00", { days: ["xyz" as Weekday] }),
    ]) {
      expect(occurrencesBetween(bad, CET, 0, Infinity, 10)).toEqual([]);
      expect(nextOccurrence(bad, CET, 0)).toBeUndefined();
    }
  });

  it("nextOccurrence jumps to a far start and never scans more than a week", () => {
    const far = dose("08:00", { start: "9999-12-27", days: ["mon"] });
    const t = performance.now();
    for (let i = 0; i < 500; i++) expect(nextOccurrence(far, CET, i * DAY)?.localDate).toBe("9999-12-27");
    const dayByDay = dose("08:00", { start: "9999-12-20", end: "9999-12-31", days: ["tue"] });
    for (let i = 0; i < 500; i++) expect(nextOccurrence(dayByDay, NY, i * H)?.localDate).toBe("9999-12-21");
    // a day-by-day scan from 1970 to 9999 would be ~2.9 million days per call
    expect(performance.now() - t).toBeLessThan(2000);
  });
});

describe("against a brute-force reference", () => {
  it("random doses, zones and windows", () => {
    const r = rng(5);
    const pick = (n: number): number => Math.floor(r() * n);
    const zones = [CET, NY, SYD, LHI, tzOf("IST-1GMT0,M10.5.0,M3.5.0/1"), tzOf("<+0545>-5:45"), tzOf("<-02>2<-01>,M3.5.0/-1,M10.5.0/0")];
    const all: Weekday[] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];
    for (let i = 0; i < 400; i++) {
      const tz = zones[pick(zones.length)];
      const atMin = pick(1440);
      const at = `${String(Math.floor(atMin / 60)).padStart(2, "0")}:${String(atMin % 60).padStart(2, "0")}`;
      const days = pick(3) === 0 ? undefined : all.filter(() => r() < 0.5);
      const base = U(2026, 1, 1) + pick(365) * DAY;
      const start = pick(2) === 0 ? undefined : formatDate(Math.floor(base / DAY) + pick(40) - 10);
      const end = pick(2) === 0 ? undefined : formatDate(Math.floor(base / DAY) + pick(80));
      const d: FixedDose = {
        id: "d" + i,
        compartment: "c",
        at,
        ...(days ? { days } : {}),
        ...(start ? { start } : {}),
        ...(end ? { end } : {}),
      };
      const from = base + pick(86400) * 1000;
      const to = from + pick(60) * DAY + pick(86400) * 1000;
      const max = 1 + pick(80);
      // brute force: every local date in a generous range, keep what falls in [from, to)
      const want: Occurrence[] = [];
      if (!(days && days.length === 0) && !(start && end && end < start)) {
        for (let day = Math.floor(from / DAY) - 3; day <= Math.floor(to / DAY) + 3; day++) {
          const date = formatDate(day);
          if (start && date < start) continue;
          if (end && date > end) continue;
          if (days && !days.includes(all[new Date(day * DAY).getUTCDay()])) continue;
          const u = localToUtc(tz, day * DAY + parseHm(at)! * 60_000);
          if (u.utcMs >= from && u.utcMs < to) {
            want.push({ doseId: d.id, slotId: `${d.id}@${date}`, localDate: date, at, dueUtcMs: u.utcMs, kind: u.kind });
          }
        }
      }
      want.sort((a, b) => a.dueUtcMs - b.dueUtcMs);
      const got = occurrencesBetween(d, tz, from, to, max);
      expect(got).toEqual(want.slice(0, max));
      const next = nextOccurrence(d, tz, from - 1);
      if (want.length > 0) expect(next).toEqual(want[0]);
      else expect(next === undefined || next.dueUtcMs >= to).toBe(true);
      for (const o of got) {
        // the due instant shows the slot's local date and time unless it was moved out of a gap
        const local = utcToLocal(tz, o.dueUtcMs).localMs;
        const wall = parseDate(o.localDate)! * DAY + parseHm(o.at)! * 60_000;
        if (o.kind === "gap") expect(local).toBeGreaterThan(wall);
        else expect(local).toBe(wall);
      }
    }
  });
});
