/**
 * Load events that only leave a record (no dose logic): a lift, a bump, and a removal the weight
 * cannot confirm (`removal.uncertain`: never credited to a dose, so the slot stays open and its
 * ladder goes on; docs/load-cells.md, "Uncertain removals"). XS-clean.
 */
import type { EventClass } from "../log/eventlog";
import { EV, type EventType } from "../protocol/events";
import type { LoadEvent } from "./events";

export interface LoadNote {
  readonly type: EventType;
  readonly cls: EventClass;
  readonly data: Record<string, unknown>;
}

/** Log a lift, a bump or an uncertain removal of compartment `comp`. */
export function noteLoad(
  ev: LoadEvent & { kind: "lift" | "bump" | "uncertain" },
  comp: string,
  log: (type: EventType, cls: EventClass, data: Record<string, unknown>) => unknown,
): void {
  const n = loadNote(ev, comp);
  log(n.type, n.cls, n.data);
}

export function loadNote(ev: LoadEvent & { kind: "lift" | "bump" | "uncertain" }, comp: string): LoadNote {
  if (ev.kind === "uncertain") {
    // A dose-class event: what the patient may have done is never the one dropped.
    const data = { comp, pills: ev.pills, mg: Math.round(ev.grams * 1000), confidence: ev.confidence };
    return { type: EV.REMOVAL_UNCERTAIN, cls: "dose", data };
  }
  return { type: ev.kind === "lift" ? EV.LOAD_LIFT : EV.LOAD_BUMP, cls: "info", data: { comp } };
}
