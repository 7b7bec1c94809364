/**
 * The relay's tamper-evident audit: rows sealed into a hash chain (HMAC under the operator's key),
 * verification naming the first changed, removed or inserted row, in the API, the CLI and the
 * library; the audit API newest first with a paging cursor.
 */
import { describe, expect, it } from "vitest";
import Database from "better-sqlite3";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { auditHash, AUDIT_GENESIS } from "../../../cloud/relay/db/audit-chain";
import { openSqliteDb } from "../../../cloud/relay/db";
import { startRelayHttp } from "../../../cloud/relay/http";
import { tempDir } from "./helpers";

const ROOT = fileURLToPath(new URL("../../..", import.meta.url));
const KEY = "audit-key-kept-outside-the-db";

async function filled(n: number) {
  const tmp = tempDir();
  const file = join(tmp.dir, "a.sqlite");
  const db = await openSqliteDb(file);
  for (let i = 1; i <= n; i++)
    await db.audit({ t: 1_000 + i, actor: "relay:a", action: "notify.sent", device: "dk-0001", code: null, detail: JSON.stringify({ i }) });
  return { tmp, file, db };
}

describe("relay audit hash chain", () => {
  it("sealed rows verify; a changed, removed or inserted row is named; without the key nobody re-seals", async () => {
    const { tmp, file, db } = await filled(10);
    expect(await db.sealAudit(KEY, 1_000_000)).toBe(10);
    expect(await db.sealAudit(KEY, 1_000_000)).toBe(0);
    expect(await db.verifyAudit(KEY)).toEqual({ ok: true, sealed: 10, unsealed: 0 });
    expect((await db.verifyAudit("another key")).firstBad).toBe(1);
    const raw = new Database(file);
    raw.prepare("UPDATE audit SET detail = ? WHERE id = 4").run('{"i":"forged"}');
    expect(await db.verifyAudit(KEY)).toMatchObject({ ok: false, firstBad: 4, sealed: 3 });
    // an attacker with the database but not the key re-seals the chain with plain SHA-256: still caught
    let prev = AUDIT_GENESIS;
    for (const r of raw.prepare("SELECT * FROM audit ORDER BY id").all() as Record<string, unknown>[]) {
      const h = auditHash(
        prev,
        {
          id: Number(r.id),
          t: Number(r.t),
          actor: String(r.actor),
          action: String(r.action),
          device: r.device as string,
          code: null,
          detail: String(r.detail),
        },
        undefined,
      );
      raw.prepare("UPDATE audit SET hash = ? WHERE id = ?").run(h, r.id);
      prev = h;
    }
    expect((await db.verifyAudit(KEY)).firstBad).toBe(1);
    raw.close();
    await db.close();
    tmp.cleanup();

    const b = await filled(10);
    await b.db.sealAudit(KEY, 1_000_000);
    const rawB = new Database(b.file);
    rawB.prepare("DELETE FROM audit WHERE id = 6").run();
    expect(await b.db.verifyAudit(KEY)).toMatchObject({ ok: false, firstBad: 7 });
    rawB
      .prepare("INSERT INTO audit (id, t, actor, action, device, code, detail, hash) VALUES (6, 1006, 'x', 'y', NULL, NULL, '{}', 'ff')")
      .run();
    expect(await b.db.verifyAudit(KEY)).toMatchObject({ ok: false, firstBad: 6 });
    rawB.close();
    // the CLI says the same, with exit code 1
    const cli = spawnSync(process.execPath, ["--import", "tsx", "cloud/relay/cli.ts", "--verify-audit", "--db", b.file], {
      cwd: ROOT,
      env: { ...process.env, RELAY_AUDIT_KEY: KEY },
      encoding: "utf8",
      timeout: 60_000,
    });
    expect(cli.status).toBe(1);
    expect(cli.stdout).toContain("AUDIT CHAIN BROKEN at row 6");
    await b.db.close();
    b.tmp.cleanup();
  });

  it("a gap in ids younger than 30 s waits (a transaction may still commit); an old gap is passed", async () => {
    const { tmp, file, db } = await filled(3);
    const raw = new Database(file);
    raw.prepare("INSERT INTO audit (id, t, actor, action, device, code, detail) VALUES (5, 2000, 'relay:a', 'x', NULL, NULL, '{}')").run();
    raw.close();
    expect(await db.sealAudit(KEY, 2000 + 1000)).toBe(3); // id 4 missing, row 5 is 1 s old: wait
    expect((await db.verifyAudit(KEY)).unsealed).toBe(1);
    expect(await db.sealAudit(KEY, 2000 + 60_000)).toBe(1); // 60 s later: id 4 was rolled back
    expect(await db.verifyAudit(KEY)).toEqual({ ok: true, sealed: 4, unsealed: 0 });
    await db.close();
    tmp.cleanup();
  });

  it("API: newest first with a cursor; /api/audit/verify answers 200 intact, 409 broken", async () => {
    const { tmp, file, db } = await filled(25);
    await db.sealAudit(KEY, 1_000_000);
    const api = await startRelayHttp({ db, port: 0, tokens: { "tok-auditor-0123456789": "auditor:x" }, auditKey: KEY });
    const get = (p: string) => fetch(api.url + p, { headers: { authorization: "Bearer tok-auditor-0123456789" } });
    const p1 = (await (await get("/api/audit?limit=10&action=notify.sent")).json()) as { entries: { id: number }[]; next: number };
    expect(p1.entries.map((e) => e.id)).toEqual([25, 24, 23, 22, 21, 20, 19, 18, 17, 16]);
    const p2 = (await (await get(`/api/audit?limit=10&action=notify.sent&before=${p1.next}`)).json()) as { entries: { id: number }[] };
    expect(p2.entries[0].id).toBe(15);
    const ok = await get("/api/audit/verify");
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as { sealed: number }).sealed).toBe(25);
    const raw = new Database(file);
    raw.prepare("UPDATE audit SET actor = 'nobody' WHERE id = 12").run();
    raw.close();
    const bad = await get("/api/audit/verify");
    expect(bad.status).toBe(409);
    expect(((await bad.json()) as { firstBad: number }).firstBad).toBe(12);
    await api.close();
    await db.close();
    tmp.cleanup();
  });
});
