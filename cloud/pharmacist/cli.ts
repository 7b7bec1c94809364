/**
 * `dosekeeper` command line for pharmacists (docs/pharmacist.md).
 *
 * Exit codes: 0 ok / acknowledged, 1 error (broker unreachable, key unreadable), 2 usage or
 * invalid file (nothing published), 3 refused by the device, 4 timeout (no answer).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { generateKeyPair } from "../signing";
import { defaultAuditPath, verifyAudit } from "./audit";
import {
  COMMANDS,
  DEVICE_ID_RE,
  fetchHistory,
  listenHistory,
  loadKey,
  parseDuration,
  pushConfig,
  readStatus,
  sendCommand,
  type BrokerOptions,
  type SigningKey,
} from "./lib";

export interface Io {
  out(s: string): void;
  err(s: string): void;
  env: Record<string, string | undefined>;
}

export const EXIT = { OK: 0, ERROR: 1, USAGE: 2, REFUSED: 3, TIMEOUT: 4 } as const;

const COMMON = `Broker options (all network commands):
  --broker URL        mqtt://host:port or mqtts://host:port   [env DOSEKEEPER_BROKER, default mqtt://localhost:1883]
  --username NAME     broker user                             [env DOSEKEEPER_USERNAME]
  --password PASS     broker password                         [env DOSEKEEPER_PASSWORD]
  --ca FILE           CA certificate (PEM) for mqtts://        [env DOSEKEEPER_CA]`;

const HELP: Record<string, string> = {
  main: `Usage: dosekeeper <command> [options]

Commands:
  keygen                 create an Ed25519 signing key pair
  config push            sign a schedule and push it to a dispenser, wait for its answer
  status                 show a dispenser's retained status and telemetry
  history                show a dispenser's events
  command NAME           sign and send a command (${COMMANDS.join(", ")})
  audit verify           check that the audit log's hash chain is intact

Run "dosekeeper <command> --help" for its options.
Exit codes: 0 ok, 1 error, 2 usage/invalid file, 3 refused by the device, 4 timeout.`,
  "audit verify": `Usage: dosekeeper audit verify [--audit FILE]

Checks the hash chain of the audit log (default ~/.dosekeeper/audit.jsonl, env DOSEKEEPER_AUDIT):
every line carries the SHA-256 of the line before it, so an edited, inserted, deleted or
reordered line is found. Torn lines (a write cut by a crash) are reported and tolerated.
Prints the records, torn lines, breaks and the head hash (keep it elsewhere to detect a cut tail).
Exit 0 intact, 3 broken.`,
  keygen: `Usage: dosekeeper keygen [--out DIR]

Creates DIR/<kid>.key.pem (private, mode 0600) and DIR/<kid>.pub (raw public key, base64),
and prints the key id and public key. Install the public key on the dispensers (preference
"trustKeys"); keep the private key secret. DIR defaults to the current directory.`,
  "config push": `Usage: dosekeeper config push --device ID --file schedule.json --key KEY.pem [options]

Validates the schedule locally, signs it, publishes it retained (QoS 1) on dk/<ID>/cmnd/config
and waits for the dispenser's answer on dk/<ID>/stat.

  --device ID         target dispenser (must equal "device" in the file)
  --file FILE         schedule (docs/config.md)
  --key FILE          PKCS#8 PEM Ed25519 private key (from keygen)
  --timeout DUR       how long to wait for the answer (default 30s)
  --expires DUR       validity of the signed config (default 24h)
  --no-validate       skip local validation (the device still validates)
  --audit FILE        audit log (default ~/.dosekeeper/audit.jsonl) [env DOSEKEEPER_AUDIT]
${COMMON}

Exit: 0 applied (acknowledged), 2 invalid file (field paths printed), 3 refused by the
device (code and field paths printed), 4 no answer before --timeout.`,
  status: `Usage: dosekeeper status --device ID [--wait DUR] [--json]

Prints the retained online status and the last telemetry (config version, outbox, faults).
  --wait DUR          how long to wait for retained messages (default 2s)
${COMMON}

Exit: 0 found, 4 nothing retained for this device.`,
  history: `Usage: dosekeeper history --device ID [--since TIME|DUR] [--for DUR] [--api URL]

Without --api: listens to dk/<ID>/evt for --for (default 10s) and prints each event once
(duplicates removed by id). With --api: GET <URL>/devices/<ID>/events?since=… from the relay.
  --since TIME|DUR    ISO time, or a duration back from now (e.g. 24h)
${COMMON}`,
  command: `Usage: dosekeeper command NAME --device ID --key KEY.pem [--args JSON] [options]

NAME: ${COMMANDS.join(", ")}. Examples of --args: tare {"channel":0};
calibrate {"channel":0,"grams":100}; identify {"seconds":10}.
  --timeout DUR       wait for the answer (default 30s)
  --expires DUR       validity of the signed command (default 10m, at most 1h)
  --audit FILE        audit log (default ~/.dosekeeper/audit.jsonl) [env DOSEKEEPER_AUDIT]
${COMMON}

decommission wipes the dispenser (schedule, history, credentials) and clears its retained
config. Exit: 0 done, 3 refused (code printed), 4 no answer.`,
};

interface Parsed {
  pos: string[];
  flags: Map<string, string | true>;
}

const BOOLEAN = new Set(["help", "h", "no-validate", "json"]);

function parseArgs(argv: string[]): Parsed {
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

class Usage extends Error {}

function str(p: Parsed, name: string, required: true): string;
function str(p: Parsed, name: string, required?: false): string | undefined;
function str(p: Parsed, name: string, required = false): string | undefined {
  const v = p.flags.get(name);
  if (v === true) throw new Usage(`--${name} needs a value`);
  if (v === undefined && required) throw new Usage(`--${name} is required`);
  return v;
}

function duration(p: Parsed, name: string, dflt: number): number {
  const v = str(p, name);
  if (v === undefined) return dflt;
  const d = parseDuration(v);
  if (d === undefined) throw new Usage(`--${name}: not a duration (e.g. 30s, 10m, 24h)`);
  return d;
}

function device(p: Parsed): string {
  const d = str(p, "device", true);
  if (!DEVICE_ID_RE.test(d)) throw new Usage(`--device: "${d}" is not a device id ([a-z0-9][a-z0-9_-]{0,31})`);
  return d;
}

function broker(p: Parsed, io: Io): BrokerOptions {
  const caFile = str(p, "ca") ?? io.env.DOSEKEEPER_CA;
  return {
    url: str(p, "broker") ?? io.env.DOSEKEEPER_BROKER ?? "mqtt://localhost:1883",
    username: str(p, "username") ?? io.env.DOSEKEEPER_USERNAME,
    password: str(p, "password") ?? io.env.DOSEKEEPER_PASSWORD,
    ca: caFile ? fs.readFileSync(caFile, "utf8") : undefined,
  };
}

function key(p: Parsed): SigningKey {
  const file = str(p, "key", true);
  try {
    return loadKey(file);
  } catch (e) {
    throw new Usage(`--key ${file}: ${(e as Error).message}`);
  }
}

function auditPath(p: Parsed, io: Io): string {
  return str(p, "audit") ?? io.env.DOSEKEEPER_AUDIT ?? defaultAuditPath();
}

async function cmdKeygen(p: Parsed, io: Io): Promise<number> {
  const dir = str(p, "out") ?? ".";
  fs.mkdirSync(dir, { recursive: true });
  const k = generateKeyPair();
  const priv = path.join(dir, `${k.kid}.key.pem`);
  const pub = path.join(dir, `${k.kid}.pub`);
  fs.writeFileSync(priv, k.privateKeyPem, { mode: 0o600, flag: "wx" });
  fs.writeFileSync(pub, k.publicKeyB64 + "\n", { flag: "wx" });
  io.out(`kid        ${k.kid}\npublic key ${k.publicKeyB64}\nprivate    ${priv}\npublic     ${pub}\n`);
  return EXIT.OK;
}

async function cmdPush(p: Parsed, io: Io): Promise<number> {
  const dev = device(p);
  const file = str(p, "file", true);
  let config: unknown;
  try {
    config = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (e) {
    throw new Usage(`--file ${file}: ${(e as Error).message}`);
  }
  const k = key(p);
  const res = await pushConfig({
    device: dev,
    config,
    key: k,
    broker: broker(p, io),
    timeoutMs: duration(p, "timeout", 30_000),
    expiresMs: duration(p, "expires", 86_400_000),
    noValidate: p.flags.get("no-validate") === true,
    audit: auditPath(p, io),
  });
  const paths = (errs: { code: string; path: string; message?: string }[]): string =>
    errs.map((e) => `  ${e.path || "(root)"}: ${e.code}${e.message ? " — " + e.message : ""}`).join("\n");
  switch (res.outcome) {
    case "invalid":
      io.err(`invalid config, nothing sent:\n${paths(res.errors)}\n`);
      return EXIT.USAGE;
    case "ack":
      io.out(
        `applied on ${dev}: version ${res.version} hash ${res.hash}${res.stat?.deferred ? " (deferred to a safe point)" : ""}${res.stat?.current ? " (already running)" : ""}\n`,
      );
      return EXIT.OK;
    case "refused":
      io.err(
        `refused by ${dev}: ${res.code}${res.stat && res.stat.running !== undefined ? ` (running version ${String(res.stat.running)})` : ""}\n${paths(res.errors)}\n`,
      );
      return EXIT.REFUSED;
    default:
      io.err(`no answer from ${dev} within the timeout; the config stays retained on the broker and applies when the device connects\n`);
      return EXIT.TIMEOUT;
  }
}

async function cmdStatus(p: Parsed, io: Io): Promise<number> {
  const dev = device(p);
  const st = await readStatus(dev, broker(p, io), duration(p, "wait", 2000));
  if (!st.status && !st.tele) {
    io.err(`nothing retained for ${dev}\n`);
    return EXIT.TIMEOUT;
  }
  if (p.flags.get("json") === true) {
    io.out(JSON.stringify(st) + "\n");
    return EXIT.OK;
  }
  const t = st.tele ?? {};
  const cfg = t.cfg as { version?: number; hash?: string } | null | undefined;
  io.out(
    [
      `device   ${dev}`,
      `online   ${st.status ? String(st.status.online) + (st.status.erased ? " (erased)" : "") : "unknown"}`,
      `seen     ${t.t ?? "-"}`,
      `firmware ${t.fw ?? "-"}`,
      `config   ${cfg ? `version ${cfg.version} hash ${cfg.hash}` : "none"}`,
      `outbox   ${t.outbox ?? "-"} pending, ${t.dropped ?? "-"} dropped`,
      `faults   ${Array.isArray(t.faults) && t.faults.length ? t.faults.join(", ") : "none"}`,
    ].join("\n") + "\n",
  );
  return EXIT.OK;
}

async function cmdHistory(p: Parsed, io: Io): Promise<number> {
  const dev = device(p);
  const sinceText = str(p, "since");
  let since: number | undefined;
  if (sinceText !== undefined) {
    const d = parseDuration(sinceText);
    since = d !== undefined ? Date.now() - d : Date.parse(sinceText);
    if (!Number.isFinite(since)) throw new Usage("--since: ISO time or duration");
  }
  const api = str(p, "api");
  const print = (e: Record<string, unknown>): void => io.out(JSON.stringify(e) + "\n");
  if (api !== undefined) {
    for (const e of await fetchHistory(api, dev, since)) print(e);
  } else {
    await listenHistory(dev, broker(p, io), duration(p, "for", 10_000), since, print);
  }
  return EXIT.OK;
}

async function cmdCommand(p: Parsed, io: Io): Promise<number> {
  const name = p.pos[1];
  if (name === undefined || !(COMMANDS as readonly string[]).includes(name)) throw new Usage(`command NAME: one of ${COMMANDS.join(", ")}`);
  const dev = device(p);
  let args: Record<string, unknown> = {};
  const a = str(p, "args");
  if (a !== undefined) {
    try {
      args = JSON.parse(a) as Record<string, unknown>;
    } catch {
      throw new Usage("--args: not JSON");
    }
    if (typeof args !== "object" || args === null || Array.isArray(args)) throw new Usage("--args: a JSON object");
  }
  const expiresMs = duration(p, "expires", 600_000);
  if (expiresMs > 3_600_000) throw new Usage("--expires: at most 1h for commands");
  const res = await sendCommand({
    device: dev,
    name,
    args,
    key: key(p),
    broker: broker(p, io),
    timeoutMs: duration(p, "timeout", 30_000),
    expiresMs,
    audit: auditPath(p, io),
  });
  if (res.outcome === "ack") {
    io.out(`${name} done on ${dev} (id ${res.id})${res.stat?.erased ? ": device erased" : ""}\n`);
    return EXIT.OK;
  }
  if (res.outcome === "refused") {
    io.err(`${name} refused by ${dev}: ${res.code}${res.stat?.path ? ` (${String(res.stat.path)})` : ""}\n`);
    return EXIT.REFUSED;
  }
  io.err(`no answer from ${dev} within the timeout (command id ${res.id}; it expires on its own)\n`);
  return EXIT.TIMEOUT;
}

export async function main(
  argv: string[],
  io: Io = { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s), env: process.env },
): Promise<number> {
  const p = parseArgs(argv);
  const help = p.flags.has("help") || p.flags.has("h");
  const c0 = p.pos[0];
  const topic =
    c0 === "config"
      ? p.pos[1] === "push"
        ? "config push"
        : undefined
      : c0 === "audit"
        ? p.pos[1] === "verify"
          ? "audit verify"
          : undefined
        : c0;
  try {
    if (c0 === undefined || c0 === "help") {
      io.out(HELP.main + "\n");
      return c0 === undefined && !help ? EXIT.USAGE : EXIT.OK;
    }
    if (topic === undefined || HELP[topic] === undefined || topic === "main")
      throw new Usage(`unknown command "${p.pos.slice(0, 2).join(" ")}"`);
    if (help) {
      io.out(HELP[topic] + "\n");
      return EXIT.OK;
    }
    switch (topic) {
      case "keygen":
        return await cmdKeygen(p, io);
      case "config push":
        return await cmdPush(p, io);
      case "status":
        return await cmdStatus(p, io);
      case "history":
        return await cmdHistory(p, io);
      case "audit verify": {
        const v = verifyAudit(auditPath(p, io));
        io.out(
          `audit: ${v.records} records, ${v.torn.length} torn line(s)${v.torn.length ? ` (${v.torn.join(", ")})` : ""}, head ${v.head}\n`,
        );
        for (const b of v.broken) io.out(`broken at line ${b.line}: ${b.reason}\n`);
        io.out(v.ok ? "chain intact\n" : "chain BROKEN: the log was altered\n");
        return v.ok ? EXIT.OK : EXIT.REFUSED;
      }
      default:
        return await cmdCommand(p, io);
    }
  } catch (e) {
    if (e instanceof Usage) {
      io.err(`dosekeeper: ${e.message}\n${topic && HELP[topic] ? HELP[topic] : HELP.main}\n`);
      return EXIT.USAGE;
    }
    io.err(`dosekeeper: ${(e as Error).message}\n`);
    return EXIT.ERROR;
  }
}
