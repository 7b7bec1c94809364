/** Config hash reported in acks and telemetry: first 16 hex digits of SHA-256 over the canonical JSON. */
import { sha256 } from "../crypto/sha256";
import { bytesToHex } from "../crypto/hex";
import { utf8Encode } from "../crypto/utf8";

export function configHash(canonical: string): string {
  return bytesToHex(sha256(utf8Encode(canonical))).slice(0, 16);
}
