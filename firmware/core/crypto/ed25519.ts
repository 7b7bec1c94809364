/**
 * Ed25519 signature verification (RFC 8032 §5.1.7), XS-clean, verify only.
 *
 * Field and scalar arithmetic use BigInt: on XS, BigInt is implemented natively
 * in C, which was measured faster than 16-bit-limb arithmetic interpreted in JS
 * (figures in docs/signing.md). Signing is deliberately absent from the
 * firmware: devices only verify.
 *
 * Policy (strict, libsodium-like; a superset of RFC 8032's checks):
 * - public key A and R must be canonical encodings (y < p, no "negative zero" x)
 *   of points on the curve, otherwise reject;
 * - A and R must not be of small order (8-torsion), otherwise reject;
 * - S must be canonical: S < L, otherwise reject;
 * - accept iff encode([S]B - [k]A) equals the 32 bytes of R, with
 *   k = SHA-512(R || A || M) mod L (cofactorless equation).
 * verify() never throws: any bad input (wrong types or lengths) returns false.
 *
 * Not constant time; that is fine for verification (all inputs are public).
 */

import { sha512 } from "./sha512";

/** Field prime p = 2^255 - 19. */
const P = 57896044618658097711785492504343953926634992332820282019728792003956564819949n;
/** Group order L = 2^252 + 27742317777372353535851937790883648493. */
const L = 7237005577332262213973186563042994240857116359379907606001950938285454250989n;
/** Curve constant d = -121665/121666 mod p. */
const D = 37095705934669439343138083508754565189542113879843219016388785533085940283555n;
/** 2d mod p. */
const D2 = 16295367250680780974490674513165176452449235426866156013048779062215315747161n;
/** sqrt(-1) mod p = 2^((p-1)/4). */
const SQRT_M1 = 19681161376707505956807079304988542015446066515923890162744021073123829784752n;
/** Base point B (x, y). */
const BX = 15112221349535400772501151409588531511454012693041857206046113283949847762202n;
const BY = 46316835694926478169428394003475163141307993866256225615783033603165251855960n;

/** A point in extended coordinates (X : Y : Z : T), x = X/Z, y = Y/Z, xy = T/Z. */
type Point = [bigint, bigint, bigint, bigint];

const Y_MASK = (1n << 255n) - 1n;

function mod(a: bigint): bigint {
  const r = a % P;
  return r < 0n ? r + P : r;
}

/** a^e mod p by square-and-multiply, e >= 0. */
function powMod(a: bigint, e: bigint): bigint {
  let result = 1n;
  let base = a;
  while (e > 0n) {
    if ((e & 1n) === 1n) result = (result * base) % P;
    base = (base * base) % P;
    e >>= 1n;
  }
  return result;
}

/** Little-endian bytes -> bigint. */
function leToBig(b: Uint8Array, start: number, end: number): bigint {
  let hex = "";
  for (let i = end - 1; i >= start; i--) {
    const v = b[i];
    hex += (v < 16 ? "0" : "") + v.toString(16);
  }
  return hex.length === 0 ? 0n : BigInt("0x" + hex);
}

/** RFC 8032 §5.1.4 addition (a = -1), complete for Ed25519. */
function add(p: Point, q: Point): Point {
  const a = ((p[1] - p[0]) * (q[1] - q[0])) % P;
  const b = ((p[1] + p[0]) * (q[1] + q[0])) % P;
  const c = (((p[3] * D2) % P) * q[3]) % P;
  const d = (2n * p[2] * q[2]) % P;
  const e = b - a;
  const f = d - c;
  const g = d + c;
  const h = b + a;
  return [(e * f) % P, (g * h) % P, (f * g) % P, (e * h) % P];
}

/** RFC 8032 §5.1.4 doubling. */
function double(p: Point): Point {
  const a = (p[0] * p[0]) % P;
  const b = (p[1] * p[1]) % P;
  const c = (2n * p[2] * p[2]) % P;
  const h = a + b;
  const s = p[0] + p[1];
  const e = h - ((s * s) % P);
  const g = a - b;
  const f = c + g;
  return [(e * f) % P, (g * h) % P, (f * g) % P, (e * h) % P];
}

/** True when p is the neutral element (0, 1). Coordinates may be unreduced/negative. */
function isIdentity(p: Point): boolean {
  return mod(p[0]) === 0n && mod(p[1] - p[2]) === 0n;
}

/** True when [8]p is the identity (p lies in the 8-torsion subgroup). */
function isSmallOrder(p: Point): boolean {
  return isIdentity(double(double(double(p))));
}

/** Decode a 32-byte point encoding (RFC 8032 §5.1.3); null if non-canonical or not on the curve. */
function decodePoint(bytes: Uint8Array, start: number): Point | null {
  const sign = bytes[start + 31] >> 7;
  const y = leToBig(bytes, start, start + 32) & Y_MASK;
  if (y >= P) return null;
  const y2 = (y * y) % P;
  const u = mod(y2 - 1n);
  const v = (D * y2 + 1n) % P;
  const v3 = (((v * v) % P) * v) % P;
  const v7 = (((v3 * v3) % P) * v) % P;
  let x = (((u * v3) % P) * powMod((u * v7) % P, (P - 5n) >> 3n)) % P;
  const vx2 = (((x * x) % P) * v) % P;
  if (vx2 !== u) {
    if (vx2 === mod(-u)) x = (x * SQRT_M1) % P;
    else return null;
  }
  if (x === 0n && sign === 1) return null;
  if (Number(x & 1n) !== sign) x = P - x;
  return [x, y, 1n, (x * y) % P];
}

/** Canonical 32-byte encoding of a point. */
function encodePoint(p: Point): Uint8Array {
  const zi = powMod(mod(p[2]), P - 2n);
  const x = mod(p[0] * zi);
  let y = mod(p[1] * zi);
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) {
    out[i] = Number(y & 0xffn);
    y >>= 8n;
  }
  out[31] |= Number(x & 1n) << 7;
  return out;
}

function isBytes(x: unknown, len: number): x is Uint8Array {
  return x instanceof Uint8Array && x.length === len;
}

/**
 * Verify an Ed25519 signature (pure Ed25519, no context, no prehash).
 * Returns false (never throws) for any invalid or malformed input.
 */
export function verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  try {
    return verifyStrict(publicKey, message, signature);
  } catch {
    return false;
  }
}

function verifyStrict(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (!isBytes(publicKey, 32) || !isBytes(signature, 64) || !(message instanceof Uint8Array)) return false;

  const s = leToBig(signature, 32, 64);
  if (s >= L) return false;

  const a = decodePoint(publicKey, 0);
  if (a === null || isSmallOrder(a)) return false;
  const r = decodePoint(signature, 0);
  if (r === null || isSmallOrder(r)) return false;

  // k = SHA-512(R || A || M) mod L
  const hin = new Uint8Array(64 + message.length);
  hin.set(signature.subarray(0, 32), 0);
  hin.set(publicKey, 32);
  hin.set(message, 64);
  let k = leToBig(sha512(hin), 0, 64) % L;
  const kBytes = new Uint8Array(32);
  for (let i = 0; i < 32; i++) {
    kBytes[i] = Number(k & 0xffn);
    k >>= 8n;
  }

  // Q = [s]B + [k](-A), Straus-Shamir joint double-and-add.
  const negA: Point = [P - a[0], a[1], a[2], P - a[3]];
  const base: Point = [BX, BY, 1n, (BX * BY) % P];
  const both = add(base, negA);
  let q: Point = [0n, 1n, 1n, 0n];
  for (let i = 252; i >= 0; i--) {
    q = double(q);
    const bs = (signature[32 + (i >> 3)] >> (i & 7)) & 1;
    const bk = (kBytes[i >> 3] >> (i & 7)) & 1;
    if (bs === 1) q = add(q, bk === 1 ? both : base);
    else if (bk === 1) q = add(q, negA);
  }

  const enc = encodePoint(q);
  let diff = 0;
  for (let i = 0; i < 32; i++) diff |= enc[i] ^ signature[i];
  return diff === 0;
}
