/**
 * Signed steps in scenario files (Node side, before the run). A scenario with
 * `"transport": "mqtt"` may write
 *
 *   { "at": "+1h", "do": "config", "patch": { "version": 2, … }, "sign": "test" }
 *   { "at": "+2h", "do": "command", "name": "silence", "args": {}, "sign": "test" }
 *
 * and they become `publish` steps carrying a real Ed25519 signed envelope on
 * dk/<device>/cmnd/config (retained) or dk/<device>/cmnd/<name>, exactly what the pharmacist
 * tools publish. `sign` is "test" (the scenario test key, trusted by the device), "forged"
 * (signature bits flipped), "unknown-key" (a key the device does not trust), "expired"
 * (expired an hour before the step), "other-device" (addressed to another device) or "second"
 * (SECOND_KEY, which the device trusts only once a `keys` command added it).
 * Config patches apply over the scenario's base config. Ed25519 signatures are deterministic,
 * so the Node and XS runs see the same bytes.
 */
import { createPrivateKey } from "node:crypto";
import { kidOf, publicKeyB64FromPrivatePem, signEnvelope } from "../cloud/signing";
import { parseInstant, parseOffset } from "./kernel/scenario/scenario";
import { parsePosixTz } from "../firmware/core/schedule/tz";
import { isoUtc } from "../firmware/core/schedule/civil";
import { configTopic, commandTopic, OTA_DATA_COMMAND } from "../firmware/core/protocol/topics";
import { chunkMessages, imageArgs, simImage } from "../cloud/firmware-image";

function keyFromSeed(seedByte: number): { pem: string; kid: string; publicKey: string } {
  const der = Buffer.concat([Buffer.from("302e020100300506032b657004220420", "hex"), Buffer.alloc(32, seedByte)]);
  const pem = createPrivateKey({ key: der, format: "der", type: "pkcs8" }).export({ format: "pem", type: "pkcs8" }).toString();
  const publicKey = publicKeyB64FromPrivatePem(pem);
  return { pem, kid: kidOf(Buffer.from(publicKey, "base64")), publicKey };
}

/** The scenario test key (trusted by scenario devices) and a stranger's key. */
export const TEST_KEY = keyFromSeed(0x5a);
const STRANGER_KEY = keyFromSeed(0x33);
/** A second pharmacist key, not trusted at start: a key-rotation scenario adds it with a `keys` command. */
export const SECOND_KEY = keyFromSeed(0x6b);

const SIGN_MODES = ["test", "forged", "unknown-key", "expired", "other-device", "second"];

const OTA_FIELDS = ["at", "do", "note", "sign", "version", "image", "chunkMs", "chunkBytes", "corrupt", "skip", "target"];

/**
 * `{ "do": "ota", "version": "0.2.0-sim", "image": "good" }`: the signed `ota` command at `at`,
 * then the image's chunks on cmnd/otadata from 2 s later, one every `chunkMs` (default 1000).
 * `image` is how the emulated build behaves (good, crash, no-broker, no-detector);
 * `corrupt: true` flips a byte of the data sent (the hash check must refuse it); `skip: n` leaves
 * chunk n out (the device answers OTA_GAP); `target` overrides "sim".
 */
function otaStep(s: Record<string, unknown>, path: string, at: number, key: { pem: string; kid: string }, device: string) {
  for (const f of Object.keys(s)) if (OTA_FIELDS.indexOf(f) < 0) throw new SignedStepError(`${path}.${f}: unknown field for "ota"`);
  if (typeof s.version !== "string") throw new SignedStepError(`${path}.version: firmware version required`);
  const behaviour = s.image ?? "good";
  if (typeof behaviour !== "string" || !/^(good|crash|no-broker|no-detector)$/.test(behaviour))
    throw new SignedStepError(`${path}.image: good, crash, no-broker or no-detector`);
  const every = s.chunkMs ?? 1000;
  if (typeof every !== "number" || !(every >= 10 && every <= 600_000)) throw new SignedStepError(`${path}.chunkMs: 10..600000`);
  const size = s.chunkBytes ?? 2048;
  if (typeof size !== "number" || !(size >= 1 && size <= 8192)) throw new SignedStepError(`${path}.chunkBytes: 1..8192`);
  const image = simImage(behaviour, s.version);
  const args = imageArgs(image, s.version, typeof s.target === "string" ? s.target : "sim", key.pem, key.kid);
  const sent = Uint8Array.from(image);
  if (s.corrupt === true) sent[sent.length - 7] ^= 0x40;
  const chunks: unknown[] = [];
  chunkMessages(sent, args.sha256, size).forEach((payload, n) => {
    if (n === s.skip) return;
    chunks.push({
      at: isoUtc(at + 2000 + n * every),
      do: "publish",
      topic: commandTopic(device, OTA_DATA_COMMAND),
      payload,
      note: `ota chunk ${n}`,
    });
  });
  return { args, chunks };
}

export class SignedStepError extends Error {
  override get name(): string {
    return "SignedStepError";
  }
}

export function resolveSignedSteps(obj: Record<string, unknown>): Record<string, unknown> {
  const steps = Array.isArray(obj.steps) ? (obj.steps as unknown[]) : [];
  const needs = steps.some(
    (s) =>
      typeof s === "object" &&
      s !== null &&
      ((s as Record<string, unknown>).sign !== undefined ||
        (s as Record<string, unknown>).do === "command" ||
        (s as Record<string, unknown>).do === "ota"),
  );
  if (!needs) return obj;
  if (obj.transport !== "mqtt" && obj.transport !== "board") throw new SignedStepError('signed steps need "transport": "mqtt" or "board"');
  const config = (obj.config ?? {}) as Record<string, unknown>;
  const device = typeof config.device === "string" ? config.device : "dk-sim";
  const tzr = typeof config.tz === "string" ? parsePosixTz(config.tz) : undefined;
  const tz = tzr !== undefined && tzr.ok ? tzr.tz : undefined;
  const start = typeof obj.start === "string" ? parseInstant(obj.start, undefined) : undefined;
  const out = steps.flatMap((raw, i): unknown[] => {
    if (typeof raw !== "object" || raw === null) return [raw];
    const s = raw as Record<string, unknown>;
    if (s.sign === undefined && s.do !== "command" && s.do !== "ota") return [s];
    const path = `steps[${i}]`;
    const mode = s.sign ?? "test";
    if (typeof mode !== "string" || SIGN_MODES.indexOf(mode) < 0)
      throw new SignedStepError(`${path}.sign: one of ${SIGN_MODES.join(", ")}`);
    const at =
      typeof s.at === "string" ? (s.at.startsWith("+") ? (start ?? NaN) + (parseOffset(s.at) ?? NaN) : parseInstant(s.at, tz)) : undefined;
    if (at === undefined || !(at === at)) throw new SignedStepError(`${path}.at: not an instant`);
    const issued = mode === "expired" ? at - 7_200_000 : at;
    const expires = mode === "expired" ? at - 3_600_000 : at + 600_000;
    const target = mode === "other-device" ? "dk-someone-else" : device;
    let topic: string;
    let body: Record<string, unknown>;
    let retain = false;
    let chunks: unknown[] = [];
    if (s.do === "ota") {
      const o = otaStep(s, path, at, mode === "second" ? SECOND_KEY : TEST_KEY, device);
      chunks = o.chunks;
      body = { type: "cmd", name: "ota", device: target, id: `ota${i}`, issuedAt: isoUtc(issued), expires: isoUtc(expires), args: o.args };
      topic = commandTopic(device, "ota");
    } else if (s.do === "config") {
      const cfg =
        s.config !== undefined ? (s.config as Record<string, unknown>) : { ...config, ...((s.patch as Record<string, unknown>) ?? {}) };
      // A config stays valid for a day (an expired one ended an hour before the step).
      const until = mode === "expired" ? expires : at + 86_400_000;
      body = { type: "config", device: target, version: cfg.version, issuedAt: isoUtc(issued), expires: isoUtc(until), config: cfg };
      topic = configTopic(device);
      retain = true;
    } else if (s.do === "command") {
      if (typeof s.name !== "string") throw new SignedStepError(`${path}.name: command name required`);
      body = {
        type: "cmd",
        name: s.name,
        device: target,
        id: typeof s.id === "string" ? s.id : `sc${i}`,
        issuedAt: isoUtc(issued),
        expires: isoUtc(expires),
        args: s.args ?? {},
      };
      topic = commandTopic(device, s.name);
    } else throw new SignedStepError(`${path}.sign: only config and command steps are signed`);
    const key = mode === "unknown-key" ? STRANGER_KEY : mode === "second" ? SECOND_KEY : TEST_KEY;
    const env = signEnvelope(body, key.pem, key.kid);
    if (mode === "forged") {
      const sig = Buffer.from(env.sig, "base64");
      sig[5] ^= 0x20;
      env.sig = sig.toString("base64");
    }
    const what =
      s.do === "command" ? s.name : s.do === "ota" ? `image ${String(s.version)} (${String(s.image)})` : `v${String(body.version)}`;
    const note = `${s.do} ${what} signed (${mode})`;
    return [{ at: s.at, do: "publish", topic, retain, payload: JSON.stringify(env), note }, ...chunks];
  });
  const trust = obj.trust ?? [{ kid: TEST_KEY.kid, publicKey: TEST_KEY.publicKey }];
  return { ...obj, trust, steps: out };
}
