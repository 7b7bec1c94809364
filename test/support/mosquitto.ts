/**
 * A real Mosquitto for tests on loopback ephemeral ports. With `users`, configured like production:
 * per-user passwords (mosquitto_passwd), the shipped policy and ACL (deploy/mosquitto: no anonymous
 * access, client id bound to the user name, size and queue limits), optionally a TLS listener whose CA and server certificate are generated here with
 * `openssl`. Without `users`: anonymous access. Always `persistence false`.
 *
 * Skips cleanly: `mosquittoBin()` / `findMosquitto()` return null when the binaries are missing
 * (Debian: `apt-get install -y mosquitto openssl` — mosquitto lives in /usr/sbin, not on a user's
 * PATH, mosquitto_passwd in /usr/bin).
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { canConnect, freePort } from "./net";

/** An executable `name` on PATH or in the usual system directories (sbin ones included), or null. */
export function findBin(name: string): string | null {
  const dirs = (process.env.PATH ?? "").split(path.delimiter).concat(["/usr/sbin", "/usr/local/sbin", "/usr/bin", "/usr/local/bin"]);
  for (const d of dirs) {
    const p = path.join(d, name);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      // next
    }
  }
  return null;
}

export interface MosquittoBins {
  mosquitto: string;
  passwd: string;
  openssl: string;
}

/** The broker binary alone (enough for anonymous access), or null. */
export function mosquittoBin(): string | null {
  return findBin("mosquitto");
}

/** Paths of mosquitto, mosquitto_passwd and openssl, or null if any is missing. */
export function findMosquitto(): MosquittoBins | null {
  const mosquitto = findBin("mosquitto");
  const passwd = findBin("mosquitto_passwd");
  const openssl = findBin("openssl");
  return mosquitto && passwd && openssl ? { mosquitto, passwd, openssl } : null;
}

export { freePort };

const DEPLOY = fileURLToPath(new URL("../../deploy/mosquitto", import.meta.url));

/** The shipped ACL (deploy/mosquitto/acl): devices see only their own subtree; `admins` see every device. */
export function deviceAcl(admins: readonly string[]): string {
  const lines = [fs.readFileSync(path.join(DEPLOY, "acl"), "utf8"), ""];
  for (const a of admins) lines.push(`user ${a}`, "topic readwrite dk/#", "");
  return lines.join("\n");
}

/** The shipped broker policy (deploy/mosquitto/policy.conf): general lines, and lines for every listener. */
export function brokerPolicy(): { general: string[]; perListener: string[] } {
  const text = fs.readFileSync(path.join(DEPLOY, "policy.conf"), "utf8");
  const [general, listener = ""] = text.split("# --- every listener");
  const lines = (t: string): string[] =>
    t
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => l.length > 0 && !l.startsWith("#") && !l.startsWith("("));
  return { general: lines(general), perListener: lines(listener.slice(listener.indexOf("\n") + 1)) };
}

export interface MosquittoOptions {
  /** user → password (needs mosquitto_passwd). Absent: anonymous access, no ACL. */
  users?: Record<string, string>;
  /** Users with read/write on dk/# (pharmacist, relay). */
  admins?: string[];
  /** A TLS listener too (needs openssl). */
  tls?: boolean;
  /** More mosquitto.conf lines, e.g. "max_inflight_messages 20". */
  extraConf?: string[];
}

/** Where the binaries are: the broker always; mosquitto_passwd with `users`, openssl with `tls`. */
export type MosquittoPaths = Pick<MosquittoBins, "mosquitto"> & Partial<MosquittoBins>;

export class Mosquitto {
  proc: ChildProcess | null = null;
  port = 0;
  tlsPort = 0;
  readonly dir: string;
  caPem = "";
  log = "";

  private constructor(
    readonly bins: MosquittoPaths,
    readonly opts: MosquittoOptions,
  ) {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), "dk-mosq-"));
  }

  static async start(bins: MosquittoPaths, opts: MosquittoOptions = {}): Promise<Mosquitto> {
    const m = new Mosquitto(bins, opts);
    await m.configure();
    await m.run();
    return m;
  }

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  private file(name: string): string {
    return path.join(this.dir, name);
  }

  private bin(name: "passwd" | "openssl"): string {
    const b = this.bins[name];
    if (b === undefined) throw new Error(`Mosquitto: ${name} binary needed for these options`);
    return b;
  }

  private openssl(args: string[]): void {
    execFileSync(this.bin("openssl"), args, { cwd: this.dir, stdio: "pipe", timeout: 60_000 });
  }

  private async configure(): Promise<void> {
    this.port = await freePort();
    const conf = ["per_listener_settings false"];
    const listenerPolicy = this.opts.users !== undefined ? brokerPolicy().perListener : [];
    if (this.opts.users !== undefined) {
      const passwd = this.bin("passwd");
      Object.entries(this.opts.users).forEach(([u, p], i) =>
        execFileSync(passwd, i === 0 ? ["-b", "-c", this.file("passwd"), u, p] : ["-b", this.file("passwd"), u, p], {
          stdio: "pipe",
          timeout: 30_000,
        }),
      );
      fs.writeFileSync(this.file("acl"), deviceAcl(this.opts.admins ?? []));
      // As deployed: the shipped policy (no anonymous, client id = user name, limits) and ACL.
      conf.push(...brokerPolicy().general, `password_file ${this.file("passwd")}`, `acl_file ${this.file("acl")}`);
    } else {
      conf.push("allow_anonymous true");
    }
    conf.push(
      "persistence false",
      "log_dest stderr",
      "log_type error",
      "log_type warning",
      ...(this.opts.extraConf ?? []),
      `listener ${this.port} 127.0.0.1`,
      ...listenerPolicy,
    );
    if (os.userInfo().uid === 0) conf.unshift("user root"); // otherwise it drops to "mosquitto" and cannot read the temp dir
    if (this.opts.tls) {
      this.tlsPort = await freePort();
      this.openssl([
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=dk-test-ca",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
      ]);
      fs.writeFileSync(
        this.file("ext.cnf"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n",
      );
      this.openssl([
        "req",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-subj",
        "/CN=localhost",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
      ]);
      this.openssl([
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        "ext.cnf",
        "-out",
        "server.crt",
      ]);
      this.caPem = fs.readFileSync(this.file("ca.crt"), "utf8");
      conf.push(
        `listener ${this.tlsPort} 127.0.0.1`,
        `cafile ${this.file("ca.crt")}`,
        `certfile ${this.file("server.crt")}`,
        `keyfile ${this.file("server.key")}`,
        "tls_version tlsv1.2",
        ...listenerPolicy,
      );
    }
    fs.writeFileSync(this.file("mosquitto.conf"), conf.join("\n") + "\n");
  }

  private async run(): Promise<void> {
    const p = spawn(this.bins.mosquitto, ["-c", this.file("mosquitto.conf")], { stdio: ["ignore", "ignore", "pipe"] });
    p.stderr?.on("data", (d: Buffer) => (this.log += d.toString()));
    this.proc = p;
    const end = Date.now() + 8000;
    while (!(await canConnect(this.port)) || (this.opts.tls && !(await canConnect(this.tlsPort)))) {
      if (p.exitCode !== null) throw new Error("mosquitto exited: " + this.log);
      if (Date.now() > end) throw new Error("mosquitto did not start: " + this.log);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  /** Sends `sig` to the running broker (e.g. SIGSTOP to freeze it). */
  signal(sig: NodeJS.Signals): void {
    const p = this.proc;
    if (p && p.pid !== undefined && p.exitCode === null && p.signalCode === null) p.kill(sig);
  }

  /** Crash: SIGKILL, wait for the exit. Nothing persists (persistence false); restart() brings it back. */
  async kill(): Promise<void> {
    await this.end("SIGKILL");
  }

  /** Starts the broker again on the same port(s) with the same configuration. */
  async restart(): Promise<void> {
    if (this.proc) throw new Error("mosquitto is running");
    await this.run();
  }

  /** SIGTERM, wait for the exit, remove the temporary directory. */
  async stop(): Promise<void> {
    await this.end("SIGTERM");
    fs.rmSync(this.dir, { recursive: true, force: true });
  }

  private async end(sig: NodeJS.Signals): Promise<void> {
    const p = this.proc;
    this.proc = null;
    if (p && p.exitCode === null && p.signalCode === null) {
      const exited = new Promise((r) => p.once("exit", r));
      p.kill(sig);
      p.kill("SIGCONT"); // in case it was frozen with SIGSTOP
      await exited;
    }
  }
}
