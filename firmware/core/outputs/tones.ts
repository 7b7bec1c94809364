/**
 * Tone patterns, looped by the buzzer. Each ends with a pause so the sound is not continuous.
 * One frozen table (kept in flash when preloaded).
 */
import type { SoundPattern } from "../protocol/channels";
import type { ToneStep } from "../ports";

export type TonePattern = SoundPattern | "fault";

const step = (hz: number, ms: number): ToneStep => Object.freeze({ hz, ms });

const TONES: { readonly [P in TonePattern]: readonly ToneStep[] } = Object.freeze({
  chime: Object.freeze([step(1568, 180), step(0, 60), step(1319, 180), step(0, 60), step(1047, 300), step(0, 5000)]),
  beep: Object.freeze([step(2700, 150), step(0, 150), step(2700, 150), step(0, 2500)]),
  alarm: Object.freeze([step(2900, 250), step(2300, 250), step(2900, 250), step(2300, 250), step(0, 1000)]),
  fault: Object.freeze([step(440, 400), step(0, 200), step(440, 400), step(0, 30000)]),
});

export function tonePattern(p: TonePattern): readonly ToneStep[] {
  return TONES[p];
}
