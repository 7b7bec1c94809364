/**
 * XS (xsnap) availability for tests. The tests that run code inside the XS engine use
 * host-sim/xs/{bundle,run-in-xs}.ts and skip, with a visible notice, when the xsnap-worker
 * binary of @agoric/xsnap is absent (it is built from source by the package's install script).
 */
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";

let cached: string | null | undefined;

/** Path of @agoric/xsnap's xsnap-worker binary, or null. */
export function xsnapBinary(): string | null {
  if (cached !== undefined) return cached;
  cached = null;
  try {
    const pkg = path.dirname(createRequire(import.meta.url).resolve("@agoric/xsnap/package.json"));
    const plat = os.type() === "Darwin" ? "mac" : "lin";
    const bin = path.join(pkg, "xsnap-native", "xsnap", "build", "bin", plat, "release", "xsnap-worker");
    if (existsSync(bin)) cached = bin;
  } catch {
    // not installed
  }
  return cached;
}

/** True when XS tests can run; otherwise prints why `who` is skipped. Use with it.skipIf(!xsnapAvailable(...)). */
export function xsnapAvailable(who: string): boolean {
  if (xsnapBinary() !== null) return true;
  process.stdout.write(
    `${who}: SKIPPED - @agoric/xsnap's xsnap-worker binary was not found (build it with the package's install script)\n`,
  );
  return false;
}
