/**
 * The pharmacist CLI against the stack of `npm start`, with no flag: the stack writes its
 * profile (.dosekeeper/cli.json: broker account, relay token, key, simulator clock) and the CLI,
 * run from the folder above, finds it. The fleet runs warped on a date far from today, so a push
 * is accepted only because the CLI signs on the simulator's clock.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { startStack, type Stack } from "../../host-sim/live/stack";
import { main, type Io } from "../../cloud/pharmacist/cli";
import { waitFor } from "../support/net";
import { simImage } from "../../cloud/firmware-image";

const ROOT = path.resolve(__dirname, "../..");
const START = Date.parse("2026-03-10T06:55:00Z");

describe("dosekeeper CLI x npm start stack (profile, simulated clock)", () => {
  let stack: Stack;
  let dir: string;
  const run = async (...argv: string[]): Promise<{ code: number; out: string; err: string }> => {
    let out = "";
    let err = "";
    const io: Io = { out: (s) => (out += s), err: (s) => (err += s), env: {}, cwd: dir };
    const code = await main(argv, io);
    return { code, out, err };
  };

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "dk-cli-stack-"));
    const base = JSON.parse(readFileSync(path.join(ROOT, "test/scenarios/configs/home.json"), "utf8")) as Record<string, unknown>;
    stack = await startStack({ baseConfig: base, devices: 3, warp: 60, start: START, port: 0, dataDir: path.join(dir, ".dosekeeper") });
    await waitFor("devices connected", () => ["dk-sim-1", "dk-sim-2", "dk-sim-3"].every((d) => stack.broker!.connected.has(d)));
  });

  afterAll(async () => {
    await stack?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("writes a 0600 profile the CLI finds; status with no flag", async () => {
    const file = stack.profileFile!;
    expect(file).toBe(path.join(dir, ".dosekeeper", "cli.json"));
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const r = await run("status", "--device", "dk-sim-1");
    expect(r.code).toBe(0);
    expect(r.err).toContain("using " + file);
    expect(r.out).toContain("online   true");
    expect(r.out).toMatch(/config {3}version 1 /);
  });

  it("config push signed on the simulator's clock is applied; status shows the new version at once; history from the relay", async () => {
    const d = stack.fleet.get("dk-sim-1")!;
    const cfg = { ...(d.sim.lastConfig as Record<string, unknown>), version: 2 };
    const f = path.join(dir, "v2.json");
    writeFileSync(f, JSON.stringify(cfg));
    const r = await run("config", "push", "--device", "dk-sim-1", "--file", f);
    expect(r.err).toContain("simulator");
    expect(r.code).toBe(0);
    expect(r.out).toContain("applied on dk-sim-1: version 2");
    // The relay's copy follows (its dead-man alerts use it), and the simulator's view of the box too.
    expect(r.out).toContain("relay: schedule version 2 stored");
    expect((await stack.relay!.db.config("dk-sim-1"))?.version).toBe(2);
    await waitFor("simulator follows", () => d.sim.lastConfig.version === 2);
    const again = await run("config", "push", "--device", "dk-sim-1", "--file", f);
    expect(again.out).toContain("(already running)");
    expect(again.out).toContain("relay: schedule version 2 already stored");
    expect(again.code).toBe(0);
    const st = await run("status", "--device", "dk-sim-1");
    expect(st.out).toMatch(/config {3}version 2 /);
    await waitFor("history", async () =>
      (await run("history", "--device", "dk-sim-1", "--since", "12h", "--json")).out.includes('"config.accepted"'),
    );
    const h = await run("history", "--device", "dk-sim-1", "--since", "12h");
    expect(h.code).toBe(0);
    expect(h.out).toMatch(/config\.accepted\s+.*version=2/);
    const audit = readFileSync(path.join(dir, ".dosekeeper", "audit.jsonl"), "utf8");
    expect(audit).toContain('"action":"config.push"');
  });

  it("a foreign key is refused with its code; key trust makes the device accept it", async () => {
    const kg = await run("keygen", "--out", path.join(dir, "keys"));
    const kid = /kid\s+([0-9a-f]{16})/.exec(kg.out)![1];
    const key = path.join(dir, "keys", `${kid}.key.pem`);
    const refused = await run("command", "identify", "--device", "dk-sim-2", "--key", key, "--timeout", "10s");
    expect(refused.code).toBe(3);
    expect(refused.err).toContain("SIG_UNKNOWN_KEY");
    const t = await run("key", "trust", "--device", "dk-sim-2", "--pub", path.join(dir, "keys", `${kid}.pub`), "--timeout", "10s");
    expect(t.code).toBe(0);
    expect(t.out).toContain(kid);
    const ok = await run("command", "identify", "--device", "dk-sim-2", "--key", key, "--args", '{"seconds":2}', "--timeout", "10s");
    expect(ok.code).toBe(0);
  });

  it("ota: a good image is sent, boots on trial and is kept; a crashing one is rolled back; an old one refused", async () => {
    const good = path.join(dir, "good.bin");
    writeFileSync(good, simImage("good", "0.2.0-sim", 30_000));
    const r = await run("ota", "--device", "dk-sim-2", "--file", good, "--version", "0.2.0-sim", "--chunk", "8192");
    expect(r.err).not.toContain("refused");
    expect(r.out).toContain("30000 bytes in 4 chunks");
    expect(r.out).toContain("dk-sim-2 runs 0.2.0-sim: self-test passed, image kept");
    expect(r.code).toBe(0);
    expect((await run("status", "--device", "dk-sim-2")).out).toMatch(/online {3}true/);
    const again = await run("ota", "--device", "dk-sim-2", "--file", good, "--version", "0.2.0-sim");
    expect(again.code).toBe(3);
    expect(again.err).toContain("OTA_NOT_NEWER");
    const crash = path.join(dir, "crash.bin");
    writeFileSync(crash, simImage("crash", "0.3.0-sim", 9000));
    const c = await run("ota", "--device", "dk-sim-3", "--file", crash, "--version", "0.3.0-sim");
    expect(c.err).toContain("dk-sim-3 rolled back to its previous image (OTA_TRIAL_RESET)");
    expect(c.code).toBe(3);
    const audit = readFileSync(path.join(dir, ".dosekeeper", "audit.jsonl"), "utf8");
    expect(audit).toContain('"name":"ota"');
  });

  it("status shows a safe boot after a crash loop; a power cycle ends it", async () => {
    const d = stack.fleet.get("dk-sim-1")!;
    for (let i = 0; i < 5; i++) {
      const boots = d.sim.status().alive;
      d.sim.reboot("panic");
      await waitFor(`crash boot ${i + 1}`, () => boots && d.sim.status().alive && d.sim.core !== undefined);
      await new Promise((r) => setTimeout(r, 100));
    }
    await waitFor("safe", () => d.sim.status().alive === true && (d.sim.status() as { safe?: boolean }).safe === true);
    await waitFor("tele says safe", async () => (await run("status", "--device", "dk-sim-1")).out.includes("SAFE MODE after a crash loop"));
    d.sim.powerCut(2000);
    await waitFor("normal again", () => d.sim.status().alive === true && (d.sim.status() as { safe?: boolean }).safe === false);
  });

  it("the profile is removed when the stack stops", async () => {
    const file = stack.profileFile!;
    await stack.close();
    expect(existsSync(file)).toBe(false);
    const r = await run("status", "--device", "dk-sim-1", "--wait", "200ms");
    expect([1, 4]).toContain(r.code); // no profile any more: the default broker (none, or nothing retained there)
    stack = undefined as unknown as Stack;
  });
});
