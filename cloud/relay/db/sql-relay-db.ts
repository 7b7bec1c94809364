/**
 * The relay store over SQL (docs/relay.md): requests and their jobs claimed once, leases, receipts,
 * devices' liveness, events, configs, audit; every write in the caller's transaction.
 */
import type {
  Ack,
  SentJob,
  AuditEntry,
  DeviceState,
  Job,
  JobState,
  KeySummary,
  NewJob,
  NewRequest,
  ReceiptStatus,
  RelayDb,
  StoredConfig,
  StoredEvent,
} from "../types";
import { TxDriver, type Param, type SqlDriver } from "./drivers";
import { type AuditVerdict, rowOf, sealAudit, verifyAudit } from "./audit-chain";
import { dayOf, readEvents } from "./history";
import { ackOf, ackSlot, sentJobs } from "./acks";
import { initSchema } from "./schema";
import { num, numOrNull, strOrNull, rowToJob, jobParams, INSERT_JOB } from "./rows";

export class SqlRelayDb implements RelayDb {
  constructor(private readonly d: SqlDriver) {}
  get kind(): "sqlite" | "postgres" {
    return this.d.kind;
  }

  init(): Promise<void> {
    return initSchema(this.d);
  }

  close(): Promise<void> {
    return this.d.close();
  }

  /**
   * Group commit: the units run one after the other inside ONE transaction (one commit, one WAL
   * write for SQLite). All or nothing: if a unit throws, everything is rolled back and the call
   * rejects with that error (the caller then retries the units one by one).
   */
  batch(units: readonly ((tx: RelayDb) => Promise<void>)[]): Promise<void> {
    return this.d.tx(async (q) => {
      const view = new SqlRelayDb(new TxDriver(this.d.kind, q));
      for (const u of units) await u(view);
    });
  }

  claimRequest(req: NewRequest, jobs: NewJob[]): Promise<boolean> {
    return this.d.tx(async (q) => {
      const n = await q.run(
        `INSERT INTO requests (key, device, slot, evt_id, ch, received_at, wants_receipt)
        VALUES ($1,$2,$3,$4,$5,$6,$7) ON CONFLICT (key) DO NOTHING`,
        [req.key, req.device, req.slot, req.evtId, req.ch, req.receivedAt, req.wantsReceipt ? 1 : 0],
      );
      if (n !== 1) return false;
      for (const j of jobs) await q.run(INSERT_JOB, jobParams(j, req.receivedAt));
      return true;
    });
  }

  async addJob(job: NewJob): Promise<boolean> {
    return (await this.d.run(INSERT_JOB, jobParams(job, job.nextAt))) === 1;
  }

  async leaseJobs(owner: string, now: number, leaseMs: number, limit: number): Promise<Job[]> {
    const skip = this.d.kind === "postgres" ? " FOR UPDATE SKIP LOCKED" : "";
    // The outer re-check makes PostgreSQL re-evaluate a row another transaction just leased; in SQLite
    // (one writer) the unary + keeps the planner on the id list instead of scanning every pending job.
    const recheck = this.d.kind === "postgres" ? "state = 'pending' AND lease_until <= $3" : "+state = 'pending' AND +lease_until <= $3";
    const rows = await this.d.all(
      `UPDATE jobs SET owner = $1, lease_until = $2
      WHERE id IN (SELECT j.id FROM jobs j WHERE j.state = 'pending' AND j.next_at <= $3 AND j.lease_until <= $3
        AND NOT EXISTS (SELECT 1 FROM resolved r WHERE r.device = j.device AND r.slot = j.slot)
        ORDER BY j.next_at LIMIT $4${skip})
      AND ${recheck} RETURNING *`,
      [owner, now + leaseMs, now, limit],
    );
    return rows.map(rowToJob).sort((a, b) => a.nextAt - b.nextAt || a.id - b.id);
  }

  async finishJob(
    id: number,
    owner: string,
    u: { state: JobState; attempts: number; nextAt?: number; code?: string | null; providerId?: string | null; now: number },
  ): Promise<boolean> {
    // A job sent back to pending (retry) whose slot got resolved meanwhile is cancelled instead.
    const state =
      u.state === "pending"
        ? `CASE WHEN EXISTS (SELECT 1 FROM resolved r WHERE r.device = jobs.device AND r.slot = jobs.slot) THEN 'cancelled' ELSE $1 END`
        : "$1";
    const n = await this.d.run(
      `UPDATE jobs SET state = ${state}, attempts = $2, next_at = COALESCE($3, next_at), code = $4,
      provider_id = COALESCE($5, provider_id), owner = NULL, lease_until = 0, updated_at = $6 WHERE id = $7 AND owner = $8`,
      [u.state, u.attempts, u.nextAt ?? null, u.code ?? null, u.providerId ?? null, u.now, id, owner],
    );
    return n === 1;
  }

  resolveSlot(device: string, slot: string, outcome: string, now: number): Promise<string[]> {
    return this.d.tx(async (q) => {
      await q.run(`INSERT INTO resolved (device, slot, outcome, t) VALUES ($1,$2,$3,$4) ON CONFLICT (device, slot) DO NOTHING`, [
        device,
        slot,
        outcome,
        now,
      ]);
      const rows = await q.all(
        `UPDATE jobs SET state = 'cancelled', code = 'RESOLVED', updated_at = $3
        WHERE device = $1 AND slot = $2 AND state = 'pending' AND lease_until <= $3 RETURNING key`,
        [device, slot, now],
      );
      return [...new Set(rows.map((r) => String(r.key)))];
    });
  }

  ackSlot(a: Ack): Promise<{ first: boolean; keys: string[] }> {
    return ackSlot(this.d, a);
  }
  ackOf(device: string, slot: string): Promise<Ack | null> {
    return ackOf(this.d, device, slot);
  }
  sentJobs(person: string, o: { key?: string; ch?: string; since: number }): Promise<SentJob[]> {
    return sentJobs(this.d, person, o);
  }

  async isResolved(device: string, slot: string): Promise<boolean> {
    return (await this.d.all(`SELECT 1 AS x FROM resolved WHERE device = $1 AND slot = $2`, [device, slot])).length > 0;
  }

  async keySummary(key: string): Promise<KeySummary | null> {
    const rows = await this.d.all(
      `SELECT r.device, r.ch, r.wants_receipt, j.ref, j.state, j.code, j.is_fallback
      FROM requests r LEFT JOIN jobs j ON j.key = r.key WHERE r.key = $1 ORDER BY j.id`,
      [key],
    );
    if (rows.length === 0) return null;
    return {
      key,
      device: String(rows[0].device),
      ch: String(rows[0].ch),
      wantsReceipt: num(rows[0].wants_receipt) === 1,
      jobs: rows
        .filter((r) => r.ref !== null && r.ref !== undefined)
        .map((r) => ({
          ref: String(r.ref),
          state: String(r.state) as JobState,
          code: strOrNull(r.code),
          isFallback: num(r.is_fallback) === 1,
        })),
    };
  }

  async setReceipt(key: string, status: ReceiptStatus, code: string | null, now: number, json?: string): Promise<boolean> {
    return (
      (await this.d.run(
        `UPDATE requests SET rcpt_status = $1, rcpt_code = $2, rcpt_at = $3, rcpt_json = $5 WHERE key = $4 AND rcpt_status IS NULL`,
        [status, code, now, key, json ?? null],
      )) === 1
    );
  }

  async receiptPublished(key: string, now: number): Promise<void> {
    await this.d.run(`UPDATE requests SET rcpt_pub = $2 WHERE key = $1`, [key, now]);
  }

  async claimUnpublishedReceipts(olderThan: number, now: number, limit: number): Promise<{ key: string; device: string; json: string }[]> {
    const rows = await this.d.all(
      `SELECT key FROM requests WHERE rcpt_json IS NOT NULL AND rcpt_pub IS NULL AND rcpt_at < $1 ORDER BY rcpt_at LIMIT $2`,
      [olderThan, limit],
    );
    const out: { key: string; device: string; json: string }[] = [];
    for (const r of rows) {
      const got = await this.d.all(
        `UPDATE requests SET rcpt_at = $2 WHERE key = $1 AND rcpt_pub IS NULL AND rcpt_at < $3 RETURNING device, rcpt_json`,
        [String(r.key), now, olderThan],
      );
      if (got.length === 1) out.push({ key: String(r.key), device: String(got[0].device), json: String(got[0].rcpt_json) });
    }
    return out;
  }

  async receiptOf(key: string): Promise<{ status: ReceiptStatus; code: string | null; t: number } | null> {
    const r = await this.d.all(`SELECT rcpt_status, rcpt_code, rcpt_at FROM requests WHERE key = $1 AND rcpt_status IS NOT NULL`, [key]);
    return r.length === 0
      ? null
      : { status: String(r[0].rcpt_status) as ReceiptStatus, code: strOrNull(r[0].rcpt_code), t: num(r[0].rcpt_at) };
  }

  async jobsOf(key: string): Promise<Job[]> {
    return (await this.d.all(`SELECT * FROM jobs WHERE key = $1 ORDER BY id`, [key])).map(rowToJob);
  }

  async countJobs(state?: JobState): Promise<number> {
    const r =
      state === undefined
        ? await this.d.all(`SELECT COUNT(*) AS n FROM jobs`)
        : await this.d.all(`SELECT COUNT(*) AS n FROM jobs WHERE state = $1`, [state]);
    return num(r[0].n);
  }

  async audit(e: AuditEntry): Promise<void> {
    await this.d.run(`INSERT INTO audit (t, actor, action, device, code, detail) VALUES ($1,$2,$3,$4,$5,$6)`, [
      e.t,
      e.actor,
      e.action,
      e.device,
      e.code,
      e.detail,
    ]);
  }

  async auditList(f: {
    device?: string;
    action?: string;
    code?: string;
    limit?: number;
    newest?: boolean;
    before?: number;
  }): Promise<AuditEntry[]> {
    const where: string[] = [];
    const params: Param[] = [];
    if (f.before !== undefined) {
      params.push(f.before);
      where.push(`id < $${params.length}`);
    }
    if (f.device !== undefined) {
      params.push(f.device);
      where.push(`device = $${params.length}`);
    }
    if (f.action !== undefined) {
      params.push(f.action);
      where.push(`action = $${params.length}`);
    }
    if (f.code !== undefined) {
      params.push(f.code);
      where.push(`code = $${params.length}`);
    }
    params.push(Math.max(1, Math.min(f.limit ?? 1000, 10000)));
    const rows = await this.d.all(
      `SELECT * FROM audit ${where.length ? "WHERE " + where.join(" AND ") : ""} ORDER BY id${f.newest ? " DESC" : ""} LIMIT $${params.length}`,
      params,
    );
    return rows.map(rowOf);
  }

  async recordEvent(e: StoredEvent): Promise<boolean> {
    return (
      (await this.d.run(
        `INSERT INTO events (device, id, seq, type, t_ms, slot, data, received_at, day) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)
      ON CONFLICT (device, id) DO NOTHING`,
        [e.device, e.id, e.seq, e.type, e.tMs, e.slot, JSON.stringify(e.data), e.receivedAt, dayOf(e)],
      )) === 1
    );
  }

  /** Oldest first, optionally some types and days; paged (db/history.ts). */
  eventsOf(device: string, types?: readonly string[], days?: { from: string; to: string }): Promise<StoredEvent[]> {
    return readEvents(this.d, device, types, days);
  }

  async touchDevice(device: string, now: number): Promise<void> {
    await this.d.run(
      `INSERT INTO devices (device, last_seen) VALUES ($1, $2) ON CONFLICT (device) DO UPDATE
      SET last_seen = CASE WHEN devices.last_seen IS NULL OR devices.last_seen < excluded.last_seen THEN excluded.last_seen ELSE devices.last_seen END`,
      [device, now],
    );
  }

  async setOnline(device: string, online: boolean, now: number): Promise<void> {
    if (online) {
      // Order-independent (instances may commit one device's messages out of order): a status
      // older than the last offline (or the last sighting) changes nothing.
      await this.touchDevice(device, now);
      await this.d.run(
        `UPDATE devices SET online = 1, offline_since = NULL WHERE device = $1 AND (offline_since IS NULL OR offline_since <= $2)`,
        [device, now],
      );
    } else {
      await this.d.run(
        `INSERT INTO devices (device, online, offline_since) VALUES ($1, 0, $2) ON CONFLICT (device) DO UPDATE
        SET online = 0, offline_since = excluded.offline_since WHERE devices.last_seen IS NULL OR devices.last_seen <= excluded.offline_since`,
        [device, now],
      );
    }
  }

  async deviceState(device: string): Promise<DeviceState | null> {
    const r = await this.d.all(`SELECT * FROM devices WHERE device = $1`, [device]);
    if (r.length === 0) return null;
    const on = numOrNull(r[0].online);
    return {
      device,
      lastSeen: numOrNull(r[0].last_seen),
      online: on === null ? null : on === 1,
      offlineSince: numOrNull(r[0].offline_since),
    };
  }

  async putConfig(c: StoredConfig): Promise<void> {
    await this.d.run(
      `INSERT INTO configs (device, version, json, updated_at, actor) VALUES ($1,$2,$3,$4,$5) ON CONFLICT (device) DO UPDATE
      SET version = excluded.version, json = excluded.json, updated_at = excluded.updated_at, actor = excluded.actor`,
      [c.device, c.version, c.json, c.updatedAt, c.actor],
    );
  }

  async configs(): Promise<StoredConfig[]> {
    return (await this.d.all(`SELECT * FROM configs ORDER BY device`)).map((r) => ({
      device: String(r.device),
      version: num(r.version),
      json: String(r.json),
      updatedAt: num(r.updated_at),
      actor: String(r.actor),
    }));
  }

  async config(device: string): Promise<StoredConfig | null> {
    const r = await this.d.all(`SELECT * FROM configs WHERE device = $1`, [device]);
    return r.length === 0
      ? null
      : { device, version: num(r[0].version), json: String(r[0].json), updatedAt: num(r[0].updated_at), actor: String(r[0].actor) };
  }

  async claimDeadman(device: string, slot: string, now: number): Promise<boolean> {
    return (
      (await this.d.run(`INSERT INTO deadman (device, slot, t) VALUES ($1,$2,$3) ON CONFLICT (device, slot) DO NOTHING`, [
        device,
        slot,
        now,
      ])) === 1
    );
  }

  async closeDeadman(device: string, now: number): Promise<string[]> {
    const rows = await this.d.all(`UPDATE deadman SET back_at = $2 WHERE device = $1 AND back_at IS NULL RETURNING slot`, [device, now]);
    return rows.map((r) => String(r.slot)).sort();
  }

  async putKv(name: string, value: string, now: number): Promise<void> {
    await this.d.run(
      `INSERT INTO kv (name, value, updated_at) VALUES ($1,$2,$3) ON CONFLICT (name) DO UPDATE
      SET value = excluded.value, updated_at = excluded.updated_at`,
      [name, value, now],
    );
  }

  async getKv(name: string): Promise<{ value: string; updatedAt: number } | null> {
    const r = await this.d.all(`SELECT value, updated_at FROM kv WHERE name = $1`, [name]);
    return r.length === 0 ? null : { value: String(r[0].value), updatedAt: num(r[0].updated_at) };
  }

  sealAudit(key: string | undefined, now: number): Promise<number> {
    return sealAudit(this.d, key, now);
  }

  verifyAudit(key: string | undefined): Promise<AuditVerdict> {
    return verifyAudit(this.d, key);
  }

  async claimLease(name: string, holder: string, now: number, ms: number): Promise<boolean> {
    const n = await this.d.run(
      `INSERT INTO leases (name, holder, expires) VALUES ($1,$2,$3) ON CONFLICT (name) DO UPDATE
      SET holder = excluded.holder, expires = excluded.expires WHERE leases.holder = excluded.holder OR leases.expires <= $4`,
      [name, holder, now + ms, now],
    );
    return n === 1;
  }

  async releaseLease(name: string, holder: string): Promise<void> {
    await this.d.run(`DELETE FROM leases WHERE name = $1 AND holder = $2`, [name, holder]);
  }
}
