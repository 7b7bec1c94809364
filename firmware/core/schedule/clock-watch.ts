/**
 * Watches the wall clock against the monotonic one: logs when time is unset (once per unset
 * period), when it is first known (time.sync) and when it steps by more than STEP_TOLERANCE_MS
 * (time.step), and gives the wall time the schedule runs on.
 */
import type { EventClass } from "../log/eventlog";
import type { Clock } from "../ports";
import { EV, type EventType } from "../protocol/events";
import { isoUtc } from "./civil";

/** A wall-clock jump larger than this against the monotonic clock is logged as a step. */
export const STEP_TOLERANCE_MS = 2_000;

export class ClockWatch {
  private timeWasSet = false;
  private lastWall = 0;
  private lastMono = 0;
  private unsetLogged = false;

  constructor(
    private readonly clock: Clock,
    private readonly log: (type: EventType, cls: EventClass, data: Record<string, unknown>) => void,
  ) {}

  /** The wall time now (UTC ms), or undefined while it is unset. */
  check(): number | undefined {
    const w = this.clock.wallMs();
    const m = this.clock.monoMs();
    if (w === undefined) {
      if (this.timeWasSet || this.lastMono === 0) {
        // Only log once per unset period.
        if (this.timeWasSet || !this.unsetLogged) this.log(EV.FAULT, "alert", { code: "TIME_UNSET" });
        this.unsetLogged = true;
      }
      this.timeWasSet = false;
      this.lastMono = m;
      return undefined;
    }
    if (!this.timeWasSet) {
      this.timeWasSet = true;
      this.log(EV.TIME_SYNC, "info", { wall: isoUtc(w) });
    } else {
      const expected = this.lastWall + (m - this.lastMono);
      const delta = w - expected;
      if (delta > STEP_TOLERANCE_MS || delta < -STEP_TOLERANCE_MS) {
        this.log(EV.TIME_STEP, "alert", { deltaS: Math.round(delta / 1000) });
      }
    }
    this.lastWall = w;
    this.lastMono = m;
    return w;
  }
}
