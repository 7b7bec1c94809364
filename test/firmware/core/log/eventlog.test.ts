import { describe, expect, it } from "vitest";
import { KvEmulator, isPowerCut } from "../../../../host-sim/kernel/hw/kv-emulator";
import { Store } from "../../../../firmware/core/log/store";
import { EventLog, type EventClass, type EventLogOptions, type LoggedEvent } from "../../../../firmware/core/log/eventlog";

function open(kv: KvEmulator, opts: Partial<EventLogOptions> = {}, faults?: string[]): EventLog {
  const onFault = faults ? (c: string, d: string) => faults.push(`${c} ${d}`) : undefined;
  return new EventLog(new Store(kv), { deviceId: "dev42", capacity: 256, onFault, ...opts });
}

/** Seqs of events in the log, including those coalesced inside others. */
function allSeqs(evs: LoggedEvent[]): number[] {
  const out: number[] = [];
  for (const e of evs) {
    for (const c of (e.data._coalesced as LoggedEvent[] | undefined) ?? []) out.push(c.seq);
    out.push(e.seq);
  }
  return out.sort((a, b) => a - b);
}

describe("EventLog basics", () => {
  it("persists before returning; seq and id; pending oldest first; ack removes durably", () => {
    const kv = new KvEmulator();
    const log = open(kv);
    expect(log.nextSeq()).toBe(1);
    const a = log.append("dose.taken", "dose", { dose: "am" }, 1000, 1.7e12);
    const b = log.append("heartbeat", "info", { rssi: -60 }, 2000, null);
    expect(a).toEqual({ seq: 1, id: "dev42-1-1", mono: 1000, wall: 1.7e12, type: "dose.taken", cls: "dose", data: { dose: "am" } });
    expect(b.id).toBe("dev42-1-2");
    // Durable at once: a copy of the flash taken now has both.
    const copy = new KvEmulator();
    copy.restore(kv.snapshot());
    expect(open(copy).pending(10)).toEqual([a, b]);
    expect(log.depth()).toBe(2);
    expect(log.pending(1)).toEqual([a]);
    log.ack(1);
    log.ack(1); // unknown now: ignored
    log.ack(99);
    expect(log.pending(10)).toEqual([b]);
    const again = open(kv);
    expect(again.pending(10)).toEqual([b]);
    expect(again.nextSeq()).toBe(3);
    expect(again.depth()).toBe(1);
  });

  it("acks in any order; seq is never reused after everything is acked and the device reboots", () => {
    const kv = new KvEmulator();
    let log = open(kv);
    const evs = Array.from({ length: 40 }, (_, i) => log.append("x", "info", { i }, i, null));
    for (const i of [5, 0, 39, 17, 18, 2]) log.ack(evs[i].seq);
    expect(log.pending(100).map((e) => e.data.i)).toEqual(
      evs.map((e) => e.data.i).filter((i) => ![5, 0, 39, 17, 18, 2].includes(i as number)),
    );
    for (const e of evs) log.ack(e.seq);
    expect(log.depth()).toBe(0);
    log = open(kv);
    expect(log.depth()).toBe(0);
    expect(log.nextSeq()).toBe(41);
    expect(log.append("y", "info", {}, 0, null).seq).toBe(41);
  });

  it("ids are unique across 50 reboots (with power cuts), seqs strictly increase", () => {
    const kv = new KvEmulator();
    const ids = new Set<string>();
    let lastSeq = 0;
    let cuts = 0;
    for (let boot = 0; boot < 50; boot++) {
      const log = open(kv, { capacity: 32 });
      expect(log.nextSeq()).toBeGreaterThan(lastSeq);
      if (boot % 3 === 2) kv.armPowerCut({ afterWrites: boot % 5, tear: boot % 2 ? "lost" : "truncated" });
      try {
        for (let i = 0; i < 6; i++) {
          const cls: EventClass = (["dose", "alert", "info"] as const)[(boot + i) % 3];
          const e = log.append("t", cls, { boot, i }, i, null);
          if (e.seq === 0) continue; // refused by the overflow policy (log full of doses)
          expect(ids.has(e.id)).toBe(false);
          ids.add(e.id);
          expect(e.seq).toBeGreaterThan(lastSeq);
          lastSeq = e.seq;
          if (i % 2) log.ack(log.pending(1)[0].seq);
        }
      } catch (e) {
        if (!isPowerCut(e)) throw e;
        cuts++;
      }
      kv.reboot();
    }
    expect(cuts).toBeGreaterThan(10);
    expect(ids.size).toBeGreaterThan(200);
    const log = open(kv, { capacity: 32 });
    for (const e of log.pending(100)) expect(ids.has(e.id)).toBe(true);
  });

  it("truncates oversized events (fault) and validates its inputs", () => {
    const kv = new KvEmulator();
    const faults: string[] = [];
    const log = open(kv, {}, faults);
    const e = log.append("blob", "info", { s: "x".repeat(2000) }, 0, null);
    expect(e.data).toEqual({ _truncated: true, bytes: expect.any(Number) });
    expect(faults[0]).toMatch(/^EVENTLOG_TRUNCATED blob/);
    expect(open(kv).pending(1)[0].data._truncated).toBe(true);
    expect(() => log.append("x", "bogus" as EventClass, {}, 0, null)).toThrow(/EVENTLOG_CLASS/);
    const n = log.append("nan", "info", {}, NaN, Infinity);
    expect([n.mono, n.wall]).toEqual([0, null]);
    expect(() => open(kv, { capacity: 0 })).toThrow(RangeError);
    expect(() => open(kv, { pageBytes: 3900 })).toThrow(RangeError);
  });

  it("lets a fault handler log into the log (faults are delivered after the operation)", () => {
    const kv = new KvEmulator();
    let log: EventLog | undefined;
    const store = new Store(kv, { onFault: (code, detail) => log?.append("fault", "alert", { code, detail }, 0, null) });
    log = new EventLog(store, {
      deviceId: "d",
      capacity: 8,
      onFault: (code, detail) => (log as EventLog).append("fault", "alert", { code, detail }, 0, null),
    });
    log.append("big", "info", { s: "y".repeat(3000) }, 0, null);
    const p = log.pending(10);
    expect(p.map((e) => e.type)).toEqual(["big", "fault"]);
    expect(p[1].data.code).toBe("EVENTLOG_TRUNCATED");
    // A corrupt page slot found by the store is reported and logged the same way.
    const bad = kv.keys().find((k) => k.startsWith("evp")) as string;
    kv.set(bad, (kv.get(bad) as string).replace('"big"', '"bog"'));
    const storeFaults: string[] = [];
    const reopened = new EventLog(new Store(kv, { onFault: (c, d) => storeFaults.push(`${c} ${d}`) }), { deviceId: "d", capacity: 8 });
    expect(storeFaults).toEqual([expect.stringMatching(new RegExp(`^STORE_CORRUPT ${bad.replace("~", "~")}: crc`))]);
    expect(reopened.depth()).toBeLessThanOrEqual(2);
    expect(reopened.nextSeq()).toBe(3);
  });

  it("recovers the epoch from pages when the meta record is lost", () => {
    const kv = new KvEmulator();
    const log = open(kv);
    log.append("a", "info", {}, 0, null);
    log.erase();
    const e = log.append("b", "dose", {}, 0, null);
    expect(e.id).toBe("dev42-2-1");
    for (const k of kv.keys()) if (k.startsWith("evmeta")) kv.delete(k);
    const again = open(kv);
    expect(again.pending(5)).toEqual([e]);
    expect(again.append("c", "info", {}, 0, null).id).toBe("dev42-2-2");
  });
});

describe("EventLog overflow policy", () => {
  const small = { capacity: 8, pages: 4 };

  it("drops the oldest info first, then the oldest alert; info never evicts alerts", () => {
    const kv = new KvEmulator();
    const log = open(kv, small);
    const seqOf = (evs: LoggedEvent[]) => evs.map((e) => `${e.cls[0]}${e.data.n}`);
    let n = 0;
    const add = (cls: EventClass) => log.append(cls === "dose" ? "dose.taken" : cls, cls, { n: n++ }, n, null);
    for (const c of ["info", "alert", "dose", "info", "alert", "dose", "info", "alert"] as EventClass[]) add(c);
    expect(log.depth()).toBe(8);
    add("info"); // evicts i0
    expect(seqOf(log.pending(8))).toEqual(["a1", "d2", "i3", "a4", "d5", "i6", "a7", "i8"]);
    add("alert"); // evicts i3
    add("alert"); // evicts i6
    add("alert"); // evicts i8
    expect(seqOf(log.pending(8))).toEqual(["a1", "d2", "a4", "d5", "a7", "a9", "a10", "a11"]);
    const refused = add("info"); // no info left: refused, alerts kept
    expect(refused.seq).toBe(0);
    expect(refused.id).toBe("");
    add("alert"); // evicts a1
    expect(seqOf(log.pending(8))).toEqual(["d2", "a4", "d5", "a7", "a9", "a10", "a11", "a13"]);
    expect(log.dropped()).toBe(6);
    add("dose"); // evicts a4
    expect(seqOf(log.pending(8))[0]).toBe("d2");
    expect(log.dropped()).toBe(7);
    const again = open(kv, small);
    expect(again.dropped()).toBe(7);
    expect(seqOf(again.pending(8))).toEqual(seqOf(log.pending(8)));
  });

  it("never drops a dose event: when full of doses, info/alert are refused and new doses coalesce the oldest", () => {
    const kv = new KvEmulator();
    const log = open(kv, small);
    const doses: LoggedEvent[] = [];
    for (let i = 0; i < 8; i++) doses.push(log.append(i % 2 ? "relay.request" : "dose.missed", "dose", { i }, i, null));
    expect(log.append("fault", "alert", {}, 0, null).seq).toBe(0);
    expect(log.append("hb", "info", {}, 0, null).seq).toBe(0);
    expect(log.dropped()).toBe(2);
    for (let i = 8; i < 40; i++) doses.push(log.append("dose.taken", "dose", { i }, i, null));
    expect(log.depth()).toBe(8);
    expect(log.dropped()).toBe(2);
    const p = log.pending(8);
    expect(allSeqs(p)).toEqual(doses.map((d) => d.seq));
    // Coalesced events are kept whole, with their own seq and id.
    const co = p.flatMap((e) => (e.data._coalesced as LoggedEvent[] | undefined) ?? []);
    expect(co[0]).toEqual({ ...doses[0], cls: "dose" });
    // Survives a reboot.
    expect(allSeqs(open(kv, small).pending(8))).toEqual(doses.map((d) => d.seq));
  });

  it("only at the flash limit does the oldest dose event go (EVENTLOG_DOSE_DROPPED)", () => {
    const kv = new KvEmulator();
    const faults: string[] = [];
    const log = open(kv, { capacity: 8, pages: 2, pageBytes: 400, maxEventBytes: 200 }, faults);
    for (let i = 0; i < 40; i++) log.append("dose.taken", "dose", { i, pad: "p".repeat(30) }, i, null);
    expect(faults.filter((f) => f.startsWith("EVENTLOG_DOSE_DROPPED")).length).toBeGreaterThan(0);
    const kept = allSeqs(log.pending(8));
    // What is kept is the newest run of doses, contiguous, nothing in between lost.
    expect(kept[kept.length - 1]).toBe(40);
    expect(kept).toEqual(Array.from({ length: kept.length }, (_, k) => 41 - kept.length + k));
    expect(log.dropped()).toBe(40 - kept.length);
  });
});

describe("EventLog erase and flash wear", () => {
  it("erase wipes events, resets counters, moves the epoch; atomic under a cut at every write", () => {
    const build = () => {
      const kv = new KvEmulator();
      const log = open(kv, { capacity: 16 });
      for (let i = 0; i < 30; i++) log.append(i % 4 ? "dose.taken" : "info", i % 4 ? "dose" : "info", { patient: "secret", i }, i, null);
      log.ack(log.pending(1)[0].seq);
      return { kv, log };
    };
    const { kv, log } = build();
    const before = kv.snapshot();
    const old = log.pending(100);
    kv.resetStats();
    log.erase();
    const writes = kv.writes;
    expect(log.depth()).toBe(0);
    expect(log.dropped()).toBe(0);
    expect(log.nextSeq()).toBe(1);
    expect(kv.keys().filter((k) => !k.startsWith("evmeta"))).toEqual([]);
    expect(JSON.stringify(kv.snapshot())).not.toContain("secret");
    const e = log.append("hello", "info", {}, 0, null);
    expect(e.id).toBe("dev42-2-1");
    expect(old.map((o) => o.id)).not.toContain(e.id);
    for (let w = 0; w < writes; w++) {
      for (const tear of ["lost", "truncated"] as const) {
        const k2 = new KvEmulator();
        k2.restore(before);
        const l2 = open(k2, { capacity: 16 });
        k2.armPowerCut({ afterWrites: w, tear });
        expect(() => l2.erase()).toThrow();
        k2.reboot();
        const l3 = open(k2, { capacity: 16 });
        const p = l3.pending(100);
        if (w === 0) expect(p).toEqual(old);
        else {
          expect(p).toEqual([]);
          expect(l3.nextSeq()).toBe(1);
          expect(k2.keys().filter((k) => !k.startsWith("evmeta"))).toEqual([]);
        }
      }
    }
  });

  it("measures KV writes per event (default options, capacity 256)", () => {
    const kv = new KvEmulator();
    const log = open(kv);
    const evData = (i: number) => ({ dose: "morning", comp: "c1", at: 1.7e12 + i, grams: 0.512, outcome: "taken" });
    // Online: each event is appended then acknowledged.
    kv.resetStats();
    for (let i = 0; i < 1000; i++) {
      const e = log.append("dose.taken", "dose", evData(i), i, 1.7e12 + i);
      log.ack(e.seq);
    }
    const online = kv.stats();
    expect(online.writes).toBe(2000);
    // Offline: 200 events queue up, then are delivered.
    kv.resetStats();
    for (let i = 0; i < 200; i++) log.append("dose.taken", "dose", evData(i), i, 1.7e12 + i);
    const offAppend = kv.stats();
    for (const e of log.pending(200)) log.ack(e.seq);
    const offTotal = kv.stats();
    expect(offAppend.writes).toBe(200);
    expect(offTotal.writes).toBe(400);
    const perKey = Object.values(offTotal.perKey).map((k) => k.writes);
    const figures = {
      onlineWritesPerEvent: online.writes / 1000,
      onlineBytesPerEvent: Math.round(online.bytesWritten / 1000),
      offlineWritesPerEvent: offTotal.writes / 200,
      offlineBytesPerEvent: Math.round(offTotal.bytesWritten / 200),
      keysUsed: kv.keys().length,
      maxWritesOneKey: Math.max(...perKey),
      storedBytesAfter200: kv.usedBytes(),
    };
    if (process.env.DK_DEBUG) console.log(JSON.stringify(figures));
    expect(figures.maxWritesOneKey).toBeLessThanOrEqual(8);
    // Wear is spread: no key takes more than a few percent of the writes.
    expect(figures.maxWritesOneKey).toBeLessThan(offTotal.writes / 10);
    expect(figures.onlineBytesPerEvent).toBeLessThan(600);
  });

  it("capacity figures: 256 pending events, and dose events kept until the flash budget (defaults)", () => {
    const kv = new KvEmulator();
    const faults: string[] = [];
    const log = open(kv, {}, faults);
    const data = (i: number) => ({
      dose: "morning",
      comp: "c1",
      due: 1732000000000 + i,
      at: 1732000060000 + i,
      grams: 0.512,
      outcome: "taken",
    });
    let i = 0;
    for (; i < 256; i++) log.append("dose.taken", "dose", data(i), i * 1000, 1732000060000 + i);
    const full = { writes: kv.writes, used: kv.usedBytes(), bytesPerEvent: Math.round(kv.stats().bytesWritten / 256) };
    expect(full.writes).toBe(256 + 1); // + the meta record at first boot
    expect(full.used).toBeLessThan(80_000);
    while (!faults.some((f) => f.startsWith("EVENTLOG_DOSE_DROPPED")) && i < 2000) {
      log.append("dose.taken", "dose", data(i), i * 1000, 1732000060000 + i);
      i++;
    }
    if (process.env.DK_DEBUG) console.log(JSON.stringify({ ...full, firstDoseDroppedAt: i, usedThen: kv.usedBytes() }));
    expect(i).toBeGreaterThan(600); // > 75 days at 8 dose events/day
    expect(log.depth()).toBe(256);
    expect(kv.usedBytes()).toBeLessThan(200_000);
  });
});
