/**
 * A firmware image's signed header (docs/ota.md): what the `ota` command announces and how the
 * device checks it before a byte is written. The release key signs, with Ed25519, the statement
 *
 *   "dkfw1\n" + target + "\n" + version + "\n" + size + "\n" + sha256 (64 lowercase hex)
 *
 * so the signature covers the SHA-256 of the whole image, its version and the board it is for.
 * The signing key must be one the device trusts now (core/link/trust: rotation applies to it).
 * XS-clean.
 */
import { base64Decode } from "../crypto/base64";
import { verify } from "../crypto/ed25519";
import type { TrustedKey } from "../crypto/signed";
import { utf8Encode } from "../crypto/utf8";
import { isObj } from "../protocol/json";

export const IMAGE_STATEMENT_PREFIX = "dkfw1\n";
/** Largest image the protocol allows (the ESP32 OTA slots of manifests/esp32 are 1.9 MiB). */
export const IMAGE_MAX_BYTES = 4 * 1024 * 1024;
/** Largest data of one chunk message (before base64); the sender picks any size up to this. */
export const CHUNK_MAX_BYTES = 8192;

export interface ImageHeader {
  readonly version: string;
  readonly target: string;
  readonly size: number;
  /** SHA-256 of the image, 64 lowercase hex digits. */
  readonly sha256: string;
  /** Key id of the signing key. */
  readonly kid: string;
}

export type HeaderCheck =
  | { readonly ok: true; readonly image: ImageHeader }
  | { readonly ok: false; readonly code: string; readonly path: string };

const VERSION_RE = /^[0-9]{1,4}\.[0-9]{1,4}\.[0-9]{1,4}(?:-[a-z0-9.]{1,16})?$/;
const TARGET_RE = /^[a-z0-9_-]{1,24}$/;
const HEX64_RE = /^[0-9a-f]{64}$/;

export function imageStatement(h: { version: string; target: string; size: number; sha256: string }): string {
  return IMAGE_STATEMENT_PREFIX + h.target + "\n" + h.version + "\n" + String(h.size) + "\n" + h.sha256;
}

/** Checks the `ota` command's arguments and the header's signature against the trusted keys. */
export function checkImageHeader(args: Record<string, unknown>, keys: readonly TrustedKey[]): HeaderCheck {
  const bad = (code: string, path: string): HeaderCheck => ({ ok: false, code, path });
  const { version, target, size, sha256, sig, kid } = args;
  if (typeof version !== "string" || !VERSION_RE.test(version)) return bad("CMD_ARGS", "args.version");
  if (typeof target !== "string" || !TARGET_RE.test(target)) return bad("CMD_ARGS", "args.target");
  if (typeof size !== "number" || !Number.isInteger(size) || size < 1 || size > IMAGE_MAX_BYTES) return bad("CMD_ARGS", "args.size");
  if (typeof sha256 !== "string" || !HEX64_RE.test(sha256)) return bad("CMD_ARGS", "args.sha256");
  if (typeof kid !== "string" || kid.length < 1 || kid.length > 64) return bad("CMD_ARGS", "args.kid");
  if (typeof sig !== "string" || sig.length > 100) return bad("CMD_ARGS", "args.sig");
  const raw = base64Decode(sig);
  if (raw === undefined || raw.length !== 64) return bad("CMD_ARGS", "args.sig");
  let key: TrustedKey | undefined;
  for (const k of keys) if (k.kid === kid) key = k;
  if (key === undefined) return bad("OTA_KEY_UNKNOWN", "args.kid");
  const image: ImageHeader = { version, target, size, sha256, kid };
  if (!verify(key.publicKey, utf8Encode(imageStatement(image)), raw)) return bad("OTA_SIG", "args.sig");
  return { ok: true, image };
}

function parts(v: string): number[] {
  const dash = v.indexOf("-");
  const core = dash < 0 ? v : v.substring(0, dash);
  const out: number[] = [];
  for (const p of core.split(".")) out.push(Number(p));
  return out;
}

/**
 * Compare two versions "MAJOR.MINOR.PATCH[-tag]" by their numbers: < 0, 0 or > 0. The tag is
 * not ordered (an image with the same numbers is not newer).
 */
export function compareVersions(a: string, b: string): number {
  const x = parts(a);
  const y = parts(b);
  for (let i = 0; i < 3; i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0);
    if (d !== 0 && d === d) return d;
  }
  return 0;
}

/** The chunk message on dk/<id>/cmnd/otadata: `{ "v": 1, "img": <first 16 hex of sha256>, "off": n, "data": base64 }`. */
export interface Chunk {
  readonly img: string;
  readonly off: number;
  readonly data: Uint8Array;
}

export function parseChunk(x: unknown): Chunk | string {
  if (!isObj(x) || x.v !== 1) return "OTA_CHUNK";
  const { img, off, data } = x;
  if (typeof img !== "string" || img.length !== 16) return "OTA_CHUNK";
  if (typeof off !== "number" || !Number.isInteger(off) || off < 0 || off > IMAGE_MAX_BYTES) return "OTA_CHUNK";
  if (typeof data !== "string" || data.length > Math.ceil(CHUNK_MAX_BYTES / 3) * 4) return "OTA_CHUNK";
  const bytes = base64Decode(data);
  if (bytes === undefined || bytes.length === 0) return "OTA_CHUNK";
  return { img, off, data: bytes };
}
