/**
 * Standard base64 (RFC 4648 §4, alphabet A-Z a-z 0-9 + /, "=" padding),
 * XS-clean. The decoder is strict: it accepts exactly the strings the encoder
 * can produce and returns undefined for anything else.
 */

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/** Encode bytes as padded standard base64. */
export function base64Encode(bytes: Uint8Array): string {
  let out = "";
  const n = bytes.length;
  let i = 0;
  for (; i + 3 <= n; i += 3) {
    const v = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
    out += ALPHABET[v >> 18] + ALPHABET[(v >> 12) & 63] + ALPHABET[(v >> 6) & 63] + ALPHABET[v & 63];
  }
  const rest = n - i;
  if (rest === 1) {
    const v = bytes[i] << 16;
    out += ALPHABET[v >> 18] + ALPHABET[(v >> 12) & 63] + "==";
  } else if (rest === 2) {
    const v = (bytes[i] << 16) | (bytes[i + 1] << 8);
    out += ALPHABET[v >> 18] + ALPHABET[(v >> 12) & 63] + ALPHABET[(v >> 6) & 63] + "=";
  }
  return out;
}

function sextet(c: number): number {
  if (c >= 65 && c <= 90) return c - 65; // A-Z
  if (c >= 97 && c <= 122) return c - 71; // a-z
  if (c >= 48 && c <= 57) return c + 4; // 0-9
  if (c === 43) return 62; // +
  if (c === 47) return 63; // /
  return -1;
}

/**
 * Strict decode. Returns undefined when:
 * - the input is not a string or its length is not a multiple of 4;
 * - any character is outside the alphabet (whitespace, "-", "_", non-ASCII ...);
 * - "=" appears anywhere but as one or two final characters of the last quantum;
 * - the unused low bits before the padding are not zero (non-canonical encoding).
 * "" decodes to an empty array.
 */
export function base64Decode(text: string): Uint8Array | undefined {
  if (typeof text !== "string") return undefined;
  const len = text.length;
  if ((len & 3) !== 0) return undefined;
  if (len === 0) return new Uint8Array(0);
  let pad = 0;
  if (text.charCodeAt(len - 1) === 61) pad = text.charCodeAt(len - 2) === 61 ? 2 : 1;
  const out = new Uint8Array((len >> 2) * 3 - pad);
  const full = pad === 0 ? len : len - 4; // characters in unpadded quanta
  let o = 0;
  for (let i = 0; i < full; i += 4) {
    const a = sextet(text.charCodeAt(i));
    const b = sextet(text.charCodeAt(i + 1));
    const c = sextet(text.charCodeAt(i + 2));
    const d = sextet(text.charCodeAt(i + 3));
    if ((a | b | c | d) < 0) return undefined;
    const v = (a << 18) | (b << 12) | (c << 6) | d;
    out[o++] = v >> 16;
    out[o++] = (v >> 8) & 255;
    out[o++] = v & 255;
  }
  if (pad !== 0) {
    const a = sextet(text.charCodeAt(full));
    const b = sextet(text.charCodeAt(full + 1));
    if ((a | b) < 0) return undefined;
    if (pad === 2) {
      if ((b & 15) !== 0) return undefined; // non-zero unused bits
      out[o] = (a << 2) | (b >> 4);
    } else {
      const c = sextet(text.charCodeAt(full + 2));
      if (c < 0 || (c & 3) !== 0) return undefined;
      out[o++] = (a << 2) | (b >> 4);
      out[o] = ((b & 15) << 4) | (c >> 2);
    }
  }
  return out;
}
