import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { base64Decode, base64Encode } from "../../../../firmware/core/crypto/base64";
import { bytesToHex, hexToBytes } from "../../../../firmware/core/crypto/hex";
import { utf8Decode, utf8Encode, utf8Length } from "../../../../firmware/core/crypto/utf8";

const u8 = (...b: number[]) => new Uint8Array(b);

describe("base64", () => {
  it("round-trips and matches Buffer on 0..300-byte random inputs", () => {
    for (let n = 0; n <= 300; n++) {
      const d = new Uint8Array(randomBytes(n));
      const enc = base64Encode(d);
      expect(enc).toBe(Buffer.from(d).toString("base64"));
      expect(base64Decode(enc)).toEqual(d);
    }
  });
  it("RFC 4648 test vectors", () => {
    const cases: [string, string][] = [
      ["", ""],
      ["f", "Zg=="],
      ["fo", "Zm8="],
      ["foo", "Zm9v"],
      ["foob", "Zm9vYg=="],
      ["fooba", "Zm9vYmE="],
      ["foobar", "Zm9vYmFy"],
    ];
    for (const [plain, enc] of cases) {
      expect(base64Encode(new TextEncoder().encode(plain))).toBe(enc);
      expect(new TextDecoder().decode(base64Decode(enc))).toBe(plain);
    }
  });
  it("strict decoder refuses malformed input with undefined", () => {
    const bad = [
      "Zg",
      "Zg=",
      "Zm9",
      "Z", // length not a multiple of 4
      "Zg==Zg==",
      "Z===",
      "====",
      "=Zg=",
      "Zm=v",
      "Zm9v=", // padding misplaced or excessive
      "Zh==",
      "Zm9=", // non-zero unused bits (non-canonical)
      "Zm9 ",
      " Zm9",
      "Zm9v\n",
      "Zm\r\n9v", // whitespace
      "Zm-v",
      "Zm_v",
      "Zm9v.AAA",
      "Zm*v", // url-safe / foreign characters
      "Zm9é",
      "Zm9\u0000",
      "\u{1F600}AA", // non-ASCII and NUL
    ];
    for (const s of bad) expect(base64Decode(s), JSON.stringify(s)).toBeUndefined();
    expect(base64Decode(undefined as unknown as string)).toBeUndefined();
    expect(base64Decode(1234 as unknown as string)).toBeUndefined();
  });
  it("decoder accepts every canonical encoding of 1- and 2-byte inputs", () => {
    for (let a = 0; a < 256; a++) {
      expect(base64Decode(Buffer.from([a]).toString("base64"))).toEqual(u8(a));
      expect(base64Decode(Buffer.from([a, 255 - a]).toString("base64"))).toEqual(u8(a, 255 - a));
    }
  });
});

describe("hex", () => {
  it("round-trips and matches Buffer", () => {
    const d = new Uint8Array(randomBytes(257));
    expect(bytesToHex(d)).toBe(Buffer.from(d).toString("hex"));
    expect(hexToBytes(bytesToHex(d))).toEqual(d);
    expect(hexToBytes("DEADbeef")).toEqual(u8(0xde, 0xad, 0xbe, 0xef));
    expect(hexToBytes("")).toEqual(u8());
  });
  it("refuses odd length and non-hex characters", () => {
    for (const s of ["a", "abc", "0x00", "zz", "0 ", "g0", "é0"]) expect(hexToBytes(s), s).toBeUndefined();
  });
});

describe("utf8", () => {
  const samples = [
    "",
    "abc",
    "Doliprane 1000 mg",
    "é",
    "ça coûte 5 €",
    "日本語",
    "\u{1F48A} pill",
    "a\u0000b",
    "\uFFFF\u{10FFFF}",
    "x".repeat(1000) + "é".repeat(700),
  ];
  it("encode matches TextEncoder, decode inverts it, utf8Length is exact", () => {
    for (const s of samples) {
      const ref = new TextEncoder().encode(s);
      expect(utf8Encode(s)).toEqual(ref);
      expect(utf8Length(s)).toBe(ref.length);
      expect(utf8Decode(ref)).toBe(s);
    }
  });
  it("lone surrogates encode as U+FFFD like TextEncoder", () => {
    for (const s of ["\uD800", "a\uDC00b", "\uDBFF\uDBFF", "\uDE00\uD83D"]) {
      expect(utf8Encode(s)).toEqual(new TextEncoder().encode(s));
      expect(utf8Length(s)).toBe(new TextEncoder().encode(s).length);
    }
  });
  it("decode round-trips random valid UTF-8", () => {
    for (let k = 0; k < 200; k++) {
      let s = "";
      for (let i = 0; i < 50; i++) {
        let cp = Math.floor(Math.random() * 0x110000);
        if (cp >= 0xd800 && cp <= 0xdfff) cp = 0x41;
        s += String.fromCodePoint(cp);
      }
      expect(utf8Decode(new TextEncoder().encode(s))).toBe(s);
    }
  });
  it("strict decode refuses ill-formed sequences", () => {
    const bad = [
      u8(0x80),
      u8(0xbf),
      u8(0xc0, 0x80),
      u8(0xc1, 0xbf), // stray continuation, overlong 2-byte
      u8(0xc3),
      u8(0xe2, 0x82),
      u8(0xf0, 0x9f, 0x92), // truncated
      u8(0xe0, 0x80, 0x80),
      u8(0xe0, 0x9f, 0xbf), // overlong 3-byte
      u8(0xed, 0xa0, 0x80),
      u8(0xed, 0xbf, 0xbf), // surrogates
      u8(0xf0, 0x80, 0x80, 0x80),
      u8(0xf0, 0x8f, 0xbf, 0xbf), // overlong 4-byte
      u8(0xf4, 0x90, 0x80, 0x80),
      u8(0xf5, 0x80, 0x80, 0x80),
      u8(0xff),
      u8(0xfe), // > U+10FFFF, invalid leads
      u8(0xc3, 0x41),
      u8(0xe2, 0x41, 0x82),
      u8(0x41, 0xe2, 0x82, 0x41), // bad continuation
    ];
    for (const b of bad) {
      expect(utf8Decode(b), Buffer.from(b).toString("hex")).toBeUndefined();
      expect(() => new TextDecoder("utf-8", { fatal: true }).decode(b)).toThrow(); // same verdict as the reference
    }
  });
  it("accepts the boundary code points", () => {
    for (const cp of [0x7f, 0x80, 0x7ff, 0x800, 0xd7ff, 0xe000, 0xfffd, 0xffff, 0x10000, 0x10ffff]) {
      const s = String.fromCodePoint(cp);
      expect(utf8Decode(new TextEncoder().encode(s))).toBe(s);
    }
  });
});
