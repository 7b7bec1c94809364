/**
 * Every event type the device can emit on dk/<id>/evt (docs/protocol.md has one row per type;
 * a test checks both lists against each other and against the firmware's code).
 */
export const EV = Object.freeze({
  BOOT: "boot",
  SLOT_OPEN: "slot.open",
  SLOT_CANCELLED: "slot.cancelled",
  SLOT_MOVED: "slot.moved",
  DOSE_DUE: "dose.due",
  DOSE_LATE: "dose.late",
  DOSE_TAKEN: "dose.taken",
  DOSE_TAKEN_EARLY: "dose.taken_early",
  DOSE_PARTIAL: "dose.partial",
  DOSE_MISSED: "dose.missed",
  DOSE_WRONG_COMPARTMENT: "dose.wrong_compartment",
  DOSE_EXCESS: "dose.excess",
  DOSE_MISMATCH: "dose.mismatch",
  PRN_TAKEN: "prn.taken",
  PRN_LIMIT: "prn.limit",
  REMOVAL_UNSCHEDULED: "removal.unscheduled",
  REMOVAL_UNTIMED: "removal.untimed",
  REMOVAL_UNCERTAIN: "removal.uncertain",
  REMOVAL_DATED: "removal.dated",
  REMOVAL_OFF: "removal.off",
  ESC_STEP: "esc.step",
  ESC_SKIPPED: "esc.skipped",
  RELAY_REQUEST: "relay.request",
  RELAY_RESOLVE: "relay.resolve",
  RELAY_RECEIPT: "relay.receipt",
  BUTTON: "button",
  HELP_REQUEST: "help.request",
  SOUND_SILENCED: "sound.silenced",
  REFILL: "refill",
  REFILL_MISMATCH: "refill.mismatch",
  REFILL_EXPECTED: "refill.expected",
  REFILL_VERIFIED: "refill.verified",
  STOCK_LOW: "stock.low",
  TARE: "tare",
  CALIBRATED: "calibrated",
  IDENTIFY: "identify",
  LOAD_LIFT: "load.lift",
  LOAD_BUMP: "load.bump",
  LOAD_CHANGED_OFF: "load.changed_off",
  FAULT: "fault",
  FAULT_CLEARED: "fault.cleared",
  TIME_SYNC: "time.sync",
  TIME_STEP: "time.step",
  CONFIG_ACCEPTED: "config.accepted",
  CONFIG_APPLIED: "config.applied",
  CONFIG_REFUSED: "config.refused",
  CMD: "cmd",
  KEYS_CHANGED: "keys.changed",
  DECOMMISSION: "decommission",
} as const);

export type EventType = (typeof EV)[keyof typeof EV];
export const EVENT_TYPES: readonly EventType[] = Object.freeze(Object.values(EV));

/** Events that close a dose slot (the relay stops its dead-man clock for that slot). */
export const CLOSING_EVENTS: readonly EventType[] = Object.freeze([
  EV.DOSE_TAKEN,
  EV.DOSE_TAKEN_EARLY,
  EV.DOSE_MISSED,
  EV.DOSE_PARTIAL,
  EV.SLOT_CANCELLED,
  EV.RELAY_RESOLVE,
]);
