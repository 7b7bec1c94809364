/**
 * Receiving a firmware update (docs/ota.md). A signed `ota` command announces the image
 * (core/update/image: version, target, size, SHA-256, release signature); the image then comes
 * in chunk messages on dk/<id>/cmnd/otadata, in order, each answered on stat with the next offset
 * wanted, so a sender can stop and wait, resume after a lost chunk or a reconnect, and a QoS 1
 * duplicate is ignored. Every byte goes to the inactive slot as it arrives and into a streaming
 * SHA-256; only an image whose hash is the signed one is staged. The device then restarts into it
 * on trial (core/update/boot-guard decides whether it stays).
 *
 * Refusals (coded, on stat; the running image and its reminders go on):
 *   OTA_UNSUPPORTED  no firmware slots on this platform     OTA_TARGET   image for another board
 *   OTA_NOT_NEWER    not newer than the running version      OTA_TOO_BIG  larger than the slot
 *   OTA_BUSY         the running image is itself on trial    OTA_FLASH    the slot refused a write
 *   OTA_NO_SESSION   a chunk with no update announced        OTA_SESSION  a chunk of another image
 *   OTA_GAP          a chunk not at the next offset (answer carries `next`)
 *   OTA_OVERRUN      a chunk past the announced size         OTA_HASH     the bytes are not the signed image
 *   OTA_TIMEOUT      no chunk for CHUNK_TIMEOUT_MS: the partial image is dropped
 * XS-clean.
 */
import { bytesToHex } from "../crypto/hex";
import { Sha256 } from "../crypto/sha256";
import type { Store } from "../log/store";
import type { FirmwareSlots, TimerId, Timers } from "../ports";
import { EV, type EventType } from "../protocol/events";
import { compareVersions, type ImageHeader, parseChunk } from "./image";

/** Store record of an update in flight across the restart (core/update/boot-guard reads it). */
export const OTA_RECORD = "otatry";
export const CHUNK_TIMEOUT_MS = 10 * 60_000;
/** Staged: the restart waits this long so the events and the answer leave first. */
export const RESTART_DELAY_MS = 3_000;

export interface OtaRecord {
  readonly version: string;
  readonly from: string;
  /** "staged": waiting for its trial; "rejected": its self-test failed (why in `reason`). */
  readonly state: "staged" | "rejected";
  readonly reason?: string;
  readonly failed?: readonly string[];
  /** Config version the previous image ran when the update was staged (the trial must run it or newer). */
  readonly cfg?: number | null;
}

export interface OtaDeps {
  readonly slots: FirmwareSlots | undefined;
  readonly target: string;
  readonly store: Store;
  readonly timers: Timers;
  /** Version of the config running now (null: none). */
  configVersion(): number | null;
  log(type: EventType, cls: "alert" | "info", data: Record<string, unknown>): void;
  stat(body: Record<string, unknown>): void;
}

interface Session {
  readonly image: ImageHeader;
  readonly by: string;
  readonly hasher: Sha256;
  written: number;
  timer: TimerId | undefined;
}

export class OtaReceiver {
  private s: Session | undefined;
  private staged = false;

  constructor(private readonly d: OtaDeps) {}

  /** The image of the session under way (first 16 hex of its SHA-256), if any. */
  get receiving(): string | undefined {
    return this.s === undefined ? undefined : this.s.image.sha256.substring(0, 16);
  }

  /** A checked and signed header: "OK" and the next offset wanted, or a refusal code. */
  start(image: ImageHeader, by: string): { readonly result: string; readonly next?: number } {
    const slots = this.d.slots;
    if (slots === undefined) return { result: "OTA_UNSUPPORTED" };
    if (this.staged) return { result: "OTA_BUSY" };
    const run = slots.running();
    if (run.trial) return { result: "OTA_BUSY" };
    if (image.target !== this.d.target) return { result: "OTA_TARGET" };
    if (compareVersions(image.version, run.version) <= 0) return { result: "OTA_NOT_NEWER" };
    if (image.size > slots.slotBytes) return { result: "OTA_TOO_BIG" };
    const cur = this.s;
    if (cur !== undefined && cur.image.sha256 === image.sha256) {
      this.arm(cur);
      return { result: "OK", next: cur.written };
    }
    if (cur !== undefined) this.drop("OTA_SUPERSEDED");
    try {
      slots.begin(image.size, image.version);
    } catch (e) {
      return { result: flashCode(e) };
    }
    const s: Session = { image, by, hasher: new Sha256(), written: 0, timer: undefined };
    this.s = s;
    this.arm(s);
    this.d.log(EV.OTA_STARTED, "info", { version: image.version, from: run.version, size: image.size, by });
    return { result: "OK", next: 0 };
  }

  /** One chunk message (already parsed JSON). */
  chunk(msg: unknown): void {
    const c = parseChunk(msg);
    const s = this.s;
    if (typeof c === "string") return this.answer(c, s);
    if (s === undefined) return this.answer("OTA_NO_SESSION", undefined);
    if (c.img !== s.image.sha256.substring(0, 16)) return this.answer("OTA_SESSION", s);
    const end = c.off + c.data.length;
    // A duplicate (QoS 1 redelivery, a resend after a lost answer): answered, not written again.
    if (c.off < s.written && end <= s.written) return this.d.stat({ ref: "ota", ok: true, img: c.img, next: s.written, dup: true });
    if (c.off !== s.written) return this.answer("OTA_GAP", s);
    if (end > s.image.size) {
      this.drop("OTA_OVERRUN");
      return this.answer("OTA_OVERRUN", undefined);
    }
    try {
      (this.d.slots as FirmwareSlots).write(c.data);
    } catch (e) {
      const code = flashCode(e);
      this.drop(code);
      return this.answer(code, undefined);
    }
    s.hasher.update(c.data);
    s.written = end;
    this.arm(s);
    if (end < s.image.size) return this.d.stat({ ref: "ota", ok: true, img: c.img, next: end });
    this.complete(s);
  }

  private complete(s: Session): void {
    const slots = this.d.slots as FirmwareSlots;
    this.clearTimer(s);
    this.s = undefined;
    const got = bytesToHex(s.hasher.digest());
    if (got !== s.image.sha256) {
      slots.abort();
      this.d.log(EV.OTA_FAILED, "alert", { version: s.image.version, code: "OTA_HASH" });
      return this.d.stat({ ref: "ota", ok: false, code: "OTA_HASH", img: s.image.sha256.substring(0, 16) });
    }
    try {
      slots.finish();
    } catch (e) {
      const code = flashCode(e);
      this.d.log(EV.OTA_FAILED, "alert", { version: s.image.version, code });
      return this.d.stat({ ref: "ota", ok: false, code, img: s.image.sha256.substring(0, 16) });
    }
    const rec: OtaRecord = { version: s.image.version, from: slots.running().version, state: "staged", cfg: this.d.configVersion() };
    this.d.store.save(OTA_RECORD, rec);
    this.staged = true;
    this.d.log(EV.OTA_STAGED, "alert", { version: s.image.version, from: rec.from, size: s.image.size, sha256: got, by: s.by });
    this.d.stat({ ref: "ota", ok: true, img: s.image.sha256.substring(0, 16), next: s.image.size, staged: true });
    this.d.timers.once(RESTART_DELAY_MS, () => slots.restart());
  }

  private answer(code: string, s: Session | undefined): void {
    this.d.stat({
      ref: "ota",
      ok: false,
      code,
      ...(s !== undefined ? { img: s.image.sha256.substring(0, 16), next: s.written } : {}),
    });
  }

  private drop(code: string): void {
    const s = this.s;
    if (s === undefined) return;
    this.clearTimer(s);
    this.s = undefined;
    this.d.slots?.abort();
    this.d.log(EV.OTA_FAILED, "alert", { version: s.image.version, code, written: s.written });
  }

  private arm(s: Session): void {
    this.clearTimer(s);
    s.timer = this.d.timers.once(CHUNK_TIMEOUT_MS, () => {
      s.timer = undefined;
      if (this.s === s) this.drop("OTA_TIMEOUT");
    });
  }

  private clearTimer(s: Session): void {
    if (s.timer !== undefined) this.d.timers.cancel(s.timer);
    s.timer = undefined;
  }

  /** Decommission or shutdown: drop a partial image. */
  close(): void {
    this.drop("OTA_CANCELLED");
  }
}

function flashCode(e: unknown): string {
  const m = e instanceof Error ? e.message : "";
  return m.startsWith("OTA_") ? m.substring(0, 24) : "OTA_FLASH";
}
