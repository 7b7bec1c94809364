/**
 * Signed config pushes: validate locally, sign, publish retained, wait for the device's ack or
 * coded refusal; audited.
 */
import type { MqttClient } from "mqtt";
import { validateConfig, type ConfigError } from "../../firmware/core/config/validate";
import { canonicalJson } from "../../firmware/core/config/canonical";
import { configHash } from "../../firmware/core/config/hash";
import { MAX_PAYLOAD_BYTES } from "../../firmware/core/crypto/signed";
import { signEnvelope } from "../signing";
import { osUser } from "./audit";
import { GENEROUS_HW, envRef, connectBroker, awaitStat, audit, type PushConfigOptions, type PushConfigResult } from "./broker";
import { configTopic } from "../../firmware/core/protocol/topics";

export async function pushConfig(o: PushConfigOptions): Promise<PushConfigResult> {
  const now = o.now ?? Date.now;
  const who = { kid: o.key.kid, user: osUser() };
  const cfg = o.config as Record<string, unknown>;
  const version = typeof cfg?.version === "number" ? cfg.version : undefined;
  const invalid = (errors: { code: string; path: string; message?: string }[]): PushConfigResult => {
    audit(o.audit, {
      action: "config.push",
      who,
      device: o.device,
      version,
      outcome: "invalid",
      errors: errors.slice(0, 20).map((e) => ({ code: e.code, path: e.path })),
      broker: o.broker.url,
    });
    return { outcome: "invalid", version, errors };
  };
  let hash: string | undefined;
  if (!o.noValidate) {
    const v = validateConfig(o.config, GENEROUS_HW);
    if (!v.ok) return invalid(v.errors.map((e: ConfigError) => ({ code: e.code, path: e.path, message: e.message })));
    hash = configHash(canonicalJson(v.config));
  }
  if (typeof cfg !== "object" || cfg === null || cfg.device !== o.device) {
    return invalid([{ code: "CFG_WRONG_DEVICE", path: "device", message: `the file is for ${String(cfg?.device)}, not ${o.device}` }]);
  }
  const t = now();
  const body = {
    type: "config",
    device: o.device,
    version,
    issuedAt: new Date(t).toISOString(),
    expires: new Date(t + (o.expiresMs ?? 86_400_000)).toISOString(),
    config: o.config,
  };
  const text = JSON.stringify(signEnvelope(body, o.key.privateKeyPem, o.key.kid));
  const payloadBytes = Math.ceil((JSON.parse(text).payload as string).length / 4) * 3;
  if (payloadBytes > MAX_PAYLOAD_BYTES)
    return invalid([{ code: "SIG_PAYLOAD", path: "", message: `signed body larger than ${MAX_PAYLOAD_BYTES} bytes` }]);
  const env = envRef(text);
  let c: MqttClient | undefined;
  try {
    c = await connectBroker(o.broker);
    const client = c;
    const stat = await awaitStat(
      client,
      o.device,
      (s) => s.ref === "config" && s.env === env,
      async () => {
        await client.publishAsync(configTopic(o.device), text, { qos: 1, retain: true });
      },
      o.timeoutMs ?? 30_000,
    );
    let res: PushConfigResult;
    if (stat === undefined) res = { outcome: "timeout", version, hash, env, errors: [] };
    else if (stat.ok === true)
      res = { outcome: "ack", version, hash: typeof stat.hash === "string" ? stat.hash : hash, env, errors: [], stat };
    else {
      res = {
        outcome: "refused",
        version,
        hash,
        env,
        code: String(stat.code),
        errors: Array.isArray(stat.errors) ? (stat.errors as { code: string; path: string }[]) : [],
        stat,
      };
      // A refused config must not stay retained: it would be refused again at every session loss.
      await client.publishAsync(configTopic(o.device), "", { qos: 1, retain: true });
    }
    audit(o.audit, {
      action: "config.push",
      who,
      device: o.device,
      version,
      hash: res.hash,
      env,
      outcome: res.outcome,
      code: res.code,
      errors: res.errors.length ? res.errors.map((e) => ({ code: e.code, path: e.path })) : undefined,
      broker: o.broker.url,
    });
    return res;
  } catch (e) {
    audit(o.audit, {
      action: "config.push",
      who,
      device: o.device,
      version,
      hash,
      env,
      outcome: "error",
      code: (e as Error).message,
      broker: o.broker.url,
    });
    throw e;
  } finally {
    if (c) await c.endAsync();
  }
}
