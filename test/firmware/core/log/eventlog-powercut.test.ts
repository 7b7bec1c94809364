/**
 * Power cut at EVERY KV write of a 200-event run, both tear modes: the log must reload with
 * at most the in-flight operation's effect missing, never corrupt or reordered, no dose
 * event lost, seq never reused.
 */
import { describe, expect, it } from "vitest";
import { KvEmulator, isPowerCut, type TearMode } from "../../../../host-sim/kernel/hw/kv-emulator";
import { Store } from "../../../../firmware/core/log/store";
import { EventLog, type EventClass, type LoggedEvent } from "../../../../firmware/core/log/eventlog";
import { mulberry32 as prng } from "../../../support/prng";

const OPTS = { deviceId: "dk1", capacity: 24, pages: 8, pageBytes: 640, maxEventBytes: 300 };

type Op = { kind: "append"; cls: EventClass; type: string; pad: number; i: number } | { kind: "ack"; pick: number };

function makeScript(): Op[] {
  const r = prng(42);
  const ops: Op[] = [];
  let appends = 0;
  while (appends < 200) {
    // Offline for the first 90 events (overflow, coalescing), then a flaky uplink.
    if (appends >= 90 && r() < 0.3) ops.push({ kind: "ack", pick: Math.floor(r() * 4) });
    else {
      const x = r();
      const cls: EventClass = x < 0.45 ? "dose" : x < 0.65 ? "alert" : "info";
      const type = cls === "dose" ? (r() < 0.7 ? "dose.taken" : "relay.request") : cls === "alert" ? "fault" : "heartbeat";
      ops.push({ kind: "append", cls, type, pad: Math.floor(r() * 60), i: appends++ });
    }
  }
  return ops;
}

function apply(log: EventLog, op: Op, t: number): LoggedEvent | undefined {
  if (op.kind === "append") {
    return log.append(
      op.type,
      op.cls,
      { i: op.i, note: "é".repeat(op.pad % 7) + "x".repeat(op.pad) },
      1000 * t,
      op.i % 3 === 0 ? null : 1.7e12 + t,
    );
  }
  const p = log.pending(4);
  if (p.length > 0) log.ack(p[op.pick % p.length].seq);
  return undefined;
}

interface State {
  events: LoggedEvent[];
  dropped: number;
  nextSeq: number;
}

function state(log: EventLog): State {
  return { events: log.pending(1000), dropped: log.dropped(), nextSeq: log.nextSeq() };
}

function flatSeqs(evs: LoggedEvent[]): Set<number> {
  const s = new Set<number>();
  for (const e of evs) {
    s.add(e.seq);
    const co = e.data._coalesced as LoggedEvent[] | undefined;
    if (co) for (const c of co) s.add(c.seq);
  }
  return s;
}

const script = makeScript();

function reference() {
  const kv = new KvEmulator();
  const faults: string[] = [];
  const log = new EventLog(new Store(kv), { ...OPTS, onFault: (c) => faults.push(c) });
  const bootWrites = kv.writes;
  const states: State[] = [state(log)]; // states[i + 1] = after op i
  const returned: number[] = [0]; // max seq returned by an append, after op i
  let maxSeq = 0;
  let refused = 0;
  let composites = 0;
  let crossPage = 0;
  let maxPageValue = 0;
  script.forEach((op, t) => {
    const w0 = kv.writes;
    const d0 = log.dropped();
    const ev = apply(log, op, t);
    if (ev && ev.seq === 0) refused++;
    if (ev && ev.data._coalesced) composites++;
    if (ev && ev.data._coalesced && kv.writes - w0 === 2 && log.dropped() === d0) crossPage++;
    if (ev) maxSeq = Math.max(maxSeq, ev.seq);
    states.push(state(log));
    returned.push(maxSeq);
    for (const k of kv.keys()) if (k.startsWith("evp")) maxPageValue = Math.max(maxPageValue, Buffer.byteLength(kv.get(k) as string));
  });
  return { totalWrites: kv.writes, bootWrites, states, returned, faults, refused, composites, crossPage, maxPageValue, final: log };
}

const ref = reference();
if (process.env.DK_DEBUG)
  console.log(
    JSON.stringify({
      w: ref.totalWrites,
      boot: ref.bootWrites,
      refused: ref.refused,
      comp: ref.composites,
      maxPage: ref.maxPageValue,
      cross: ref.crossPage,
      faults: ref.faults,
      dropped: ref.states[ref.states.length - 1].dropped,
      depth: ref.final.depth(),
    }),
  );

describe("EventLog power-cut sweep", () => {
  it("the reference run exercises every overflow path", () => {
    expect(script.filter((o) => o.kind === "append")).toHaveLength(200);
    expect(ref.refused).toBeGreaterThan(0);
    expect(ref.composites).toBeGreaterThan(0);
    expect(ref.crossPage).toBeGreaterThan(0);
    expect(ref.faults).toContain("EVENTLOG_DOSE_DROPPED");
    expect(ref.states[ref.states.length - 1].dropped).toBeGreaterThan(ref.refused);
    expect(ref.totalWrites).toBeGreaterThan(250);
    // Page records stay within pageBytes (+ store header and page counters).
    expect(ref.maxPageValue).toBeGreaterThan(OPTS.pageBytes - 200);
    expect(ref.maxPageValue).toBeLessThanOrEqual(OPTS.pageBytes + 60);
  });

  for (const tear of ["lost", "truncated"] as TearMode[]) {
    it(`cut at each of the ${ref.totalWrites} writes (${tear})`, () => {
      let checked = 0;
      for (let w = 0; w < ref.totalWrites; w++) {
        const kv = new KvEmulator();
        kv.armPowerCut({ afterWrites: w, tear });
        let t = -1; // op during which the cut hit (-1: while booting)
        try {
          const log = new EventLog(new Store(kv), OPTS);
          for (t = 0; t < script.length; t++) apply(log, script[t], t);
          throw new Error(`write ${w} never happened`);
        } catch (e) {
          if (!isPowerCut(e)) throw e;
        }
        kv.reboot();
        const faults: string[] = [];
        const log = new EventLog(new Store(kv), { ...OPTS, onFault: (c) => faults.push(c) });
        const got = state(log);
        const before = ref.states[Math.max(t, 0)]; // state after op t-1 (states[0]: fresh log)
        const after = ref.states[t + 1];
        const ctx = `write ${w} (${tear}) during op ${t}`;

        // Loads, ordered, ids well-formed and unique.
        const seqs = got.events.map((e) => e.seq);
        for (let i = 1; i < seqs.length; i++) expect(seqs[i], ctx).toBeGreaterThan(seqs[i - 1]);
        expect(new Set(got.events.map((e) => e.id)).size, ctx).toBe(got.events.length);
        for (const e of got.events) expect(e.id, ctx).toBe(`dk1-1-${e.seq.toString(36)}`);
        expect(log.depth(), ctx).toBe(got.events.length);
        for (const f of faults) expect(["STORE_CORRUPT"], ctx).toContain(f);

        // Nothing but the states before/after the interrupted op.
        const known = new Map<number, string>();
        for (const e of [...before.events, ...after.events]) known.set(e.seq, JSON.stringify(e));
        for (const e of got.events) expect(JSON.stringify(e), ctx).toBe(known.get(e.seq));

        // Nothing lost that the interrupted op did not itself remove.
        const gotSeqs = new Set(seqs);
        const afterSeqs = new Set(after.events.map((e) => e.seq));
        for (const e of before.events) if (afterSeqs.has(e.seq)) expect(gotSeqs.has(e.seq), `${ctx}: lost seq ${e.seq}`).toBe(true);
        // No dose event lost (directly or inside a coalesced event) unless the op removed it for good.
        const flatGot = flatSeqs(got.events);
        const flatAfter = flatSeqs(after.events);
        for (const e of before.events) {
          if (e.cls === "dose" && flatAfter.has(e.seq)) expect(flatGot.has(e.seq), `${ctx}: dose ${e.seq} lost`).toBe(true);
        }

        // Counters: seq never reused, dropped monotonic.
        const maxReturned = ref.returned[Math.max(0, t)];
        expect(got.nextSeq, ctx).toBeGreaterThan(Math.max(maxReturned, ...seqs, 0));
        expect(got.nextSeq, ctx).toBeLessThanOrEqual(after.nextSeq);
        expect(got.dropped, ctx).toBeGreaterThanOrEqual(before.dropped);
        expect(got.dropped, ctx).toBeLessThanOrEqual(after.dropped);

        // Keeps working: new events get fresh seqs, survive another reboot.
        const a = log.append("dose.taken", "dose", { post: w }, 0, null);
        expect(a.seq, ctx).toBe(got.nextSeq);
        const again = new EventLog(new Store(kv), OPTS);
        expect(
          again.pending(1000).map((e) => e.seq),
          ctx,
        ).toContain(a.seq);
        expect(again.nextSeq(), ctx).toBe(a.seq + 1);
        checked++;
      }
      expect(checked).toBe(ref.totalWrites);
    });
  }
});
