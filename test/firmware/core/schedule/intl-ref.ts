/**
 * Reference time-zone data from Node's Intl (ICU tzdata), used only by the differential tests.
 * Nothing here is shared with firmware/core/tz.ts except the types of the values compared.
 */
import { describe, expect, it } from "vitest";
import { localToUtc, parsePosixTz, transitionsBetween, utcToLocal, type PosixTz } from "../../../../firmware/core/schedule/tz";

export interface ZoneCase {
  /** IANA name Intl knows. */
  readonly iana: string;
  /** Its current rules as a POSIX TZ string. */
  readonly posix: string;
  /** First year (UTC Jan 1) under the current rules. */
  readonly from: number;
}

export const END_YEAR = 2050;
const H = 3_600_000;

const formatters = new Map<string, Intl.DateTimeFormat>();

/** Offset east of UTC in seconds that Intl reports for `zone` at utcMs. */
export function intlOffsetS(zone: string, utcMs: number): number {
  let f = formatters.get(zone);
  if (f === undefined) {
    f = new Intl.DateTimeFormat("en-US", { timeZone: zone, timeZoneName: "longOffset" });
    formatters.set(zone, f);
  }
  const s = f.format(utcMs);
  const k = s.indexOf("GMT");
  if (k < 0) throw new Error("unexpected Intl output " + s);
  const rest = s.slice(k + 3);
  if (rest === "") return 0;
  const m = /^([+-])(\d\d):(\d\d)(?::(\d\d))?$/.exec(rest);
  if (m === null) throw new Error("unexpected Intl offset " + s);
  const v = Number(m[2]) * 3600 + Number(m[3]) * 60 + Number(m[4] ?? 0);
  return m[1] === "-" ? -v : v;
}

interface RefTransition {
  readonly utcMs: number;
  readonly before: number;
  readonly after: number;
}

export interface ZoneReport {
  readonly utcHours: number;
  readonly localHours: number;
  readonly localMinutesNearTransitions: number;
  readonly transitions: number;
  readonly gaps: number;
  readonly folds: number;
}

/**
 * Runs the whole differential comparison for one zone and returns what was compared.
 * Expectations fail with the first few mismatches listed.
 */
export function compareZone(z: ZoneCase): ZoneReport {
  const parsed = parsePosixTz(z.posix);
  if (!parsed.ok) throw new Error(`${z.posix}: ${parsed.error.message} at ${parsed.error.pos}`);
  const tz: PosixTz = parsed.tz;
  const t0 = Date.UTC(z.from, 0, 1);
  const t1 = Date.UTC(END_YEAR + 1, 0, 1);
  const n = (t1 - t0) / H;

  // 1. utc -> local offset at every UTC hour.
  const ref = new Int32Array(n + 1);
  const bad: string[] = [];
  for (let i = 0; i <= n; i++) {
    const t = t0 + i * H;
    const o = intlOffsetS(z.iana, t);
    ref[i] = o;
    const mine = utcToLocal(tz, t);
    if (mine.offsetS !== o || mine.localMs !== t + o * 1000) {
      if (bad.length < 5) bad.push(`${new Date(t).toISOString()} intl ${o} mine ${mine.offsetS}`);
    }
  }
  expect(bad, `${z.iana} utc->local`).toEqual([]);

  // 2. exact transition instants: Intl's, found by bisection between hourly samples.
  const trans: RefTransition[] = [];
  for (let i = 0; i < n; i++) {
    if (ref[i] === ref[i + 1]) continue;
    let lo = t0 + i * H; // offset ref[i]
    let hi = lo + H; // offset ref[i+1]
    while (hi - lo > 1000) {
      const mid = lo + Math.floor((hi - lo) / 2000) * 1000;
      if (intlOffsetS(z.iana, mid) === ref[i]) lo = mid;
      else hi = mid;
    }
    trans.push({ utcMs: hi, before: ref[i], after: ref[i + 1] });
  }
  const mineT = transitionsBetween(tz, t0, t1, 1000);
  expect(
    mineT.map((t) => [t.utcMs, t.offsetBeforeS, t.offsetAfterS]),
    `${z.iana} transitions`,
  ).toEqual(trans.map((t) => [t.utcMs, t.before, t.after]));

  // 3. local -> utc. Reference: the piecewise-constant Intl offset function above.
  const offsets = [...new Set(Array.from(ref))];
  const refOffsetAt = (u: number): number => {
    // last transition <= u
    let lo = 0;
    let hi = trans.length; // answer index in [0, len]
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (trans[mid].utcMs <= u) lo = mid + 1;
      else hi = mid;
    }
    return lo === 0 ? ref[0] : trans[lo - 1].after;
  };
  let gaps = 0;
  let folds = 0;
  const bad2: string[] = [];
  const check = (L: number): void => {
    const valid: number[] = [];
    for (const o of offsets) {
      const u = L - o * 1000;
      if (refOffsetAt(u) === o) valid.push(u);
    }
    valid.sort((a, b) => a - b);
    let exp: { utcMs: number; kind: string };
    if (valid.length === 1) exp = { utcMs: valid[0], kind: "normal" };
    else if (valid.length > 1) exp = { utcMs: valid[0], kind: "fold" };
    else {
      const g = trans.find((t) => t.utcMs + t.before * 1000 <= L && L < t.utcMs + t.after * 1000);
      if (g === undefined) throw new Error("no reference gap for " + L);
      exp = { utcMs: g.utcMs, kind: "gap" };
    }
    const got = localToUtc(tz, L);
    if (got.kind === "gap") gaps++;
    if (got.kind === "fold") folds++;
    let ok = got.utcMs === exp.utcMs && got.kind === exp.kind;
    // Round trip: normal and fold map back to the same wall time; a gap maps to the first valid instant.
    if (ok && got.kind !== "gap") ok = utcToLocal(tz, got.utcMs).localMs === L;
    if (ok && got.kind === "gap") ok = utcToLocal(tz, got.utcMs - 1).localMs < L && utcToLocal(tz, got.utcMs).localMs > L;
    if (!ok && bad2.length < 5) {
      bad2.push(
        `${new Date(L).toISOString().slice(0, 19)} local: intl ${new Date(exp.utcMs).toISOString()} ${exp.kind}, mine ${new Date(got.utcMs).toISOString()} ${got.kind}`,
      );
    }
  };
  // every local hour, one day inside the compared UTC range at both ends
  const l0 = t0 + 86_400_000;
  const l1 = t1 - 86_400_000;
  let localHours = 0;
  for (let L = l0; L < l1; L += H) {
    check(L);
    localHours++;
  }
  // every local minute from 2 h before to 2 h after each transition's wall-clock jump
  let minutes = 0;
  for (const t of trans) {
    const a = t.utcMs + Math.min(t.before, t.after) * 1000 - 2 * H;
    const b = t.utcMs + Math.max(t.before, t.after) * 1000 + 2 * H;
    for (let L = a; L <= b; L += 60_000) {
      check(L);
      minutes++;
    }
  }
  expect(bad2, `${z.iana} local->utc`).toEqual([]);
  return { utcHours: n + 1, localHours, localMinutesNearTransitions: minutes, transitions: trans.length, gaps, folds };
}

/**
 * One test per zone: compareZone() must check every UTC hour of its range. Split over several
 * test files (intl-diff-*.test.ts) so vitest runs them in parallel.
 */
export function describeZones(title: string, zones: readonly ZoneCase[]): void {
  describe(title, () => {
    for (const z of zones) {
      it(`${z.iana} = "${z.posix}" ${z.from}..${END_YEAR}`, () => {
        const t = performance.now();
        const r = compareZone(z);
        expect(r.utcHours).toBeGreaterThan(8760 * (END_YEAR - z.from));
        if (process.env.TZ_DIFF_VERBOSE) {
          process.stdout.write(`${z.iana}: ${JSON.stringify(r)} ${Math.round(performance.now() - t)} ms\n`);
        }
      });
    }
  });
}
