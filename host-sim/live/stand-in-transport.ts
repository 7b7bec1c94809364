/**
 * The stand-in transport: no broker; pushes are signed and opened in process and handed to the
 * device's config path directly (npm start --transport stand-in).
 */
import { generateKeyPair, signEnvelope, type GeneratedKeyPair } from "../../cloud/signing";
import { openEnvelope, type TrustedKey } from "../../firmware/core/crypto/signed";
import { checkConfigBody } from "../../firmware/core/link/body";
import type { LinkFactory } from "../kernel/device/sim-device";
import type { PushTarget } from "./types";
import { BODY_LIFETIME_MS, num, type PushOutcome, type PushOptions, type DeviceTransport } from "./transport";

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

  async pushConfig(dev: PushTarget, config: unknown, by: string, _opts?: PushOptions): Promise<PushOutcome> {
    const base = { device: dev.id, kid: this.key.kid, via: this.kind };
    const cfg = typeof config === "object" && config !== null && !Array.isArray(config) ? (config as Record<string, unknown>) : undefined;
    const version = cfg !== undefined && typeof cfg.version === "number" ? cfg.version : null;
    dev.sync();
    const now = dev.now();
    // Pharmacist side: sign. (canonicalJson throws on non-JSON data such as NaN.)
    let envelope: unknown;
    try {
      envelope = signEnvelope(
        {
          type: "config",
          device: dev.id,
          version,
          issuedAt: new Date(now).toISOString(),
          expires: new Date(now + BODY_LIFETIME_MS).toISOString(),
          config,
        },
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
    if (!dev.sim.alive || dev.sim.core === undefined)
      return { ...base, ok: false, version, code: "DEVICE_OFF", errors: [{ code: "DEVICE_OFF", path: "" }] };
    const events = dev.capture(() => dev.sim.pushConfig(body.body.config));
    const accepted = events.find((e) => e.type === "config.accepted");
    if (accepted !== undefined) {
      return {
        ...base,
        ok: true,
        version: num(accepted.data.version),
        hash: String(accepted.data.hash),
        deferred: accepted.data.deferred === true,
      };
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
