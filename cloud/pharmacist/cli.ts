/**
 * `dosekeeper` command line for pharmacists (docs/pharmacist.md).
 *
 * Exit codes: 0 ok / acknowledged, 1 error (broker unreachable, key unreadable), 2 usage or
 * invalid file (nothing published), 3 refused by the device, 4 timeout (no answer).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { generateKeyPair } from "../signing";
import { verifyAudit } from "./audit";
import { COMMANDS, pushConfig, sendCommand, type CommandResult } from "./lib";
import { EXIT, Settings, Usage, device, duration, parseArgs, str, type Io, type Parsed } from "./args";
import { cmdHistory, cmdStatus } from "./cli-read";
import { cmdRefill } from "./cli-refill";
import { putSchedule } from "./relay-api";
import { sendUpdate } from "./ota";
import { addBrokerAccount, nvsCsv, provisionArtefact, ProvisionError } from "./provision";
import { publicKeyB64FromPrivatePem } from "../signing";
import { HELP } from "./help";

export { EXIT, type Io } from "./args";

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

async function cmdPush(p: Parsed, io: Io, s: Settings): Promise<number> {
  const dev = device(p);
  const file = str(p, "file", true);
  let config: unknown;
  try {
    config = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (e) {
    throw new Usage(`--file ${file}: ${(e as Error).message}`);
  }
  const k = s.key();
  const t = await s.now();
  const res = await pushConfig({
    device: dev,
    config,
    key: k,
    broker: s.broker(),
    timeoutMs: duration(p, "timeout", 30_000),
    expiresMs: duration(p, "expires", 86_400_000),
    noValidate: p.flags.get("no-validate") === true,
    audit: s.audit(),
    now: () => t,
  });
  const paths = (errs: { code: string; path: string; message?: string }[]): string =>
    errs.map((e) => `  ${e.path || "(root)"}: ${e.code}${e.message ? " — " + e.message : ""}`).join("\n");
  switch (res.outcome) {
    case "invalid":
      io.err(`invalid config, nothing sent:\n${paths(res.errors)}\n`);
      return EXIT.USAGE;
    case "ack": {
      io.out(
        `applied on ${dev}: version ${res.version} hash ${res.hash}${res.stat?.deferred ? " (deferred to a safe point)" : ""}${res.stat?.current ? " (already running)" : ""}\n`,
      );
      return storeOnRelay(io, s, dev, config);
    }
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

/** After an acknowledged push: the relay's copy of the schedule (its dead-man alerts follow it). */
async function storeOnRelay(io: Io, s: Settings, dev: string, config: unknown): Promise<number> {
  const api = s.api();
  if (api === undefined) {
    io.err("relay: no API set (--api, DOSEKEEPER_API or a profile): the relay's copy of the schedule is not updated\n");
    return EXIT.OK;
  }
  const r = await putSchedule(api.url, dev, config, api.token);
  if (r.ok) {
    io.out(`relay: schedule version ${r.version} ${r.already ? "already stored" : "stored"} (${api.url})\n`);
    return EXIT.OK;
  }
  io.err(
    `relay did not store the schedule: ${r.status ? "HTTP " + r.status + " " : ""}${r.code}${r.status === 401 ? " (a token is needed: --token or DOSEKEEPER_TOKEN)" : ""}. ` +
      "The device runs it, but the relay's dead-man alerts follow its old copy until the push is run again\n",
  );
  return EXIT.ERROR;
}

/** Sign and send one command; report the outcome with its code and the exit status. */
async function runCommand(p: Parsed, io: Io, s: Settings, name: string, args: Record<string, unknown>): Promise<number> {
  const dev = device(p);
  // A simulator's clock runs warped: give the command the longest lifetime the device accepts.
  const expiresMs = duration(p, "expires", s.simulated ? 3_600_000 : 600_000);
  if (expiresMs > 3_600_000) throw new Usage("--expires: at most 1h for commands");
  const k = s.key();
  const t = await s.now();
  const res: CommandResult = await sendCommand({
    device: dev,
    name,
    args,
    key: k,
    broker: s.broker(),
    timeoutMs: duration(p, "timeout", 30_000),
    expiresMs,
    audit: s.audit(),
    now: () => t,
  });
  const keys = Array.isArray(res.stat?.keys) ? ` — trusted keys now: ${(res.stat.keys as string[]).join(", ")}` : "";
  if (res.outcome === "ack") {
    io.out(`${name} done on ${dev} (id ${res.id})${res.stat?.erased ? ": device erased" : ""}${keys}\n`);
    return EXIT.OK;
  }
  if (res.outcome === "refused") {
    io.err(`${name} refused by ${dev}: ${res.code}${res.stat?.path ? ` (${String(res.stat.path)})` : ""}${keys}\n`);
    return EXIT.REFUSED;
  }
  io.err(`no answer from ${dev} within the timeout (command id ${res.id}; it expires on its own)\n`);
  return EXIT.TIMEOUT;
}

async function cmdCommand(p: Parsed, io: Io, s: Settings): Promise<number> {
  const name = p.pos[1];
  if (name === undefined || !(COMMANDS as readonly string[]).includes(name)) throw new Usage(`command NAME: one of ${COMMANDS.join(", ")}`);
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
  return runCommand(p, io, s, name, args);
}

/** `dosekeeper ota`: send a firmware image, follow it to acceptance or rollback (docs/ota.md). */
async function cmdOta(p: Parsed, io: Io, s: Settings): Promise<number> {
  const dev = device(p);
  const file = str(p, "file", true);
  const version = str(p, "version", true);
  if (!/^[0-9]{1,4}\.[0-9]{1,4}\.[0-9]{1,4}(?:-[a-z0-9.]{1,16})?$/.test(version)) throw new Usage("--version: MAJOR.MINOR.PATCH[-tag]");
  let image: Uint8Array;
  try {
    image = new Uint8Array(fs.readFileSync(file));
  } catch (e) {
    throw new Usage(`--file ${file}: ${(e as Error).message}`);
  }
  const chunk = Number(str(p, "chunk") ?? 4096);
  if (!(Number.isInteger(chunk) && chunk >= 256 && chunk <= 8192)) throw new Usage("--chunk: 256..8192 bytes");
  const t = await s.now();
  const res = await sendUpdate({
    device: dev,
    image,
    version,
    target: str(p, "target") ?? (s.simulated ? "sim" : "esp32"),
    key: s.key(),
    broker: s.broker(),
    chunkBytes: chunk,
    timeoutMs: duration(p, "timeout", 30_000),
    trialTimeoutMs: duration(p, "trial-timeout", 360_000),
    expiresMs: s.simulated ? 3_600_000 : 600_000,
    audit: s.audit(),
    now: () => t,
    progress: (line) => io.out(line),
  });
  const resent = res.resent > 0 ? ` (${res.resent} chunk(s) resent)` : "";
  switch (res.outcome) {
    case "valid":
      io.out(`${dev} runs ${version}: self-test passed, image kept${resent}
`);
      return EXIT.OK;
    case "refused":
      io.err(`ota refused by ${dev}: ${res.code}
`);
      return EXIT.REFUSED;
    case "failed":
      io.err(`ota failed on ${dev}: ${res.code}; the running image stays
`);
      return EXIT.REFUSED;
    case "rolled_back":
      io.err(`${dev} rolled back to its previous image (${res.detail})
`);
      return EXIT.REFUSED;
    default:
      io.err(`no answer from ${dev} within the timeout (command id ${res.id}); run it again to resume
`);
      return EXIT.TIMEOUT;
  }
}

/** `dosekeeper provision`: a device identity as its NVS settings, broker account, relay registration. */
async function cmdProvision(p: Parsed, io: Io, s: Settings): Promise<number> {
  const dev = device(p);
  const read = (flag: string): string | undefined => {
    const f = str(p, flag);
    if (f === undefined) return undefined;
    try {
      return fs.readFileSync(f, "utf8");
    } catch (e) {
      throw new Usage(`--${flag} ${f}: ${(e as Error).message}`);
    }
  };
  const trust = str(p, "trust");
  const keys =
    trust === undefined
      ? [publicKeyB64FromPrivatePem(s.key().privateKeyPem)]
      : trust.split(",").map((t) => (fs.existsSync(t) ? fs.readFileSync(t, "utf8").trim() : t.trim()));
  const caPem = read("ca");
  let art: ReturnType<typeof provisionArtefact>;
  try {
    art = provisionArtefact({
      device: dev,
      broker: str(p, "broker", true),
      ...(caPem !== undefined ? { caPem } : {}),
      trustKeys: keys,
      ...(str(p, "wifi-ssid") !== undefined ? { wifiSsid: str(p, "wifi-ssid") } : {}),
      ...(str(p, "wifi-password") !== undefined ? { wifiPassword: str(p, "wifi-password") } : {}),
    });
  } catch (e) {
    if (e instanceof ProvisionError) throw new Usage(e.message);
    throw e;
  }
  const out = str(p, "out") ?? `${dev}.provision.json`;
  fs.writeFileSync(out, JSON.stringify(art, null, 2) + "\n", { mode: 0o600, flag: "wx" });
  io.out(
    `device   ${dev}\nbroker   ${art.prefs.mqttTls === "1" ? "mqtts" : "mqtt"}://${art.prefs.mqttHost}:${art.prefs.mqttPort} as ${art.prefs.mqttUser}${art.prefs.mqttCa ? " (trusts the given CA)" : ""}\n`,
  );
  io.out(`keys     ${keys.length} trusted pharmacist key(s)\nsettings ${out} (NVS namespace ${art.namespace}, mode 0600)\n`);
  const csv = str(p, "nvs-csv");
  if (csv !== undefined) {
    fs.writeFileSync(csv, nvsCsv(art), { mode: 0o600 });
    io.out(`nvs csv  ${csv} (nvs_partition_gen.py generate ${csv} nvs.bin 0x6000)\n`);
  }
  const passwd = str(p, "passwd");
  if (passwd !== undefined) {
    try {
      addBrokerAccount(passwd, art);
    } catch (e) {
      io.err(`broker account not added to ${passwd}: ${(e as Error).message}\n`);
      return EXIT.ERROR;
    }
    io.out(`broker   account ${art.prefs.mqttUser} added to ${passwd} (reload Mosquitto: SIGHUP)\n`);
  }
  const cfgFile = str(p, "config");
  if (cfgFile === undefined) return EXIT.OK;
  let config: unknown;
  try {
    config = JSON.parse(fs.readFileSync(cfgFile, "utf8"));
  } catch (e) {
    throw new Usage(`--config ${cfgFile}: ${(e as Error).message}`);
  }
  return storeOnRelay(io, s, dev, config);
}

const KID_RE = /^[0-9a-f]{16}$/;

async function cmdKey(p: Parsed, io: Io, s: Settings, op: "trust" | "revoke"): Promise<number> {
  if (op === "revoke") {
    const kid = str(p, "kid", true);
    if (!KID_RE.test(kid)) throw new Usage("--kid: a key id (16 hex digits, from keygen)");
    return runCommand(p, io, s, "keys", { revoke: kid });
  }
  const pub = str(p, "pub", true);
  const text = fs.existsSync(pub) ? fs.readFileSync(pub, "utf8").trim() : pub.trim();
  const raw = Buffer.from(text, "base64");
  if (!/^[A-Za-z0-9+/]{43}=$/.test(text) || raw.length !== 32)
    throw new Usage("--pub: a .pub file from keygen or a base64 Ed25519 public key");
  const replace = str(p, "replace");
  if (replace !== undefined && !KID_RE.test(replace)) throw new Usage("--replace: a key id (16 hex digits)");
  return runCommand(p, io, s, "keys", { add: text, ...(replace !== undefined ? { revoke: replace } : {}) });
}

function topicOf(p: Parsed): string | undefined {
  const [c0, c1] = p.pos;
  if (c0 === "config") return c1 === "push" ? "config push" : undefined;
  if (c0 === "audit") return c1 === "verify" ? "audit verify" : undefined;
  if (c0 === "key") return c1 === "trust" || c1 === "revoke" ? `key ${c1}` : undefined;
  return c0;
}

export async function main(
  argv: string[],
  io: Io = { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s), env: process.env, cwd: process.cwd() },
): Promise<number> {
  const p = parseArgs(argv);
  const help = p.flags.has("help") || p.flags.has("h");
  const c0 = p.pos[0];
  const topic = topicOf(p);
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
    if (topic === "keygen") return await cmdKeygen(p, io);
    const s = new Settings(p, io);
    if (topic === "audit verify") {
      const v = verifyAudit(s.audit());
      io.out(
        `audit: ${v.records} records, ${v.torn.length} torn line(s)${v.torn.length ? ` (${v.torn.join(", ")})` : ""}, head ${v.head}\n`,
      );
      for (const b of v.broken) io.out(`broken at line ${b.line}: ${b.reason}\n`);
      io.out(v.ok ? "chain intact\n" : "chain BROKEN: the log was altered\n");
      return v.ok ? EXIT.OK : EXIT.REFUSED;
    }
    s.announce();
    switch (topic) {
      case "config push":
        return await cmdPush(p, io, s);
      case "status":
        return await cmdStatus(p, io, s);
      case "history":
        return await cmdHistory(p, io, s);
      case "refill":
        return await cmdRefill(p, io, s);
      case "key trust":
        return await cmdKey(p, io, s, "trust");
      case "key revoke":
        return await cmdKey(p, io, s, "revoke");
      case "ota":
        return await cmdOta(p, io, s);
      case "provision":
        return await cmdProvision(p, io, s);
      default:
        return await cmdCommand(p, io, s);
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
