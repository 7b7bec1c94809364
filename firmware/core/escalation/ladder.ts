/**
 * Escalation ladder: a ladder's steps (with repeats) flattened into firings ordered by
 * time after the due instant. A slot remembers how many firings it has done (`fired`),
 * so after a reboot it resumes at the firing it should be at: never from the first,
 * never forgetting one.
 */
import type { Channel, EscalationStep, Ladder, SoundPattern } from "../config/types";
import { MS_PER_MINUTE } from "../schedule/civil";

export { isRemote } from "../protocol/channels";

export interface Firing {
  /** Milliseconds after the due instant. */
  readonly atMs: number;
  /** Index of the step in the ladder and repetition number (0 = first). */
  readonly step: number;
  readonly rep: number;
  readonly channel: Channel;
  readonly pattern?: SoundPattern;
  readonly volume?: number;
  readonly to?: readonly string[];
}

export const MAX_FIRINGS = 64;

/** Flatten a ladder; stable order by time, then step index, then repetition. Bounded by MAX_FIRINGS. */
export function flattenLadder(ladder: Ladder): Firing[] {
  const out: Firing[] = [];
  ladder.steps.forEach((s: EscalationStep, step: number) => {
    const reps = s.repeat ?? 0;
    for (let rep = 0; rep <= reps && out.length < MAX_FIRINGS; rep++) {
      const atMs = (s.afterMin + rep * (s.everyMin ?? 0)) * MS_PER_MINUTE;
      const f: Firing = { atMs, step, rep, channel: s.channel };
      if (s.pattern !== undefined) (f as { pattern?: SoundPattern }).pattern = s.pattern;
      if (s.volume !== undefined) (f as { volume?: number }).volume = s.volume;
      if (s.to !== undefined) (f as { to?: readonly string[] }).to = s.to;
      out.push(f);
    }
  });
  out.sort((a, b) => a.atMs - b.atMs || a.step - b.step || a.rep - b.rep);
  return out;
}
