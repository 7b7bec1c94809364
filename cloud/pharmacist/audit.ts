/**
 * Pharmacist audit log: one JSON object per line, appended (never rewritten), file mode 0600.
 * Default ~/.dosekeeper/audit.jsonl. See docs/pharmacist.md.
 */
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
}

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

export function appendAudit(file: string, rec: AuditRecord): void {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  fs.appendFileSync(file, JSON.stringify(rec) + "\n", { mode: 0o600 });
}

export function readAudit(file: string): AuditRecord[] {
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as AuditRecord);
}
