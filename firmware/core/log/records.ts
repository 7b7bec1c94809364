/**
 * What the event log writes to storage: compact event records, pages and the meta record, and
 * their validation when read back (a torn or foreign record is skipped, never trusted).
 */
import { utf8Length } from "./crc32";

/** dose: dose outcomes, relay requests and resolves (never dropped); alert: faults, config, boot; info: the rest. */
export type EventClass = "dose" | "alert" | "info";

export type Rec = [number, number, number | null, string, number, Record<string, unknown>, Rec[]?];

export interface PageRec {
  ep: number;
  n: number;
  d: number;
  e: Rec[];
}

export interface MetaRec {
  ep: number;
  n: number;
  d: number;
}

export const META = "evmeta";
export const CLS: readonly EventClass[] = Object.freeze(["dose", "alert", "info"]);
export const DOSE = 0;
export const ALERT = 1;
export const INFO = 2;

export function pageName(p: number): string {
  return "evp" + p.toString(36);
}

export function isCount(x: unknown): x is number {
  return typeof x === "number" && Number.isInteger(x) && x >= 0;
}

export function validRec(r: unknown): r is Rec {
  if (!Array.isArray(r) || r.length < 6 || r.length > 7) return false;
  const [seq, mono, wall, type, c, data, co] = r as unknown[];
  return (
    isCount(seq) &&
    seq > 0 &&
    typeof mono === "number" &&
    (wall === null || typeof wall === "number") &&
    typeof type === "string" &&
    (c === DOSE || c === ALERT || c === INFO) &&
    typeof data === "object" &&
    data !== null &&
    !Array.isArray(data) &&
    (co === undefined || (Array.isArray(co) && co.every(validRec)))
  );
}

export function recBytes(r: Rec): number {
  return utf8Length(JSON.stringify(r));
}

/** Bytes a page's events take: the sum of (event bytes + 1), i.e. the JSON array length - 1. */
export function pageFill(e: Rec[]): number {
  return e.length === 0 ? 0 : utf8Length(JSON.stringify(e)) - 1;
}
