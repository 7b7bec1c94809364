/**
 * The pharmacist audit log is tamper-evident: a hash chain over its lines; edited, forged,
 * deleted or reordered lines are found by `dosekeeper audit verify`; a torn line is reported
 * and tolerated and never hides the rest of the log.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { appendAudit, readAudit, verifyAudit, type AuditRecord } from "../../../cloud/pharmacist/audit";
import { main, type Io } from "../../../cloud/pharmacist/cli";

function rec(i: number): AuditRecord {
  return {
    time: new Date(Date.UTC(2026, 2, 10, 8, i)).toISOString(),
    action: "command",
    who: { kid: "k1", user: "ph" },
    device: "dk-0001",
    name: "tare",
    id: `c${i}`,
    outcome: "ack",
  };
}

function fresh(n: number): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dk-audit-"));
  const f = path.join(dir, "audit.jsonl");
  for (let i = 0; i < n; i++) appendAudit(f, rec(i));
  return f;
}

async function verifyCli(file: string): Promise<{ code: number; out: string }> {
  let out = "";
  const io: Io = { out: (s) => (out += s), err: (s) => (out += s), env: {} };
  const code = await main(["audit", "verify", "--audit", file], io);
  return { code, out };
}

describe("audit log hash chain", () => {
  it("an untouched log verifies; records carry n and prev", async () => {
    const f = fresh(5);
    const v = verifyAudit(f);
    expect(v).toMatchObject({ ok: true, records: 5, torn: [], broken: [] });
    expect(readAudit(f).map((r) => r.n)).toEqual([1, 2, 3, 4, 5]);
    expect((await verifyCli(f)).code).toBe(0);
  });

  it("an edited line, a forged line, a deleted line and a reordering are all found", async () => {
    const cases: ((lines: string[]) => string[])[] = [
      (l) => l.map((x, i) => (i === 2 ? x.replace('"outcome":"ack"', '"outcome":"refused"') : x)),
      (l) => [...l.slice(0, 3), JSON.stringify({ ...rec(9), n: 4, prev: "f".repeat(64) }), ...l.slice(3)],
      (l) => [...l.slice(0, 1), ...l.slice(2)],
      (l) => [l[0], l[2], l[1], l[3], l[4]],
    ];
    for (const change of cases) {
      const f = fresh(5);
      const lines = fs.readFileSync(f, "utf8").trim().split("\n");
      fs.writeFileSync(f, change(lines).join("\n") + "\n");
      expect(verifyAudit(f).ok).toBe(false);
      const r = await verifyCli(f);
      expect(r.code).toBe(3);
      expect(r.out).toContain("BROKEN");
    }
  });

  it("a torn last line is tolerated and reported; the next append closes it and the chain goes on", () => {
    const f = fresh(3);
    fs.appendFileSync(f, '{"time":"2026-03-10T09:00:00Z","act'); // the write was cut
    expect(readAudit(f).length).toBe(3); // the torn line hides nothing
    let v = verifyAudit(f);
    expect(v.ok).toBe(true);
    expect(v.torn).toEqual([4]);
    appendAudit(f, rec(7));
    v = verifyAudit(f);
    expect(v).toMatchObject({ ok: true, records: 4, torn: [4] });
    expect(readAudit(f).at(-1)).toMatchObject({ id: "c7", n: 4 });
  });
});

describe("secrets never logged", () => {
  it("credentials in a broker URL are removed from audit records", async () => {
    const { redactUrl } = await import("../../../cloud/redact");
    expect(redactUrl("mqtts://dk-0001:s3cret-pw@broker.example:8883")).toBe("mqtts://***@broker.example:8883");
    expect(redactUrl("mqtt://broker:1883")).toBe("mqtt://broker:1883");
    const { audit } = await import("../../../cloud/pharmacist/broker");
    const f = fresh(0);
    audit(f, {
      action: "command",
      who: { kid: "k", user: "u" },
      device: "dk-0001",
      outcome: "timeout",
      broker: "mqtt://pharma:hunter2-secret@127.0.0.1:1",
    });
    const text = fs.readFileSync(f, "utf8");
    expect(text).not.toContain("hunter2");
    expect(readAudit(f)[0].broker).toBe("mqtt://***@127.0.0.1:1");
  });
});
