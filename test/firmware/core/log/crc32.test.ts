import { describe, expect, it } from "vitest";
import { crc32 as zcrc } from "node:zlib";
import { crc32, hex8, utf8Length } from "../../../../firmware/core/log/crc32";

const samples = [
  "",
  "123456789",
  "a",
  "hello, world",
  "é",
  "Comprimé 500 mg — matin",
  "€uro ✓ 日本語",
  "emoji 💊🙂 mix",
  "lone \ud800 high",
  "lone \udc00 low",
  "end high \ud83d",
  "x".repeat(5000),
];

describe("crc32 / utf8Length", () => {
  it("matches the standard check value", () => {
    expect(crc32("123456789")).toBe(0xcbf43926);
    expect(hex8(crc32("123456789"))).toBe("cbf43926");
    expect(hex8(0)).toBe("00000000");
  });

  it.each(samples)("agrees with zlib and Buffer for %j", (s) => {
    const buf = Buffer.from(s, "utf8");
    expect(utf8Length(s)).toBe(buf.length);
    expect(crc32(s)).toBe(zcrc(buf) >>> 0);
  });

  it("continues a CRC across parts", () => {
    for (const a of samples) for (const b of ["", "tail", "💊"]) expect(crc32(b, crc32(a))).toBe(crc32(a + b));
  });
});
