import { ManualTime, PinBoard } from "../../../host-sim/kernel/hw/pins";
import { createDigitalClass } from "../../../host-sim/kernel/hw/digital";
import { createPWMClass } from "../../../host-sim/kernel/hw/pwm";

export function rig() {
  const time = new ManualTime(0);
  const board = new PinBoard({ time, timers: time });
  const Digital = createDigitalClass(board);
  const PWM = createPWMClass(board);
  const clock = { monoMs: () => time.now(), wallMs: () => undefined };
  return { time, board, Digital, PWM, clock };
}
