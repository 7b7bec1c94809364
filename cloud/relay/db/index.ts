/**
 * RelayDb over SQL: one implementation, two drivers (SQLite via better-sqlite3 in WAL mode,
 * PostgreSQL via pg). Queries use $1..$n placeholders; the SQLite driver rewrites them.
 * Claims are atomic across processes: INSERT … ON CONFLICT DO NOTHING for keys, slots and
 * dead-man alerts; a lease with expiry for jobs (UPDATE … WHERE lease expired … RETURNING),
 * so the jobs of a killed instance are taken over when its lease runs out.
 */
import type { RelayDb } from "../types";
import { SqliteDriver, PgDriver } from "./drivers";
import { SqlRelayDb } from "./sql-relay-db";
export * from "./drivers";
export * from "./schema";
export * from "./sql-relay-db";

/** SQLite file (WAL mode; several processes may open the same file). */
export async function openSqliteDb(file: string): Promise<RelayDb> {
  const db = new SqlRelayDb(new SqliteDriver(file));
  await db.init();
  return db;
}

/** PostgreSQL (postgres://user@host:port/db), for relays on several hosts. */
export async function openPostgresDb(url: string): Promise<RelayDb> {
  const db = new SqlRelayDb(new PgDriver(url));
  await db.init();
  return db;
}

/** postgres:// or postgresql:// URL → PostgreSQL; anything else is a SQLite file path. */
export function openRelayDb(spec: string): Promise<RelayDb> {
  return /^postgres(ql)?:\/\//.test(spec) ? openPostgresDb(spec) : openSqliteDb(spec);
}
