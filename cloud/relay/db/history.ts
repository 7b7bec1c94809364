/**
 * History reads of the relay store, off the hot path (docs/relay.md, "HTTP API"): events carry
 * their day (events.day, indexed with device and type) and are read in pages, the event loop
 * given back between pages so that ingest goes on during a long read.
 */
import type { StoredEvent } from "../types";
import type { SqlDriver } from "./drivers";
import { num, numOrNull, strOrNull } from "./rows";

/** Rows per page of a history read. */
export const EVENTS_PAGE = 500;

/** The day an event belongs to: its slot's local date ("am@2026-03-10"), else the UTC date of its time. */
export function dayOf(e: { slot: string | null; tMs: number | null; receivedAt: number }): string {
  const at = e.slot?.indexOf("@") ?? -1;
  if (e.slot && at >= 0 && /^\d{4}-\d{2}-\d{2}$/.test(e.slot.slice(at + 1))) return e.slot.slice(at + 1);
  return new Date(e.tMs ?? e.receivedAt).toISOString().slice(0, 10);
}

/** Events of a device, oldest first, optionally of some types and days (inclusive). */
export async function readEvents(
  d: SqlDriver,
  device: string,
  types?: readonly string[],
  days?: { from: string; to: string },
): Promise<StoredEvent[]> {
  const out: StoredEvent[] = [];
  const params: (string | number)[] = [device];
  let where = "device = $1";
  if (days !== undefined) {
    params.push(days.from, days.to);
    where += " AND day >= $2 AND day <= $3";
  }
  if (types !== undefined) {
    if (types.length === 0) return out;
    where += ` AND type IN (${types.map((t) => "$" + params.push(t)).join(",")})`;
  }
  let after: { at: number; id: string } | undefined;
  for (;;) {
    const n = params.length;
    const page = after === undefined ? "" : ` AND (received_at > $${n + 1} OR (received_at = $${n + 1} AND id > $${n + 2}))`;
    const rows = await d.all(
      `SELECT * FROM events WHERE ${where}${page} ORDER BY received_at, id LIMIT ${EVENTS_PAGE}`,
      after === undefined ? params : [...params, after.at, after.id],
    );
    for (const r of rows)
      out.push({
        device,
        id: String(r.id),
        seq: numOrNull(r.seq),
        type: String(r.type),
        tMs: numOrNull(r.t_ms),
        slot: strOrNull(r.slot),
        data: JSON.parse(String(r.data)) as Record<string, unknown>,
        receivedAt: num(r.received_at),
      });
    if (rows.length < EVENTS_PAGE) return out.sort((a, b) => a.receivedAt - b.receivedAt || (a.seq ?? 0) - (b.seq ?? 0));
    const last = rows[rows.length - 1];
    after = { at: num(last.received_at), id: String(last.id) };
    await new Promise((r) => setImmediate(r));
  }
}
