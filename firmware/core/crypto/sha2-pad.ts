/**
 * SHA-2 message padding (FIPS 180-4 §5.1), shared by sha256.ts and sha512.ts. XS-clean.
 */

/**
 * `data`, then 0x80, zeros, and the message length in bits big-endian in the last 8 bytes, to a
 * multiple of `block` bytes (64 for SHA-256, 128 for SHA-512). `lengthBytes` is the size of the
 * length field (8 or 16); lengths are below 2^53 bits, so only its last 8 bytes can be non-zero.
 */
export function sha2Pad(data: Uint8Array, block: number, lengthBytes: number): Uint8Array {
  const n = data.length;
  const total = (n + 1 + lengthBytes + block - 1) & ~(block - 1);
  const buf = new Uint8Array(total);
  buf.set(data);
  buf[n] = 0x80;
  const bitsHi = Math.floor(n / 0x20000000); // n * 8 / 2^32
  const bitsLo = (n << 3) >>> 0;
  buf[total - 8] = bitsHi >>> 24;
  buf[total - 7] = bitsHi >>> 16;
  buf[total - 6] = bitsHi >>> 8;
  buf[total - 5] = bitsHi;
  buf[total - 4] = bitsLo >>> 24;
  buf[total - 3] = bitsLo >>> 16;
  buf[total - 2] = bitsLo >>> 8;
  buf[total - 1] = bitsLo;
  return buf;
}
