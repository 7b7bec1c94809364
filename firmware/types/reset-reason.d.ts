/**
 * $(MODDABLE)/build/devices/esp32/modules/resetReason: esp_reset_reason() as {reason, string}.
 *
 * The Moddable SDK has no typing for this module, so this file is used by both type
 * checks: `tsc -p tsconfig.firmware.json` (with the rest of firmware/types) and the device
 * build, where manifests/esp32/manifest.json lists it in typescript.tsconfig.compilerOptions.types.
 * Keep it free of any other module: the device build uses the SDK's typings for everything else.
 */
declare module "resetReason" {
  export default function getResetReason(): { reason: number; string: string };
}
