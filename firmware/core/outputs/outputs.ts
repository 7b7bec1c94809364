/**
 * Output arbitration: what the LEDs and the buzzer should do, computed from the slots,
 * and applied to the ports only when it changes (so the ports see edges, not levels).
 */
import type { SoundPattern } from "../config/types";
import type { Buzzer, Leds } from "../ports";
import { tonePattern } from "./tones";

export type Cue = SoundPattern | "fault";

export interface SoundWish {
  readonly pattern: Cue;
  readonly volume: number;
}

export class Outputs {
  private readonly ledState: boolean[] = [];
  private sound: SoundWish | undefined;

  constructor(
    private readonly leds: Leds,
    private readonly buzzer: Buzzer,
  ) {
    for (let i = 0; i < leds.count; i++) this.ledState.push(false);
  }

  /** Apply the wanted LED levels (index → on); indexes beyond the hardware are ignored. */
  setLeds(wanted: readonly boolean[]): void {
    for (let i = 0; i < this.ledState.length; i++) {
      const on = wanted[i] === true;
      if (on !== this.ledState[i]) {
        this.ledState[i] = on;
        this.leds.set(i, on);
      }
    }
  }

  setSound(w: SoundWish | undefined): void {
    const cur = this.sound;
    if (w === undefined) {
      if (cur !== undefined) {
        this.sound = undefined;
        this.buzzer.stop();
      }
      return;
    }
    if (cur !== undefined && cur.pattern === w.pattern && cur.volume === w.volume) return;
    this.sound = w;
    this.buzzer.play(tonePattern(w.pattern), w.volume);
  }

  /** Everything off (power-down, decommission). */
  off(): void {
    this.setLeds([]);
    this.setSound(undefined);
  }

  snapshot(): { leds: boolean[]; sound: SoundWish | undefined } {
    return { leds: this.ledState.slice(), sound: this.sound };
  }
}
