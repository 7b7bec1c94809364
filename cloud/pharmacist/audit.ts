/**
 * Pharmacist audit log: one JSON object per line, appended (never rewritten), file mode 0600.
 * Default ~/.dosekeeper/audit.jsonl. See docs/pharmacist.md.
 *
 * Tamper-evident: every record carries `n` (1, 2, …) and `prev`, the SHA-256 (hex) of the exact
 * previous line; editing, inserting, deleting or reordering a line breaks the chain, and
 * verifyAudit() says where. A torn line (a write cut by a crash) is skipped and reported; it never
 * hides the rest of the log. `head` (the hash of the last line) can be kept elsewhere to detect a
 * truncated tail.
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

export interface AuditRecord {
  /** ISO time the action finished. */
  time: string;
  action: "config.push" | "command";
  who: { kid: string; user: string };
  device: string;
  /** Config version / hash (config.push). */
  version?: number;
  hash?: string;
  /** Command name and id (command). */
  name?: string;
  id?: string;
  /** sha-256 prefix of the published envelope bytes (the device echoes it on stat). */
  env?: string;
  /** "ack", "refused", "timeout", "invalid" (refused locally, nothing published), "error". */
  outcome: string;
  code?: string;
  errors?: { code: string; path: string }[];
  broker?: string;
  /** Position in the chain (set by appendAudit). */
  n?: number;
  /** SHA-256 (hex) of the previous line ("0"×64 for the first). */
  prev?: string;
}

const GENESIS = "0".repeat(64);
const sha = (line: string): string => createHash("sha256").update(line).digest("hex");

export function defaultAuditPath(): string {
  return path.join(os.homedir(), ".dosekeeper", "audit.jsonl");
}

export function osUser(): string {
  try {
    return os.userInfo().username;
  } catch {
    return process.env.USER ?? "unknown";
  }
}

/** The last complete line of the file, and whether the file ends in a torn (unterminated) line. */
function tail(file: string): { last: string | undefined; torn: boolean } {
  let fd: number;
  try {
    fd = fs.openSync(file, "r");
  } catch {
    return { last: undefined, torn: false };
  }
  try {
    const size = fs.fstatSync(fd).size;
    for (let span = 4096; ; span *= 4) {
      const start = Math.max(0, size - span);
      const buf = Buffer.alloc(size - start);
      fs.readSync(fd, buf, 0, buf.length, start);
      const text = buf.toString("utf8");
      const torn = text.length > 0 && !text.endsWith("\n");
      const lines = text.split("\n");
      lines.pop(); // "" after the last newline, or the torn fragment
      const good = lines.filter((l) => l.trim() !== "" && parse(l) !== undefined);
      if (good.length > 0 && (start > 0 ? lines.length > 1 : true)) return { last: good[good.length - 1], torn };
      if (start === 0) return { last: undefined, torn };
    }
  } finally {
    fs.closeSync(fd);
  }
}

function parse(line: string): AuditRecord | undefined {
  try {
    const r = JSON.parse(line) as unknown;
    return typeof r === "object" && r !== null && !Array.isArray(r) ? (r as AuditRecord) : undefined;
  } catch {
    return undefined;
  }
}

export function appendAudit(file: string, rec: AuditRecord): void {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const t = tail(file);
  const prevRec = t.last !== undefined ? parse(t.last) : undefined;
  const chained = { ...rec, n: (prevRec?.n ?? 0) + 1, prev: t.last !== undefined ? sha(t.last) : GENESIS };
  // A torn last line is closed first, so the new record starts on a line of its own.
  fs.appendFileSync(file, (t.torn ? "\n" : "") + JSON.stringify(chained) + "\n", { mode: 0o600 });
}

/** The records of the log, oldest first; torn or foreign lines are skipped (verifyAudit reports them). */
export function readAudit(file: string): AuditRecord[] {
  if (!fs.existsSync(file)) return [];
  const out: AuditRecord[] = [];
  for (const l of fs.readFileSync(file, "utf8").split("\n")) {
    if (l.trim() === "") continue;
    const r = parse(l);
    if (r !== undefined) out.push(r);
  }
  return out;
}

export interface AuditVerification {
  /** True when the chain is intact (torn lines are tolerated and listed). */
  readonly ok: boolean;
  readonly records: number;
  /** 1-based line numbers of torn (unparsable) lines. */
  readonly torn: number[];
  /** Where the chain breaks: line number and why. */
  readonly broken: { line: number; reason: string }[];
  /** SHA-256 of the last good line (keep it elsewhere to detect a truncated tail). */
  readonly head: string;
}

export function verifyAudit(file: string): AuditVerification {
  const torn: number[] = [];
  const broken: { line: number; reason: string }[] = [];
  let prevLine: string | undefined;
  let prevN = 0;
  let records = 0;
  const lines = fs.existsSync(file) ? fs.readFileSync(file, "utf8").split("\n") : [];
  lines.forEach((l, i) => {
    if (l.trim() === "") return;
    const r = parse(l);
    if (r === undefined) {
      torn.push(i + 1);
      return;
    }
    records++;
    const want = prevLine === undefined ? GENESIS : sha(prevLine);
    if (r.prev !== want)
      broken.push({ line: i + 1, reason: r.prev === undefined ? "no chain field" : "prev does not match the previous line" });
    else if (r.n !== prevN + 1) broken.push({ line: i + 1, reason: `n is ${String(r.n)}, expected ${prevN + 1}` });
    prevLine = l;
    prevN = typeof r.n === "number" ? r.n : prevN + 1;
  });
  return { ok: broken.length === 0, records, torn, broken, head: prevLine === undefined ? GENESIS : sha(prevLine) };
}
