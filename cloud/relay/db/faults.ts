/**
 * Whether an error is the store failing (disk full or failing, locked, busy, the server down or
 * restarting, a deadlock) rather than something about the data being written. A store fault is
 * never a reason to give a message up: the acknowledgement is held and the write retried.
 * SQLite result codes (better-sqlite3 `code`) and PostgreSQL SQLSTATE classes (pg `code`), plus
 * Node socket errors.
 */
const SQLITE_STORE = [
  "SQLITE_IOERR",
  "SQLITE_FULL",
  "SQLITE_BUSY",
  "SQLITE_LOCKED",
  "SQLITE_CANTOPEN",
  "SQLITE_READONLY",
  "SQLITE_NOMEM",
  "SQLITE_PROTOCOL",
  "SQLITE_CORRUPT",
  "SQLITE_NOTADB",
];
/** 08 connection, 53 insufficient resources (53100 disk full), 57 operator intervention (shutdown), 58 system error, XX internal. */
const PG_CLASSES = ["08", "53", "57", "58", "XX"];
const PG_CODES = ["40001", "40P01", "55P03"];
const NODE_CODES = ["ECONNREFUSED", "ECONNRESET", "EPIPE", "ETIMEDOUT", "EHOSTUNREACH", "ENOSPC", "EIO", "EFBIG"];

export function isStoreFault(e: unknown): boolean {
  const code =
    e !== null && typeof e === "object" && typeof (e as { code?: unknown }).code === "string" ? (e as { code: string }).code : "";
  if (code === "") {
    // pg-pool / client errors without a code: the connection went away.
    const msg = e instanceof Error ? e.message : String(e);
    return /Connection terminated|connection timeout|Client has encountered a connection error|not queryable/i.test(msg);
  }
  if (NODE_CODES.includes(code)) return true;
  if (code.startsWith("SQLITE_")) return SQLITE_STORE.some((c) => code === c || code.startsWith(c + "_"));
  if (/^[0-9A-Z]{5}$/.test(code)) return PG_CODES.includes(code) || PG_CLASSES.includes(code.slice(0, 2));
  return false;
}
