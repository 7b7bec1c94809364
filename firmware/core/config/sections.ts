/**
 * The config's sections. Each reader returns the normalized value, or undefined when something
 * in it failed (the failures are in the Ctx).
 */
import type {
  Compartment,
  ConfigDefaults,
  DoseWindow,
  EscalationStep,
  FixedDose,
  HelpConfig,
  StockConfig,
  Ladder,
  Medication,
  PrnDose,
  SoundPattern,
  Weekday,
} from "./types";
import { CHANNELS, REMOTE_CHANNELS as REMOTE, SOUND_PATTERNS as PATTERNS } from "../protocol/channels";
import { ITEM_ID_RE as ID_RE } from "../protocol/ids";
import {
  array,
  at,
  type Ctx,
  date,
  describe,
  int,
  MISSING,
  num,
  object,
  oneOf,
  own,
  recipients,
  str,
  text,
  token,
  type Slot,
} from "./fields";
import {
  COMPARTMENT_KEYS,
  CONFIG_LIMITS,
  CONFIG_MAX_INDEX,
  DEFAULT_LADDER_ID,
  DEFAULT_SILENCE_S,
  DEFAULTS_KEYS,
  DOSE_KEYS,
  LADDER_KEYS,
  MED_KEYS,
  PRN_KEYS,
  HELP_KEYS,
  STOCK_KEYS,
  STEP_KEYS,
  TIME_RE,
  WEEKDAYS,
  WINDOW_KEYS,
  type HardwareLimits,
} from "./limits";

export function checkWindow(ctx: Ctx, v: Slot, path: string): DoseWindow | undefined {
  const o = object(ctx, v, path, WINDOW_KEYS);
  if (o === undefined) return undefined;
  const n = ctx.errors.length;
  const earlyMin = int(ctx, own(o, "earlyMin"), at(path, "earlyMin"), 0, 240);
  const lateMin = int(ctx, own(o, "lateMin"), at(path, "lateMin"), 1, 720);
  const missedMin = int(ctx, own(o, "missedMin"), at(path, "missedMin"), 1, 720);
  if (lateMin !== undefined && missedMin !== undefined && lateMin >= missedMin) {
    ctx.add("CFG_WINDOW", path, `lateMin (${lateMin}) must be less than missedMin (${missedMin})`);
  }
  if (ctx.errors.length !== n || earlyMin === undefined || lateMin === undefined || missedMin === undefined) {
    return undefined;
  }
  return { earlyMin, lateMin, missedMin };
}

export function checkMed(ctx: Ctx, v: Slot, path: string): Medication | undefined {
  const o = object(ctx, v, path, MED_KEYS);
  if (o === undefined) return undefined;
  const n = ctx.errors.length;
  const name = text(ctx, own(o, "name"), at(path, "name"), 40);
  const count = int(ctx, own(o, "count"), at(path, "count"), 1, 10);
  const unitMg = num(ctx, own(o, "unitMg"), at(path, "unitMg"), 20, 3000);
  if (ctx.errors.length !== n || name === undefined || count === undefined || unitMg === undefined) return undefined;
  return { name, count, unitMg };
}

export function checkCompartment(ctx: Ctx, v: Slot, path: string, hw: HardwareLimits): Compartment | undefined {
  const o = object(ctx, v, path, COMPARTMENT_KEYS);
  if (o === undefined) return undefined;
  const n = ctx.errors.length;
  const id = token(ctx, own(o, "id"), at(path, "id"), ID_RE, "an id [a-z0-9_-]{1,12}");
  const label = text(ctx, own(o, "label"), at(path, "label"), 24);
  const channel = int(ctx, own(o, "channel"), at(path, "channel"), 0, CONFIG_MAX_INDEX);
  if (channel !== undefined && channel >= hw.channels) {
    ctx.add("CFG_HW", at(path, "channel"), `channel ${channel} does not exist: the hardware has ${hw.channels} (0..${hw.channels - 1})`);
  }
  const led = int(ctx, own(o, "led"), at(path, "led"), 0, CONFIG_MAX_INDEX);
  if (led !== undefined && led >= hw.leds) {
    ctx.add("CFG_HW", at(path, "led"), `LED ${led} does not exist: the hardware has ${hw.leds} (0..${hw.leds - 1})`);
  }
  const mp = at(path, "meds");
  const items = array(ctx, own(o, "meds"), mp, 1, CONFIG_LIMITS.meds);
  const meds: Medication[] = [];
  if (items !== undefined) {
    for (let i = 0; i < items.length && !ctx.full; i++) {
      const m = checkMed(ctx, items[i], `${mp}[${i}]`);
      if (m === undefined) continue;
      let dup = false;
      for (let j = 0; j < meds.length; j++) if (meds[j]!.name === m.name) dup = true;
      if (dup)
        ctx.add(
          "CFG_DUPLICATE",
          `${mp}[${i}].name`,
          `medication ${JSON.stringify(m.name)} is listed twice in this compartment (use count)`,
        );
      else meds.push(m);
    }
  }
  if (ctx.errors.length !== n || id === undefined || label === undefined || channel === undefined || led === undefined) {
    return undefined;
  }
  return { id, label, channel, led, meds };
}

export interface DoseDraft {
  dose: FixedDose | undefined;
  /** Fields usable by cross-checks even when another field of the dose failed. */
  id: string | undefined;
  compartment: string | undefined;
  minute: number | undefined;
  days: Weekday[] | undefined;
  start: string | undefined;
  end: string | undefined;
  window: DoseWindow | undefined;
  windowGiven: boolean;
  ladder: string | undefined;
  ladderGiven: boolean;
}

export function checkDose(ctx: Ctx, v: Slot, path: string): DoseDraft | undefined {
  const o = object(ctx, v, path, DOSE_KEYS);
  if (o === undefined) return undefined;
  const n = ctx.errors.length;
  const id = token(ctx, own(o, "id"), at(path, "id"), ID_RE, "an id [a-z0-9_-]{1,12}");
  const compartment = token(ctx, own(o, "compartment"), at(path, "compartment"), ID_RE, "a compartment id");
  const atStr = str(ctx, own(o, "at"), at(path, "at"));
  let minute: number | undefined;
  if (atStr !== undefined) {
    if (TIME_RE.test(atStr)) minute = Number(atStr.slice(0, 2)) * 60 + Number(atStr.slice(3, 5));
    else ctx.add("CFG_FORMAT", at(path, "at"), `must be a local time "HH:MM" (00:00..23:59), got ${describe(atStr)}`);
  }
  let days: Weekday[] | undefined;
  const dv = own(o, "days");
  if (dv === MISSING) days = WEEKDAYS.slice();
  else {
    const dp = at(path, "days");
    const items = array(ctx, dv, dp, 1, 7);
    if (items !== undefined) {
      const seen: boolean[] = [false, false, false, false, false, false, false];
      let bad = items.length === 0;
      for (let i = 0; i < items.length; i++) {
        const d = oneOf(ctx, items[i], `${dp}[${i}]`, WEEKDAYS);
        if (d === undefined) {
          bad = true;
          continue;
        }
        const k = WEEKDAYS.indexOf(d);
        if (seen[k]) {
          ctx.add("CFG_DUPLICATE", `${dp}[${i}]`, `day ${JSON.stringify(d)} is listed twice`);
          bad = true;
        }
        seen[k] = true;
      }
      if (!bad) days = WEEKDAYS.filter((_, k) => seen[k]); // normalized: week order
    }
  }
  const sv = own(o, "start");
  const start = sv === MISSING ? undefined : date(ctx, sv, at(path, "start"));
  const ev = own(o, "end");
  const end = ev === MISSING ? undefined : date(ctx, ev, at(path, "end"));
  if (start !== undefined && end !== undefined && start > end) {
    ctx.add("CFG_DATES", at(path, "end"), `end ${end} is before start ${start}`);
  }
  const wv = own(o, "window");
  const windowGiven = wv !== MISSING;
  const window = windowGiven ? checkWindow(ctx, wv, at(path, "window")) : undefined;
  const lv = own(o, "ladder");
  const ladderGiven = lv !== MISSING;
  const ladder = ladderGiven ? token(ctx, lv, at(path, "ladder"), ID_RE, "a ladder id") : DEFAULT_LADDER_ID;

  let dose: FixedDose | undefined;
  if (
    ctx.errors.length === n &&
    id !== undefined &&
    compartment !== undefined &&
    atStr !== undefined &&
    days !== undefined &&
    ladder !== undefined
  ) {
    // window is filled in later from defaults when not given.
    const d: { -readonly [K in keyof FixedDose]: FixedDose[K] } = { id, compartment, at: atStr, days };
    if (start !== undefined) d.start = start;
    if (end !== undefined) d.end = end;
    if (window !== undefined) d.window = window;
    d.ladder = ladder;
    dose = d;
  }
  return { dose, id, compartment, minute, days, start, end, window, windowGiven, ladder, ladderGiven };
}

export function checkPrn(
  ctx: Ctx,
  v: Slot,
  path: string,
): { prn: PrnDose | undefined; id: string | undefined; compartment: string | undefined } | undefined {
  const o = object(ctx, v, path, PRN_KEYS);
  if (o === undefined) return undefined;
  const n = ctx.errors.length;
  const id = token(ctx, own(o, "id"), at(path, "id"), ID_RE, "an id [a-z0-9_-]{1,12}");
  const compartment = token(ctx, own(o, "compartment"), at(path, "compartment"), ID_RE, "a compartment id");
  const maxPer24h = int(ctx, own(o, "maxPer24h"), at(path, "maxPer24h"), 1, 12);
  const minIntervalMin = int(ctx, own(o, "minIntervalMin"), at(path, "minIntervalMin"), 0, 1440);
  const mpi = own(o, "maxPerIntake");
  const maxPerIntake = mpi === MISSING ? 0 : int(ctx, mpi, at(path, "maxPerIntake"), 1, 12);
  const alert = recipients(ctx, own(o, "alert"), at(path, "alert"), 0);
  let prn: PrnDose | undefined;
  if (
    ctx.errors.length === n &&
    id !== undefined &&
    compartment !== undefined &&
    maxPer24h !== undefined &&
    minIntervalMin !== undefined &&
    maxPerIntake !== undefined &&
    alert !== undefined
  ) {
    prn = { id, compartment, maxPer24h, minIntervalMin, ...(maxPerIntake > 0 ? { maxPerIntake } : {}), alert };
  }
  return { prn, id, compartment };
}

export function checkStep(ctx: Ctx, v: Slot, path: string): EscalationStep | undefined {
  const o = object(ctx, v, path, STEP_KEYS);
  if (o === undefined) return undefined;
  const n = ctx.errors.length;
  const afterMin = int(ctx, own(o, "afterMin"), at(path, "afterMin"), 0, 1440);
  const channel = oneOf(ctx, own(o, "channel"), at(path, "channel"), CHANNELS);
  const pv = own(o, "pattern");
  const vv = own(o, "volume");
  const tv = own(o, "to");
  let pattern: SoundPattern | undefined;
  let volume: number | undefined;
  let to: string[] | undefined;
  if (channel === "sound") {
    pattern = oneOf(ctx, pv, at(path, "pattern"), PATTERNS);
    volume = int(ctx, vv, at(path, "volume"), 1, 100);
  } else if (channel !== undefined) {
    if (pv !== MISSING) ctx.add("CFG_NOT_ALLOWED", at(path, "pattern"), `pattern is only allowed on sound steps, not ${channel}`);
    if (vv !== MISSING) ctx.add("CFG_NOT_ALLOWED", at(path, "volume"), `volume is only allowed on sound steps, not ${channel}`);
  }
  if (channel !== undefined && (REMOTE as readonly string[]).indexOf(channel) >= 0) {
    to = recipients(ctx, tv, at(path, "to"), 1);
  } else if (channel !== undefined && tv !== MISSING) {
    ctx.add("CFG_NOT_ALLOWED", at(path, "to"), `recipients are only allowed on push, sms and call steps, not ${channel}`);
  }
  const rv = own(o, "repeat");
  const ev = own(o, "everyMin");
  const repeat = rv === MISSING ? undefined : int(ctx, rv, at(path, "repeat"), 0, 10);
  const everyMin = ev === MISSING ? undefined : int(ctx, ev, at(path, "everyMin"), 1, 1440);
  if (repeat !== undefined && repeat > 0 && ev === MISSING) {
    ctx.add("CFG_REQUIRED", at(path, "everyMin"), "is required when repeat > 0");
  }
  if (ev !== MISSING && (rv === MISSING || repeat === 0)) {
    ctx.add("CFG_NOT_ALLOWED", at(path, "everyMin"), "everyMin is only allowed with repeat > 0");
  }
  if (afterMin !== undefined && repeat !== undefined && everyMin !== undefined && afterMin + repeat * everyMin > 1440) {
    ctx.add("CFG_RANGE", at(path, "repeat"), `last repetition would be ${afterMin + repeat * everyMin} min after due, at most 1440`);
  }
  if (ctx.errors.length !== n || afterMin === undefined || channel === undefined) return undefined;
  const s: { -readonly [K in keyof EscalationStep]: EscalationStep[K] } = { afterMin, channel };
  if (pattern !== undefined) s.pattern = pattern;
  if (volume !== undefined) s.volume = volume;
  if (to !== undefined) s.to = to;
  if (repeat !== undefined) s.repeat = repeat;
  if (everyMin !== undefined) s.everyMin = everyMin;
  return s;
}

export function checkLadder(ctx: Ctx, v: Slot, path: string): { ladder: Ladder | undefined; id: string | undefined } | undefined {
  const o = object(ctx, v, path, LADDER_KEYS);
  if (o === undefined) return undefined;
  const n = ctx.errors.length;
  const id = token(ctx, own(o, "id"), at(path, "id"), ID_RE, "an id [a-z0-9_-]{1,12}");
  const sp = at(path, "steps");
  const items = array(ctx, own(o, "steps"), sp, 1, CONFIG_LIMITS.steps);
  const steps: EscalationStep[] = [];
  if (items !== undefined) {
    let prev: number | undefined;
    for (let i = 0; i < items.length && !ctx.full; i++) {
      const p = `${sp}[${i}]`;
      const s = checkStep(ctx, items[i], p);
      if (s === undefined) {
        prev = undefined;
        continue;
      }
      if (i === 0 && (s.afterMin !== 0 || (s.channel !== "led" && s.channel !== "sound"))) {
        ctx.add("CFG_LADDER", p, `a ladder must start with a local step (led or sound) at afterMin 0, got ${s.channel} at ${s.afterMin}`);
      }
      if (prev !== undefined && s.afterMin < prev) {
        ctx.add("CFG_LADDER", at(p, "afterMin"), `steps must be ordered by afterMin: ${s.afterMin} comes after ${prev}`);
      }
      prev = s.afterMin;
      steps.push(s);
    }
  }
  if (ctx.errors.length !== n || id === undefined) return { ladder: undefined, id };
  return { ladder: { id, steps }, id };
}

export function checkDefaults(ctx: Ctx, v: Slot, path: string): ConfigDefaults | undefined {
  const o = object(ctx, v, path, DEFAULTS_KEYS);
  if (o === undefined) return undefined;
  const window = checkWindow(ctx, own(o, "window"), at(path, "window"));
  const sv = own(o, "silenceS");
  const silenceS = sv === MISSING ? DEFAULT_SILENCE_S : int(ctx, sv, at(path, "silenceS"), 10, 900);
  if (window === undefined || silenceS === undefined) return undefined;
  return { window, silenceS };
}

// ---------------------------------------------------------------------------------------------
// Cross-checks

/** `help`: who a long press of the button reaches, on which remote channel. */
export function checkHelp(ctx: Ctx, v: Slot, path: string): HelpConfig | undefined {
  const o = object(ctx, v, path, HELP_KEYS);
  if (o === undefined) return undefined;
  const to = recipients(ctx, own(o, "to"), at(path, "to"), 1);
  const channel = oneOf(ctx, own(o, "channel"), at(path, "channel"), REMOTE);
  return to !== undefined && channel !== undefined ? { to, channel } : undefined;
}

/** `stock`: below how many days of doses a compartment is low (1..30). */
export function checkStockConfig(ctx: Ctx, v: Slot, path: string): StockConfig | undefined {
  const o = object(ctx, v, path, STOCK_KEYS);
  if (o === undefined) return undefined;
  const lowDays = int(ctx, own(o, "lowDays"), at(path, "lowDays"), 1, 30);
  return lowDays !== undefined ? { lowDays } : undefined;
}
