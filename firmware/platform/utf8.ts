/** UTF-8 without TextEncoder/TextDecoder (absent in XS). Iterates code points, so it does not depend on string .length. */

/** Encodes `s` as UTF-8; lone surrogates become U+FFFD. */
export { utf8Encode } from "../core/crypto/utf8";

/** Decodes UTF-8; malformed sequences become U+FFFD. */
export function utf8Decode(b: Uint8Array): string {
  const parts: string[] = [];
  let chunk: number[] = [];
  for (let i = 0; i < b.length; ) {
    const x = b[i];
    let c = 0xfffd;
    let len = 1;
    if (x < 0x80) c = x;
    else if (x >= 0xc2 && x < 0xe0) len = 2;
    else if (x >= 0xe0 && x < 0xf0) len = 3;
    else if (x >= 0xf0 && x < 0xf5) len = 4;
    if (len > 1) {
      let v = x & (0xff >> (len + 1));
      let ok = i + len <= b.length;
      for (let k = 1; ok && k < len; k++) {
        const y = b[i + k];
        if ((y & 0xc0) !== 0x80) ok = false;
        else v = (v << 6) | (y & 0x3f);
      }
      const min = len === 2 ? 0x80 : len === 3 ? 0x800 : 0x10000;
      if (ok && v >= min && v <= 0x10ffff && !(v >= 0xd800 && v <= 0xdfff)) c = v;
      else len = 1;
    }
    chunk.push(c);
    i += len;
    if (chunk.length >= 512) {
      parts.push(String.fromCodePoint(...chunk));
      chunk = [];
    }
  }
  parts.push(String.fromCodePoint(...chunk));
  return parts.join("");
}
