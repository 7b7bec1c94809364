/**
 * The journal: a state change and its events survive a power cut at any write together —
 * never the state without its events, never the events twice under two ids.
 */
import { describe, expect, it } from "vitest";
import { KvEmulator, isPowerCut, type TearMode } from "../../../../host-sim/kernel/hw/kv-emulator";
import { Store } from "../../../../firmware/core/log/store";
import { EventLog, type LoggedEvent } from "../../../../firmware/core/log/eventlog";
import { Journal, WAL_MAX, type WalEntry } from "../../../../firmware/core/log/journal";

interface State {
  n: number;
  wal?: WalEntry[];
}

/** A device in miniature: a counter in a state record; each step logs one event per increment. */
function boot(kv: KvEmulator, emitted: LoggedEvent[] = [], capacity = 64) {
  const store = new Store(kv);
  const log = new EventLog(store, { deviceId: "d", capacity });
  const journal = new Journal(log, (ev) => emitted.push(ev));
  const st: State = store.load<State>("st") ?? { n: 0 };
  journal.recover(st.wal);
  const save = (wal: WalEntry[]) => store.save("st", { n: st.n, wal });
  const step = (k: number) =>
    journal.tx(() => {
      for (let i = 0; i < k; i++) {
        st.n++;
        journal.append("tick", "dose", { n: st.n }, st.n, 1000 + st.n);
      }
      return true;
    }, save);
  return { log, st, step };
}

function ticks(log: EventLog): { id: string; n: unknown; wall: number | null }[] {
  return log
    .pending(1000)
    .filter((e) => e.type === "tick")
    .map((e) => ({ id: e.id, n: e.data.n, wall: e.wall }));
}

describe("Journal", () => {
  it("logs after the state is saved; outside a transaction it logs at once", () => {
    const kv = new KvEmulator();
    const emitted: LoggedEvent[] = [];
    const d = boot(kv, emitted);
    d.step(3);
    expect(emitted.map((e) => e.seq)).toEqual([1, 2, 3]);
    expect(ticks(d.log).map((t) => t.n)).toEqual([1, 2, 3]);
    const again = boot(kv);
    expect(again.st.n).toBe(3);
    expect(again.log.nextSeq()).toBe(4); // nothing recovered twice
  });

  for (const tear of ["lost", "truncated"] as TearMode[]) {
    it(`a cut at any write (${tear}): the counter and its events agree, each event once with one id`, () => {
      for (let at = 0; at < 12; at++) {
        const kv = new KvEmulator();
        const d = boot(kv);
        d.step(2);
        kv.armPowerCut({ afterWrites: at, tear });
        try {
          d.step(3);
          d.step(1);
        } catch (e) {
          if (!isPowerCut(e)) throw e;
        }
        kv.reboot();
        const after = boot(kv);
        const got = ticks(after.log);
        // Every increment the saved state counts is in the log, once, in order, with its own clock.
        expect(got.map((t) => t.n)).toEqual(Array.from({ length: after.st.n }, (_, i) => i + 1));
        expect(new Set(got.map((t) => t.id)).size).toBe(got.length);
        for (const t of got) expect(t.wall).toBe(1000 + Number(t.n));
        // And the device goes on from there without a gap or a repeat.
        after.step(1);
        expect(ticks(after.log).map((t) => t.n)).toEqual(Array.from({ length: after.st.n }, (_, i) => i + 1));
      }
    });
  }

  it("a change larger than WAL_MAX is logged first, then saved", () => {
    const kv = new KvEmulator();
    const d = boot(kv, [], 256);
    d.step(WAL_MAX + 1);
    expect(ticks(d.log)).toHaveLength(WAL_MAX + 1);
    expect(boot(kv, [], 256).st.n).toBe(WAL_MAX + 1);
  });

  it("ignores a malformed write-ahead list", () => {
    const kv = new KvEmulator();
    const store = new Store(kv);
    const log = new EventLog(store, { deviceId: "d", capacity: 8 });
    const j = new Journal(log, () => {});
    expect(j.recover([[1, "x", 9, {}, 0, null] as unknown as WalEntry, "junk" as unknown as WalEntry])).toBe(0);
    expect(j.recover(undefined)).toBe(0);
    expect(log.nextSeq()).toBe(1);
  });
});
