/** UTF-8 without TextEncoder/TextDecoder (absent in XS). Iterates code points, so it does not depend on string .length. */

export function utf8Encode(s: string): Uint8Array {
  let n = 0;
  for (const ch of s) {
    const c = ch.codePointAt(0) ?? 0;
    n += c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
  }
  const out = new Uint8Array(n);
  let i = 0;
  for (const ch of s) {
    let c = ch.codePointAt(0) ?? 0;
    if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd; // lone surrogate
    if (c < 0x80) out[i++] = c;
    else if (c < 0x800) {
      out[i++] = 0xc0 | (c >> 6);
      out[i++] = 0x80 | (c & 0x3f);
    } else if (c < 0x10000) {
      out[i++] = 0xe0 | (c >> 12);
      out[i++] = 0x80 | ((c >> 6) & 0x3f);
      out[i++] = 0x80 | (c & 0x3f);
    } else {
      out[i++] = 0xf0 | (c >> 18);
      out[i++] = 0x80 | ((c >> 12) & 0x3f);
      out[i++] = 0x80 | ((c >> 6) & 0x3f);
      out[i++] = 0x80 | (c & 0x3f);
    }
  }
  return out;
}

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
