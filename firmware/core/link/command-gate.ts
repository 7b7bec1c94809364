/**
 * Every check an incoming command passes before it runs, in order (docs/protocol.md): a known
 * name, not retained, at most COMMAND_MAX_BYTES, JSON, a signed envelope from a trusted key, a
 * well-formed body for this name and this device, the wall clock known, within its lifetime, not
 * seen before. Pure: the caller logs the refusal (junk ones rate-limited) or runs the command.
 */
import { openEnvelope, type TrustedKey } from "../crypto/signed";
import type { MqttMessageInfo } from "../mqtt/client";
import { isObj, parseJsonBytes } from "../protocol/json";
import { COMMAND_NAMES, checkCommandBody, timeWindow, type CommandBody } from "./body";
import { COMMAND_MAX_BYTES } from "./link-types";

export type CommandGate =
  | { readonly ok: true; readonly body: CommandBody; readonly by: string }
  | {
      readonly ok: false;
      /** The command name as shown (cut to 24 characters when unknown). */
      readonly name: string;
      readonly id: string | null;
      readonly by: string | null;
      readonly code: string;
      /** Refused before any valid signature: logged under the junk rate limit. */
      readonly junk: boolean;
      readonly path?: string;
    };

export interface GateContext {
  readonly trustedKeys: readonly TrustedKey[];
  readonly deviceId: string;
  readonly wallMs: number | undefined;
  /** Why this command must not run as a replay (watermark of its key, id ring), or undefined. */
  replay(kid: string, issuedAt: number, id: string): string | undefined;
}

export function gateCommand(name: string, payload: Uint8Array, info: MqttMessageInfo, c: GateContext): CommandGate {
  const junk = (code: string, shown = name): CommandGate => ({ ok: false, name: shown, id: null, by: null, code, junk: true });
  if (COMMAND_NAMES.indexOf(name) < 0) return junk("CMD_UNKNOWN", name.substring(0, 24));
  // Commands are never retained (docs/protocol.md): a retained one would run again at every
  // resubscription. Refused, whatever its signature.
  if (info.retain) return junk("CMD_RETAINED");
  if (payload.length > COMMAND_MAX_BYTES) return junk("CMD_TOO_BIG");
  const parsed = parseJsonBytes(payload);
  if (!parsed.ok) return junk("PROTO_JSON");
  const open = openEnvelope(parsed.value, c.trustedKeys);
  if (!open.ok) return junk(open.code);
  const by = open.kid;
  const refuse = (id: string | null, code: string, path?: string): CommandGate => ({
    ok: false,
    name,
    id,
    by,
    code,
    junk: false,
    ...(path !== undefined ? { path } : {}),
  });
  const cb = checkCommandBody(open.body, name);
  const bodyId = isObj(open.body) && typeof open.body.id === "string" && open.body.id.length <= 40 ? open.body.id : null;
  if (!cb.ok) return refuse(bodyId, cb.code, cb.errors.length > 0 ? cb.errors[0].path : undefined);
  const body = cb.body;
  if (body.device !== c.deviceId) return refuse(body.id, "CMD_WRONG_DEVICE", "device");
  if (c.wallMs === undefined) return refuse(body.id, "CMD_TIME_UNSET");
  const tw = timeWindow(body, c.wallMs);
  if (tw !== undefined) return refuse(body.id, "CMD_" + tw, tw === "EXPIRED" ? "expires" : "issuedAt");
  const replay = c.replay(by, body.issuedAt, body.id);
  if (replay !== undefined) return refuse(body.id, replay, replay === "CMD_STALE" ? "issuedAt" : "id");
  return { ok: true, body, by };
}
