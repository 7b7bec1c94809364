/**
 * Pharmacist CLI end to end: aedes on loopback + a live device (createDispenser + createLink over
 * host-sim/net-node.ts). The CLI runs in-process through main(argv, io); one test spawns the real
 * `npx dosekeeper` shim.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import * as os from "node:os";
import * as path from "node:path";
import { main, type Io } from "../../../cloud/pharmacist/cli";
import { readAudit } from "../../../cloud/pharmacist/audit";
import { loadKey } from "../../../cloud/pharmacist/lib";
import { createNodeClock, createNodeNetwork, createNodeTimers } from "../../../host-sim/net-node";
import { AedesBroker } from "../../support/aedes";
import { waitFor } from "../../support/net";
import { homeConfig, makeDevice, type TestDevice } from "../../firmware/core/link/harness";
import { base64Decode } from "../../../firmware/core/crypto/base64";

const ID = "dk-pharm-1";

async function run(argv: string[], env: Record<string, string | undefined> = {}): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const io: Io = { out: (s) => (out += s), err: (s) => (err += s), env };
  const code = await main(argv, io);
  return { code, out, err };
}

describe("dosekeeper CLI x aedes x live device", () => {
  const broker = new AedesBroker();
  const timers = createNodeTimers();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dk-pharm-"));
  const audit = path.join(dir, "audit", "audit.jsonl");
  let keyFile = "";
  let kid = "";
  let dev: TestDevice;
  let env: Record<string, string>;

  beforeAll(async () => {
    await broker.start();
    env = { DOSEKEEPER_BROKER: broker.url, DOSEKEEPER_AUDIT: audit };
    const r = await run(["keygen", "--out", path.join(dir, "keys")]);
    expect(r.code).toBe(0);
    kid = /kid\s+([0-9a-f]{16})/.exec(r.out)![1];
    keyFile = path.join(dir, "keys", `${kid}.key.pem`);
    const pub = fs.readFileSync(path.join(dir, "keys", `${kid}.pub`), "utf8").trim();
    dev = makeDevice({
      id: ID,
      network: createNodeNetwork(),
      clock: createNodeClock(),
      timers,
      trustedKeys: [{ kid, publicKey: base64Decode(pub)! }],
      broker: { host: "127.0.0.1", port: broker.port, tls: false, username: ID, password: "x" },
      mqtt: { backoffInitialMs: 100, backoffMaxMs: 300 },
    });
    await waitFor("device connected", () => dev.link.state === "connected");
  });

  afterAll(async () => {
    dev.link.stop();
    dev.dispenser.stop();
    timers.cancelAll();
    await broker.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  function writeConfig(name: string, cfg: unknown): string {
    const f = path.join(dir, name);
    fs.writeFileSync(f, typeof cfg === "string" ? cfg : JSON.stringify(cfg));
    return f;
  }

  it("keygen writes a 0600 private key whose kid matches", () => {
    expect(loadKey(keyFile).kid).toBe(kid);
    expect(fs.statSync(keyFile).mode & 0o777).toBe(0o600);
  });

  it("config push: applied → exit 0, outcome printed, audit line written", async () => {
    const f = writeConfig("v2.json", homeConfig(ID, 2));
    const r = await run(["config", "push", "--device", ID, "--file", f, "--key", keyFile, "--timeout", "10s"], env);
    expect(r.err).toContain("relay: no API set");
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/applied on dk-pharm-1: version 2 hash [0-9a-f]+/);
    expect(dev.dispenser.status().config!.version).toBe(2);
    const last = readAudit(audit).at(-1)!;
    expect(last).toMatchObject({
      action: "config.push",
      device: ID,
      version: 2,
      outcome: "ack",
      who: { kid, user: os.userInfo().username },
    });
    expect(last.hash).toBe(dev.dispenser.status().config!.hash);
    expect(typeof last.time).toBe("string");
  });

  it("config push refused by the device (hardware it does not have) → exit 3 with the field paths", async () => {
    const cfg = homeConfig(ID, 3);
    (cfg.compartments as Record<string, unknown>[])[1].channel = 7; // fine for the generous local check, not for 3 channels
    const r = await run(
      ["config", "push", "--device", ID, "--file", writeConfig("v3.json", cfg), "--key", keyFile, "--timeout", "10s"],
      env,
    );
    expect(r.code).toBe(3);
    expect(r.err).toContain("CFG_INVALID");
    expect(r.err).toContain("compartments[1].channel");
    expect(r.err).toContain("running version 2");
    expect(dev.dispenser.status().config!.version).toBe(2);
    expect(readAudit(audit).at(-1)).toMatchObject({
      outcome: "refused",
      code: "CFG_INVALID",
      errors: [{ code: "CFG_HW", path: "compartments[1].channel" }],
    });
  });

  it("config push of a stale version → exit 3 CFG_STALE", async () => {
    const r = await run(
      ["config", "push", "--device", ID, "--file", writeConfig("v1.json", homeConfig(ID, 1)), "--key", keyFile, "--timeout", "10s"],
      env,
    );
    expect(r.code).toBe(3);
    expect(r.err).toContain("CFG_STALE");
  });

  it("invalid file → exit 2, nothing published (local validation with field paths, bad JSON, wrong device)", async () => {
    const cfg = homeConfig(ID, 4);
    (cfg.doses as Record<string, unknown>[])[0].at = "25:61";
    const before = readAudit(audit).length;
    const a = await run(["config", "push", "--device", ID, "--file", writeConfig("bad.json", cfg), "--key", keyFile], env);
    expect(a.code).toBe(2);
    expect(a.err).toContain("doses[0].at");
    const b = await run(["config", "push", "--device", ID, "--file", writeConfig("notjson.json", "{"), "--key", keyFile], env);
    expect(b.code).toBe(2);
    const c = await run(
      ["config", "push", "--device", "dk-other", "--file", writeConfig("v4.json", homeConfig(ID, 4)), "--key", keyFile],
      env,
    );
    expect(c.code).toBe(2);
    expect(c.err).toContain("CFG_WRONG_DEVICE");
    const d = await run(["config", "push", "--device", ID, "--key", keyFile], env);
    expect(d.code).toBe(2);
    expect(d.err).toContain("--file is required");
    expect(dev.dispenser.status().config!.version).toBe(2);
    expect(
      readAudit(audit)
        .slice(before)
        .map((x) => x.outcome),
    ).toEqual(["invalid", "invalid"]);
  });

  it("no device answering → exit 4 after --timeout", async () => {
    const other = "dk-ghost";
    const t0 = Date.now();
    const r = await run(
      [
        "config",
        "push",
        "--device",
        other,
        "--file",
        writeConfig("ghost.json", homeConfig(other, 1)),
        "--key",
        keyFile,
        "--timeout",
        "700ms",
      ],
      env,
    );
    expect(r.code).toBe(4);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(650);
    expect(readAudit(audit).at(-1)).toMatchObject({ device: other, outcome: "timeout" });
  });

  it("broker unreachable → exit 1", async () => {
    const r = await run(
      [
        "config",
        "push",
        "--device",
        ID,
        "--file",
        writeConfig("v5.json", homeConfig(ID, 5)),
        "--key",
        keyFile,
        "--broker",
        "mqtt://127.0.0.1:1",
        "--timeout",
        "2s",
      ],
      env,
    );
    expect(r.code).toBe(1);
    expect(r.err).toContain("broker");
  });

  it("status shows the retained status and telemetry", async () => {
    const r = await run(["status", "--device", ID, "--wait", "3s"], env);
    expect(r.code).toBe(0);
    expect(r.out).toContain("online   true");
    expect(r.out).toMatch(/config\s+version \d/);
    const j = await run(["status", "--device", ID, "--json"], env);
    expect(JSON.parse(j.out).status).toEqual({ v: 1, online: true });
    const none = await run(["status", "--device", "dk-nobody", "--wait", "300ms"], env);
    expect(none.code).toBe(4);
  });

  it("command: identify → 0; calibrate without grams → 3; audit has both", async () => {
    const a = await run(["command", "identify", "--device", ID, "--key", keyFile, "--args", '{"seconds":3}', "--timeout", "10s"], env);
    expect(a.code).toBe(0);
    expect(dev.events.some((e) => e.type === "identify")).toBe(true);
    const b = await run(["command", "calibrate", "--device", ID, "--key", keyFile, "--args", '{"channel":0}', "--timeout", "10s"], env);
    expect(b.code).toBe(3);
    expect(b.err).toContain("CMD_ARGS");
    const tail = readAudit(audit).slice(-2);
    expect(tail.map((x) => [x.action, x.name, x.outcome])).toEqual([
      ["command", "identify", "ack"],
      ["command", "calibrate", "refused"],
    ]);
    const bad = await run(["command", "reboot", "--device", ID, "--key", keyFile], env);
    expect(bad.code).toBe(2);
    const long = await run(["command", "tare", "--device", ID, "--key", keyFile, "--expires", "2h"], env);
    expect(long.code).toBe(2);
  });

  it("a command over the size cap is refused before anything is published (CMD_TOO_BIG)", async () => {
    const before = readAudit(audit).length;
    const r = await run(
      ["command", "identify", "--device", ID, "--key", keyFile, "--args", JSON.stringify({ seconds: 5, pad: "x".repeat(25_000) })],
      env,
    );
    expect(r.code).toBe(1);
    expect(r.err).toContain("CMD_TOO_BIG");
    expect(readAudit(audit).length).toBe(before);
  });

  it("history prints the events published while listening, once each", async () => {
    const p = run(["history", "--device", ID, "--for", "1500ms", "--json"], env);
    await new Promise((r) => setTimeout(r, 400));
    dev.dispenser.log("button", "info", { kind: "long" });
    const r = await p;
    expect(r.code).toBe(0);
    const lines = r.out
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(lines.some((e) => e.type === "button" && e.data.kind === "long")).toBe(true);
    expect(new Set(lines.map((e) => e.id)).size).toBe(lines.length);
  });

  async function newKey(sub: string): Promise<{ kid: string; key: string; pub: string }> {
    const r = await run(["keygen", "--out", path.join(dir, sub)]);
    const k = /kid\s+([0-9a-f]{16})/.exec(r.out)![1];
    return { kid: k, key: path.join(dir, sub, `${k}.key.pem`), pub: path.join(dir, sub, `${k}.pub`) };
  }

  it("a command signed by a key the device does not trust: refused with its code (exit 3), not a timeout", async () => {
    const other = await newKey("stranger");
    const r = await run(["command", "identify", "--device", ID, "--key", other.key, "--timeout", "5s"], env);
    expect(r.code).toBe(3);
    expect(r.err).toContain("SIG_UNKNOWN_KEY");
  });

  it("key trust / key revoke: a trusted key adds a new one, the new one revokes the old, the last one stays", async () => {
    const k2 = await newKey("second");
    const t = await run(["key", "trust", "--device", ID, "--pub", k2.pub, "--key", keyFile, "--timeout", "10s"], env);
    expect(t.code).toBe(0);
    expect(t.out).toContain(`trusted keys now: ${kid}, ${k2.kid}`);
    const next = (dev.dispenser.status().config?.version ?? 0) + 1;
    const pushed = await run(
      ["config", "push", "--device", ID, "--file", writeConfig("k2.json", homeConfig(ID, next)), "--key", k2.key],
      env,
    );
    expect(pushed.code).toBe(0);
    const rv = await run(["key", "revoke", "--device", ID, "--kid", kid, "--key", k2.key, "--timeout", "10s"], env);
    expect(rv.code).toBe(0);
    expect(rv.out).toContain(`trusted keys now: ${k2.kid}`);
    const old = await run(["command", "identify", "--device", ID, "--key", keyFile, "--timeout", "5s"], env);
    expect(old.code).toBe(3);
    expect(old.err).toContain("SIG_UNKNOWN_KEY");
    const last = await run(["key", "revoke", "--device", ID, "--kid", k2.kid, "--key", k2.key, "--timeout", "10s"], env);
    expect(last.code).toBe(3);
    expect(last.err).toContain("CMD_LAST_KEY");
    expect((await run(["key", "revoke", "--device", ID, "--kid", "nothex", "--key", k2.key], env)).code).toBe(2);
    // Rotate back in one command (add the first key, revoke the second), for the tests below.
    const back = await run(
      ["key", "trust", "--device", ID, "--pub", path.join(dir, "keys", `${kid}.pub`), "--replace", k2.kid, "--key", k2.key],
      env,
    );
    expect(back.code).toBe(0);
    expect(back.out).toContain(`trusted keys now: ${kid}\n`);
  });

  it("after an acknowledged push the relay's copy is stored (bearer token); a relay that refuses it → exit 1", async () => {
    const seen: { auth: string | undefined; body: { version?: number; device?: string } }[] = [];
    const api = http.createServer((req, res) => {
      let b = "";
      req.on("data", (c) => (b += c));
      req.on("end", () => {
        seen.push({ auth: req.headers.authorization, body: JSON.parse(b) });
        const ok = req.method === "PUT" && req.url === `/api/devices/${ID}/config` && req.headers.authorization === "Bearer good";
        res.writeHead(ok ? 200 : 401, { "content-type": "application/json" });
        res.end(JSON.stringify(ok ? { ok: true } : { code: "RELAY_AUTH" }));
      });
    });
    await new Promise<void>((r) => api.listen(0, "127.0.0.1", r));
    const url = `http://127.0.0.1:${(api.address() as { port: number }).port}`;
    try {
      const v = (dev.dispenser.status().config?.version ?? 0) + 1;
      const f = writeConfig("relay.json", homeConfig(ID, v));
      const bad = await run(["config", "push", "--device", ID, "--file", f, "--key", keyFile, "--api", url], env);
      expect(bad.out).toContain(`applied on ${ID}: version ${v}`);
      expect(bad.err).toContain("relay did not store the schedule: HTTP 401 RELAY_AUTH");
      expect(bad.code).toBe(1);
      expect(dev.dispenser.status().config!.version).toBe(v);
      // Run again with the token: the device already runs it, the relay stores it.
      const good = await run(["config", "push", "--device", ID, "--file", f, "--key", keyFile, "--api", url, "--token", "good"], env);
      expect(good.out).toContain(`relay: schedule version ${v} stored`);
      expect(good.code).toBe(0);
      expect(seen.map((x) => [x.auth, x.body.version, x.body.device])).toEqual([
        [undefined, v, ID],
        ["Bearer good", v, ID],
      ]);
    } finally {
      await new Promise((r) => api.close(r));
    }
  });

  it("a profile gives broker, key and audit log: no flag needed", async () => {
    const file = path.join(dir, "profile.json");
    fs.writeFileSync(file, JSON.stringify({ v: 1, broker: broker.url, key: keyFile, audit }));
    const r = await run(["command", "identify", "--device", ID, "--args", '{"seconds":1}'], { DOSEKEEPER_PROFILE: file });
    expect(r.code).toBe(0);
    expect(r.err).toContain(`using ${file}`);
    const bad = path.join(dir, "bad-profile.json");
    fs.writeFileSync(bad, JSON.stringify({ v: 1, broker: 7 }));
    const b = await run(["status", "--device", ID], { DOSEKEEPER_PROFILE: bad });
    expect(b.code).toBe(1);
    expect(b.err).toContain('"broker" must be a string');
  });

  it("refill: verified at once when the tray holds the doses; else expected; a wrong compartment refused; status shows the stock", async () => {
    await waitFor("trays read", () => dev.dispenser.status().stock.some((x) => x.doses !== null), 15_000);
    const first = dev.dispenser.status().stock.find((x) => x.doses !== null)!;
    const now = await run(["refill", "--device", ID, "--comp", first.comp, "--doses", String(first.doses), "--key", keyFile], env);
    expect(now.code).toBe(0);
    expect(now.out).toContain(`refill verified on ${ID}: ${first.comp} holds ${first.doses} doses`);
    const later = await run(["refill", "--device", ID, "--comp", first.comp, "--doses", String(first.doses! + 7), "--key", keyFile], env);
    expect(later.code).toBe(0);
    expect(later.out).toContain(`the device checks for ${first.doses! + 7} at the next refill`);
    const bad = await run(["refill", "--device", ID, "--comp", "nowhere", "--doses", "3", "--key", keyFile], env);
    expect(bad.code).toBe(3);
    expect(bad.err).toContain("CMD_NO_COMPARTMENT");
    expect((await run(["refill", "--device", ID, "--comp", first.comp, "--doses", "-1", "--key", keyFile], env)).code).toBe(2);
    const status = await run(["status", "--device", ID], env);
    expect(status.out).toContain(`stock    ${first.comp} ${first.doses} doses`);
  });

  it("--help on every command exits 0", async () => {
    for (const argv of [
      ["--help"],
      ["keygen", "--help"],
      ["config", "push", "--help"],
      ["status", "--help"],
      ["history", "--help"],
      ["command", "--help"],
      ["key", "trust", "--help"],
      ["key", "revoke", "--help"],
      ["refill", "--help"],
    ]) {
      const r = await run(argv);
      expect(r.code).toBe(0);
      expect(r.out).toContain("Usage: dosekeeper");
    }
    expect((await run([])).code).toBe(2);
  });

  it("npx dosekeeper --help works from the repo (bin shim)", () => {
    const r = spawnSync("npx", ["--no-install", "dosekeeper", "--help"], {
      encoding: "utf8",
      cwd: path.join(__dirname, "../../.."),
      timeout: 60_000,
    });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("config push");
  });

  it("decommission: device erased, retained config cleared", async () => {
    const r = await run(["command", "decommission", "--device", ID, "--key", keyFile, "--timeout", "10s"], env);
    expect(r.code).toBe(0);
    expect(r.out).toContain("device erased");
    expect(dev.erasedCalls).toBe(1);
    await waitFor("device disconnected", () => dev.link.state === "stopped");
    const st = await run(["status", "--device", ID, "--json", "--wait", "500ms"], env);
    expect(JSON.parse(st.out).status).toEqual({ v: 1, online: false, erased: true });
  });
});
