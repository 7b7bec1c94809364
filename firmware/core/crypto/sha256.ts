/**
 * SHA-256 (FIPS 180-4), XS-clean: 32-bit integer arithmetic only.
 */
import { sha2Pad } from "./sha2-pad";

const K: readonly number[] = Object.freeze(
  [
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be,
    0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa,
    0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85,
    0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3,
    0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f,
    0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
  ].map((k) => k | 0),
);

const IV: readonly number[] = Object.freeze(
  [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19].map((k) => k | 0),
);

/** One 64-byte block at `off` of `buf` into the state `h` (w: scratch of 64 words). */
function compress(h: Int32Array, w: Int32Array, buf: Uint8Array, off: number): void {
  for (let t = 0; t < 16; t++) {
    const j = off + 4 * t;
    w[t] = (buf[j] << 24) | (buf[j + 1] << 16) | (buf[j + 2] << 8) | buf[j + 3];
  }
  for (let t = 16; t < 64; t++) {
    const x = w[t - 15];
    const y = w[t - 2];
    const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
    const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
    w[t] = (s1 + w[t - 7] + s0 + w[t - 16]) | 0;
  }
  let a = h[0],
    b = h[1],
    c = h[2],
    d = h[3],
    e = h[4],
    f = h[5],
    g = h[6],
    hh = h[7];
  for (let t = 0; t < 64; t++) {
    const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
    const ch = (e & f) ^ (~e & g);
    const t1 = (hh + S1 + ch + K[t] + w[t]) | 0;
    const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
    const maj = (a & b) ^ (a & c) ^ (b & c);
    const t2 = (S0 + maj) | 0;
    hh = g;
    g = f;
    f = e;
    e = (d + t1) | 0;
    d = c;
    c = b;
    b = a;
    a = (t1 + t2) | 0;
  }
  h[0] = (h[0] + a) | 0;
  h[1] = (h[1] + b) | 0;
  h[2] = (h[2] + c) | 0;
  h[3] = (h[3] + d) | 0;
  h[4] = (h[4] + e) | 0;
  h[5] = (h[5] + f) | 0;
  h[6] = (h[6] + g) | 0;
  h[7] = (h[7] + hh) | 0;
}

function digestOf(h: Int32Array): Uint8Array {
  const out = new Uint8Array(32);
  for (let i = 0; i < 8; i++) {
    const v = h[i];
    out[4 * i] = v >>> 24;
    out[4 * i + 1] = v >>> 16;
    out[4 * i + 2] = v >>> 8;
    out[4 * i + 3] = v;
  }
  return out;
}

/** SHA-256 digest (32 bytes) of `data`. */
export function sha256(data: Uint8Array): Uint8Array {
  // message + 0x80 + zero pad + 64-bit big-endian bit length, to a multiple of 64
  const buf = sha2Pad(data, 64, 8);
  const h = new Int32Array(IV);
  const w = new Int32Array(64);
  for (let off = 0; off < buf.length; off += 64) compress(h, w, buf, off);
  return digestOf(h);
}

/**
 * Streaming SHA-256 for data that never sits in RAM whole (a firmware image written chunk by
 * chunk): update() any number of times, then digest() once. Holds 64 + 256 + 32 bytes.
 */
export class Sha256 {
  private readonly h = new Int32Array(IV);
  private readonly w = new Int32Array(64);
  private readonly block = new Uint8Array(64);
  private fill = 0;
  private total = 0;
  private done = false;

  update(data: Uint8Array): void {
    if (this.done) throw new RangeError("SHA256_DONE");
    this.total += data.length;
    let i = 0;
    if (this.fill > 0) {
      const take = Math.min(64 - this.fill, data.length);
      this.block.set(data.subarray(0, take), this.fill);
      this.fill += take;
      i = take;
      if (this.fill < 64) return;
      compress(this.h, this.w, this.block, 0);
      this.fill = 0;
    }
    for (; i + 64 <= data.length; i += 64) compress(this.h, this.w, data, i);
    if (i < data.length) {
      this.block.set(data.subarray(i), 0);
      this.fill = data.length - i;
    }
  }

  /** Bytes hashed so far. */
  get length(): number {
    return this.total;
  }

  digest(): Uint8Array {
    if (this.done) throw new RangeError("SHA256_DONE");
    this.done = true;
    const tail = sha2Pad(this.block.subarray(0, this.fill), 64, 8);
    // sha2Pad wrote the tail's own length: overwrite the last 8 bytes with the whole message's.
    const n = this.total;
    const hi = Math.floor(n / 0x20000000);
    const lo = (n << 3) >>> 0;
    const e = tail.length;
    tail[e - 8] = hi >>> 24;
    tail[e - 7] = hi >>> 16;
    tail[e - 6] = hi >>> 8;
    tail[e - 5] = hi;
    tail[e - 4] = lo >>> 24;
    tail[e - 3] = lo >>> 16;
    tail[e - 2] = lo >>> 8;
    tail[e - 1] = lo;
    for (let off = 0; off < e; off += 64) compress(this.h, this.w, tail, off);
    return digestOf(this.h);
  }
}
