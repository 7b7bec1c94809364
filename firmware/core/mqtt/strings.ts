/**
 * MQTT strings: strict UTF-8 (no lone surrogates, no U+0000), topic name and filter rules, coded failures.
 */
import { utf8EncodeInto } from "../crypto/utf8";
import { MQTT_BAD_UTF8, type MqttError } from "./packets";

/* ------------------------------------------------------------------ UTF-8 */

export function fail(code: string, detail: string): never {
  // A plain object: no Error subclass, caught inside this module or by callers of the encoders.
  throw { code, detail } as MqttError;
}

export function encodeFail(code: string, detail: string): never {
  throw new RangeError(code + ": " + detail);
}

/**
 * UTF-8 byte length of `s`, or -1 if it contains a lone surrogate or (unless allowNul, as for
 * binary payloads given as text) U+0000. Iterates by code point (for..of), so it does not depend
 * on the engine's string representation.
 */
export function utf8Length(s: string, allowNul = false): number {
  let n = 0;
  for (const ch of s) {
    const cp = ch.codePointAt(0) as number;
    if ((cp === 0 && !allowNul) || (cp >= 0xd800 && cp <= 0xdfff)) return -1;
    n += cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
  }
  return n;
}

/** Encode `s` as UTF-8. Throws RangeError "MQTT_BAD_UTF8" on lone surrogates or (unless allowNul) U+0000. */
export function utf8Encode(s: string, allowNul = false): Uint8Array {
  const n = utf8Length(s, allowNul);
  if (n < 0) encodeFail(MQTT_BAD_UTF8, "lone surrogate or U+0000");
  const out = new Uint8Array(n);
  utf8EncodeInto(s, out); // no lone surrogate here: utf8Length refused them
  return out;
}

/**
 * Strictly decode UTF-8 bytes[start, end): rejects overlongs, surrogates, code points above
 * U+10FFFF, truncated sequences and U+0000. Returns null when invalid.
 */
export function utf8Decode(bytes: Uint8Array, start = 0, end = bytes.length): string | null {
  let s = "";
  const cps: number[] = [];
  let i = start;
  while (i < end) {
    const b0 = bytes[i];
    let cp: number;
    if (b0 < 0x80) {
      if (b0 === 0) return null;
      cp = b0;
      i += 1;
    } else if (b0 >= 0xc2 && b0 <= 0xdf) {
      if (i + 1 >= end) return null;
      const b1 = bytes[i + 1];
      if ((b1 & 0xc0) !== 0x80) return null;
      cp = ((b0 & 0x1f) << 6) | (b1 & 0x3f);
      i += 2;
    } else if (b0 >= 0xe0 && b0 <= 0xef) {
      if (i + 2 >= end) return null;
      const b1 = bytes[i + 1];
      const b2 = bytes[i + 2];
      if ((b1 & 0xc0) !== 0x80 || (b2 & 0xc0) !== 0x80) return null;
      cp = ((b0 & 0x0f) << 12) | ((b1 & 0x3f) << 6) | (b2 & 0x3f);
      if (cp < 0x800) return null; // overlong
      if (cp >= 0xd800 && cp <= 0xdfff) return null; // surrogate
      i += 3;
    } else if (b0 >= 0xf0 && b0 <= 0xf4) {
      if (i + 3 >= end) return null;
      const b1 = bytes[i + 1];
      const b2 = bytes[i + 2];
      const b3 = bytes[i + 3];
      if ((b1 & 0xc0) !== 0x80 || (b2 & 0xc0) !== 0x80 || (b3 & 0xc0) !== 0x80) return null;
      cp = ((b0 & 0x07) << 18) | ((b1 & 0x3f) << 12) | ((b2 & 0x3f) << 6) | (b3 & 0x3f);
      if (cp < 0x10000 || cp > 0x10ffff) return null;
      i += 4;
    } else {
      return null; // continuation byte as lead, C0/C1 overlong leads, F5..FF
    }
    cps.push(cp);
    if (cps.length >= 64) {
      s += String.fromCodePoint(...cps);
      cps.length = 0;
    }
  }
  if (cps.length > 0) s += String.fromCodePoint(...cps);
  return s;
}

/* -------------------------------------------------------- topic checking */

/** True if `topic` is a valid PUBLISH topic name: 1..65535 UTF-8 bytes, no wildcards, no U+0000. */
export function isValidTopicName(topic: string): boolean {
  const n = utf8Length(topic);
  if (n < 1 || n > 65535) return false;
  return topic.indexOf("+") < 0 && topic.indexOf("#") < 0;
}

/** True if `filter` is a valid topic filter: '#' only last and alone in its level, '+' alone in its level. */
export function isValidTopicFilter(filter: string): boolean {
  const n = utf8Length(filter);
  if (n < 1 || n > 65535) return false;
  const levels = filter.split("/");
  for (let i = 0; i < levels.length; i++) {
    const lv = levels[i];
    if (lv.indexOf("#") >= 0 && (lv !== "#" || i !== levels.length - 1)) return false;
    if (lv.indexOf("+") >= 0 && lv !== "+") return false;
  }
  return true;
}
