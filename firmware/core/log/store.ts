/**
 * Atomic record store over the KeyValue port (docs/event-log.md, "Store").
 *
 * Each record `name` has two slots, A and B. A slot is a header key `name~a` (or `~b`)
 * holding `<gen36>:<k36>:<crc8hex>:<chunk0>` plus, for values too large for one NVS value,
 * chunk keys `name~a1` … `name~a<k>` (k ≤ 35). The CRC-32 covers `<gen36>:<k36>:` and the
 * whole JSON payload, so a slot is valid only if its header and every chunk are those
 * written together. `gen` grows by one per save.
 *
 * save() writes the slot that is NOT the newest valid one: chunks first, the header last.
 * The header write is the commit point: a power cut before or during it leaves the slot
 * invalid (old header, or torn header/chunk fails the CRC) and the other slot, the
 * previous value, still loads. load() returns the newest valid slot. Invalid slots are
 * ignored and reported as STORE_CORRUPT (never thrown); after a power cut that is the
 * expected trace of the torn write.
 *
 * Fault callbacks are held while a store call (or a hold() block) runs and delivered when
 * the outermost one returns normally, so a callback may call back into the store safely.
 */

import type { KeyValue } from "../ports";
import { KV_MAX_VALUE_BYTES } from "../ports";
import { crc32, hex8, utf8Length } from "./crc32";

export type FaultFn = (code: string, detail: string) => void;

export interface StoreOptions {
  onFault?: FaultFn;
}

export const STORE_MAX_NAME = 11;
/** Chunks per slot (header + 35 chunk keys): about 140 KB of JSON. */
export const STORE_MAX_CHUNKS = 36;

type Slot = "a" | "b";

interface SlotState {
  /** Newest valid slot, or null when the record does not exist. */
  newest: Slot | null;
  /** Generation of the newest valid slot (0 if none). */
  gen: number;
  /** Chunk count each slot's header announces (0 if unknown), for cleanup. */
  ka: number;
  kb: number;
}

interface ReadSlot {
  present: boolean;
  valid: boolean;
  gen: number;
  k: number;
  payload: string;
  why: string;
}

const NAME_RE = /^[A-Za-z0-9_.-]{1,11}$/;
/** No capture groups in device regexes: the Moddable 8.2.3 runtime can crash building a capture array from a preloaded RegExp under GC pressure (RegExp.prototype.exec; test() calls it too). */
const HEAD_RE = /^[0-9a-z]{1,11}:[0-9a-z]:[0-9a-f]{8}:/;
const CACHE_MAX = 64;

/** Split `s` into pieces of at most `first` then `rest` UTF-8 bytes, never inside a code point. */
function splitUtf8(s: string, first: number, rest: number): string[] {
  if (s.length * 3 <= first || utf8Length(s) <= first) return [s];
  const out: string[] = [];
  let start = 0;
  let bytes = 0;
  let budget = first;
  for (let i = 0; i < s.length; ) {
    const c = s.charCodeAt(i);
    let n = 1;
    let b = 1;
    if (c >= 0x80) {
      if (c < 0x800) b = 2;
      else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
        const lo = s.charCodeAt(i + 1);
        if (lo >= 0xdc00 && lo <= 0xdfff) {
          b = 4;
          n = 2;
        } else b = 3;
      } else b = 3;
    }
    if (bytes + b > budget) {
      out.push(s.slice(start, i));
      start = i;
      bytes = 0;
      budget = rest;
    }
    bytes += b;
    i += n;
  }
  out.push(s.slice(start));
  return out;
}

export class Store {
  private readonly kv: KeyValue;
  private readonly onFault: FaultFn | undefined;
  private readonly cache = new Map<string, SlotState>();
  private depth = 0;
  private held: { code: string; detail: string }[] = [];

  constructor(kv: KeyValue, opts: StoreOptions = {}) {
    this.kv = kv;
    this.onFault = opts.onFault;
  }

  /** Store `value` (anything JSON.stringify accepts) atomically under `name` (1..11 of [A-Za-z0-9_.-]). */
  save(name: string, value: unknown): void {
    this.hold(() => this.doSave(name, value));
  }

  /** The newest valid value saved under `name`, or undefined. */
  load<T>(name: string): T | undefined {
    return this.hold(() => this.doLoad<T>(name));
  }

  /** Delete `name` (both slots, all chunks). Atomic: a power cut leaves the value or nothing. */
  remove(name: string): void {
    this.hold(() => this.doRemove(name));
  }

  /**
   * Run `fn` with fault callbacks held until it returns (nested holds deliver at the
   * outermost). If `fn` throws, held faults are discarded and the exception propagates.
   */
  hold<T>(fn: () => T): T {
    this.depth++;
    let ok = false;
    let r: T;
    try {
      r = fn();
      ok = true;
    } finally {
      this.depth--;
      if (this.depth === 0 && !ok) this.held = [];
    }
    if (this.depth === 0) this.flush();
    return r;
  }

  /** Report a fault (held while a store call or hold() block runs). */
  fault(code: string, detail: string): void {
    if (this.onFault === undefined) return;
    if (this.depth > 0) {
      if (this.held.length < 16) this.held.push({ code, detail });
    } else this.onFault(code, detail);
  }

  // ------------------------------------------------------------------ internals

  private flush(): void {
    while (this.held.length > 0 && this.depth === 0) {
      const f = this.held.shift() as { code: string; detail: string };
      if (this.onFault) this.onFault(f.code, f.detail);
    }
  }

  private check(name: string): void {
    if (typeof name !== "string" || !NAME_RE.test(name))
      throw new RangeError(`STORE_NAME "${String(name)}" (1..${STORE_MAX_NAME} of [A-Za-z0-9_.-])`);
  }

  private read(name: string, slot: Slot): ReadSlot {
    const r: ReadSlot = { present: false, valid: false, gen: 0, k: 0, payload: "", why: "" };
    const head = this.kv.get(name + "~" + slot);
    if (head === undefined) return r;
    r.present = true;
    // test() and slicing (see HEAD_RE).
    if (!HEAD_RE.test(head)) {
      r.why = "bad header";
      return r;
    }
    const c1 = head.indexOf(":");
    const c2 = head.indexOf(":", c1 + 1);
    const c3 = head.indexOf(":", c2 + 1);
    const m = ["", head.slice(0, c1), head.slice(c1 + 1, c2), head.slice(c2 + 1, c3)];
    r.gen = parseInt(m[1], 36);
    r.k = parseInt(m[2], 36);
    let payload = head.slice(c3 + 1);
    for (let i = 1; i <= r.k; i++) {
      const c = this.kv.get(name + "~" + slot + i.toString(36));
      if (c === undefined) {
        r.why = "missing chunk " + i;
        return r;
      }
      payload += c;
    }
    if (crc32(payload, crc32(m[1] + ":" + m[2] + ":")) !== parseInt(m[3], 16)) {
      r.why = "crc";
      return r;
    }
    r.valid = true;
    r.payload = payload;
    return r;
  }

  /** Read both slots; report invalid ones; cache and return the state plus the newest payload. */
  private scan(name: string): { st: SlotState; payload: string } {
    const a = this.read(name, "a");
    const b = this.read(name, "b");
    for (const [s, r] of [
      ["a", a],
      ["b", b],
    ] as const) {
      if (r.present && !r.valid) this.fault("STORE_CORRUPT", `${name}~${s}: ${r.why}`);
    }
    let newest: Slot | null = null;
    let best: ReadSlot | undefined;
    if (a.valid && (!b.valid || a.gen >= b.gen)) {
      newest = "a";
      best = a;
    } else if (b.valid) {
      newest = "b";
      best = b;
    }
    const st: SlotState = { newest, gen: best ? best.gen : 0, ka: a.k, kb: b.k };
    this.remember(name, st);
    return { st, payload: best ? best.payload : "" };
  }

  private remember(name: string, st: SlotState): void {
    if (!this.cache.has(name) && this.cache.size >= CACHE_MAX) this.cache.clear();
    this.cache.set(name, st);
  }

  private doLoad<T>(name: string): T | undefined {
    this.check(name);
    const st = this.cache.get(name);
    let payload: string | undefined;
    if (st !== undefined) {
      if (st.newest === null) return undefined;
      const r = this.read(name, st.newest);
      if (r.valid && r.gen === st.gen) payload = r.payload;
    }
    if (payload === undefined) {
      const s = this.scan(name);
      if (s.st.newest === null) return undefined;
      payload = s.payload;
    }
    try {
      return JSON.parse(payload) as T;
    } catch {
      this.fault("STORE_CORRUPT", `${name}: json`);
      return undefined;
    }
  }

  private doSave(name: string, value: unknown): void {
    this.check(name);
    const payload = JSON.stringify(value);
    if (typeof payload !== "string") throw new TypeError(`STORE_VALUE "${name}" is not JSON-serialisable`);
    const st = this.cache.get(name) ?? this.scan(name).st;
    const target: Slot = st.newest === "a" ? "b" : "a";
    const gen = st.gen + 1;
    const g36 = gen.toString(36);
    // Header prefix is `<gen36>:<k36>:<8 hex>:`, k36 being one character.
    const chunks = splitUtf8(payload, KV_MAX_VALUE_BYTES - (g36.length + 12), KV_MAX_VALUE_BYTES);
    const k = chunks.length - 1;
    if (k >= STORE_MAX_CHUNKS) throw new RangeError(`STORE_TOO_BIG "${name}" ${utf8Length(payload)} bytes`);
    const k36 = k.toString(36);
    const crc = crc32(payload, crc32(g36 + ":" + k36 + ":"));
    const base = name + "~" + target;
    try {
      for (let i = 1; i <= k; i++) this.kv.set(base + i.toString(36), chunks[i]);
      this.kv.set(base, g36 + ":" + k36 + ":" + hex8(crc) + ":" + chunks[0]); // commit
    } catch (e) {
      this.cache.delete(name);
      throw e;
    }
    const oldK = target === "a" ? st.ka : st.kb;
    const next: SlotState = { newest: target, gen, ka: target === "a" ? k : st.ka, kb: target === "b" ? k : st.kb };
    this.remember(name, next);
    // Chunks the slot's previous record had beyond the new k are now orphans.
    for (let i = k + 1; i <= oldK; i++) this.del(base + i.toString(36));
  }

  private doRemove(name: string): void {
    this.check(name);
    const st = this.cache.get(name) ?? this.scan(name).st;
    this.cache.delete(name);
    const keep: Slot = st.newest ?? "a";
    const prefix = name + "~";
    const all = this.kv.keys().filter((k) => k.startsWith(prefix) && k.length > prefix.length);
    const newestHead = prefix + keep;
    // Older slot first, then the newest header (the commit), then its chunks.
    for (const k of all) if (k.charAt(prefix.length) !== keep) this.del(k);
    this.del(newestHead);
    for (const k of all) if (k !== newestHead && k.charAt(prefix.length) === keep) this.del(k);
    this.remember(name, { newest: null, gen: 0, ka: 0, kb: 0 });
  }

  private del(key: string): void {
    if (this.kv.get(key) !== undefined) this.kv.delete(key);
  }
}
