/**
 * Command-line parsing of `dosekeeper` and where each setting comes from: a flag, else a
 * DOSEKEEPER_* variable, else the profile a running stack wrote (profile.ts), else a default.
 */
import * as fs from "node:fs";
import { defaultAuditPath } from "./audit";
import { DEVICE_ID_RE, loadKey, parseDuration, type BrokerOptions, type SigningKey } from "./broker";
import { findProfile, profileNow, writerAlive, type Profile } from "./profile";

export interface Io {
  out(s: string): void;
  err(s: string): void;
  env: Record<string, string | undefined>;
  /** Where to look for .dosekeeper/cli.json; without it only $DOSEKEEPER_PROFILE is read. */
  cwd?: string;
}

export const EXIT = { OK: 0, ERROR: 1, USAGE: 2, REFUSED: 3, TIMEOUT: 4 } as const;

export interface Parsed {
  pos: string[];
  flags: Map<string, string | true>;
}

const BOOLEAN = new Set(["help", "h", "no-validate", "json"]);

export function parseArgs(argv: string[]): Parsed {
  const pos: string[] = [];
  const flags = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a.startsWith("--") || a === "-h") {
      const eq = a.indexOf("=");
      const name = a === "-h" ? "h" : eq > 0 ? a.slice(2, eq) : a.slice(2);
      if (eq > 0) flags.set(name, a.slice(eq + 1));
      else if (BOOLEAN.has(name)) flags.set(name, true);
      else if (i + 1 < argv.length) flags.set(name, argv[++i]);
      else flags.set(name, true);
    } else pos.push(a);
  }
  return { pos, flags };
}

export class Usage extends Error {
  override get name(): string {
    return "Usage";
  }
}

export function str(p: Parsed, name: string, required: true): string;
export function str(p: Parsed, name: string, required?: false): string | undefined;
export function str(p: Parsed, name: string, required = false): string | undefined {
  const v = p.flags.get(name);
  if (v === true) throw new Usage(`--${name} needs a value`);
  if (v === undefined && required) throw new Usage(`--${name} is required`);
  return v;
}

export function duration(p: Parsed, name: string, dflt: number): number {
  const v = str(p, name);
  if (v === undefined) return dflt;
  const d = parseDuration(v);
  if (d === undefined) throw new Usage(`--${name}: not a duration (e.g. 30s, 10m, 24h)`);
  return d;
}

export function device(p: Parsed): string {
  const d = str(p, "device", true);
  if (!DEVICE_ID_RE.test(d)) throw new Usage(`--device: "${d}" is not a device id ([a-z0-9][a-z0-9_-]{0,31})`);
  return d;
}

/** Settings of one run, resolved once. */
export class Settings {
  readonly profile: Profile | undefined;

  constructor(
    private readonly p: Parsed,
    private readonly io: Io,
  ) {
    const explicit = io.env.DOSEKEEPER_PROFILE;
    this.profile = explicit !== undefined || io.cwd !== undefined ? findProfile(io.env, io.cwd ?? process.cwd()) : undefined;
  }

  /** One line on stderr saying which profile is used (and if its writer is gone). */
  announce(): void {
    const pr = this.profile;
    if (pr === undefined) return;
    const alive = writerAlive(pr);
    this.io.err(
      `using ${pr.file}${pr.clock !== undefined ? " (simulator: signing on its simulated time)" : ""}${alive === false ? " — its npm start is not running any more" : ""}\n`,
    );
  }

  broker(): BrokerOptions {
    const caFile = str(this.p, "ca") ?? this.io.env.DOSEKEEPER_CA;
    const pr = this.profile;
    return {
      url: str(this.p, "broker") ?? this.io.env.DOSEKEEPER_BROKER ?? pr?.broker ?? "mqtt://localhost:1883",
      username: str(this.p, "username") ?? this.io.env.DOSEKEEPER_USERNAME ?? pr?.username,
      password: str(this.p, "password") ?? this.io.env.DOSEKEEPER_PASSWORD ?? pr?.password,
      ca: caFile ? fs.readFileSync(caFile, "utf8") : undefined,
    };
  }

  key(): SigningKey {
    const file = str(this.p, "key") ?? this.profile?.key;
    if (file === undefined) throw new Usage("--key is required (no profile gives one)");
    try {
      return loadKey(file);
    } catch (e) {
      throw new Usage(`--key ${file}: ${(e as Error).message}`);
    }
  }

  audit(): string {
    return str(this.p, "audit") ?? this.io.env.DOSEKEEPER_AUDIT ?? this.profile?.audit ?? defaultAuditPath();
  }

  api(): { url: string; token: string | undefined } | undefined {
    const url = str(this.p, "api") ?? this.io.env.DOSEKEEPER_API ?? this.profile?.api;
    if (url === undefined) return undefined;
    return { url, token: str(this.p, "token") ?? this.io.env.DOSEKEEPER_TOKEN ?? this.profile?.token };
  }

  /** True when signatures use a simulator's clock. */
  get simulated(): boolean {
    return this.profile?.clock !== undefined;
  }

  /** The clock signatures use: a simulator's virtual time (profile), else this computer's. */
  async now(): Promise<number> {
    const c = this.profile?.clock;
    return c === undefined ? Date.now() : await profileNow(c);
  }
}
