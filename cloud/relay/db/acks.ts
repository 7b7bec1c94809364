/**
 * Caregiver acknowledgements in the relay store (docs/relay.md, "Acknowledgement"): one row per
 * (device, slot): who acknowledged, on which channel, when, and until when the remote chain of
 * that slot stays quiet. Acknowledging cancels the slot's pending (not in-flight) jobs.
 */
import type { Param, SqlDriver } from "./drivers";
import { num, strOrNull } from "./rows";
import type { Ack, SentJob } from "../types";

export async function ackSlot(d: SqlDriver, a: Ack): Promise<{ first: boolean; keys: string[] }> {
  return d.tx(async (q) => {
    const before = await q.all(`SELECT until_t FROM acks WHERE device = $1 AND slot = $2`, [a.device, a.slot]);
    await q.run(
      `INSERT INTO acks (device, slot, person, ref, ch, via, t, until_t) VALUES ($1,$2,$3,$4,$5,$6,$7,$8)
      ON CONFLICT (device, slot) DO UPDATE SET person = excluded.person, ref = excluded.ref, ch = excluded.ch,
        via = excluded.via, t = excluded.t, until_t = excluded.until_t`,
      [a.device, a.slot, a.person, a.ref, a.ch, a.via, a.t, a.until] as Param[],
    );
    const rows = await q.all(
      `UPDATE jobs SET state = 'cancelled', code = 'ACKED', updated_at = $3
      WHERE device = $1 AND slot = $2 AND state = 'pending' AND lease_until <= $3 RETURNING key`,
      [a.device, a.slot, a.t],
    );
    return { first: before.length === 0 || num(before[0].until_t) <= a.t, keys: [...new Set(rows.map((r) => String(r.key)))] };
  });
}

export async function ackOf(d: SqlDriver, device: string, slot: string): Promise<Ack | null> {
  const rows = await d.all(`SELECT * FROM acks WHERE device = $1 AND slot = $2`, [device, slot]);
  if (rows.length === 0) return null;
  const r = rows[0];
  return {
    device,
    slot,
    person: String(r.person),
    ref: String(r.ref),
    ch: String(r.ch),
    via: String(r.via),
    t: num(r.t),
    until: num(r.until_t),
  };
}

/** Notifications actually sent (newest first) of a slot's chain: to this person (and key), since `since`. */
export async function sentJobs(d: SqlDriver, person: string, o: { key?: string; ch?: string; since: number }): Promise<SentJob[]> {
  const params: Param[] = [person, o.since];
  let where = "person = $1 AND state = 'sent' AND slot IS NOT NULL AND updated_at >= $2";
  if (o.key !== undefined) where += ` AND key = $${params.push(o.key)}`;
  if (o.ch !== undefined) where += ` AND ch = $${params.push(o.ch)}`;
  const rows = await d.all(
    `SELECT key, device, slot, ref, ch, kind, updated_at FROM jobs WHERE ${where} ORDER BY updated_at DESC, id DESC LIMIT 20`,
    params,
  );
  return rows.map((r) => ({
    key: String(r.key),
    device: String(r.device),
    slot: strOrNull(r.slot) ?? "",
    ref: String(r.ref),
    ch: String(r.ch),
    kind: String(r.kind),
    at: num(r.updated_at),
  }));
}
