/**
 * Pharmacist-side signing (Node only): key generation and envelope signing with
 * node:crypto. The device verifies with firmware/core/signed.ts.
 * Format and rationale: docs/signing.md.
 */

import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, type KeyObject } from "node:crypto";
import { canonicalJson } from "../firmware/core/config/canonical";
import { SIGNING_PREFIX, type Envelope } from "../firmware/core/crypto/signed";

export type { Envelope };

export interface GeneratedKeyPair {
  /** Key id: hex of the first 8 bytes of SHA-256(raw public key). */
  kid: string;
  /** Raw 32-byte Ed25519 public key, standard base64. */
  publicKeyB64: string;
  /** PKCS#8 PEM private key. Keep it secret. */
  privateKeyPem: string;
}

/** Raw 32-byte public key of a Node Ed25519 KeyObject (public or private). */
function rawPublicKey(key: KeyObject): Buffer {
  const pub = key.type === "private" ? createPublicKey(key) : key;
  if (pub.asymmetricKeyType !== "ed25519") throw new TypeError("not an Ed25519 key");
  const jwk = pub.export({ format: "jwk" });
  if (typeof jwk.x !== "string") throw new TypeError("Ed25519 key without x");
  const raw = Buffer.from(jwk.x, "base64url");
  if (raw.length !== 32) throw new TypeError("Ed25519 public key is not 32 bytes");
  return raw;
}

/** Key id of a raw 32-byte public key (same rule as firmware keyIdOf). */
export function kidOf(publicKeyRaw: Uint8Array): string {
  return createHash("sha256").update(publicKeyRaw).digest().subarray(0, 8).toString("hex");
}

/** New Ed25519 key pair with its key id. */
export function generateKeyPair(): GeneratedKeyPair {
  const { publicKey, privateKey } = generateKeyPairSync("ed25519");
  const raw = rawPublicKey(publicKey);
  return {
    kid: kidOf(raw),
    publicKeyB64: raw.toString("base64"),
    privateKeyPem: privateKey.export({ format: "pem", type: "pkcs8" }).toString(),
  };
}

/** Raw public key (base64) of a PKCS#8 PEM Ed25519 private key. */
export function publicKeyB64FromPrivatePem(privateKeyPem: string): string {
  return rawPublicKey(createPrivateKey(privateKeyPem)).toString("base64");
}

/**
 * Sign `body` into an envelope: payload = base64(UTF-8(canonicalJson(body))),
 * sig = Ed25519 over UTF-8("dk1\n" + payload).
 * Throws (RangeError from canonicalJson) if body is not plain JSON data, and
 * TypeError if the key is not an Ed25519 private key.
 * Does not check the 16 KB device limit; see MAX_PAYLOAD_BYTES in firmware/core/signed.ts.
 */
export function signEnvelope(body: unknown, privateKeyPem: string, kid: string): Envelope {
  const key = createPrivateKey(privateKeyPem);
  if (key.asymmetricKeyType !== "ed25519") throw new TypeError("not an Ed25519 private key");
  const payload = Buffer.from(canonicalJson(body), "utf8").toString("base64");
  const sig = sign(null, Buffer.from(SIGNING_PREFIX + payload, "utf8"), key);
  return { v: 1, kid, payload, sig: sig.toString("base64") };
}
