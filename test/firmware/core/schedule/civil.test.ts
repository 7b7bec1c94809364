import { describe, expect, it } from "vitest";
import { mulberry32 as rng } from "../../../support/prng";
import {
  civilFromDays,
  daysFromCivil,
  daysInMonth,
  formatDate,
  formatHm,
  isoUtc,
  parseDate,
  parseHm,
  weekday,
} from "../../../../firmware/core/schedule/civil";

const DAY = 86_400_000;

describe("civil date math", () => {
  it("matches Date.UTC and getUTCDay for every day of 1600..2400", () => {
    const from = Date.UTC(1600, 0, 1) / DAY;
    const to = Date.UTC(2401, 0, 1) / DAY;
    let bad = 0;
    for (let days = from; days < to; days++) {
      const d = new Date(days * DAY);
      const c = civilFromDays(days);
      if (c.y !== d.getUTCFullYear() || c.m !== d.getUTCMonth() + 1 || c.d !== d.getUTCDate()) bad++;
      if (daysFromCivil(c.y, c.m, c.d) !== days) bad++;
      if (weekday(days) !== d.getUTCDay()) bad++;
    }
    expect(to - from).toBe(292_560);
    expect(bad).toBe(0);
  });

  it("matches Date over the whole Date range (random days)", () => {
    const r = rng(1);
    for (let i = 0; i < 20_000; i++) {
      const days = Math.floor((r() * 2 - 1) * 100_000_000);
      const d = new Date(days * DAY);
      expect(civilFromDays(days)).toEqual({ y: d.getUTCFullYear(), m: d.getUTCMonth() + 1, d: d.getUTCDate() });
      expect(weekday(days)).toBe(d.getUTCDay());
    }
  });

  it("knows the epoch, leap days and month lengths", () => {
    expect(daysFromCivil(1970, 1, 1)).toBe(0);
    expect(weekday(0)).toBe(4);
    expect(daysFromCivil(2000, 3, 1) - daysFromCivil(2000, 2, 28)).toBe(2);
    expect(daysFromCivil(1900, 3, 1) - daysFromCivil(1900, 2, 28)).toBe(1);
    expect(daysInMonth(2024, 2)).toBe(29);
    expect(daysInMonth(2100, 2)).toBe(28);
    expect(daysInMonth(2026, 4)).toBe(30);
    expect(civilFromDays(-1)).toEqual({ y: 1969, m: 12, d: 31 });
  });
});

describe("parseDate / parseHm / formatters", () => {
  it("parses valid dates and formats them back", () => {
    expect(parseDate("1970-01-01")).toBe(0);
    expect(parseDate("2026-03-29")).toBe(Date.UTC(2026, 2, 29) / DAY);
    expect(parseDate("2024-02-29")).toBe(Date.UTC(2024, 1, 29) / DAY);
    for (const s of ["0001-01-01", "1969-12-31", "2000-02-29", "2026-12-31", "9999-12-31"]) {
      expect(formatDate(parseDate(s)!)).toBe(s);
    }
  });

  it("refuses invalid dates", () => {
    for (const s of [
      "2026-02-30",
      "2023-02-29",
      "2100-02-29",
      "2026-04-31",
      "2026-13-01",
      "2026-00-10",
      "2026-01-00",
      "2026-1-01",
      "26-01-01",
      "2026/01/01",
      "2026-01-01 ",
      " 2026-01-01",
      "2026-01-1a",
      "+026-01-01",
      "",
      "2026-01-01T00:00",
      "２０２６-01-01",
    ]) {
      expect(parseDate(s), s).toBeUndefined();
    }
    expect(parseDate(undefined as unknown as string)).toBeUndefined();
  });

  it("parses and formats HH:MM", () => {
    expect(parseHm("00:00")).toBe(0);
    expect(parseHm("02:30")).toBe(150);
    expect(parseHm("23:59")).toBe(1439);
    for (const s of ["24:00", "7:30", "07:3", "07:60", "07-30", "0730", " 07:30", "07:30 ", "-1:00", "ab:cd", ""]) {
      expect(parseHm(s), s).toBeUndefined();
    }
    for (let m = 0; m < 1440; m++) expect(parseHm(formatHm(m))).toBe(m);
    expect(formatHm(1440)).toBe("00:00");
    expect(formatHm(-1)).toBe("23:59");
  });

  it("isoUtc is byte-identical to toISOString", () => {
    const r = rng(7);
    const edges = [
      0,
      -1,
      1,
      8.64e15,
      -8.64e15,
      Date.UTC(2026, 2, 29, 1),
      253402300799999,
      253402300800000,
      -62167219200000,
      -62167219200001,
      951782400000,
      -86_400_001,
    ];
    for (const ms of edges) expect(isoUtc(ms), String(ms)).toBe(new Date(ms).toISOString());
    for (let i = 0; i < 50_000; i++) {
      const ms = Math.floor((r() * 2 - 1) * (i % 2 ? 8.64e15 : 5e12));
      expect(isoUtc(ms)).toBe(new Date(ms).toISOString());
    }
    expect(isoUtc(Date.UTC(2026, 2, 29, 1))).toBe("2026-03-29T01:00:00.000Z");
    expect(isoUtc(NaN)).toBe("Invalid Date");
    expect(isoUtc(Infinity)).toBe("Invalid Date");
  });
});
