/**
 * The ESP32's two OTA slots and its boot loader's rollback, emulated (docs/ota.md): what
 * firmware/platform/firmware-slots does over Moddable's OTA module and esp_ota_* on a board.
 *
 *   begin/write/finish  fill the inactive slot; finish() makes it the boot slot, state "new"
 *   boot()              (each power-on or reset) a "new" slot boots as "trial"; a slot still on
 *                       "trial" at a reset is marked "invalid" and the other slot boots
 *   accept()            trial → valid          reject()  trial → invalid, reset into the other
 *
 * A simulated image is any bytes whose first line says how the emulated build behaves:
 * "DKSIMFW1 good", "DKSIMFW1 crash" (a panic 5 s after each boot, in the
 * load-cell path: a safe boot does not run it), "DKSIMFW1 no-broker" (never
 * reaches the broker), "DKSIMFW1 no-detector" (its load-cell driver reads nothing). The image the
 * device was made with behaves "good". XS-clean.
 */
import type { FirmwareSlots } from "../../../firmware/core/ports";

export type ImageBehaviour = "good" | "crash" | "no-broker" | "no-detector";
export const SIM_IMAGE_MAGIC = "DKSIMFW1 ";
const BEHAVIOURS: readonly ImageBehaviour[] = Object.freeze(["good", "crash", "no-broker", "no-detector"]);
/** The slot size of manifests/esp32's partition table (ota_0 and ota_1). */
export const SIM_SLOT_BYTES = 0x1e0000;

type SlotState = "valid" | "new" | "trial" | "invalid" | "empty";

interface Slot {
  version: string;
  behaviour: ImageBehaviour;
  state: SlotState;
}

/** How an image behaves, read from its first line (anything else: "good"). */
export function behaviourOf(bytes: Uint8Array): ImageBehaviour {
  let line = "";
  for (let i = 0; i < bytes.length && i < 32 && bytes[i] !== 10; i++) line += String.fromCharCode(bytes[i]);
  if (!line.startsWith(SIM_IMAGE_MAGIC)) return "good";
  const b = line.substring(SIM_IMAGE_MAGIC.length) as ImageBehaviour;
  return BEHAVIOURS.indexOf(b) >= 0 ? b : "good";
}

export class SimFirmwareSlots {
  private readonly slots: Slot[];
  private running = 0;
  private bootSlot = 0;
  private writing: { size: number; version: string; n: number; head: Uint8Array } | undefined;

  constructor(
    version: string,
    /** Reset the device (reason as esp_reset_reason reports it). */
    private readonly reset: (reason: string) => void,
    /** Timeline line ("sim" kind). */
    private readonly note: (body: string) => void,
  ) {
    this.slots = [
      { version, behaviour: "good", state: "valid" },
      { version: "", behaviour: "good", state: "empty" },
    ];
  }

  /** The boot loader at power-on or reset: picks the slot to run. */
  boot(): void {
    const b = this.slots[this.bootSlot];
    if (b.state === "trial") {
      b.state = "invalid";
      this.bootSlot = 1 - this.bootSlot;
      this.note(`"bootloader":"rollback","from":${JSON.stringify(b.version)},"to":${JSON.stringify(this.slots[this.bootSlot].version)}`);
    } else if (b.state === "new") b.state = "trial";
    this.running = this.bootSlot;
    this.writing = undefined;
  }

  get version(): string {
    return this.slots[this.running].version;
  }

  get behaviour(): ImageBehaviour {
    return this.slots[this.running].behaviour;
  }

  /** The FirmwareSlots port the core is given. */
  port(): FirmwareSlots {
    const inactive = (): Slot => this.slots[1 - this.running];
    return {
      slotBytes: SIM_SLOT_BYTES,
      running: () => ({ version: this.version, trial: this.slots[this.running].state === "trial" }),
      begin: (size, version) => {
        if (size > SIM_SLOT_BYTES) throw new RangeError("OTA_TOO_BIG");
        const s = inactive();
        s.state = "empty";
        s.version = "";
        this.writing = { size, version, n: 0, head: new Uint8Array(32) };
      },
      write: (bytes) => {
        const w = this.writing;
        if (w === undefined) throw new RangeError("OTA_STATE");
        if (w.n + bytes.length > w.size) throw new RangeError("OTA_OVERRUN");
        for (let i = 0; i < bytes.length && w.n + i < 32; i++) w.head[w.n + i] = bytes[i];
        w.n += bytes.length;
      },
      finish: () => {
        const w = this.writing;
        if (w === undefined || w.n !== w.size) throw new RangeError("OTA_STATE");
        const s = inactive();
        s.version = w.version;
        s.behaviour = behaviourOf(w.head.subarray(0, Math.min(32, w.n)));
        s.state = "new";
        this.bootSlot = 1 - this.running;
        this.writing = undefined;
      },
      abort: () => {
        this.writing = undefined;
      },
      accept: () => {
        const s = this.slots[this.running];
        if (s.state === "trial") s.state = "valid";
      },
      reject: () => {
        const s = this.slots[this.running];
        if (s.state !== "trial") return;
        s.state = "invalid";
        this.bootSlot = 1 - this.running;
        this.reset("software");
      },
      restart: () => this.reset("software"),
    };
  }
}
