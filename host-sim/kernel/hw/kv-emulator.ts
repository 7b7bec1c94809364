/**
 * Host emulator of ESP32 NVS string storage (the KeyValue port), with the device limits and
 * power-cut simulation. XS-clean: runs in Node and inside the XS engine.
 *
 * Limits (as the port documents them): keys are 1..15 printable ASCII characters
 * (0x20..0x7E); values are strings of at most 4000 bytes once UTF-8 encoded and, as NVS
 * stores C strings, contain no NUL. Violations throw RangeError("KV_KEY …"/"KV_VALUE …");
 * an optional capacityBytes models a full partition ("KV_FULL …").
 *
 * Power cuts: armPowerCut({ afterWrites: n, tear }) lets n more writes through, tears the
 * (n+1)-th and throws a PowerCut marker; every later call throws PowerCut until reboot().
 * A "write" is a set(), or a delete() of a key that exists (deleting a missing key does not
 * touch flash and is not counted). Tearing a set: "lost" leaves the old value,
 * "truncated" stores a prefix of the new value (half of it unless truncateTo says how many
 * UTF-16 code units; a surrogate pair is never split). Tearing a delete: "lost" keeps the
 * key, "truncated" applies the delete (the erase reached flash, the power died after).
 */

import type { KeyValue } from "../../../firmware/core/ports";
import { utf8Length } from "../../../firmware/core/crypto/utf8";

const MAX_KEY = 15;
const MAX_VALUE = 4000;

/** Thrown by a KvEmulator at a simulated power cut. Not an Error: test with isPowerCut(). */
export class PowerCut {
  readonly powerCut = true;
  /** 1-based write index (since the emulator was created) that was torn; 0 for a call refused after the cut. */
  readonly write: number;
  readonly key: string;
  constructor(write: number, key: string) {
    this.write = write;
    this.key = key;
  }
  get message(): string {
    return this.write > 0 ? `power cut during write ${this.write} (${this.key})` : "device is off (power cut)";
  }
  toString(): string {
    return "PowerCut: " + this.message;
  }
}

export function isPowerCut(x: unknown): x is PowerCut {
  return x instanceof PowerCut || (typeof x === "object" && x !== null && (x as { powerCut?: unknown }).powerCut === true);
}

export type TearMode = "lost" | "truncated";

export interface PowerCutPlan {
  /** Writes allowed through before the torn one (0 = the next write is torn). */
  afterWrites: number;
  tear: TearMode;
  /** For "truncated": UTF-16 code units kept of the new value (default: half, rounded down). */
  truncateTo?: number;
}

export interface KvKeyStats {
  writes: number;
  bytes: number;
}

export interface KvStats {
  /** set() calls applied (including a torn one). */
  sets: number;
  /** delete() calls that removed a key. */
  deletes: number;
  /** sets + deletes. */
  writes: number;
  /** UTF-8 bytes of all values set. */
  bytesWritten: number;
  /** Per key: writes (sets + deletes) and bytes written. */
  perKey: Record<string, KvKeyStats>;
}

export interface KvEmulatorOptions {
  /** Total bytes (UTF-8 keys + values) the partition may hold; unlimited if omitted. */
  capacityBytes?: number;
}

export type KvSnapshot = Record<string, string>;

function checkKey(key: unknown): string {
  if (typeof key !== "string") throw new RangeError("KV_KEY not a string");
  if (key.length < 1 || key.length > MAX_KEY) throw new RangeError(`KV_KEY length ${key.length} not in 1..${MAX_KEY}: "${key}"`);
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    if (c < 0x20 || c > 0x7e) throw new RangeError(`KV_KEY non-printable-ASCII character at ${i}`);
  }
  return key;
}

export class KvEmulator implements KeyValue {
  private data = new Map<string, string>();
  private readonly capacity: number;
  private plan: PowerCutPlan | undefined;
  private armedAt = 0;
  private off = false;
  private writeNo = 0;
  private st = { sets: 0, deletes: 0, writes: 0, bytesWritten: 0 };
  private perKey = new Map<string, KvKeyStats>();

  constructor(options: KvEmulatorOptions = {}) {
    this.capacity = options.capacityBytes ?? Infinity;
  }

  // ------------------------------------------------------------------ KeyValue

  get(key: string): string | undefined {
    this.alive();
    return this.data.get(checkKey(key));
  }

  set(key: string, value: string): void {
    this.alive();
    checkKey(key);
    if (typeof value !== "string") throw new RangeError("KV_VALUE not a string");
    const bytes = utf8Length(value);
    if (bytes > MAX_VALUE) throw new RangeError(`KV_VALUE ${bytes} bytes > ${MAX_VALUE} (key "${key}")`);
    if (value.indexOf("\u0000") >= 0) throw new RangeError(`KV_VALUE contains NUL (key "${key}")`);
    if (this.capacity !== Infinity) {
      const old = this.data.get(key);
      const after = this.usedBytes() - (old === undefined ? 0 : utf8Length(key) + utf8Length(old)) + utf8Length(key) + bytes;
      if (after > this.capacity) throw new RangeError(`KV_FULL ${after} bytes > ${this.capacity}`);
    }
    if (this.tearing()) {
      const p = this.plan as PowerCutPlan;
      const w = this.count(key, 0, true);
      if (p.tear === "truncated") {
        let keep = p.truncateTo ?? Math.floor(value.length / 2);
        keep = Math.max(0, Math.min(keep, value.length));
        const c = keep > 0 ? value.charCodeAt(keep - 1) : 0;
        if (c >= 0xd800 && c < 0xdc00) keep--;
        const part = value.slice(0, keep);
        this.count(key, utf8Length(part), false);
        this.data.set(key, part);
      }
      this.cut(w, key);
    }
    this.count(key, bytes, true);
    this.data.set(key, value);
  }

  delete(key: string): void {
    this.alive();
    checkKey(key);
    if (!this.data.has(key)) return;
    if (this.tearing()) {
      const w = this.count(key, 0, true, true);
      if ((this.plan as PowerCutPlan).tear === "truncated") this.data.delete(key);
      this.cut(w, key);
    }
    this.count(key, 0, true, true);
    this.data.delete(key);
  }

  keys(): string[] {
    this.alive();
    return [...this.data.keys()].sort();
  }

  // ------------------------------------------------------------------ power

  /** Arm a power cut: `afterWrites` more writes succeed, the next one is torn. */
  armPowerCut(plan: PowerCutPlan): void {
    if (!(plan.afterWrites >= 0)) throw new RangeError("afterWrites must be >= 0");
    this.plan = { afterWrites: Math.floor(plan.afterWrites), tear: plan.tear, truncateTo: plan.truncateTo };
    this.armedAt = this.writeNo;
  }

  disarm(): void {
    this.plan = undefined;
  }

  /** True after a power cut until reboot(). */
  get isOff(): boolean {
    return this.off;
  }

  /** Power back on: contents survive, calls are accepted again, any armed cut is cleared. */
  reboot(): void {
    this.off = false;
    this.plan = undefined;
  }

  // ------------------------------------------------------------------ test helpers

  /** Writes (sets + deletes of existing keys) since creation or resetStats(). */
  get writes(): number {
    return this.st.writes;
  }

  stats(): KvStats {
    const perKey = Object.create(null) as Record<string, KvKeyStats>;
    for (const [k, v] of this.perKey) perKey[k] = { writes: v.writes, bytes: v.bytes };
    return { ...this.st, perKey };
  }

  resetStats(): void {
    this.st = { sets: 0, deletes: 0, writes: 0, bytesWritten: 0 };
    this.perKey = new Map<string, KvKeyStats>();
  }

  /** Bytes (UTF-8 keys + values) currently stored. */
  usedBytes(): number {
    let n = 0;
    for (const [k, v] of this.data) n += utf8Length(k) + utf8Length(v);
    return n;
  }

  /** Copy of the contents (works while off, like reading the flash chip). */
  snapshot(): KvSnapshot {
    const o = Object.create(null) as KvSnapshot;
    for (const k of [...this.data.keys()].sort()) o[k] = this.data.get(k) as string;
    return o;
  }

  /** Replace the contents (not counted as writes, limits not checked). */
  restore(snap: KvSnapshot): void {
    this.data = new Map<string, string>();
    for (const k of Object.keys(snap)) this.data.set(k, snap[k]);
  }

  // ------------------------------------------------------------------ internals

  private alive(): void {
    if (this.off) throw new PowerCut(0, "");
  }

  private tearing(): boolean {
    return this.plan !== undefined && this.writeNo - this.armedAt >= this.plan.afterWrites;
  }

  private cut(w: number, key: string): never {
    this.off = true;
    this.plan = undefined;
    throw new PowerCut(w, key);
  }

  /** Count one write (when `write`) and `bytes` written to `key`; returns the write number. */
  private count(key: string, bytes: number, write: boolean, del = false): number {
    const s = this.st;
    let k = this.perKey.get(key);
    if (k === undefined) {
      k = { writes: 0, bytes: 0 };
      this.perKey.set(key, k);
    }
    if (write) {
      this.writeNo++;
      s.writes++;
      k.writes++;
      if (del) s.deletes++;
      else s.sets++;
    }
    s.bytesWritten += bytes;
    k.bytes += bytes;
    return this.writeNo;
  }
}
