/**
 * Lower-case hex encoding and a strict decoder (XS-clean, no Buffer).
 */

const DIGITS = "0123456789abcdef";

/** Encode bytes as lower-case hex. */
export function bytesToHex(bytes: Uint8Array): string {
  let out = "";
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    out += DIGITS[b >> 4] + DIGITS[b & 15];
  }
  return out;
}

function nibble(c: number): number {
  if (c >= 48 && c <= 57) return c - 48; // 0-9
  if (c >= 97 && c <= 102) return c - 87; // a-f
  if (c >= 65 && c <= 70) return c - 55; // A-F
  return -1;
}

/**
 * Decode hex (either case). Returns undefined on odd length or any
 * character outside [0-9a-fA-F] (no whitespace, no "0x" prefix).
 */
export function hexToBytes(hex: string): Uint8Array | undefined {
  if (typeof hex !== "string" || (hex.length & 1) !== 0) return undefined;
  const out = new Uint8Array(hex.length >> 1);
  for (let i = 0; i < out.length; i++) {
    const hi = nibble(hex.charCodeAt(2 * i));
    const lo = nibble(hex.charCodeAt(2 * i + 1));
    if (hi < 0 || lo < 0) return undefined;
    out[i] = (hi << 4) | lo;
  }
  return out;
}
