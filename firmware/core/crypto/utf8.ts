/**
 * UTF-8 encode/decode without TextEncoder/TextDecoder (absent on the device).
 *
 * Strings are walked with for..of (code point by code point), never indexed by
 * position: on XS strings are stored as UTF-8, so charCodeAt(i) on non-ASCII
 * text can cost O(i).
 */

/** Exact UTF-8 byte length of `text` (lone surrogates count as U+FFFD, 3 bytes). */
export function utf8Length(text: string): number {
  let n = 0;
  for (const ch of text) {
    const cp = ch.codePointAt(0) as number;
    n += cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
  }
  return n;
}

/**
 * Encode a string as UTF-8. Lone surrogates are encoded as U+FFFD (EF BF BD),
 * as TextEncoder does.
 */
export function utf8Encode(text: string): Uint8Array {
  const out = new Uint8Array(utf8Length(text));
  utf8EncodeInto(text, out);
  return out;
}

/**
 * Writes `text` as UTF-8 into `out` from index 0 (lone surrogates as U+FFFD); `out` must hold
 * utf8Length(text) bytes. Returns the number of bytes written.
 */
export function utf8EncodeInto(text: string, out: Uint8Array): number {
  let o = 0;
  for (const ch of text) {
    let cp = ch.codePointAt(0) as number;
    if (cp >= 0xd800 && cp <= 0xdfff) cp = 0xfffd;
    if (cp < 0x80) {
      out[o++] = cp;
    } else if (cp < 0x800) {
      out[o++] = 0xc0 | (cp >> 6);
      out[o++] = 0x80 | (cp & 63);
    } else if (cp < 0x10000) {
      out[o++] = 0xe0 | (cp >> 12);
      out[o++] = 0x80 | ((cp >> 6) & 63);
      out[o++] = 0x80 | (cp & 63);
    } else {
      out[o++] = 0xf0 | (cp >> 18);
      out[o++] = 0x80 | ((cp >> 12) & 63);
      out[o++] = 0x80 | ((cp >> 6) & 63);
      out[o++] = 0x80 | (cp & 63);
    }
  }
  return o;
}

const CHUNK = 256; // code units per String.fromCharCode call (bounded stack use)

/**
 * Strict UTF-8 decode. Returns undefined on any ill-formed sequence:
 * stray or missing continuation bytes, overlong forms, surrogates
 * (U+D800..U+DFFF), code points above U+10FFFF, truncated input.
 * A leading BOM is kept (decoded as U+FEFF), not stripped.
 */
export function utf8Decode(bytes: Uint8Array): string | undefined {
  const n = bytes.length;
  let out = "";
  const units: number[] = [];
  let i = 0;
  while (i < n) {
    const b0 = bytes[i];
    let cp: number;
    if (b0 < 0x80) {
      cp = b0;
      i += 1;
    } else if (b0 >= 0xc2 && b0 <= 0xdf) {
      if (i + 1 >= n) return undefined;
      const b1 = bytes[i + 1];
      if ((b1 & 0xc0) !== 0x80) return undefined;
      cp = ((b0 & 0x1f) << 6) | (b1 & 0x3f);
      i += 2;
    } else if (b0 >= 0xe0 && b0 <= 0xef) {
      if (i + 2 >= n) return undefined;
      const b1 = bytes[i + 1];
      const b2 = bytes[i + 2];
      if ((b1 & 0xc0) !== 0x80 || (b2 & 0xc0) !== 0x80) return undefined;
      if (b0 === 0xe0 && b1 < 0xa0) return undefined; // overlong
      if (b0 === 0xed && b1 >= 0xa0) return undefined; // surrogate
      cp = ((b0 & 0x0f) << 12) | ((b1 & 0x3f) << 6) | (b2 & 0x3f);
      i += 3;
    } else if (b0 >= 0xf0 && b0 <= 0xf4) {
      if (i + 3 >= n) return undefined;
      const b1 = bytes[i + 1];
      const b2 = bytes[i + 2];
      const b3 = bytes[i + 3];
      if ((b1 & 0xc0) !== 0x80 || (b2 & 0xc0) !== 0x80 || (b3 & 0xc0) !== 0x80) return undefined;
      if (b0 === 0xf0 && b1 < 0x90) return undefined; // overlong
      if (b0 === 0xf4 && b1 >= 0x90) return undefined; // > U+10FFFF
      cp = ((b0 & 0x07) << 18) | ((b1 & 0x3f) << 12) | ((b2 & 0x3f) << 6) | (b3 & 0x3f);
      i += 4;
    } else {
      return undefined; // 0x80..0xC1 lead, or 0xF5..0xFF
    }
    if (cp < 0x10000) {
      units.push(cp);
    } else {
      cp -= 0x10000;
      units.push(0xd800 | (cp >> 10), 0xdc00 | (cp & 0x3ff));
    }
    if (units.length >= CHUNK) {
      out += String.fromCharCode.apply(null, units);
      units.length = 0;
    }
  }
  if (units.length > 0) out += String.fromCharCode.apply(null, units);
  return out;
}
