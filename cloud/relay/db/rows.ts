/**
 * Rows to values and back: numbers and nulls as both drivers return them, jobs.
 */
import type { Job, JobState, NewJob, RemoteChannel, NotificationKind, Priority } from "../types";
import type { Row, Param } from "./drivers";

export const num = (v: unknown): number => (typeof v === "number" ? v : Number(v));
export const numOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : num(v));
export const strOrNull = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));

export function rowToJob(r: Row): Job {
  return {
    id: num(r.id),
    key: String(r.key),
    device: String(r.device),
    slot: strOrNull(r.slot),
    ref: String(r.ref),
    person: String(r.person),
    ch: String(r.ch) as RemoteChannel,
    kind: String(r.kind) as NotificationKind,
    priority: String(r.priority) as Priority,
    notice: String(r.notice),
    state: String(r.state) as JobState,
    attempts: num(r.attempts),
    nextAt: num(r.next_at),
    createdAt: num(r.created_at),
    isFallback: num(r.is_fallback) === 1,
    code: strOrNull(r.code),
  };
}

export function jobParams(j: NewJob, now: number): Param[] {
  return [
    j.key,
    j.device,
    j.slot,
    j.ref,
    j.person,
    j.ch,
    j.kind,
    j.priority,
    JSON.stringify(j.notice),
    j.nextAt,
    now,
    j.isFallback ? 1 : 0,
  ];
}
export const INSERT_JOB = `INSERT INTO jobs (key, device, slot, ref, person, ch, kind, priority, notice, state, attempts, next_at,
  created_at, is_fallback, updated_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,'pending',0,$10,$11,$12,$11)
  ON CONFLICT (key, ref, ch) DO NOTHING`;
