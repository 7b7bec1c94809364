/**
 * What the LEDs and the buzzer should do now: the LED of every calling slot's compartment, the
 * loudest calling slot's latest sound step, unless silenced; a transient cue (fault, wrong
 * compartment, PRN limit, identify) overrides the sound.
 */
import type { Active } from "../config/active";
import { firingsOf } from "../config/active";
import { isCalling, type Slot } from "../dose/slots";
import type { SoundWish } from "./outputs";

export interface Wanted {
  readonly leds: boolean[];
  readonly sound: SoundWish | undefined;
}

export function wantedOutputs(
  a: Active | undefined,
  slots: readonly Slot[],
  silencedUntil: number,
  cue: SoundWish | undefined,
  now: number,
): Wanted {
  const wantLeds: boolean[] = [];
  let sound: SoundWish | undefined;
  if (a !== undefined) {
    for (const s of slots) {
      if (!isCalling(s)) continue;
      const comp = a.cfg.compartments.find((c) => c.id === s.comp);
      const firings = firingsOf(a, s);
      for (let i = 0; i < s.fired && i < firings.length; i++) {
        const f = firings[i];
        if (f.channel === "led" && comp !== undefined) wantLeds[comp.led] = true;
        if (f.channel === "sound" && f.pattern !== undefined) {
          const vol = f.volume ?? 50;
          // Latest sound step of the loudest slot wins.
          if (sound === undefined || vol >= sound.volume) sound = { pattern: f.pattern, volume: vol };
        }
      }
    }
  }
  if (now < silencedUntil) sound = undefined;
  if (cue !== undefined) sound = cue;
  return { leds: wantLeds, sound };
}
