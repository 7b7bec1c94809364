/**
 * How the live simulator's devices talk to the cloud side (Node only).
 *
 * - "stand-in" (now): SimDevice's built-in uplink acknowledges events; a config push is signed
 *   with an ephemeral console key (cloud/signing.ts), verified against that trusted key
 *   (openEnvelope), its body checked (checkConfigBody) and handed to the device core exactly as the
 *   device link would; the acknowledgement or coded refusal comes from the core's own events.
 * - "mqtt" (later): each SimDevice gets `link` = createLink(...) from firmware/core/link.ts over
 *   the embedded broker; pushes go through cloud/pharmacist (signed envelope on
 *   dk/<id>/cmnd/config, ack awaited on dk/<id>/stat). See docs/simulator.md, "Seams".
 */
import { generateKeyPair, signEnvelope, type GeneratedKeyPair } from "../../cloud/signing";
import { openEnvelope, type TrustedKey } from "../../firmware/core/signed";
import { checkConfigBody } from "../../firmware/core/link-body";
import type { LinkFactory } from "../kernel/sim-device";
import type { FleetDevice } from "./fleet";

export interface PushOutcome {
  readonly ok: boolean;
  readonly device: string;
  /** Version acknowledged (ok) or refused. */
  readonly version: number | null;
  readonly hash?: string;
  readonly deferred?: boolean;
  /** Coded refusal: CFG_INVALID, CFG_STALE, CFG_WRONG_DEVICE, SIG_*, PROTO_*, DEVICE_OFF … */
  readonly code?: string;
  readonly errors?: readonly { readonly code: string; readonly path: string; readonly message?: string }[];
  /** Version the device keeps running after a refusal. */
  readonly running?: number | null;
  /** Key id the push was signed with. */
  readonly kid: string | null;
  readonly via: "stand-in" | "mqtt";
}

export interface DeviceTransport {
  readonly kind: "stand-in" | "mqtt";
  /** Link for a new SimDevice; undefined = SimDevice's built-in uplink stand-in. */
  linkFor(deviceId: string): LinkFactory | undefined;
  /** Sign and deliver a config to a device; resolves with its acknowledgement or coded refusal. */
  pushConfig(dev: FleetDevice, config: unknown, by: string): Promise<PushOutcome>;
  close(): Promise<void>;
}

/** Validity of a signed config body. */
const BODY_LIFETIME_MS = 24 * 3_600_000;

export class StandInTransport implements DeviceTransport {
  readonly kind = "stand-in" as const;
  private readonly key: GeneratedKeyPair = generateKeyPair();
  private readonly trusted: TrustedKey[];

  constructor() {
    this.trusted = [{ kid: this.key.kid, publicKey: new Uint8Array(Buffer.from(this.key.publicKeyB64, "base64")) }];
  }

  get kid(): string {
    return this.key.kid;
  }

  linkFor(): LinkFactory | undefined {
    return undefined;
  }

  async pushConfig(dev: FleetDevice, config: unknown, by: string): Promise<PushOutcome> {
    const base = { device: dev.id, kid: this.key.kid, via: this.kind };
    const cfg = typeof config === "object" && config !== null && !Array.isArray(config) ? (config as Record<string, unknown>) : undefined;
    const version = cfg !== undefined && typeof cfg.version === "number" ? cfg.version : null;
    dev.sync();
    const now = dev.now();
    // Pharmacist side: sign. (canonicalJson throws on non-JSON data such as NaN.)
    let envelope: unknown;
    try {
      envelope = signEnvelope(
        { type: "config", device: dev.id, version, issuedAt: new Date(now).toISOString(), expires: new Date(now + BODY_LIFETIME_MS).toISOString(), config },
        this.key.privateKeyPem,
        this.key.kid,
      );
    } catch (e) {
      return { ...base, ok: false, version, code: "PROTO_JSON", errors: [{ code: "PROTO_JSON", path: "", message: String(e) }] };
    }
    // Device side, as its link would: verify, check the body, hand the config to the core.
    const opened = openEnvelope(JSON.parse(JSON.stringify(envelope)), this.trusted);
    if (!opened.ok) return { ...base, ok: false, version, code: opened.code, errors: [{ code: opened.code, path: "" }] };
    const body = checkConfigBody(opened.body);
    if (!body.ok) return { ...base, ok: false, version, code: body.code, errors: body.errors };
    if (!dev.sim.alive || dev.sim.core === undefined) return { ...base, ok: false, version, code: "DEVICE_OFF", errors: [{ code: "DEVICE_OFF", path: "" }] };
    const events = dev.capture(() => dev.sim.pushConfig(body.body.config));
    const accepted = events.find((e) => e.type === "config.accepted");
    if (accepted !== undefined) {
      return { ...base, ok: true, version: num(accepted.data.version), hash: String(accepted.data.hash), deferred: accepted.data.deferred === true };
    }
    const refused = events.find((e) => e.type === "config.refused");
    if (refused !== undefined) {
      const errs = Array.isArray(refused.data.errors) ? (refused.data.errors as { code: string; path: string }[]) : [];
      return { ...base, ok: false, version, code: String(refused.data.code), errors: errs, running: num(refused.data.running) };
    }
    void by;
    return { ...base, ok: false, version, code: "NO_ANSWER", errors: [] };
  }

  async close(): Promise<void> {}
}

function num(x: unknown): number | null {
  return typeof x === "number" ? x : null;
}
