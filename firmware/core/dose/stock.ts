/**
 * Stock (docs/scenarios.md, "Stock and refill"): the doses left in each compartment, from the
 * weighed pills (net grams of its tray ÷ the mass of one dose, rounded), and the days they last
 * at the schedule's pace (fixed doses of that compartment per day: a dose on 3 weekdays counts
 * 3/7). `stock.low` is logged once per episode when the days left fall below the config's
 * `stock.lowDays` (default 3); the episode ends when a refill brings them back to it or above.
 *
 * Refill verification: a signed `refill {comp, doses}` command says how many doses the tray
 * should hold once refilled. If it already does, `refill.verified` at once; else the expectation
 * is kept (persisted, REFILL_EXPECT_MS) and the next refill seen on that tray gives
 * `refill.verified` or `refill.mismatch` with `expected`. XS-clean.
 */
import type { Active, StateRecord } from "../config/active";
import type { Compartment, DispenserConfig } from "../config/types";
import type { EventClass } from "../log/eventlog";
import { EV, type EventType } from "../protocol/events";
import { refillEvents } from "./refill";
import type { LoadChannels } from "../load/channels";
import { doseSize } from "./slots";
import { isoUtc } from "../schedule/civil";

export const STOCK_LOW_DAYS_DEFAULT = 3;
/** How long a refill expectation waits for the refill (wall ms). */
export const REFILL_EXPECT_MS = 4 * 3_600_000;
const MAX_DOSES = 1000;

export interface StockItem {
  readonly comp: string;
  /** Doses left (null: the tray cannot be read now). */
  readonly doses: number | null;
  /** Fixed doses of this compartment per day (0: as-needed only). */
  readonly perDay: number;
  /** Days the doses last at that pace, to 0.1 (null when unknown or as-needed only). */
  readonly days: number | null;
}

type Log = (type: EventType, cls: EventClass, data: Record<string, unknown>) => void;

export function dosesPerDay(cfg: DispenserConfig, compId: string): number {
  let n = 0;
  for (const d of cfg.doses) if (d.compartment === compId) n += (d.days === undefined ? 7 : d.days.length) / 7;
  return n;
}

export function stockItem(cfg: DispenserConfig, comp: Compartment, grams: number | undefined): StockItem {
  const size = doseSize(cfg, comp.id);
  const perDay = dosesPerDay(cfg, comp.id);
  const doses =
    grams === undefined || !Number.isFinite(grams) || size.mg <= 0
      ? null
      : Math.max(0, Math.min(MAX_DOSES, Math.round((grams * 1000) / size.mg)));
  const days = doses === null || perDay <= 0 ? null : Math.floor((doses / perDay) * 10) / 10;
  return { comp: comp.id, doses, perDay: Math.round(perDay * 1000) / 1000, days };
}

export function stockOf(a: Active | undefined, gramsOf: (channel: number) => number | undefined): StockItem[] {
  const out: StockItem[] = [];
  if (a === undefined) return out;
  for (const c of a.cfg.compartments) out.push(stockItem(a.cfg, c, gramsOf(c.channel)));
  return out;
}

/** After the mass of a tray changed (in the caller's transaction): the low-stock episode of its compartment; true if it changed. */
export function checkStock(a: Active, st: StateRecord, comp: Compartment, grams: number | undefined, log: Log): boolean {
  const s = stockItem(a.cfg, comp, grams);
  if (s.days === null) return false;
  const lowDays = a.cfg.stock?.lowDays ?? STOCK_LOW_DAYS_DEFAULT;
  const low = st.low ?? [];
  const inEpisode = low.indexOf(comp.id) >= 0;
  if (s.days < lowDays && !inEpisode) {
    st.low = low.concat([comp.id]);
    log(EV.STOCK_LOW, "alert", { comp: comp.id, doses: s.doses, days: s.days, lowDays });
    return true;
  }
  if (s.days >= lowDays && inEpisode) {
    st.low = low.filter((c) => c !== comp.id);
    return true;
  }
  return false;
}

/** Every compartment whose tray is at rest (the planner's sweep, at most a minute apart); true if an episode changed. */
export function checkAllStock(a: Active, st: StateRecord, ch: LoadChannels, log: Log): boolean {
  let changed = false;
  for (const c of a.cfg.compartments) if (checkStock(a, st, c, ch.contentGrams(c.channel), log)) changed = true;
  return changed;
}

/** checkStock for the compartment on `channel`, with its tray's mass now. */
export function checkStockOf(a: Active, st: StateRecord, channel: number, ch: LoadChannels, log: Log): void {
  const comp = a.cfg.compartments.find((k) => k.channel === channel);
  if (comp !== undefined) checkStock(a, st, comp, ch.contentGrams(channel), log);
}

/** A refill was seen (delta `grams`, tray now `total` grams): the refill events, then its verification and stock. */
export function onRefill(
  a: Active,
  st: StateRecord,
  comp: Compartment,
  grams: number,
  total: number | undefined,
  now: number | undefined,
  log: Log,
): void {
  for (const e of refillEvents(a.cfg, comp, grams)) log(e.type, e.cls, e.data);
  const exp = st.expect?.[comp.id];
  if (exp !== undefined) {
    delete st.expect![comp.id];
    if (now === undefined || now <= exp[1]) verify(a, comp, exp[0], total, log);
  }
  checkStock(a, st, comp, total, log);
}

function verify(a: Active, comp: Compartment, expected: number, total: number | undefined, log: Log): boolean {
  const s = stockItem(a.cfg, comp, total);
  const ok = s.doses === expected;
  log(ok ? EV.REFILL_VERIFIED : EV.REFILL_MISMATCH, ok ? "info" : "alert", { comp: comp.id, doses: s.doses, expected });
  return ok;
}

/** The `refill` command: "OK" (verified now, or expected at the next refill) or a refusal code. */
export function expectRefill(
  a: Active | undefined,
  st: StateRecord,
  args: Record<string, unknown>,
  gramsOf: (channel: number) => number | undefined,
  now: number | undefined,
  log: Log,
): string {
  if (a === undefined || now === undefined) return "CMD_NOT_READY";
  const comp = a.cfg.compartments.find((c) => c.id === args.comp);
  const doses = args.doses;
  if (comp === undefined) return "CMD_NO_COMPARTMENT";
  if (typeof doses !== "number" || !Number.isInteger(doses) || doses < 0 || doses > MAX_DOSES) return "CMD_ARGS";
  const total = gramsOf(comp.channel);
  const s = stockItem(a.cfg, comp, total);
  if (s.doses === doses) {
    verify(a, comp, doses, total, log);
    checkStock(a, st, comp, total, log);
    return "OK";
  }
  st.expect = { ...(st.expect ?? {}), [comp.id]: [doses, now + REFILL_EXPECT_MS] };
  log(EV.REFILL_EXPECTED, "info", { comp: comp.id, expected: doses, doses: s.doses, until: isoUtc(now + REFILL_EXPECT_MS) });
  return "OK";
}

/** expectRefill in a transaction of the dispenser (the expectation is part of the state record). */
export function refillCommand(
  tx: (fn: () => boolean) => void,
  a: Active | undefined,
  st: StateRecord,
  args: Record<string, unknown>,
  ch: LoadChannels,
  now: number | undefined,
  log: Log,
): string {
  let r = "CMD_NOT_READY";
  tx(() => {
    r = expectRefill(a, st, args, (c) => ch.contentGrams(c), now, log);
    return true;
  });
  return r;
}
