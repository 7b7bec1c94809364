/**
 * Firmware images on the sending side (docs/ota.md): the signed header of the `ota` command and
 * the chunk messages on dk/<id>/cmnd/otadata, exactly as firmware/core/update checks them. Used
 * by `dosekeeper ota` and by the scenario files' `ota` steps.
 */
import { createHash, createPrivateKey, sign } from "node:crypto";
import { CHUNK_MAX_BYTES, imageStatement } from "../firmware/core/update/image";

export interface ImageArgs {
  version: string;
  target: string;
  size: number;
  sha256: string;
  kid: string;
  sig: string;
}

/** The `ota` command's arguments for `image`, signed by the release key (PKCS#8 PEM Ed25519). */
export function imageArgs(image: Uint8Array, version: string, target: string, keyPem: string, kid: string): ImageArgs {
  const sha256 = createHash("sha256").update(image).digest("hex");
  const head = { version, target, size: image.length, sha256 };
  const sig = sign(null, Buffer.from(imageStatement(head), "utf8"), createPrivateKey(keyPem)).toString("base64");
  return { ...head, kid, sig };
}

/** The chunk messages of `image` in order (each ≤ chunkBytes of data). */
export function chunkMessages(image: Uint8Array, sha256: string, chunkBytes = CHUNK_MAX_BYTES): string[] {
  if (!(chunkBytes >= 1 && chunkBytes <= CHUNK_MAX_BYTES)) throw new RangeError(`chunk size 1..${CHUNK_MAX_BYTES}`);
  const out: string[] = [];
  const img = sha256.substring(0, 16);
  for (let off = 0; off < image.length; off += chunkBytes) {
    const data = Buffer.from(image.subarray(off, Math.min(image.length, off + chunkBytes))).toString("base64");
    out.push(JSON.stringify({ v: 1, img, off, data }));
  }
  return out;
}

/**
 * A simulated image (host-sim/kernel/hw/firmware-slots): its first line tells the emulator how
 * the build behaves, the rest is deterministic filler of `size` bytes in all.
 */
export function simImage(behaviour: string, version: string, size = 6_000): Uint8Array {
  const head = Buffer.from(`DKSIMFW1 ${behaviour}\nversion ${version}\n`, "utf8");
  const out = new Uint8Array(Math.max(size, head.length));
  out.set(head);
  let x = 0x9e3779b9;
  for (let i = head.length; i < out.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}
