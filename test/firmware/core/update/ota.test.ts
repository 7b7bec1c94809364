/**
 * Firmware updates (firmware/core/update): the signed header, the chunk receiver over the slot
 * emulator, and the boot guard (trial, rollback report, crash loop → safe boot).
 */
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { chunkMessages, imageArgs, simImage } from "../../../../cloud/firmware-image";
import { generateKeyPair } from "../../../../cloud/signing";
import { keyIdOf, type TrustedKey } from "../../../../firmware/core/crypto/signed";
import type { DispenserStatus } from "../../../../firmware/core/device-api";
import { Store } from "../../../../firmware/core/log/store";
import { BootGuard, SAFE_BOOT_AFTER, STABLE_MS, TRIAL_MIN_MS, TRIAL_MS } from "../../../../firmware/core/update/boot-guard";
import { checkImageHeader, compareVersions, imageStatement } from "../../../../firmware/core/update/image";
import { CHUNK_TIMEOUT_MS, OTA_RECORD, OtaReceiver, RESTART_DELAY_MS } from "../../../../firmware/core/update/ota";
import { SimFirmwareSlots } from "../../../../host-sim/kernel/hw/firmware-slots";
import { KvEmulator } from "../../../../host-sim/kernel/hw/kv-emulator";
import { ManualTime } from "../../../../host-sim/kernel/hw/manual-time";

const release = generateKeyPair();
const raw = new Uint8Array(Buffer.from(release.publicKeyB64, "base64"));
const trusted: TrustedKey[] = [{ kid: keyIdOf(raw), publicKey: raw }];
const stranger = generateKeyPair();

function rig(version = "0.1.0-sim") {
  const kv = new KvEmulator();
  const store = new Store(kv);
  const time = new ManualTime();
  const resets: string[] = [];
  const fw = new SimFirmwareSlots(
    version,
    (r) => resets.push(r),
    () => undefined,
  );
  const events: { type: string; data: Record<string, unknown> }[] = [];
  const stats: Record<string, unknown>[] = [];
  const ota = new OtaReceiver({
    slots: fw.port(),
    target: "sim",
    store,
    timers: time,
    configVersion: () => 3,
    log: (type, _c, data) => events.push({ type, data }),
    stat: (b) => stats.push(b),
  });
  return { kv, store, time, fw, ota, events, stats, resets };
}

function header(image: Uint8Array, version: string, target = "sim", key = release) {
  const a = imageArgs(image, version, target, key.privateKeyPem, key.kid);
  const h = checkImageHeader(a as unknown as Record<string, unknown>, trusted);
  return { args: a, h };
}

const send = (r: ReturnType<typeof rig>, msgs: string[]) => {
  for (const m of msgs) r.ota.chunk(JSON.parse(m));
};

describe("image header", () => {
  const img = simImage("good", "0.2.0");

  it("verifies the release signature over target, version, size and hash", () => {
    const { args, h } = header(img, "0.2.0");
    expect(h.ok).toBe(true);
    expect(imageStatement(args)).toBe(`dkfw1\nsim\n0.2.0\n${img.length}\n${createHash("sha256").update(img).digest("hex")}`);
  });

  it("refuses a changed field, an unknown key and malformed arguments", () => {
    const { args } = header(img, "0.2.0");
    const check = (a: Record<string, unknown>) => checkImageHeader(a, trusted);
    expect(check({ ...args, version: "0.3.0" })).toMatchObject({ ok: false, code: "OTA_SIG" });
    expect(check({ ...args, size: args.size + 1 })).toMatchObject({ ok: false, code: "OTA_SIG" });
    expect(check({ ...args, target: "esp32" })).toMatchObject({ ok: false, code: "OTA_SIG" });
    expect(header(img, "0.2.0", "sim", stranger).h).toMatchObject({ ok: false, code: "OTA_KEY_UNKNOWN" });
    expect(check({ ...args, sha256: "00" })).toMatchObject({ ok: false, code: "CMD_ARGS", path: "args.sha256" });
    expect(check({ ...args, version: "v2" })).toMatchObject({ ok: false, code: "CMD_ARGS", path: "args.version" });
    expect(check({ ...args, size: 0 })).toMatchObject({ ok: false, code: "CMD_ARGS", path: "args.size" });
    expect(check({ ...args, sig: "AAAA" })).toMatchObject({ ok: false, code: "CMD_ARGS", path: "args.sig" });
  });

  it("orders versions by their numbers, never by the tag", () => {
    expect(compareVersions("0.2.0", "0.1.9")).toBeGreaterThan(0);
    expect(compareVersions("1.10.0", "1.9.3")).toBeGreaterThan(0);
    expect(compareVersions("0.1.0-sim", "0.1.0")).toBe(0);
    expect(compareVersions("0.1.0", "0.2.0-rc1")).toBeLessThan(0);
  });
});

describe("OtaReceiver", () => {
  it("stages a whole image whose hash is the signed one, then restarts into it on trial", () => {
    const r = rig();
    const img = simImage("good", "0.2.0-sim", 9000);
    const { h } = header(img, "0.2.0-sim");
    if (!h.ok) throw new Error("header");
    expect(r.ota.start(h.image, "k")).toEqual({ result: "OK", next: 0 });
    send(r, chunkMessages(img, h.image.sha256, 4000));
    expect(r.events.map((e) => e.type)).toEqual(["ota.started", "ota.staged"]);
    expect(r.stats.map((s) => s.next)).toEqual([4000, 8000, 9000]);
    expect(r.store.load(OTA_RECORD)).toEqual({ version: "0.2.0-sim", from: "0.1.0-sim", state: "staged", cfg: 3 });
    r.time.advance(RESTART_DELAY_MS);
    expect(r.resets).toEqual(["software"]);
    r.fw.boot();
    expect(r.fw.port().running()).toEqual({ version: "0.2.0-sim", trial: true });
  });

  it("ignores duplicates, answers a gap with the offset wanted, resumes the same image", () => {
    const r = rig();
    const img = simImage("good", "0.2.0-sim", 9000);
    const { h } = header(img, "0.2.0-sim");
    if (!h.ok) throw new Error("header");
    const msgs = chunkMessages(img, h.image.sha256, 3000);
    r.ota.start(h.image, "k");
    send(r, [msgs[0], msgs[0], msgs[2]]);
    expect(r.stats.at(-1)).toMatchObject({ ok: false, code: "OTA_GAP", next: 3000 });
    expect(r.ota.start(h.image, "k")).toEqual({ result: "OK", next: 3000 }); // a resend resumes
    send(r, [msgs[1], msgs[2]]);
    expect(r.events.at(-1)?.type).toBe("ota.staged");
  });

  it("refuses bytes that are not the signed image, and drops the partial image", () => {
    const r = rig();
    const img = simImage("good", "0.2.0-sim", 5000);
    const { h } = header(img, "0.2.0-sim");
    if (!h.ok) throw new Error("header");
    const bad = Uint8Array.from(img);
    bad[4000] ^= 1;
    r.ota.start(h.image, "k");
    send(r, chunkMessages(bad, h.image.sha256, 2048));
    expect(r.events.at(-1)).toMatchObject({ type: "ota.failed", data: { code: "OTA_HASH" } });
    expect(r.store.load(OTA_RECORD)).toBeUndefined();
    r.time.advance(60_000);
    expect(r.resets).toEqual([]);
  });

  it("refuses another board, an older or equal version, a chunk of another image, junk and a stalled transfer", () => {
    const r = rig("0.3.0-sim");
    const img = simImage("good", "0.2.0-sim", 5000);
    const old = header(img, "0.2.0-sim").h;
    const other = header(img, "0.4.0", "esp32").h;
    if (!old.ok || !other.ok) throw new Error("header");
    expect(r.ota.start(old.image, "k").result).toBe("OTA_NOT_NEWER");
    expect(r.ota.start(other.image, "k").result).toBe("OTA_TARGET");
    const next = header(simImage("good", "0.4.0-sim", 5000), "0.4.0-sim").h;
    if (!next.ok) throw new Error("header");
    r.ota.chunk({ v: 1, img: "0123456789abcdef", off: 0, data: "AAAA" });
    expect(r.stats.at(-1)).toMatchObject({ code: "OTA_NO_SESSION" });
    r.ota.start(next.image, "k");
    r.ota.chunk({ v: 1, img: "0123456789abcdef", off: 0, data: "AAAA" });
    expect(r.stats.at(-1)).toMatchObject({ code: "OTA_SESSION", next: 0 });
    for (const junk of [null, "x", { v: 2 }, { v: 1, img: next.image.sha256.slice(0, 16), off: -1, data: "AAAA" }]) {
      r.ota.chunk(junk);
      expect(r.stats.at(-1)).toMatchObject({ code: "OTA_CHUNK" });
    }
    r.time.advance(CHUNK_TIMEOUT_MS);
    expect(r.events.at(-1)).toMatchObject({ type: "ota.failed", data: { code: "OTA_TIMEOUT" } });
  });
});

function status(over: Partial<DispenserStatus> = {}): DispenserStatus {
  return {
    device: "d",
    firmware: "x",
    resetReason: "software",
    safe: false,
    config: { version: 3, hash: "h" },
    outbox: 0,
    dropped: 0,
    timeSet: true,
    silencedUntil: 0,
    faults: [],
    slots: [],
    grams: [],
    stock: [],
    weigh: [{ comp: "a", z: 5, sure: true }],
    ...over,
  };
}

describe("BootGuard", () => {
  function staged() {
    const r = rig();
    const img = simImage("good", "0.2.0-sim", 3000);
    const { h } = header(img, "0.2.0-sim");
    if (!h.ok) throw new Error("header");
    r.ota.start(h.image, "k");
    send(r, chunkMessages(img, h.image.sha256));
    r.fw.boot();
    return r;
  }
  const guardOf = (r: ReturnType<typeof rig>, reason: string) =>
    new BootGuard({
      store: new Store(r.kv),
      timers: r.time,
      clock: { monoMs: () => r.time.now(), wallMs: () => undefined },
      slots: r.fw.port(),
      resetReason: reason,
    });

  it("accepts a trial image once every check passed and it ran TRIAL_MIN_MS", () => {
    const r = staged();
    const log: { type: string; data: Record<string, unknown> }[] = [];
    guardOf(r, "software").start({ log: (type, _c, data) => log.push({ type, data }), status: () => status() }, () => true);
    r.time.advance(TRIAL_MIN_MS - 2000);
    expect(r.fw.port().running().trial).toBe(true);
    r.time.advance(2000);
    expect(log.map((e) => e.type)).toEqual(["ota.trial", "ota.valid"]);
    expect(r.fw.port().running()).toEqual({ version: "0.2.0-sim", trial: false });
  });

  it("rejects a trial image whose checks fail until TRIAL_MS, and the old image reports why", () => {
    const r = staged();
    const log: { type: string; data: Record<string, unknown> }[] = [];
    const target = {
      log: (type: string, _c: string, data: Record<string, unknown>) => log.push({ type, data }),
      status: () => status({ config: { version: 2, hash: "h" }, faults: [{ channel: 0, code: "LOADCELL_STUCK" }] }),
    };
    guardOf(r, "software").start(target as never, () => false);
    r.time.advance(TRIAL_MS + RESTART_DELAY_MS + 2000);
    expect(log.at(-1)).toMatchObject({ type: "ota.rejected", data: { failed: ["broker", "config", "detector"] } });
    expect(r.resets).toEqual(["software", "software"]);
    r.fw.boot();
    expect(r.fw.port().running()).toEqual({ version: "0.1.0-sim", trial: false });
    guardOf(r, "software").start(target as never, () => true);
    expect(log.at(-1)).toMatchObject({
      type: "ota.rolled_back",
      data: { tried: "0.2.0-sim", running: "0.1.0-sim", reason: "OTA_SELFTEST" },
    });
  });

  it("a reset during the trial rolls back in the boot loader and is reported as OTA_TRIAL_RESET", () => {
    const r = staged();
    guardOf(r, "software").start({ log: () => undefined, status: () => status() } as never, () => true);
    r.fw.boot(); // a panic before the trial passed
    const log: { type: string; data: Record<string, unknown> }[] = [];
    guardOf(r, "panic").start(
      { log: (type: string, _c: string, data: Record<string, unknown>) => log.push({ type, data }), status: () => status() } as never,
      () => true,
    );
    expect(log).toEqual([
      { type: "ota.rolled_back", data: { tried: "0.2.0-sim", running: "0.1.0-sim", reason: "OTA_TRIAL_RESET", reset: "panic" } },
    ]);
  });

  it("boots safe after SAFE_BOOT_AFTER crash resets in a row; another reset reason or a stable run clears the count", () => {
    const r = rig();
    const boot = (reason: string) => guardOf(r, reason);
    for (let i = 1; i < SAFE_BOOT_AFTER; i++) expect(boot(i % 2 ? "panic" : "watchdog").safe).toBe(false);
    const g = boot("panic");
    expect(g.safe).toBe(true);
    expect(g.crashes).toBe(SAFE_BOOT_AFTER);
    expect(boot("brownout").crashes).toBe(0);
    expect(boot("panic").crashes).toBe(1);
    const g2 = boot("panic");
    g2.start({ log: () => undefined, status: () => status() } as never, () => true);
    r.time.advance(STABLE_MS);
    expect(boot("panic").crashes).toBe(1);
  });
});

describe("BootGuard when the boot loader refuses", () => {
  it("a failed accept or a rollback with no previous image is logged, and the device keeps running", () => {
    const kv = new KvEmulator();
    const time = new ManualTime();
    const log: string[] = [];
    const slots = {
      slotBytes: 1000,
      running: () => ({ version: "0.2.0", trial: true }),
      begin() {},
      write() {},
      finish() {},
      abort() {},
      restart() {},
      accept() {
        throw new RangeError("OTA_ACCEPT");
      },
      reject() {
        throw new RangeError("OTA_NO_PREVIOUS");
      },
    };
    const g = new BootGuard({
      store: new Store(kv),
      timers: time,
      clock: { monoMs: () => time.now(), wallMs: () => undefined },
      slots,
      resetReason: "software",
    });
    g.start(
      {
        log: (type: string, _c: string, data: Record<string, unknown>) => log.push(`${type}:${String(data.code ?? "")}`),
        status: () => status(),
      } as never,
      () => true,
    );
    time.advance(TRIAL_MIN_MS + 2000);
    expect(log).toEqual(["ota.trial:", "ota.failed:OTA_ACCEPT"]);
    const log2: string[] = [];
    const g2 = new BootGuard({
      store: new Store(kv),
      timers: time,
      clock: { monoMs: () => time.now(), wallMs: () => undefined },
      slots,
      resetReason: "software",
    });
    g2.start(
      {
        log: (type: string, _c: string, data: Record<string, unknown>) => log2.push(`${type}:${String(data.code ?? "")}`),
        status: () => status({ faults: [{ channel: 0, code: "X" }] }),
      } as never,
      () => true,
    );
    time.advance(TRIAL_MS + RESTART_DELAY_MS + 2000);
    expect(log2).toEqual(["ota.trial:", "ota.rejected:", "ota.failed:OTA_NO_PREVIOUS"]);
  });
});
