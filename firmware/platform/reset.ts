/**
 * Why the ESP32 last reset, from esp_reset_reason() through the SDK's `resetReason`
 * module ($(MODDABLE)/build/devices/esp32/modules/resetReason), as the short codes the
 * core reports ("power_on", "software", "watchdog", "brownout", "panic", ...).
 */

// Index = esp_reset_reason_t.
const CODES: readonly string[] = Object.freeze([
  "unknown",
  "power_on",
  "external",
  "software",
  "panic",
  "watchdog",
  "watchdog",
  "watchdog",
  "deep_sleep",
  "brownout",
  "sdio",
]);

export function resetReasonCode(reason: number): string {
  return Number.isInteger(reason) && reason >= 0 && reason < CODES.length ? CODES[reason] : "unknown";
}

/** `getResetReason`: Moddable's "resetReason" module (esp_reset_reason). */
export function readResetReason(getResetReason: () => { reason: number }): string {
  try {
    return resetReasonCode(getResetReason().reason);
  } catch {
    return "unknown";
  }
}
