/**
 * History reads off the hot path: events are indexed per device and day, read in pages that give
 * the event loop back (ingest keeps running during a long read), and databases made before the
 * `day` column are migrated in place.
 */
import { describe, expect, it } from "vitest";
import Database from "better-sqlite3";
import { join } from "node:path";
import { DOSE_EVENT_TYPES } from "../../../cloud/relay/adherence";
import { openSqliteDb } from "../../../cloud/relay/db";
import { tempDir } from "./helpers";

const DAY = 86_400_000;

describe("history reads", () => {
  it("a database from before events.day is migrated: days backfilled from the slot, else the event time", async () => {
    const tmp = tempDir();
    const file = join(tmp.dir, "old.sqlite");
    const old = new Database(file);
    old.exec(`CREATE TABLE events (device TEXT NOT NULL, id TEXT NOT NULL, seq BIGINT, type TEXT NOT NULL, t_ms BIGINT,
      slot TEXT, data TEXT NOT NULL, received_at BIGINT NOT NULL, PRIMARY KEY (device, id))`);
    old
      .prepare("INSERT INTO events VALUES (?,?,?,?,?,?,?,?)")
      .run("dk-0001", "a", 1, "dose.taken", null, "am@2026-03-10", "{}", Date.parse("2026-03-11T02:00:00Z"));
    old
      .prepare("INSERT INTO events VALUES (?,?,?,?,?,?,?,?)")
      .run("dk-0001", "b", 2, "prn.taken", Date.parse("2026-03-12T10:00:00Z"), null, "{}", 0);
    old.close();
    const db = await openSqliteDb(file);
    expect((await db.eventsOf("dk-0001", undefined, { from: "2026-03-10", to: "2026-03-10" })).map((e) => e.id)).toEqual(["a"]);
    expect((await db.eventsOf("dk-0001", undefined, { from: "2026-03-12", to: "2026-03-12" })).map((e) => e.id)).toEqual(["b"]);
    await db.close();
    const again = await openSqliteDb(file); // idempotent
    expect((await again.eventsOf("dk-0001")).length).toBe(2);
    await again.close();
    tmp.cleanup();
  });

  it("400 days × 2 devices of history: a month read touches only its days; a full read never stalls the loop for long", async () => {
    const tmp = tempDir();
    const db = await openSqliteDb(join(tmp.dir, "h.sqlite"));
    const start = Date.parse("2025-01-01T08:00:00Z");
    const raw = new Database(join(tmp.dir, "h.sqlite"));
    const ins = raw.prepare("INSERT INTO events (device, id, seq, type, t_ms, slot, data, received_at, day) VALUES (?,?,?,?,?,?,?,?,?)");
    raw.transaction(() => {
      let n = 0;
      for (const dev of ["dk-0001", "dk-0002"])
        for (let d = 0; d < 400; d++) {
          const date = new Date(start + d * DAY).toISOString().slice(0, 10);
          for (const dose of ["am", "noon", "pm", "bed"]) {
            const t = start + d * DAY;
            ins.run(dev, `e${++n}`, n, "dose.taken", t, `${dose}@${date}`, JSON.stringify({ slot: `${dose}@${date}`, pills: 1 }), t, date);
            for (let k = 0; k < 8; k++) ins.run(dev, `t${++n}`, n, "tray.bump", t, null, "{}", t + k, date); // other traffic
          }
        }
    })();
    raw.close();
    let maxGap = 0;
    let last = performance.now();
    const lag = setInterval(() => {
      const now = performance.now();
      maxGap = Math.max(maxGap, now - last);
      last = now;
    }, 2);
    const t0 = performance.now();
    const month = await db.eventsOf("dk-0001", DOSE_EVENT_TYPES, { from: "2025-06-01", to: "2025-06-30" });
    const monthMs = performance.now() - t0;
    const t1 = performance.now();
    const all = await db.eventsOf("dk-0001", DOSE_EVENT_TYPES, { from: "2025-01-01", to: "2026-02-04" });
    const allMs = performance.now() - t1;
    clearInterval(lag);
    console.log(
      `history: month ${month.length} events in ${monthMs.toFixed(1)} ms; 400 days ${all.length} in ${allMs.toFixed(0)} ms; longest loop stall ${maxGap.toFixed(1)} ms`,
    );
    expect(month.length).toBe(30 * 4);
    expect(month.every((e) => e.slot?.endsWith("2025-06-" + e.slot.slice(-2)))).toBe(true);
    expect(all.length).toBe(400 * 4);
    expect(monthMs).toBeLessThan(250);
    expect(maxGap).toBeLessThan(150); // pages of 500 rows: ingest runs between them
    await db.close();
    tmp.cleanup();
  }, 60_000);
});
