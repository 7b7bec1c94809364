/**
 * The simulated LEDs and buzzer: the Leds and Buzzer ports of a simulated dispenser, which
 * print led/buzzer timeline lines and remember their state for the dashboard; dark at a power cut.
 */
import type { Buzzer, Leds, ToneStep } from "../../../firmware/core/ports";
import { tonePattern } from "../../../firmware/core/outputs/tones";

function patternName(steps: readonly ToneStep[]): string {
  for (const name of ["chime", "beep", "alarm", "fault"] as const) {
    const p = tonePattern(name);
    if (p.length === steps.length && p.every((s, i) => s.hz === steps[i].hz && s.ms === steps[i].ms)) return name;
  }
  return "custom";
}

export class SimOutputs {
  private readonly ledOn: boolean[] = [];
  private buzzing = false;
  private buzzPattern = "";

  constructor(
    private readonly ledCount: number,
    private readonly alive: () => boolean,
    private readonly emit: (kind: string, body: string) => void,
  ) {}

  readonly leds: Leds = {
    count: 0,
    set: (i: number, on: boolean): void => {
      if (!this.alive() || i < 0 || i >= this.ledCount) return;
      this.ledOn[i] = on;
      this.emit("led", `"i":${i},"on":${on}`);
    },
  };

  readonly buzzer: Buzzer = {
    play: (steps: readonly ToneStep[], volume: number): void => {
      if (!this.alive()) return;
      this.buzzing = true;
      this.buzzPattern = patternName(steps);
      this.emit("buzzer", `"on":true,"pattern":"${this.buzzPattern}","volume":${volume}`);
    },
    stop: (): void => {
      if (!this.alive() || !this.buzzing) return;
      this.buzzing = false;
      this.emit("buzzer", `"on":false`);
    },
  };

  /** The piezo as the board's pin shows it (whole-board simulation: tones are not named there). */
  tone(on: boolean, volume: number): void {
    if (!this.alive() || on === this.buzzing) return;
    this.buzzing = on;
    this.buzzPattern = "pwm";
    this.emit("buzzer", on ? `"on":true,"via":"pwm","volume":${volume}` : `"on":false`);
  }

  /** Power is gone: everything falls dark (printed). */
  dark(): void {
    for (let i = 0; i < this.ledOn.length; i++) {
      if (this.ledOn[i]) {
        this.ledOn[i] = false;
        this.emit("led", `"i":${i},"on":false`);
      }
    }
    if (this.buzzing) {
      this.buzzing = false;
      this.emit("buzzer", `"on":false`);
    }
  }

  /** LED states and the sounding pattern (null when silent). */
  state(): { leds: boolean[]; buzzer: string | null } {
    const leds: boolean[] = [];
    for (let i = 0; i < this.ledCount; i++) leds.push(this.ledOn[i] === true);
    return { leds, buzzer: this.buzzing ? this.buzzPattern : null };
  }
}
