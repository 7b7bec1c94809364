/**
 * A long press of the patient's button asks for help (docs/config.md, "Help"): one
 * `help.request` and one `relay.request` (`help: true`) to the config's `help` recipients, at
 * once, whatever the schedule and whether or not the clock is set. Its dedupe key carries the
 * log seq of the press, unique for the device's life.
 */
import type { Active } from "../config/active";
import { EV } from "../protocol/events";
import { isoUtc } from "../schedule/civil";
import type { EscalationDeps } from "./escalator";

/** False when the config has no `help` (the long press is then a short press). */
export function requestHelp(d: EscalationDeps, a: Active, now: number | undefined, ref: number): boolean {
  const h = a.cfg.help;
  if (h === undefined) return false;
  const at = now === undefined ? null : isoUtc(now);
  d.log(EV.HELP_REQUEST, "dose", { ch: h.channel, to: h.to.slice(), at });
  d.log(EV.RELAY_REQUEST, "dose", {
    key: `${d.deviceId}/help/${ref.toString(36)}`,
    ch: h.channel,
    to: h.to.slice(),
    help: true,
    ...(at !== null ? { at } : {}),
  });
  return true;
}
