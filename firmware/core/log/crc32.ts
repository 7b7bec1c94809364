/**
 * CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320 — the zlib/PNG one) over the
 * UTF-8 encoding of a string, plus a UTF-8 byte counter. Both walk UTF-16 code units and
 * encode by hand (no TextEncoder on XS); a lone surrogate counts as U+FFFD (3 bytes),
 * as TextEncoder would encode it.
 */

/** The byte table, built once at preload and frozen (it lives in flash on the device). */
const TABLE: readonly number[] = Object.freeze(makeTable());

function makeTable(): number[] {
  const t: number[] = [];
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t.push(c | 0);
  }
  return t;
}

/**
 * CRC-32 of the UTF-8 bytes of `s`. Pass the CRC of a preceding part as `prev` to continue
 * it: crc32(b, crc32(a)) === crc32(a + b). Returns an unsigned 32-bit integer.
 */
export function crc32(s: string, prev = 0): number {
  const t = TABLE;
  let c = ~prev;
  const len = s.length;
  for (let i = 0; i < len; i++) {
    let cp = s.charCodeAt(i);
    if (cp < 0x80) {
      c = t[(c ^ cp) & 0xff] ^ (c >>> 8);
      continue;
    }
    if (cp >= 0xd800 && cp <= 0xdbff && i + 1 < len) {
      const lo = s.charCodeAt(i + 1);
      if (lo >= 0xdc00 && lo <= 0xdfff) {
        cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
        i++;
      }
    }
    if (cp >= 0xd800 && cp <= 0xdfff) cp = 0xfffd; // lone surrogate
    if (cp < 0x800) {
      c = t[(c ^ (0xc0 | (cp >> 6))) & 0xff] ^ (c >>> 8);
    } else if (cp < 0x10000) {
      c = t[(c ^ (0xe0 | (cp >> 12))) & 0xff] ^ (c >>> 8);
      c = t[(c ^ (0x80 | ((cp >> 6) & 0x3f))) & 0xff] ^ (c >>> 8);
    } else {
      c = t[(c ^ (0xf0 | (cp >> 18))) & 0xff] ^ (c >>> 8);
      c = t[(c ^ (0x80 | ((cp >> 12) & 0x3f))) & 0xff] ^ (c >>> 8);
      c = t[(c ^ (0x80 | ((cp >> 6) & 0x3f))) & 0xff] ^ (c >>> 8);
    }
    c = t[(c ^ (0x80 | (cp & 0x3f))) & 0xff] ^ (c >>> 8);
  }
  return ~c >>> 0;
}

/** UTF-8 byte length (the one implementation, core/crypto/utf8). */
export { utf8Length } from "../crypto/utf8";

/** 8 lower-case hex digits of an unsigned 32-bit integer. */
export function hex8(n: number): string {
  const s = (n >>> 0).toString(16);
  return "00000000".slice(s.length) + s;
}
