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
import type { OtaClass, OtaSession, RollbackModule } from "../../../firmware/platform/firmware-slots";

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

/** Bytes of an image's head kept while it is written (its first two lines). */
const HEAD = 64;

/** The version an image's second line names ("version 0.2.0", as cloud/firmware-image writes it). */
export function versionOf(bytes: Uint8Array): string {
  let text = "";
  for (let i = 0; i < bytes.length && i < HEAD; i++) text += String.fromCharCode(bytes[i]);
  const line = text.split("\n")[1] ?? "";
  return line.startsWith("version ") ? line.substring(8) : "unknown";
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
        this.writing = { size, version, n: 0, head: new Uint8Array(HEAD) };
      },
      write: (bytes) => {
        const w = this.writing;
        if (w === undefined) throw new RangeError("OTA_STATE");
        if (w.n + bytes.length > w.size) throw new RangeError("OTA_OVERRUN");
        for (let i = 0; i < bytes.length && w.n + i < HEAD; i++) w.head[w.n + i] = bytes[i];
        w.n += bytes.length;
      },
      finish: () => {
        const w = this.writing;
        if (w === undefined || w.n !== w.size) throw new RangeError("OTA_STATE");
        const s = inactive();
        s.version = w.version;
        s.behaviour = behaviourOf(w.head.subarray(0, Math.min(HEAD, w.n)));
        if (w.version === "") s.version = versionOf(w.head.subarray(0, Math.min(HEAD, w.n)));
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

  /**
   * The SDK's "ota" module and the native "dk-ota" calls over these slots, for the board
   * composition (firmware/platform/firmware-slots): a session erases the inactive slot and takes
   * the image as it comes (its version from the image's head, as esp_app_desc on a board).
   */
  moddable(): { OTA: OtaClass; rollback: RollbackModule } {
    const port = this.port();
    const slots = this;
    class OTA implements OtaSession {
      #open = true;
      constructor() {
        port.begin(SIM_SLOT_BYTES, "");
      }
      write(bytes: ArrayBuffer): void {
        if (!this.#open) throw new Error("closed");
        port.write(new Uint8Array(bytes));
      }
      complete(): void {
        if (!this.#open) throw new Error("closed");
        this.#open = false;
        const w = slots.writing; // the real module learns the size at the end: the image is what was written
        if (w !== undefined) w.size = w.n;
        port.finish();
      }
      cancel(): void {
        this.#open = false;
        port.abort();
      }
    }
    const rollback: RollbackModule = {
      pendingVerify: () => (this.slots[this.running].state === "trial" ? 1 : 0),
      slotBytes: () => SIM_SLOT_BYTES,
      markValid: () => port.accept(),
      rollback: () => port.reject(),
      restart: () => port.restart(),
    };
    return { OTA, rollback };
  }
}
