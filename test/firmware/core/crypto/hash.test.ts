import { createHash, randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { sha256 } from "../../../../firmware/core/crypto/sha256";
import { sha512 } from "../../../../firmware/core/crypto/sha512";
import { lcgU32 } from "../../../support/prng";

const EDGE = [0, 1, 3, 55, 56, 57, 63, 64, 65, 111, 112, 113, 119, 120, 127, 128, 129, 255, 256, 1000, 4096];

function lengths(): number[] {
  const out = EDGE.slice();
  // deterministic spread of other lengths (0..2999), 1,000 in all
  const next = lcgU32(12345);
  while (out.length < 1000) out.push(next() % 3000);
  return out;
}

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

describe("sha256 / sha512 against node:crypto", () => {
  const lens = lengths();
  it(`sha256 on ${lens.length} random inputs (edge lengths included)`, () => {
    let checked = 0;
    for (const n of lens) {
      const d = new Uint8Array(randomBytes(n));
      expect(hex(sha256(d)), `length ${n}`).toBe(createHash("sha256").update(d).digest("hex"));
      checked++;
    }
    expect(checked).toBe(1000);
  });
  it(`sha512 on ${lens.length} random inputs (edge lengths included)`, () => {
    for (const n of lens) {
      const d = new Uint8Array(randomBytes(n));
      expect(hex(sha512(d)), `length ${n}`).toBe(createHash("sha512").update(d).digest("hex"));
    }
  });
  it("known answers (FIPS 180-2 'abc')", () => {
    const abc = new Uint8Array([0x61, 0x62, 0x63]);
    expect(hex(sha256(abc))).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    expect(hex(sha512(abc))).toBe(
      "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
    );
  });
  it("all-0xff input (sign-bit handling) and digest sizes", () => {
    const d = new Uint8Array(300).fill(0xff);
    expect(hex(sha256(d))).toBe(createHash("sha256").update(d).digest("hex"));
    expect(hex(sha512(d))).toBe(createHash("sha512").update(d).digest("hex"));
    expect(sha256(d).length).toBe(32);
    expect(sha512(d).length).toBe(64);
  });
  it("does not modify its input and accepts subarrays", () => {
    const big = new Uint8Array(randomBytes(200));
    const copy = big.slice();
    const sub = big.subarray(17, 150);
    expect(hex(sha512(sub))).toBe(createHash("sha512").update(sub).digest("hex"));
    expect(hex(sha256(sub))).toBe(createHash("sha256").update(sub).digest("hex"));
    expect(big).toEqual(copy);
  });
});

describe("streaming Sha256 against node:crypto", () => {
  it("gives the one-shot digest for any split of the input", async () => {
    const { Sha256 } = await import("../../../../firmware/core/crypto/sha256");
    const next = lcgU32(777);
    for (let n = 0; n < 300; n++) {
      const len = n < EDGE.length ? EDGE[n] : next() % 20000;
      const data = randomBytes(len);
      const s = new Sha256();
      let off = 0;
      while (off < len) {
        const take = Math.min(len - off, 1 + (next() % 700));
        s.update(data.subarray(off, off + take));
        off += take;
      }
      expect(s.length).toBe(len);
      expect(hex(s.digest())).toBe(createHash("sha256").update(data).digest("hex"));
    }
  });

  it("refuses use after digest", async () => {
    const { Sha256 } = await import("../../../../firmware/core/crypto/sha256");
    const s = new Sha256();
    s.digest();
    expect(() => s.update(new Uint8Array(1))).toThrow("SHA256_DONE");
  });
});
