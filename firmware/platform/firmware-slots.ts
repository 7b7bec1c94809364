/**
 * The FirmwareSlots port on the ESP32 (docs/ota.md): Moddable's OTA module writes the inactive
 * app slot (esp_ota_begin/write/end/set_boot_partition), and manifests/esp32/native/dk-ota adds
 * the app-rollback calls (pending-verify state, mark valid, roll back, restart). The running
 * version is the one compiled into this image (main.ts FIRMWARE_VERSION); the boot loader's
 * rollback needs CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE (manifests/esp32/sdkconfig).
 */
import OTA from "ota";
import { markValid, pendingVerify, restart, rollback, slotBytes } from "dk-ota";
import type { FirmwareSlots } from "../core/ports";

export function createFirmwareSlots(version: string): FirmwareSlots {
  let ota: OTA | undefined;
  let expected = 0;
  let written = 0;
  // Never let the update path stop a boot: without OTA partitions (or the rollback option) the
  // device runs as "not on trial" with no slot, and every update is refused (OTA_TOO_BIG).
  let trial = false;
  let bytes = 0;
  try {
    trial = pendingVerify() === 1;
    bytes = slotBytes();
  } catch {
    // left at "no slot"
  }
  const fail = (code: string): never => {
    throw new RangeError(code);
  };
  return {
    slotBytes: bytes,
    running: () => ({ version, trial }),
    begin(size: number): void {
      if (ota !== undefined) ota.cancel();
      ota = undefined;
      try {
        ota = new OTA(); // erases the next update slot: takes seconds on a 1.9 MB slot
      } catch {
        fail("OTA_FLASH");
      }
      expected = size;
      written = 0;
    },
    write(bytes: Uint8Array): void {
      if (ota === undefined) return fail("OTA_STATE");
      if (written + bytes.length > expected) return fail("OTA_OVERRUN");
      // The module takes an ArrayBuffer: copy exactly this chunk (a subarray's buffer may be larger).
      const copy = new Uint8Array(bytes.length);
      copy.set(bytes);
      try {
        ota.write(copy.buffer);
      } catch {
        fail("OTA_FLASH");
      }
      written += bytes.length;
    },
    finish(): void {
      if (ota === undefined || written !== expected) return fail("OTA_STATE");
      try {
        ota.complete(); // esp_ota_end checks the image format; then it becomes the boot slot
      } catch {
        fail("OTA_IMAGE");
      } finally {
        ota = undefined;
      }
    },
    abort(): void {
      if (ota !== undefined) ota.cancel();
      ota = undefined;
    },
    accept(): void {
      if (trial) markValid();
    },
    reject(): void {
      rollback();
    },
    restart(): void {
      restart();
    },
  };
}
