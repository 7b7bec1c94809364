/** JSON helpers for messages: a plain record test, and strict UTF-8 + JSON.parse that never throws. */
import { utf8Decode } from "../crypto/utf8";

export function isObj(x: unknown): x is Record<string, unknown> {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}

export function parseJsonBytes(payload: Uint8Array): { ok: true; value: unknown } | { ok: false } {
  const text = utf8Decode(payload);
  if (text === undefined) return { ok: false };
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false };
  }
}

/** The `version` of a config-like body, or null. */
export function versionOf(body: unknown): number | null {
  return isObj(body) && typeof body.version === "number" ? body.version : null;
}
