/**
 * Removals seen while the wall clock is unset (after a power cut, before SNTP answers): logged
 * at once as removal.untimed, and kept here with their monotonic time. As soon as the clock is
 * known, each is dated (wall now − monotonic age), logged as removal.dated and recorded like any
 * removal at that time: credited to its slot (stopping its escalation), counted in PRN limits.
 * Same boot only: the monotonic clock restarts at boot, so a removal from before a reboot stays
 * untimed (docs/scenarios.md, "Untimed removals"). Bounded: UNTIMED_MAX kept; beyond, the oldest
 * is dated as if it happened when the clock became known (the conservative choice for PRN limits).
 * XS-clean.
 */
export interface UntimedRemoval {
  readonly comp: string;
  readonly pills: number;
  readonly mg: number;
  readonly mono: number;
  readonly perMed?: readonly number[];
  /** Load-cell channel (its remembered mass is updated once the removal is recorded). */
  readonly ch?: number;
}

export const UNTIMED_MAX = 16;

export class UntimedRemovals {
  private list: UntimedRemoval[] = [];
  /** Kept beyond the bound: dated at the time the clock is known. */
  private overflow: UntimedRemoval[] = [];

  add(r: UntimedRemoval): void {
    this.list.push(r);
    if (this.list.length > UNTIMED_MAX) {
      const oldest = this.list.shift();
      if (oldest !== undefined && this.overflow.length < UNTIMED_MAX) this.overflow.push(oldest);
    }
  }

  get size(): number {
    return this.list.length + this.overflow.length;
  }

  /** The removals with their dates (ms), oldest first; the list is emptied. */
  date(wallNow: number, monoNow: number): { r: UntimedRemoval; at: number }[] {
    const out: { r: UntimedRemoval; at: number }[] = [];
    for (const r of this.overflow) out.push({ r, at: wallNow });
    for (const r of this.list) out.push({ r, at: wallNow - Math.max(0, monoNow - r.mono) });
    this.list = [];
    this.overflow = [];
    return out;
  }
}
