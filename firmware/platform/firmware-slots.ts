/**
 * The FirmwareSlots port on the ESP32 (docs/ota.md): Moddable's OTA module writes the inactive
 * app slot (esp_ota_begin/write/end/set_boot_partition), and manifests/esp32/native/dk-ota adds
 * the app-rollback calls (pending-verify state, mark valid, roll back, restart). The running
 * version is the one compiled into this image (main.ts FIRMWARE_VERSION); the boot loader's
 * rollback needs CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE (manifests/esp32/sdkconfig).
 */
import type { FirmwareSlots } from "../core/ports";

/** What the port needs of the SDK's "ota" module: one instance erases the next slot and fills it. */
export interface OtaSession {
  write(bytes: ArrayBuffer): void;
  complete(): void;
  cancel(): void;
}
export type OtaClass = new () => OtaSession;

/** The native "dk-ota" module (manifests/esp32/native/dk-ota): ESP-IDF app rollback. */
export interface RollbackModule {
  pendingVerify(): number;
  slotBytes(): number;
  markValid(): void;
  rollback(): void;
  restart(): void;
}

export function createFirmwareSlots(version: string, OTA: OtaClass, boot: RollbackModule): FirmwareSlots {
  let ota: OtaSession | undefined;
  let expected = 0;
  let written = 0;
  // Never let the update path stop a boot: without OTA partitions (or the rollback option) the
  // device runs as "not on trial" with no slot, and every update is refused (OTA_TOO_BIG).
  let trial = false;
  let bytes = 0;
  try {
    trial = boot.pendingVerify() === 1;
    bytes = boot.slotBytes();
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
      if (!trial) return;
      boot.markValid();
      trial = false; // kept: the next update is no longer refused as "on trial" (found by the whole-board scenario 42)
    },
    reject(): void {
      boot.rollback();
    },
    restart(): void {
      boot.restart();
    },
  };
}
