/**
 * The relay's tables, for SQLite and PostgreSQL.
 */
import type { SqlDriver, SqlQ } from "./drivers";

export function schema(kind: "sqlite" | "postgres"): string {
  const id = kind === "sqlite" ? "INTEGER PRIMARY KEY AUTOINCREMENT" : "BIGSERIAL PRIMARY KEY";
  return `
CREATE TABLE IF NOT EXISTS requests (key TEXT PRIMARY KEY, device TEXT NOT NULL, slot TEXT, evt_id TEXT NOT NULL,
  ch TEXT NOT NULL, received_at BIGINT NOT NULL, wants_receipt INTEGER NOT NULL,
  rcpt_status TEXT, rcpt_code TEXT, rcpt_at BIGINT, rcpt_json TEXT, rcpt_pub BIGINT);
CREATE TABLE IF NOT EXISTS jobs (id ${id}, key TEXT NOT NULL, device TEXT NOT NULL, slot TEXT, ref TEXT NOT NULL,
  person TEXT NOT NULL, ch TEXT NOT NULL, kind TEXT NOT NULL, priority TEXT NOT NULL, notice TEXT NOT NULL,
  state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_at BIGINT NOT NULL, created_at BIGINT NOT NULL,
  is_fallback INTEGER NOT NULL, code TEXT, provider_id TEXT, owner TEXT, lease_until BIGINT NOT NULL DEFAULT 0,
  updated_at BIGINT NOT NULL, UNIQUE (key, ref, ch));
CREATE INDEX IF NOT EXISTS jobs_due ON jobs (state, next_at);
CREATE INDEX IF NOT EXISTS jobs_slot ON jobs (device, slot);
CREATE TABLE IF NOT EXISTS resolved (device TEXT NOT NULL, slot TEXT NOT NULL, outcome TEXT NOT NULL, t BIGINT NOT NULL,
  PRIMARY KEY (device, slot));
CREATE TABLE IF NOT EXISTS audit (id ${id}, t BIGINT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,
  device TEXT, code TEXT, detail TEXT NOT NULL, hash TEXT);
CREATE INDEX IF NOT EXISTS audit_device ON audit (device, t);
CREATE TABLE IF NOT EXISTS events (device TEXT NOT NULL, id TEXT NOT NULL, seq BIGINT, type TEXT NOT NULL, t_ms BIGINT,
  slot TEXT, data TEXT NOT NULL, received_at BIGINT NOT NULL, day TEXT, PRIMARY KEY (device, id));
CREATE INDEX IF NOT EXISTS events_type ON events (device, type);
CREATE TABLE IF NOT EXISTS devices (device TEXT PRIMARY KEY, last_seen BIGINT, online INTEGER, offline_since BIGINT);
CREATE TABLE IF NOT EXISTS configs (device TEXT PRIMARY KEY, version BIGINT NOT NULL, json TEXT NOT NULL,
  updated_at BIGINT NOT NULL, actor TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS deadman (device TEXT NOT NULL, slot TEXT NOT NULL, t BIGINT NOT NULL, back_at BIGINT,
  PRIMARY KEY (device, slot));
CREATE TABLE IF NOT EXISTS kv (name TEXT PRIMARY KEY, value TEXT NOT NULL, updated_at BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS leases (name TEXT PRIMARY KEY, holder TEXT NOT NULL, expires BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS acks (device TEXT NOT NULL, slot TEXT NOT NULL, person TEXT NOT NULL, ref TEXT NOT NULL,
  ch TEXT NOT NULL, via TEXT NOT NULL, t BIGINT NOT NULL, until_t BIGINT NOT NULL, PRIMARY KEY (device, slot));
CREATE INDEX IF NOT EXISTS jobs_person ON jobs (person, state);
`;
}

/**
 * Changes to databases made by earlier versions, run after schema(): each step is idempotent.
 * events.day (the slot's local date, else the UTC date of the event): history reads by day;
 * audit.hash: the audit chain (db/audit-chain.ts), old rows sealed by the next sealing pass.
 */
export function migrations(kind: "sqlite" | "postgres", hasDay: boolean, hasAuditHash = true): string[] {
  const steps: string[] = [];
  if (!hasAuditHash)
    steps.push(kind === "postgres" ? "ALTER TABLE audit ADD COLUMN IF NOT EXISTS hash TEXT" : "ALTER TABLE audit ADD COLUMN hash TEXT");
  if (!hasDay) {
    steps.push(kind === "postgres" ? "ALTER TABLE events ADD COLUMN IF NOT EXISTS day TEXT" : "ALTER TABLE events ADD COLUMN day TEXT");
    steps.push(
      kind === "postgres"
        ? `UPDATE events SET day = CASE WHEN slot LIKE '%@%' THEN split_part(slot, '@', 2)
            ELSE to_char(to_timestamp(COALESCE(t_ms, received_at) / 1000.0) AT TIME ZONE 'UTC', 'YYYY-MM-DD') END WHERE day IS NULL`
        : `UPDATE events SET day = CASE WHEN instr(slot, '@') > 0 THEN substr(slot, instr(slot, '@') + 1)
            ELSE strftime('%Y-%m-%d', COALESCE(t_ms, received_at) / 1000, 'unixepoch') END WHERE day IS NULL`,
    );
  }
  steps.push("CREATE INDEX IF NOT EXISTS events_day ON events (device, day, type)");
  return steps;
}

/** Creates the tables (PostgreSQL: serialised across instances) and runs the migrations. */
export async function initSchema(d: SqlDriver): Promise<void> {
  if (d.kind === "postgres") {
    // Several instances may start together: serialise the DDL with an advisory lock. The
    // CREATE … IF NOT EXISTS statements still lock their tables, so an instance starting while
    // others write can be chosen as a deadlock victim: nothing was changed, try again.
    for (let attempt = 1; ; attempt++) {
      try {
        await d.tx(async (q) => {
          await q.run("SELECT pg_advisory_xact_lock(724001)");
          for (const stmt of schema("postgres")
            .split(";")
            .map((s) => s.trim())
            .filter(Boolean))
            await q.run(stmt);
          // Migrations under the same lock: two instances adding the same index at once collide
          // in pg_class ("duplicate key … pg_class_relname_nsp_index"), seen in CI.
          await migrate(q, "postgres");
        });
        break;
      } catch (e) {
        const code = (e as { code?: unknown }).code;
        if (attempt >= 10 || (code !== "40P01" && code !== "55P03")) throw e;
        await new Promise((r) => setTimeout(r, 100 * attempt));
      }
    }
  } else {
    await d.exec(schema("sqlite"));
    await migrate(d, "sqlite");
  }
}

/** Runs the migrations this database still needs (PostgreSQL: inside the advisory-locked DDL transaction). */
async function migrate(q: SqlQ, kind: "sqlite" | "postgres"): Promise<void> {
  const has = async (table: string, col: string): Promise<boolean> =>
    (kind === "postgres"
      ? await q.all(`SELECT column_name AS name FROM information_schema.columns WHERE table_name = $1`, [table])
      : await q.all(`PRAGMA table_info(${table})`)
    ).some((c) => c.name === col);
  for (const step of migrations(kind, await has("events", "day"), await has("audit", "hash"))) await q.run(step);
}
