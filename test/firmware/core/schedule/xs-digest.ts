/**
 * A deterministic text digest of civil.ts / tz.ts / schedule.ts results. Runs unchanged on V8 (vitest)
 * and inside XS (bundled by xs-parity.test.ts), so the two texts must be byte-identical.
 * XS-clean: no Date, no Intl, no console.
 */
import { isoUtc, formatDate, civilFromDays, parseDate, parseHm } from "../../../../firmware/core/schedule/civil";
import { localToUtc, parsePosixTz, transitionsBetween, utcToLocal, formatPosixTz } from "../../../../firmware/core/schedule/tz";
import { occurrencesBetween } from "../../../../firmware/core/schedule/occurrences";
import { lcgU32 } from "../../../support/prng";

const ZONES = [
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
  "EST5EDT4,0/0,J365/25",
  "IST-2IDT,M3.4.4/26,M10.5.0",
  "ABC+1:02:03DEF,J60/-167,300/167:59:59",
];
const BAD = ["", "ES5", "<ab>3", "CET-1CEST", "CET-1CEST,M13.5.0,M10.5.0", "C\u00c9T-1", "CET-1CEST,M3.5.0,M10.5.0/3x", "\ud83d\ude00"];

export function digest(): string {
  const out: string[] = [];
  const next = lcgU32(12345);
  // isoUtc over the whole range, plus civil helpers
  for (let i = 0; i < 2000; i++) {
    const ms = (next() - 2147483648) * 4_000_000 + (next() % 1000);
    out.push(isoUtc(ms) + " " + formatDate(Math.floor(ms / 86_400_000)) + " " + civilFromDays(i * 997 - 800_000).y);
  }
  out.push(String(parseDate("2024-02-29")) + " " + String(parseDate("2026-02-30")) + " " + String(parseHm("23:59")));
  for (const s of BAD) {
    const r = parsePosixTz(s);
    out.push(r.ok ? "ok?" : r.error.pos + " " + r.error.message);
  }
  for (const s of ZONES) {
    const r = parsePosixTz(s);
    if (!r.ok) {
      out.push("ERR " + s);
      continue;
    }
    const tz = r.tz;
    out.push(formatPosixTz(tz));
    for (const t of transitionsBetween(tz, 946_684_800_000, 2_524_608_000_000, 200)) {
      out.push(isoUtc(t.utcMs) + " " + t.offsetBeforeS + ">" + t.offsetAfterS + " " + t.abbr);
    }
    for (let i = 0; i < 300; i++) {
      const ms = 946_684_800_000 + (next() % 1_577_923_200) * 1000;
      const l = utcToLocal(tz, ms);
      const b = localToUtc(tz, ms);
      out.push(l.localMs + " " + l.offsetS + " " + l.dst + " " + l.abbr + " " + b.utcMs + " " + b.kind);
    }
    const occ = occurrencesBetween(
      { id: "am", compartment: "c", at: "02:30", days: ["sun", "wed"] },
      tz,
      1_767_225_600_000,
      1_798_761_600_000,
      200,
    );
    for (const o of occ) out.push(o.slotId + " " + isoUtc(o.dueUtcMs) + " " + o.kind);
  }
  return out.join("\n");
}
