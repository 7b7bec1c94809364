import { describe, expect, it } from "vitest";
import { KvEmulator, PowerCut, isPowerCut } from "../../../../host-sim/kernel/hw/kv-emulator";

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  throw new Error("did not throw");
}

describe("KvEmulator limits", () => {
  it("accepts keys of 1..15 printable ASCII and rejects others with KV_KEY", () => {
    const kv = new KvEmulator();
    kv.set("a", "1");
    kv.set("k".repeat(15), "2");
    expect(kv.get("k".repeat(15))).toBe("2");
    for (const bad of ["", "k".repeat(16), "clé", "tab\tkey", "nul\u0000"]) {
      const e = thrown(() => kv.set(bad, "x"));
      expect(e).toBeInstanceOf(RangeError);
      expect((e as RangeError).message).toMatch(/^KV_KEY/);
      expect((thrown(() => kv.get(bad)) as RangeError).message).toMatch(/^KV_KEY/);
    }
  });

  it("limits values to 4000 UTF-8 bytes (not UTF-16 length)", () => {
    const kv = new KvEmulator();
    kv.set("ascii", "x".repeat(4000));
    expect((thrown(() => kv.set("ascii", "x".repeat(4001))) as RangeError).message).toMatch(/^KV_VALUE/);
    kv.set("e2", "é".repeat(2000)); // 4000 bytes, 2000 code units
    expect((thrown(() => kv.set("e2", "é".repeat(2001))) as RangeError).message).toMatch(/^KV_VALUE 4002/);
    kv.set("e4", "💊".repeat(1000)); // 4000 bytes, 2000 code units
    expect(thrown(() => kv.set("e4", "💊".repeat(1000) + "a"))).toBeInstanceOf(RangeError);
    expect((thrown(() => kv.set("nul", "a\u0000b")) as RangeError).message).toMatch(/^KV_VALUE/);
    expect((thrown(() => kv.set("num", 5 as unknown as string)) as RangeError).message).toMatch(/^KV_VALUE/);
    expect(kv.get("e2")).toBe("é".repeat(2000));
  });

  it("models a full partition", () => {
    const kv = new KvEmulator({ capacityBytes: 100 });
    kv.set("a", "x".repeat(90));
    expect((thrown(() => kv.set("b", "x".repeat(20))) as RangeError).message).toMatch(/^KV_FULL/);
    kv.set("a", "x".repeat(98)); // replacing counts the old value out
    expect(kv.usedBytes()).toBe(99);
  });
});

describe("KvEmulator power cuts", () => {
  it("tears the (n+1)-th write (lost), then refuses everything until reboot", () => {
    const kv = new KvEmulator();
    kv.set("k", "old");
    kv.armPowerCut({ afterWrites: 2, tear: "lost" });
    kv.set("a", "1");
    kv.set("b", "2");
    const e = thrown(() => kv.set("k", "new"));
    expect(isPowerCut(e)).toBe(true);
    expect(e).toBeInstanceOf(PowerCut);
    expect(e).not.toBeInstanceOf(Error);
    expect((e as PowerCut).write).toBe(4);
    expect((e as PowerCut).key).toBe("k");
    expect(kv.isOff).toBe(true);
    expect(isPowerCut(thrown(() => kv.get("k")))).toBe(true);
    expect(isPowerCut(thrown(() => kv.keys()))).toBe(true);
    expect(isPowerCut(thrown(() => kv.delete("a")))).toBe(true);
    kv.reboot();
    expect(kv.get("k")).toBe("old");
    expect(kv.keys()).toEqual(["a", "b", "k"]);
    kv.set("k", "after"); // disarmed by reboot
    expect(kv.get("k")).toBe("after");
  });

  it("truncated tear stores a prefix of the new value, never splitting a surrogate pair", () => {
    const kv = new KvEmulator();
    kv.armPowerCut({ afterWrites: 0, tear: "truncated" });
    expect(isPowerCut(thrown(() => kv.set("k", "abcdefgh")))).toBe(true);
    kv.reboot();
    expect(kv.get("k")).toBe("abcd");
    kv.armPowerCut({ afterWrites: 0, tear: "truncated", truncateTo: 2 });
    thrown(() => kv.set("k", "a💊b"));
    kv.reboot();
    expect(kv.get("k")).toBe("a");
  });

  it("tears deletes: lost keeps the key, truncated applies it", () => {
    const kv = new KvEmulator();
    kv.set("x", "1");
    kv.armPowerCut({ afterWrites: 0, tear: "lost" });
    kv.delete("missing"); // not a flash write: not torn
    expect(isPowerCut(thrown(() => kv.delete("x")))).toBe(true);
    kv.reboot();
    expect(kv.get("x")).toBe("1");
    kv.armPowerCut({ afterWrites: 0, tear: "truncated" });
    thrown(() => kv.delete("x"));
    kv.reboot();
    expect(kv.get("x")).toBeUndefined();
  });

  it("counts writes and bytes per key; snapshot/restore round-trips without counting", () => {
    const kv = new KvEmulator();
    kv.set("a", "é");
    kv.set("a", "xyz");
    kv.set("b", "1");
    kv.delete("b");
    kv.delete("b");
    const s = kv.stats();
    expect(s).toMatchObject({ sets: 3, deletes: 1, writes: 4, bytesWritten: 6 });
    expect(s.perKey.a).toEqual({ writes: 2, bytes: 5 });
    expect(s.perKey.b).toEqual({ writes: 2, bytes: 1 });
    expect(kv.writes).toBe(4);
    const snap = kv.snapshot();
    kv.set("c", "3");
    kv.restore(snap);
    expect(kv.keys()).toEqual(["a"]);
    expect(kv.writes).toBe(5);
    kv.resetStats();
    expect(kv.stats().writes).toBe(0);
    expect(() => kv.set("__proto__", "ok")).not.toThrow();
    expect(kv.stats().perKey["__proto__"]).toEqual({ writes: 1, bytes: 2 });
    expect(kv.snapshot()["__proto__"]).toBe("ok");
  });
});
