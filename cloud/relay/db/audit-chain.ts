/**
 * Tamper-evident relay audit (docs/security.md, "Audit"): every audit row is sealed, in id order,
 * with hash = H(previous hash, id, t, actor, action, device, code, detail) — HMAC-SHA-256 under
 * the operator's audit key when one is configured (RELAY_AUDIT_KEY: someone with write access to
 * the database alone cannot re-seal a changed chain), else SHA-256. One instance seals at a time
 * (database lease); rows are inserted unsealed by any instance in their own transaction, so
 * sealing never serialises the relay's writes. A changed, removed or inserted row breaks every
 * later hash; verification names the first row that does not match.
 */
import { createHash, createHmac } from "node:crypto";
import type { AuditEntry } from "../types";
import type { SqlDriver } from "./drivers";
import { num, strOrNull } from "./rows";

/** The chain's start (before the first row). */
export const AUDIT_GENESIS = "dosekeeper-relay-audit-v1";
/** A gap in ids younger than this may be a transaction still committing: sealing waits for it. */
export const SEAL_GAP_WAIT_MS = 30_000;
const SEAL_BATCH = 500;

type Row = AuditEntry & { id: number };

/** An audit row as stored, to an entry (also the API's rows). */
export function rowOf(r: Record<string, unknown>): Row {
  return {
    id: num(r.id),
    t: num(r.t),
    actor: String(r.actor),
    action: String(r.action),
    device: strOrNull(r.device),
    code: strOrNull(r.code),
    detail: String(r.detail),
  };
}

export function auditHash(prev: string, r: Row, key: string | undefined): string {
  const text = [prev, r.id, r.t, r.actor, r.action, r.device ?? "", r.code ?? "", r.detail].join("\n");
  return (key ? createHmac("sha256", key) : createHash("sha256")).update(text).digest("hex");
}

/** Seals the rows after the last sealed one, in id order; returns how many. */
export async function sealAudit(d: SqlDriver, key: string | undefined, now: number): Promise<number> {
  const last = await d.all(`SELECT id, hash FROM audit WHERE hash IS NOT NULL ORDER BY id DESC LIMIT 1`);
  let prev = last.length > 0 ? String(last[0].hash) : AUDIT_GENESIS;
  let lastId = last.length > 0 ? num(last[0].id) : 0;
  let sealed = 0;
  for (;;) {
    const rows = (await d.all(`SELECT * FROM audit WHERE id > $1 ORDER BY id LIMIT ${SEAL_BATCH}`, [lastId])).map(rowOf);
    for (const r of rows) {
      // ids are handed out before commit: a missing id may still be committing (wait), or was
      // rolled back long ago (go on)
      if (r.id !== lastId + 1 && now - r.t < SEAL_GAP_WAIT_MS) return sealed;
      const h = auditHash(prev, r, key);
      if ((await d.run(`UPDATE audit SET hash = $1 WHERE id = $2 AND hash IS NULL`, [h, r.id])) !== 1) return sealed; // another sealer
      prev = h;
      lastId = r.id;
      sealed++;
    }
    if (rows.length < SEAL_BATCH) return sealed;
  }
}

export interface AuditVerdict {
  readonly ok: boolean;
  readonly sealed: number;
  /** Rows not sealed yet (the newest, or after a break). */
  readonly unsealed: number;
  /** First row whose hash does not match the chain (changed, or a row before it removed/inserted). */
  readonly firstBad?: number;
}

export async function verifyAudit(d: SqlDriver, key: string | undefined): Promise<AuditVerdict> {
  let prev = AUDIT_GENESIS;
  let lastId = 0;
  let sealed = 0;
  let unsealed = 0;
  let sealedAfterUnsealed = false;
  for (;;) {
    const rows = await d.all(`SELECT * FROM audit WHERE id > $1 ORDER BY id LIMIT ${SEAL_BATCH}`, [lastId]);
    for (const raw of rows) {
      const r = rowOf(raw);
      lastId = r.id;
      const h = strOrNull(raw.hash);
      if (h === null) {
        unsealed++;
        continue;
      }
      if (unsealed > 0) sealedAfterUnsealed = true;
      if (sealedAfterUnsealed || auditHash(prev, r, key) !== h) return { ok: false, sealed, unsealed, firstBad: r.id };
      prev = h;
      sealed++;
    }
    if (rows.length < SEAL_BATCH) return { ok: true, sealed, unsealed };
    await new Promise((r) => setImmediate(r));
  }
}
