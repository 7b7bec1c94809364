/**
 * SQL drivers of the relay store: SQLite (better-sqlite3, WAL, cached statements) and PostgreSQL
 * (pg pool), one query interface with named parameters, transactions serialised by a mutex.
 */
import Database from "better-sqlite3";
import pg from "pg";

export type Row = Record<string, unknown>;
export type Param = string | number | null;

export interface SqlQ {
  run(sql: string, params?: Param[]): Promise<number>;
  all(sql: string, params?: Param[]): Promise<Row[]>;
}

export interface SqlDriver extends SqlQ {
  readonly kind: "sqlite" | "postgres";
  exec(script: string): Promise<void>;
  tx<T>(fn: (q: SqlQ) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** Serialises async critical sections (one SQLite connection is shared by the whole process). */
export class Mutex {
  private tail: Promise<void> = Promise.resolve();
  lock<T>(fn: () => Promise<T> | T): Promise<T> {
    const run = this.tail.then(fn, fn);
    this.tail = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }
}

/** $n → ? for SQLite; the rewrite (and the parameter order) is cached per SQL text. */
export const positional = new Map<string, { sql: string; order: number[] }>();
export function toPositional(sql: string, params: Param[]): { sql: string; params: Param[] } {
  let c = positional.get(sql);
  if (c === undefined) {
    const order: number[] = [];
    const text = sql.replace(/\$(\d+)/g, (_m, n: string) => {
      order.push(Number(n) - 1);
      return "?";
    });
    c = { sql: text, order };
    if (positional.size > 500) positional.clear();
    positional.set(sql, c);
  }
  return { sql: c.sql, params: c.order.map((i) => params[i] ?? null) };
}

/**
 * The driver seen by the units of a batch: every statement runs on the batch's open transaction;
 * a nested tx() (claimRequest, resolveSlot) joins it, so a unit's writes commit or roll back together.
 */
export class TxDriver implements SqlDriver {
  constructor(
    readonly kind: "sqlite" | "postgres",
    private readonly q: SqlQ,
  ) {}
  run(sql: string, params: Param[] = []): Promise<number> {
    return this.q.run(sql, params);
  }
  all(sql: string, params: Param[] = []): Promise<Row[]> {
    return this.q.all(sql, params);
  }
  async exec(script: string): Promise<void> {
    await this.q.run(script);
  }
  tx<T>(fn: (q: SqlQ) => Promise<T>): Promise<T> {
    return fn(this.q);
  }
  close(): Promise<void> {
    return Promise.reject(new Error("close() inside a batch"));
  }
}

export class SqliteDriver implements SqlDriver {
  readonly kind = "sqlite" as const;
  private readonly db: Database.Database;
  private readonly mutex = new Mutex();
  private readonly cache = new Map<string, { stmt: Database.Statement; reader: boolean }>();
  constructor(file: string) {
    this.db = new Database(file);
    this.db.pragma("journal_mode = WAL");
    this.db.pragma("synchronous = NORMAL");
    // Short: better-sqlite3 waits synchronously (the event loop stands still); a busy store is
    // retried by the relay with its acknowledgement held (ingest/durable.ts).
    this.db.pragma("busy_timeout = 500");
  }
  private prep(sql: string): { stmt: Database.Statement; reader: boolean } {
    let p = this.cache.get(sql);
    if (p === undefined) {
      const stmt = this.db.prepare(sql);
      p = { stmt, reader: stmt.reader };
      if (this.cache.size > 200) this.cache.clear();
      this.cache.set(sql, p);
    }
    return p;
  }
  private runNow(sql: string, params: Param[]): number {
    const q = toPositional(sql, params);
    const p = this.prep(q.sql);
    if (p.reader) return p.stmt.all(...q.params).length;
    return p.stmt.run(...q.params).changes;
  }
  private allNow(sql: string, params: Param[]): Row[] {
    const q = toPositional(sql, params);
    return this.prep(q.sql).stmt.all(...q.params) as Row[];
  }
  private readonly direct: SqlQ = {
    run: async (sql, params = []) => this.runNow(sql, params),
    all: async (sql, params = []) => this.allNow(sql, params),
  };
  run(sql: string, params: Param[] = []): Promise<number> {
    return this.mutex.lock(() => this.runNow(sql, params));
  }
  all(sql: string, params: Param[] = []): Promise<Row[]> {
    return this.mutex.lock(() => this.allNow(sql, params));
  }
  exec(script: string): Promise<void> {
    return this.mutex.lock(() => {
      this.db.exec(script);
    });
  }
  tx<T>(fn: (q: SqlQ) => Promise<T>): Promise<T> {
    return this.mutex.lock(async () => {
      this.db.exec("BEGIN IMMEDIATE");
      try {
        const r = await fn(this.direct);
        this.db.exec("COMMIT");
        return r;
      } catch (e) {
        if (this.db.inTransaction) this.db.exec("ROLLBACK");
        throw e;
      }
    });
  }
  async close(): Promise<void> {
    await this.mutex.lock(() => {
      this.db.close();
    });
  }
}

export class PgDriver implements SqlDriver {
  readonly kind = "postgres" as const;
  private readonly pool: pg.Pool;
  constructor(url: string) {
    this.pool = new pg.Pool({ connectionString: url, max: 8 });
    this.pool.on("error", () => {
      /* idle client lost: the pool replaces it */
    });
  }
  async run(sql: string, params: Param[] = []): Promise<number> {
    const r = await this.pool.query(sql, params);
    return r.rowCount ?? 0;
  }
  async all(sql: string, params: Param[] = []): Promise<Row[]> {
    return (await this.pool.query(sql, params)).rows as Row[];
  }
  async exec(script: string): Promise<void> {
    await this.pool.query(script);
  }
  async tx<T>(fn: (q: SqlQ) => Promise<T>): Promise<T> {
    const c = await this.pool.connect();
    // A checked-out client whose connection drops (server restart) emits "error": without a
    // listener that would crash the process. The error also fails the query in progress; the
    // broken client is then destroyed instead of going back to the pool.
    let broken: Error | undefined;
    const onError = (e: Error): void => {
      broken = e;
    };
    c.on("error", onError);
    const q: SqlQ = {
      run: async (sql, params = []) => (await c.query(sql, params)).rowCount ?? 0,
      all: async (sql, params = []) => (await c.query(sql, params)).rows as Row[],
    };
    try {
      await c.query("BEGIN");
      const r = await fn(q);
      await c.query("COMMIT");
      return r;
    } catch (e) {
      if (broken === undefined)
        await c.query("ROLLBACK").catch((re: unknown) => (broken = re instanceof Error ? re : new Error(String(re))));
      throw e;
    } finally {
      c.off("error", onError);
      c.release(broken);
    }
  }
  async close(): Promise<void> {
    await this.pool.end();
  }
}
