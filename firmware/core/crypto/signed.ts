/**
 * Signed envelope for everything that reaches the device remotely
 * (pharmacist configurations and commands). See docs/signing.md.
 *
 * This module only authenticates and decodes. Semantic checks (target device
 * id, version monotonicity, expiry) are done by the caller on `body`.
 */

import { base64Decode } from "./base64";
import { verify } from "./ed25519";
import { bytesToHex } from "./hex";
import { sha256 } from "./sha256";
import { utf8Decode, utf8Encode } from "./utf8";

export interface Envelope {
  v: 1;
  /** Key id of the signing key: hex of the first 8 bytes of SHA-256(raw 32-byte public key). */
  kid: string;
  /** Base64 (standard, padded) of the UTF-8 bytes of the canonical JSON body. */
  payload: string;
  /** Base64 of the 64-byte Ed25519 signature over UTF-8("dk1\n" + payload). */
  sig: string;
}

export interface TrustedKey {
  kid: string;
  publicKey: Uint8Array;
}

export type EnvelopeErrorCode = "SIG_MALFORMED" | "SIG_UNKNOWN_KEY" | "SIG_BAD" | "SIG_PAYLOAD";

export type OpenResult =
  | { ok: true; kid: string; body: unknown; bodyText: string }
  | { ok: false; code: EnvelopeErrorCode; message: string };

/** Domain-separation prefix of the signed message (ASCII). */
export const SIGNING_PREFIX = "dk1\n";
/** Largest accepted decoded payload, in bytes. */
export const MAX_PAYLOAD_BYTES = 16384;
/** Largest accepted payload string: base64 length of MAX_PAYLOAD_BYTES. */
export const MAX_PAYLOAD_B64_CHARS = Math.ceil(MAX_PAYLOAD_BYTES / 3) * 4; // 21848
/** Number of trusted keys a device is meant to hold (rotation window); see docs/signing.md. */
export const MAX_TRUSTED_KEYS = 4;
/** Longest accepted kid string. */
export const MAX_KID_CHARS = 64;

/** Key id of a raw 32-byte Ed25519 public key: 16 lower-case hex characters. */
export function keyIdOf(publicKey: Uint8Array): string {
  return bytesToHex(sha256(publicKey).subarray(0, 8));
}

/** The exact bytes that are signed for a given payload string. */
export function signedMessageBytes(payload: string): Uint8Array {
  return utf8Encode(SIGNING_PREFIX + payload);
}

function fail(code: EnvelopeErrorCode, message: string): OpenResult {
  return { ok: false, code, message };
}

function isPrintableAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x21 || c > 0x7e) return false;
  }
  return true;
}

const FIELDS: readonly string[] = Object.freeze(["v", "kid", "payload", "sig"]);

/**
 * Verify and decode an envelope (an already-parsed JSON object).
 *
 * Checks, in order:
 *  1. shape: a plain object with exactly v, kid, payload, sig; v === 1; kid a
 *     1..64-char printable-ASCII string; payload and sig strings  -> SIG_MALFORMED
 *  2. payload no longer than MAX_PAYLOAD_B64_CHARS (before any decoding) -> SIG_PAYLOAD
 *  3. kid among trustedKeys (first match; key must be 32 bytes)     -> SIG_UNKNOWN_KEY
 *  4. sig strict base64 of exactly 64 bytes                          -> SIG_MALFORMED
 *  5. Ed25519 verify over UTF-8("dk1\n" + payload)                   -> SIG_BAD
 *  6. payload strict base64, strict UTF-8, JSON.parse                -> SIG_PAYLOAD
 * Never throws.
 */
export function openEnvelope(input: unknown, trustedKeys: ReadonlyArray<TrustedKey>): OpenResult {
  try {
    return openStrict(input, trustedKeys);
  } catch {
    return fail("SIG_MALFORMED", "envelope could not be processed");
  }
}

function openStrict(input: unknown, trustedKeys: ReadonlyArray<TrustedKey>): OpenResult {
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    return fail("SIG_MALFORMED", "envelope is not an object");
  }
  const env = input as Record<string, unknown>;
  for (const key of Object.keys(env)) {
    if (FIELDS.indexOf(key) < 0) return fail("SIG_MALFORMED", "unexpected envelope field");
  }
  if (env.v !== 1) return fail("SIG_MALFORMED", "unsupported envelope version");
  const kid = env.kid;
  if (typeof kid !== "string" || kid.length === 0 || kid.length > MAX_KID_CHARS || !isPrintableAscii(kid)) {
    return fail("SIG_MALFORMED", "kid missing or invalid");
  }
  const payload = env.payload;
  if (typeof payload !== "string") return fail("SIG_MALFORMED", "payload missing or not a string");
  const sigText = env.sig;
  if (typeof sigText !== "string") return fail("SIG_MALFORMED", "sig missing or not a string");

  if (payload.length > MAX_PAYLOAD_B64_CHARS) {
    return fail("SIG_PAYLOAD", "payload larger than " + MAX_PAYLOAD_BYTES + " bytes");
  }

  let key: Uint8Array | undefined;
  for (let i = 0; i < trustedKeys.length; i++) {
    const k = trustedKeys[i];
    if (k !== null && typeof k === "object" && k.kid === kid) {
      key = k.publicKey;
      break;
    }
  }
  if (key === undefined) return fail("SIG_UNKNOWN_KEY", "no trusted key with kid " + kid);
  if (!(key instanceof Uint8Array) || key.length !== 32) {
    return fail("SIG_UNKNOWN_KEY", "trusted key " + kid + " is not a 32-byte public key");
  }

  if (sigText.length !== 88) return fail("SIG_MALFORMED", "sig is not 64 bytes of base64");
  const sig = base64Decode(sigText);
  if (sig === undefined || sig.length !== 64) return fail("SIG_MALFORMED", "sig is not 64 bytes of base64");

  if (!verify(key, signedMessageBytes(payload), sig)) {
    return fail("SIG_BAD", "signature does not verify with key " + kid);
  }

  const bytes = base64Decode(payload);
  if (bytes === undefined) return fail("SIG_PAYLOAD", "payload is not valid base64");
  if (bytes.length > MAX_PAYLOAD_BYTES) return fail("SIG_PAYLOAD", "payload larger than " + MAX_PAYLOAD_BYTES + " bytes");
  const bodyText = utf8Decode(bytes);
  if (bodyText === undefined) return fail("SIG_PAYLOAD", "payload is not valid UTF-8");
  let body: unknown;
  try {
    body = JSON.parse(bodyText);
  } catch {
    return fail("SIG_PAYLOAD", "payload is not valid JSON");
  }
  return { ok: true, kid, body, bodyText };
}
