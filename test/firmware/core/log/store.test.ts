import { describe, expect, it } from "vitest";
import { KvEmulator, isPowerCut, type TearMode } from "../../../../host-sim/kernel/hw/kv-emulator";
import { Store } from "../../../../firmware/core/log/store";

function faultsOf(): { list: [string, string][]; fn: (c: string, d: string) => void } {
  const list: [string, string][] = [];
  return { list, fn: (c, d) => list.push([c, d]) };
}

/** A value of about `bytes` UTF-8 bytes, with multi-byte characters to exercise chunk splitting. */
function big(tag: string, bytes: number): { tag: string; text: string } {
  const unit = "é💊ab€";
  return { tag, text: unit.repeat(Math.ceil(bytes / 11)) }; // 11 bytes per unit
}

describe("Store basics", () => {
  it("round-trips JSON, alternates A/B slots, one KV write per small save", () => {
    const kv = new KvEmulator();
    const s = new Store(kv);
    expect(s.load("cfg")).toBeUndefined();
    s.save("cfg", { v: 1 });
    expect(kv.keys()).toEqual(["cfg~a"]);
    s.save("cfg", { v: 2 });
    expect(kv.keys()).toEqual(["cfg~a", "cfg~b"]);
    kv.resetStats();
    s.save("cfg", { v: 3, s: "clé" });
    expect(kv.stats()).toMatchObject({ writes: 1, perKey: { "cfg~a": { writes: 1 } } });
    expect(s.load("cfg")).toEqual({ v: 3, s: "clé" });
    expect(new Store(kv).load("cfg")).toEqual({ v: 3, s: "clé" });
    expect(kv.get("cfg~a")).toMatch(/^3:0:[0-9a-f]{8}:\{/);
  });

  it("validates names and values", () => {
    const s = new Store(new KvEmulator());
    for (const bad of ["", "twelve_chars", "a~b", "sp ace", "é"]) expect(() => s.save(bad, 1)).toThrow(/^STORE_NAME/);
    expect(() => s.load("a~b")).toThrow(RangeError);
    expect(() => s.save("x", undefined)).toThrow(TypeError);
    expect(() => s.save("x", () => 1)).toThrow(/STORE_VALUE/);
    s.save("elevenchars", [1, "two", null, { three: 3 }]);
    expect(s.load("elevenchars")).toEqual([1, "two", null, { three: 3 }]);
    expect(() => s.save("x", big("x", 200_000))).toThrow(/^STORE_TOO_BIG/);
  });

  it("chunks values larger than one NVS value and cleans orphan chunks when they shrink", () => {
    const kv = new KvEmulator();
    const s = new Store(kv);
    const v1 = big("one", 13_000);
    s.save("tare", v1);
    expect(kv.keys()).toEqual(["tare~a", "tare~a1", "tare~a2", "tare~a3"]);
    for (const k of kv.keys()) expect(Buffer.byteLength(kv.get(k) as string)).toBeLessThanOrEqual(4000);
    expect(s.load("tare")).toEqual(v1);
    expect(new Store(kv).load("tare")).toEqual(v1);
    const v2 = big("two", 5_000);
    s.save("tare", v2);
    expect(kv.keys().filter((k) => k.startsWith("tare~b"))).toEqual(["tare~b", "tare~b1"]);
    s.save("tare", { small: true });
    expect(kv.keys()).toEqual(["tare~a", "tare~b", "tare~b1"]);
    expect(new Store(kv).load("tare")).toEqual({ small: true });
  });

  it("ignores corrupt slots, reports STORE_CORRUPT, never throws", () => {
    const kv = new KvEmulator();
    new Store(kv).save("st", { n: 1 });
    new Store(kv).save("st", { n: 2 }); // slot b, newest
    const good = kv.get("st~b") as string;
    kv.set("st~b", good.replace('"n":2', '"n":7')); // bit rot: CRC mismatch
    const f = faultsOf();
    const s = new Store(kv, { onFault: f.fn });
    expect(s.load("st")).toEqual({ n: 1 });
    expect(f.list).toEqual([["STORE_CORRUPT", "st~b: crc"]]);
    kv.set("st~a", "garbage");
    const f2 = faultsOf();
    expect(new Store(kv, { onFault: f2.fn }).load("st")).toBeUndefined();
    expect(f2.list.map((x) => x[0])).toEqual(["STORE_CORRUPT", "STORE_CORRUPT"]);
    // A chunked record with a missing chunk is invalid too.
    const s3 = new Store(kv);
    s3.save("big", big("a", 6000));
    s3.save("big", big("b", 6000));
    kv.delete("big~b1");
    const f3 = faultsOf();
    expect(new Store(kv, { onFault: f3.fn }).load("big")).toEqual(big("a", 6000));
    expect(f3.list).toEqual([["STORE_CORRUPT", "big~b: missing chunk 1"]]);
    // Saving after corruption still works and wins.
    s3.save("big", { c: 1 });
    expect(new Store(kv).load("big")).toEqual({ c: 1 });
  });

  it("delivers faults after the call, so a fault handler may use the store", () => {
    const kv = new KvEmulator();
    kv.set("x~a", "junk");
    let s: Store | undefined;
    const seen: unknown[] = [];
    s = new Store(kv, {
      onFault: (code) => {
        (s as Store).save("faultlog", { code });
        seen.push((s as Store).load("faultlog"));
      },
    });
    expect(s.load("x")).toBeUndefined();
    expect(seen).toEqual([{ code: "STORE_CORRUPT" }]);
  });
});

/** Run `script` with a power cut armed at write `w`; returns the step index during which the cut hit, or -1. */
function runCut(kv: KvEmulator, w: number, tear: TearMode, steps: ((s: Store) => void)[]): number {
  kv.armPowerCut({ afterWrites: w, tear });
  const s = new Store(kv);
  let step = 0;
  try {
    for (; step < steps.length; step++) steps[step](s);
  } catch (e) {
    if (!isPowerCut(e)) throw e;
    kv.reboot();
    return step;
  }
  kv.disarm();
  return -1;
}

describe("Store under power cuts", () => {
  const values: unknown[] = [
    { v: 0 },
    big("v1", 9000),
    { v: 2 },
    big("v3", 4500),
    big("v4", 12000),
    { v: 5, s: "€".repeat(1400) },
    { v: 6 },
  ];
  for (const tear of ["lost", "truncated"] as const) {
    it(`every write of a save sequence (${tear}): the previous or the new value loads`, () => {
      const steps = values.map((v) => (s: Store) => s.save("rec", v));
      const total = (() => {
        const kv = new KvEmulator();
        const s = new Store(kv);
        for (const st of steps) st(s);
        return kv.writes;
      })();
      expect(total).toBeGreaterThan(15);
      let cuts = 0;
      for (let w = 0; w < total; w++) {
        const kv = new KvEmulator();
        const step = runCut(kv, w, tear, steps);
        expect(step).toBeGreaterThanOrEqual(0);
        cuts++;
        const faults = faultsOf();
        const s = new Store(kv, { onFault: faults.fn });
        const got = s.load("rec");
        const prev = step === 0 ? undefined : values[step - 1];
        expect([prev, values[step]]).toContainEqual(got);
        for (const f of faults.list) expect(f[0]).toBe("STORE_CORRUPT");
        // The store keeps working after the cut, and survives another reboot.
        s.save("rec", { after: w });
        expect(new Store(kv).load("rec")).toEqual({ after: w });
        s.save("rec", values[1]);
        expect(new Store(kv).load("rec")).toEqual(values[1]);
      }
      expect(cuts).toBe(total);
    });

    it(`remove is atomic under a cut at every write (${tear})`, () => {
      const setup = (s: Store) => {
        s.save("r", big("old", 9000));
        s.save("r", big("new", 8000));
      };
      const kv0 = new KvEmulator();
      setup(new Store(kv0));
      const snap = kv0.snapshot();
      kv0.resetStats();
      new Store(kv0).remove("r");
      const total = kv0.writes;
      expect(kv0.keys()).toEqual([]);
      expect(total).toBe(6);
      for (let w = 0; w < total; w++) {
        const kv = new KvEmulator();
        kv.restore(snap);
        expect(runCut(kv, w, tear, [(s) => s.remove("r")])).toBe(0);
        const got = new Store(kv).load("r");
        expect([undefined, big("new", 8000)]).toContainEqual(got);
        new Store(kv).remove("r");
        expect(kv.keys()).toEqual([]);
      }
    });
  }
});
