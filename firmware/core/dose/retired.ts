/**
 * Slot identity across clock steps and config or time-zone changes: the ids of the slots that
 * are finished (taken, missed with the ladder run out, closed by catch-up, cancelled) are kept,
 * newest last, so no later pass opens the same slot again — a clock stepped back, a time zone
 * moved west, a config re-applied after a power cut. Bounded: the RETIRED_MAX newest ids (about
 * three weeks at three doses a day); a clock stepped back further than that is out of scope
 * (docs/scenarios.md, "Slot identity").
 */
/** The part of the state record (config/active StateRecord) this module reads and writes. */
interface Known {
  slots: readonly { readonly id: string }[];
  done?: string[];
}

export const RETIRED_MAX = 64;

export function retire(st: Known, id: string): void {
  const done = st.done ?? [];
  const i = done.indexOf(id);
  if (i >= 0) done.splice(i, 1);
  done.push(id);
  if (done.length > RETIRED_MAX) done.splice(0, done.length - RETIRED_MAX);
  st.done = done;
}

/** The slot is in the state already (open or finished): it must not be opened again. */
export function known(st: Known, id: string): boolean {
  if (st.slots.some((s) => s.id === id)) return true;
  return st.done !== undefined && st.done.indexOf(id) >= 0;
}

/** The persisted list, checked: strings only, bounded. */
export function parseRetired(x: unknown): string[] | undefined {
  if (!Array.isArray(x)) return undefined;
  const out = x.filter((v): v is string => typeof v === "string" && v.length <= 64);
  return out.length > RETIRED_MAX ? out.slice(out.length - RETIRED_MAX) : out;
}
