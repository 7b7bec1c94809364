/**
 * Signed commands (tare, calibrate, identify, silence, decommission): sign, publish, wait for the
 * device's result; audited.
 */
import { randomBytes } from "node:crypto";
import type { MqttClient } from "mqtt";
import { signEnvelope } from "../signing";
import { osUser } from "./audit";
import { envRef, connectBroker, awaitStat, audit, type BrokerOptions, type SigningKey, type Stat, type Outcome } from "./broker";
import { configTopic, commandTopic } from "../../firmware/core/protocol/topics";
import { COMMAND_MAX_BYTES } from "../../firmware/core/link/link-types";

export interface CommandOptions {
  device: string;
  name: string;
  args?: Record<string, unknown>;
  key: SigningKey;
  broker: BrokerOptions;
  timeoutMs?: number;
  /** Validity of the signed command (≤ 1 h, the device refuses longer). Default 10 min. */
  expiresMs?: number;
  audit?: string;
  now?: () => number;
}

export interface CommandResult {
  outcome: Exclude<Outcome, "invalid">;
  id: string;
  env: string;
  code?: string;
  stat?: Stat;
}

export async function sendCommand(o: CommandOptions): Promise<CommandResult> {
  const now = o.now ?? Date.now;
  const who = { kid: o.key.kid, user: osUser() };
  const id = randomBytes(6).toString("hex");
  const t = now();
  const body = {
    type: "cmd",
    name: o.name,
    device: o.device,
    id,
    issuedAt: new Date(t).toISOString(),
    expires: new Date(t + (o.expiresMs ?? 600_000)).toISOString(),
    args: o.args ?? {},
  };
  const text = JSON.stringify(signEnvelope(body, o.key.privateKeyPem, o.key.kid));
  if (Buffer.byteLength(text) > COMMAND_MAX_BYTES)
    throw new RangeError(`CMD_TOO_BIG: the signed command is ${Buffer.byteLength(text)} bytes, at most ${COMMAND_MAX_BYTES}`);
  const env = envRef(text);
  const ref = `cmd:${o.name}:${id}`;
  let c: MqttClient | undefined;
  try {
    c = await connectBroker(o.broker);
    const client = c;
    const stat = await awaitStat(
      client,
      o.device,
      // A refusal given before the signature was checked has no id in ref: env still matches.
      (s) => s.ref === ref || s.env === env,
      async () => {
        await client.publishAsync(commandTopic(o.device, o.name), text, { qos: 1 });
      },
      o.timeoutMs ?? 30_000,
    );
    const res: CommandResult =
      stat === undefined
        ? { outcome: "timeout", id, env }
        : stat.ok === true
          ? { outcome: "ack", id, env, stat }
          : { outcome: "refused", id, env, code: String(stat.code), stat };
    if (o.name === "decommission" && res.outcome === "ack") {
      // The device is wiped: clear its retained config so a re-provisioned device starts clean.
      await client.publishAsync(configTopic(o.device), "", { qos: 1, retain: true });
    }
    audit(o.audit, {
      action: "command",
      who,
      device: o.device,
      name: o.name,
      id,
      env,
      outcome: res.outcome,
      code: res.code,
      broker: o.broker.url,
    });
    return res;
  } catch (e) {
    audit(o.audit, {
      action: "command",
      who,
      device: o.device,
      name: o.name,
      id,
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
