/**
 * The store, the event log and the KV emulator inside the real XS engine (@agoric/xsnap):
 * a power-cut sweep must give byte-identical results to the same run under Node.
 * Skipped if the xsnap binary is absent.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { buildSync } from "esbuild";
import { describe, expect, it } from "vitest";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "../..");

function xsnapBinary(): string | undefined {
  try {
    const pkg = path.dirname(createRequire(import.meta.url).resolve("@agoric/xsnap/package.json"));
    const plat = os.type() === "Darwin" ? "mac" : "lin";
    const bin = path.join(pkg, "xsnap-native", "xsnap", "build", "bin", plat, "release", "xsnap-worker");
    return existsSync(bin) ? bin : undefined;
  } catch {
    return undefined;
  }
}

/** Workload run in both engines; returns ASCII-only JSON. */
const ENTRY = `
import { KvEmulator, isPowerCut } from "./host-sim/kernel/kv-emulator";
import { Store } from "./firmware/core/store";
import { EventLog } from "./firmware/core/eventlog";
import { crc32, utf8Length } from "./firmware/core/crc32";

const OPTS = { deviceId: "xs1", capacity: 12, pages: 4, pageBytes: 500, maxEventBytes: 250 };

function script(log, t) {
  const k = t % 11;
  if (t > 30 && k === 3) { const p = log.pending(3); if (p.length) log.ack(p[t % p.length].seq); return; }
  const cls = k < 5 ? "dose" : k < 8 ? "alert" : "info";
  log.append(cls === "dose" ? "dose.taken" : cls, cls, { t, s: "\\u00e9\\u20ac\\ud83d\\udc8a".repeat(t % 5) + "x".repeat((t * 7) % 40) }, t * 1000, t % 2 ? null : 1.7e12 + t);
}
const OPS = 80;

function digest(log) {
  return crc32(JSON.stringify(log.pending(1000))) + ":" + log.depth() + ":" + log.dropped() + ":" + log.nextSeq();
}

export function run() {
  const out = { crc: [], utf8: [], ref: "", writes: 0, cuts: [] };
  for (const s of ["", "123456789", "\\u00e9\\u20ac\\ud83d\\udc8a", "lone \\ud800"]) { out.crc.push(crc32(s)); out.utf8.push(utf8Length(s)); }
  const kv = new KvEmulator();
  const log = new EventLog(new Store(kv), OPTS);
  for (let t = 0; t < OPS; t++) script(log, t);
  out.ref = digest(log);
  out.writes = kv.writes;
  for (const tear of ["lost", "truncated"]) {
    for (let w = 0; w < out.writes; w++) {
      const k2 = new KvEmulator();
      k2.armPowerCut({ afterWrites: w, tear });
      try {
        const l = new EventLog(new Store(k2), OPTS);
        for (let t = 0; t < OPS; t++) script(l, t);
      } catch (e) {
        if (!isPowerCut(e)) throw e;
      }
      k2.reboot();
      out.cuts.push(digest(new EventLog(new Store(k2), OPTS)));
    }
  }
  return JSON.stringify(out);
}
`;

function bundle(format: "iife" | "esm"): string {
  return buildSync({
    stdin: { contents: ENTRY, resolveDir: root, loader: "js", sourcefile: "xs-store-entry.js" },
    bundle: true,
    format,
    globalName: format === "iife" ? "DKS" : undefined,
    target: "es2022",
    write: false,
  }).outputFiles[0].text;
}

const RUNNER = `
import "@endo/init";
import os from "node:os";
import fs from "node:fs";
import { spawn } from "node:child_process";
const code = fs.readFileSync(process.argv[1], "utf8");
const { xsnap } = await import("@agoric/xsnap");
const tmp = (await import("tmp")).default;
const replies = [];
const worker = await xsnap({ os: os.type(), spawn, fs: { ...fs.promises, tmpName: tmp.tmpName }, name: "dk-store", meteringLimit: 0,
  stdout: "inherit", stderr: "inherit",
  handleCommand: async (msg) => { replies.push(new TextDecoder().decode(msg)); return new Uint8Array(); } });
try { await worker.evaluate(code); } finally { await worker.close(); }
process.stdout.write(JSON.stringify(replies) + "\\n");
`;

const bin = xsnapBinary();

describe.skipIf(bin === undefined)("store + event log in XS", () => {
  it("a power-cut sweep gives the same results in XS as in Node", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "dk-store-xs-"));
    try {
      const esm = path.join(dir, "entry.mjs");
      writeFileSync(esm, bundle("esm"));
      const node = JSON.parse(((await import(esm)) as { run: () => string }).run()) as { writes: number; cuts: string[] };
      expect(node.cuts.length).toBe(2 * node.writes);
      expect(node.writes).toBeGreaterThan(60);
      // ASCII-only result, so a byte-per-char encoder suffices inside XS.
      const script =
        bundle("iife") +
        "\nconst s = DKS.run(); const b = new Uint8Array(s.length); for (let i = 0; i < s.length; i++) b[i] = s.charCodeAt(i); issueCommand(b.buffer);\n";
      const file = path.join(dir, "xs.js");
      writeFileSync(file, script);
      const r = spawnSync(process.execPath, ["--input-type=module", "-e", RUNNER, file], { encoding: "utf8", cwd: root, timeout: 120_000 });
      expect(r.status, r.stderr).toBe(0);
      const replies = JSON.parse(r.stdout.trim().split("\n").pop() as string) as string[];
      expect(replies.length).toBe(1);
      expect(JSON.parse(replies[0])).toEqual(node);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 180_000);
});
