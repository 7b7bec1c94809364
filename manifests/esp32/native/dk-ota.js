/*
 * Dosekeeper: the ESP-IDF app-rollback calls for firmware/platform/firmware-slots (docs/ota.md).
 * Declared for TypeScript in firmware/types/esp32-ota.d.ts.
 */
export function pendingVerify() @ "xs_dk_ota_pending_verify";
export function markValid() @ "xs_dk_ota_mark_valid";
export function rollback() @ "xs_dk_ota_rollback";
export function slotBytes() @ "xs_dk_ota_slot_bytes";
export function restart() @ "xs_dk_restart";
