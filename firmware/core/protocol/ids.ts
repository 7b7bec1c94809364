/**
 * Identifier syntax shared by device, relay, pharmacist tools, broker and dashboard.
 * The `*_PATTERN` strings are the same rules for JSON Schema and messages.
 */

/** Device id: lower-case letter or digit, then up to 31 of [a-z0-9_-]. Also the MQTT user name. */
export const DEVICE_ID_PATTERN = "^[a-z0-9][a-z0-9_-]{0,31}$";
export const DEVICE_ID_RE = /^[a-z0-9][a-z0-9_-]{0,31}$/;

/** Ids inside a config: compartments, doses, PRN entries, ladders. */
export const ITEM_ID_PATTERN = "^[a-z0-9_-]{1,12}$";
export const ITEM_ID_RE = /^[a-z0-9_-]{1,12}$/;

/** Recipient reference in a ladder step ("caregiver", "family:anna"); resolved by the relay's contact book. */
export const RECIPIENT_PATTERN = "^[A-Za-z][A-Za-z0-9_.:-]{0,31}$";
export const RECIPIENT_RE = /^[A-Za-z][A-Za-z0-9_.:-]{0,31}$/;

export function isDeviceId(x: unknown): x is string {
  return typeof x === "string" && DEVICE_ID_RE.test(x);
}
