/**
 * The pharmacist tools' connection profile (docs/pharmacist.md, "Against npm start"): what a
 * running stack writes so that `npx dosekeeper …` reaches it with no flag. `npm start` writes
 * <dataDir>/cli.json (mode 0600) when it is ready and removes it when it stops:
 *
 *   { "v": 1, "pid": 4242, "broker": "mqtt://127.0.0.1:40123", "username": "dk-pharmacist",
 *     "password": "…", "api": "http://127.0.0.1:40567", "token": "…",
 *     "key": "/…/.dosekeeper/pharmacist.key.pem", "audit": "/…/.dosekeeper/audit.jsonl",
 *     "clock": "http://127.0.0.1:8080/api/clock" }
 *
 * Found as $DOSEKEEPER_PROFILE, else .dosekeeper/cli.json in the working folder or the nearest
 * parent that has one. Flags and DOSEKEEPER_* variables win over it field by field.
 *
 * `clock` is there only for a simulator: its devices live on warped virtual time, so the tools
 * sign issuedAt/expires on that clock (read once per command) and a real device's strict window
 * applies unchanged to simulated ones. A real deployment's profile has no clock: the tools sign
 * with the computer's clock.
 */
import * as fs from "node:fs";
import * as path from "node:path";

export const PROFILE_DIR = ".dosekeeper";
export const PROFILE_FILE = "cli.json";

export interface Profile {
  readonly file: string;
  readonly pid?: number;
  readonly broker?: string;
  readonly username?: string;
  readonly password?: string;
  readonly api?: string;
  readonly token?: string;
  readonly key?: string;
  readonly audit?: string;
  readonly clock?: string;
}

const FIELDS = ["broker", "username", "password", "api", "token", "key", "audit", "clock"] as const;

export class ProfileError extends Error {
  override get name(): string {
    return "ProfileError";
  }
}

/** Parse a profile's text; unknown fields are ignored, wrong types refused. */
export function parseProfile(text: string, file: string): Profile {
  let j: unknown;
  try {
    j = JSON.parse(text);
  } catch {
    throw new ProfileError(`${file}: not JSON`);
  }
  if (typeof j !== "object" || j === null || Array.isArray(j) || (j as { v?: unknown }).v !== 1)
    throw new ProfileError(`${file}: not a v1 profile`);
  const o = j as Record<string, unknown>;
  const out: Record<string, unknown> = { file };
  for (const f of FIELDS) {
    if (o[f] === undefined) continue;
    if (typeof o[f] !== "string") throw new ProfileError(`${file}: "${f}" must be a string`);
    out[f] = o[f];
  }
  if (typeof o.pid === "number" && Number.isInteger(o.pid)) out.pid = o.pid;
  return out as unknown as Profile;
}

/** The profile in effect, or undefined when none is found. */
export function findProfile(env: Record<string, string | undefined>, cwd: string = process.cwd()): Profile | undefined {
  const explicit = env.DOSEKEEPER_PROFILE;
  if (explicit !== undefined && explicit !== "") {
    if (explicit === "none") return undefined;
    return parseProfile(fs.readFileSync(explicit, "utf8"), explicit);
  }
  for (let dir = path.resolve(cwd); ; ) {
    const f = path.join(dir, PROFILE_DIR, PROFILE_FILE);
    if (fs.existsSync(f)) return parseProfile(fs.readFileSync(f, "utf8"), f);
    const up = path.dirname(dir);
    if (up === dir) return undefined;
    dir = up;
  }
}

/** Is the process that wrote the profile still running? (undefined: cannot tell) */
export function writerAlive(p: Profile): boolean | undefined {
  if (p.pid === undefined) return undefined;
  try {
    process.kill(p.pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Write a profile atomically, readable by its owner only. */
export function writeProfile(dir: string, p: Omit<Profile, "file">): string {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = path.join(dir, PROFILE_FILE);
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify({ v: 1, ...p }, null, 2) + "\n", { mode: 0o600 });
  fs.renameSync(tmp, file);
  return file;
}

/** Remove the profile if it is still the one this process wrote. */
export function removeProfile(file: string, pid: number = process.pid): void {
  try {
    const p = parseProfile(fs.readFileSync(file, "utf8"), file);
    if (p.pid === pid) fs.rmSync(file);
  } catch {
    // gone or foreign: leave it
  }
}

/** Current time of the clock a profile names (a simulator's virtual time), in UTC ms. */
export async function profileNow(clockUrl: string, timeoutMs = 5000): Promise<number> {
  const res = await fetch(clockUrl, { signal: AbortSignal.timeout(timeoutMs) });
  if (!res.ok) throw new Error(`clock ${clockUrl}: HTTP ${res.status}`);
  const j = (await res.json()) as { now?: unknown };
  if (typeof j.now !== "number" || !Number.isFinite(j.now)) throw new Error(`clock ${clockUrl}: no "now"`);
  return j.now;
}
