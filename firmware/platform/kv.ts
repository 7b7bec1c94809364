/**
 * KeyValue port on Moddable's `preference` module (ESP-IDF NVS on the ESP32), one
 * namespace ("domain") per store.
 *
 * Limits (ports.ts): keys 1..15 ASCII characters; values at most 4000 bytes of UTF-8.
 * NVS strings hold at most 4000 bytes INCLUDING the terminating NUL, so values are stored
 * as blobs (ArrayBuffer) of their UTF-8 bytes, which take the full 4000. UTF-8 is
 * encoded/decoded here (no TextEncoder in XS). Violations throw RangeError("KV_...").
 *
 * Atomicity caveat: the SDK's Preference.set on ESP32 erases the key before writing the
 * new value (a workaround for an ESP-IDF type-change issue), so a power cut between the
 * two NVS operations can lose the key instead of keeping the old value. NVS itself makes
 * each operation atomic. Callers needing "old or new" must write a second key first and
 * switch over (core/store.ts does multi-key commits on top of this port).
 */
import { KV_MAX_KEY, KV_MAX_VALUE_BYTES, type KeyValue } from "../core/ports";
import { utf8Decode, utf8Encode } from "./utf8";

function checkName(s: string, what: "KV_KEY" | "KV_NAMESPACE"): void {
  if (typeof s !== "string" || s.length < 1 || s.length > KV_MAX_KEY) throw new RangeError(what + ": 1..15 characters");
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c > 0x7e) throw new RangeError(what + ": printable ASCII only");
  }
}

/** What the port needs of Moddable's "preference" module (ESP32: NVS). */
export interface PreferenceModule {
  get(domain: string, key: string): unknown;
  set(domain: string, key: string, value: ArrayBuffer): void;
  delete(domain: string, key: string): void;
  keys(domain: string): string[];
}

export function createKv(Preference: PreferenceModule, namespace: string): KeyValue {
  checkName(namespace, "KV_NAMESPACE");
  return {
    get(key: string): string | undefined {
      checkName(key, "KV_KEY");
      const v = Preference.get(namespace, key);
      if (v instanceof ArrayBuffer) return utf8Decode(new Uint8Array(v));
      return typeof v === "string" ? v : undefined;
    },
    set(key: string, value: string): void {
      checkName(key, "KV_KEY");
      if (typeof value !== "string") throw new RangeError("KV_VALUE: string expected");
      const bytes = utf8Encode(value);
      if (bytes.length > KV_MAX_VALUE_BYTES) throw new RangeError("KV_VALUE: more than 4000 bytes");
      Preference.set(namespace, key, bytes.buffer as ArrayBuffer);
    },
    delete(key: string): void {
      checkName(key, "KV_KEY");
      Preference.delete(namespace, key);
    },
    keys(): string[] {
      return Preference.keys(namespace);
    },
  };
}
