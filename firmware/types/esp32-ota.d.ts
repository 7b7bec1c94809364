/**
 * The two ESP32 modules behind firmware/platform/firmware-slots:
 *   "ota"    $(MODDABLE)/build/devices/esp32/modules/ota: new OTA() erases the next update slot
 *            (esp_ota_begin), write(ArrayBuffer), cancel(), complete() (esp_ota_end and
 *            esp_ota_set_boot_partition). The SDK ships no typing for it.
 *   "dk-ota" manifests/esp32/native/dk-ota.{js,c}: the app-rollback calls the SDK module lacks.
 * Like reset-reason.d.ts, listed in manifests/esp32/manifest.json's typescript types.
 */
declare module "ota" {
  export default class OTA {
    constructor();
    write(data: ArrayBuffer): void;
    cancel(): void;
    complete(): void;
  }
}

declare module "dk-ota" {
  /** 1 while the running image is pending verification (booted once after an update), else 0; -1 unknown. */
  export function pendingVerify(): number;
  /** esp_ota_mark_app_valid_cancel_rollback(). Throws on failure. */
  export function markValid(): void;
  /** esp_ota_mark_app_invalid_rollback_and_reboot(): returns (throws) only when no other image is valid. */
  export function rollback(): void;
  /** Size in bytes of the slot the next update goes to (0 when the partition table has none). */
  export function slotBytes(): number;
  /** esp_restart(). */
  export function restart(): void;
}
