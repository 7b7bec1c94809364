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
import { configTopic, commandTopic } from "../firmware/core/protocol/topics";

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
      ((s as Record<string, unknown>).sign !== undefined || (s as Record<string, unknown>).do === "command"),
  );
  if (!needs) return obj;
  if (obj.transport !== "mqtt") throw new SignedStepError('signed steps need "transport": "mqtt"');
  const config = (obj.config ?? {}) as Record<string, unknown>;
  const device = typeof config.device === "string" ? config.device : "dk-sim";
  const tzr = typeof config.tz === "string" ? parsePosixTz(config.tz) : undefined;
  const tz = tzr !== undefined && tzr.ok ? tzr.tz : undefined;
  const start = typeof obj.start === "string" ? parseInstant(obj.start, undefined) : undefined;
  const out = steps.map((raw, i) => {
    if (typeof raw !== "object" || raw === null) return raw;
    const s = raw as Record<string, unknown>;
    if (s.sign === undefined && s.do !== "command") return s;
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
    if (s.do === "config") {
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
    const note = `${s.do} ${s.do === "command" ? s.name : `v${String(body.version)}`} signed (${mode})`;
    return { at: s.at, do: "publish", topic, retain, payload: JSON.stringify(env), note };
  });
  const trust = obj.trust ?? [{ kid: TEST_KEY.kid, publicKey: TEST_KEY.publicKey }];
  return { ...obj, trust, steps: out };
}
