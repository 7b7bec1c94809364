/**
 * The store, the event log and the KV emulator inside the real XS engine (@agoric/xsnap):
 * a power-cut sweep must give byte-identical results to the same run under Node.
 * Skipped if the xsnap binary is absent.
 */
import { describe, expect, it } from "vitest";
import { bundleForXsSync, callBundleInNode } from "../../../../host-sim/xs/bundle";
import { callInXs } from "../../../../host-sim/xs/run-in-xs";
import { xsnapAvailable } from "../../../support/xs";

/** Workload run in both engines; returns ASCII-only JSON. */
const ENTRY = `
import { KvEmulator, isPowerCut } from "./host-sim/kernel/hw/kv-emulator";
import { Store } from "./firmware/core/log/store";
import { EventLog } from "./firmware/core/log/eventlog";
import { crc32, utf8Length } from "./firmware/core/log/crc32";

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

const haveXs = xsnapAvailable("test/firmware/core/log/xs.test.ts");

describe.skipIf(!haveXs)("store + event log in XS", () => {
  it("a power-cut sweep gives the same results in XS as in Node", async () => {
    const code = bundleForXsSync({ source: ENTRY, loader: "js" }, "DKS");
    const nodeText = callBundleInNode(code, "DKS.run", "");
    const node = JSON.parse(nodeText) as { writes: number; cuts: string[] };
    expect(node.cuts.length).toBe(2 * node.writes);
    expect(node.writes).toBeGreaterThan(60);
    const results = await callInXs(code, [{ name: "store", fn: "DKS.run", arg: "" }], 120_000);
    expect(results.length).toBe(1);
    expect(results[0].error).toBeUndefined();
    const xs = results[0].output as string;
    expect(xs).toBe(nodeText);
    expect(JSON.parse(xs)).toEqual(node);
  }, 180_000);
});
