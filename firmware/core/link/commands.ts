/**
 * Incoming commands on dk/<id>/cmnd/<name> (docs/protocol.md, "Commands"): gate, run, answer.
 * Every answer on stat carries `ref` ("cmd:<name>:<id>", or "cmd:<name>" when the id could not be
 * read from an unauthenticated body) and `env`, the sha-256 prefix of the message as received,
 * so the sender matches even a refusal given before its signature was checked. XS-clean.
 */
import type { Dispenser } from "../dispenser";
import type { MqttMessageInfo } from "../mqtt/client";
import type { TrustedKey } from "../crypto/signed";
import { EV, type EventType } from "../protocol/events";
import { gateCommand } from "./command-gate";
import { executeCommand, type JunkLimiter } from "./messages";
import type { CommandWatermark, ReplayRing } from "./replay";
import type { TrustStore } from "./trust";
import { OTA_DATA_COMMAND } from "../protocol/topics";
import { parseJsonBytes } from "../protocol/json";
import { checkImageHeader } from "../update/image";
import type { OtaReceiver } from "../update/ota";

export interface CommandContext {
  readonly deviceId: string;
  readonly trust: TrustStore;
  readonly ring: ReplayRing;
  readonly watermark: CommandWatermark;
  readonly junkLimit: JunkLimiter;
  readonly ota: OtaReceiver;
  wallMs(): number | undefined;
  dispenser(): Dispenser | undefined;
  log(type: EventType, cls: "dose" | "alert" | "info", data: Record<string, unknown>): void;
  stat(body: Record<string, unknown>): void;
  envRef(payload: Uint8Array): string;
  /** Wipe the device (the link owns the session). */
  decommission(d: Dispenser, cmdId: string, by: string, env: string): void;
  /** A command changed what telemetry shows: publish it now. */
  changed(): void;
}

export interface Commands {
  onCommand(name: string, payload: Uint8Array, info: MqttMessageInfo): void;
  refuse(name: string, cmdId: string | null, by: string | null, code: string, junk: boolean, env: string, path?: string): void;
  readonly trustedKeys: readonly TrustedKey[];
}

export function createCommands(c: CommandContext): Commands {
  function refuse(name: string, cmdId: string | null, by: string | null, code: string, junk: boolean, env: string, path?: string): void {
    if (junk && !c.junkLimit.allowed()) return;
    c.log(EV.CMD, "alert", {
      name,
      id: cmdId,
      by,
      result: code,
      ...(path !== undefined ? { path } : {}),
      ...(junk ? c.junkLimit.takeSuppressed() : {}),
    });
    c.stat({
      ref: cmdId === null ? "cmd:" + name : "cmd:" + name + ":" + cmdId,
      env,
      ok: false,
      code,
      ...(path !== undefined ? { path } : {}),
    });
  }

  function onCommand(name: string, payload: Uint8Array, info: MqttMessageInfo): void {
    const d = c.dispenser();
    if (d === undefined) return;
    // An empty retained payload is how a retained message is cleared: nothing to do.
    if (payload.length === 0) return;
    if (name === OTA_DATA_COMMAND) {
      // Image chunks are not signed one by one: the signed header's SHA-256 covers them all.
      if (info.retain) return;
      const p = parseJsonBytes(payload);
      return c.ota.chunk(p.ok ? p.value : undefined);
    }
    const env = c.envRef(payload);
    const g = gateCommand(name, payload, info, {
      trustedKeys: c.trust.keys,
      deviceId: c.deviceId,
      wallMs: c.wallMs(),
      replay: (kid, issuedAt, cid) => (c.ring.has(cid) ? "CMD_REPLAY" : c.watermark.refusal(kid, issuedAt, cid)),
    });
    if (!g.ok) return refuse(g.name, g.id, g.by, g.code, g.junk, env, g.path);
    const { body, by } = g;
    c.ring.add(body.id);
    c.watermark.accept(by, body.issuedAt, body.id);
    if (name === "decommission") return c.decommission(d, body.id, by, env);
    const ref = "cmd:" + name + ":" + body.id;
    if (name === "keys") {
      const k = c.trust.apply(body.args);
      c.log(EV.CMD, "alert", { name, id: body.id, by, result: k.result, args: body.args });
      if (k.result === "OK") c.log(EV.KEYS_CHANGED, "alert", { by, added: k.added ?? null, revoked: k.revoked ?? null, keys: k.keys });
      c.stat(k.result === "OK" ? { ref, env, ok: true, keys: k.keys } : { ref, env, ok: false, code: k.result, keys: k.keys });
      return;
    }
    if (name === "ota") {
      const h = checkImageHeader(body.args, c.trust.keys);
      const r = h.ok ? c.ota.start(h.image, by) : { result: h.code, next: undefined };
      c.log(EV.CMD, "alert", { name, id: body.id, by, result: r.result, args: body.args });
      if (r.result === "OK") c.stat({ ref, env, ok: true, img: c.ota.receiving, next: r.next });
      else c.stat({ ref, env, ok: false, code: r.result, ...(!h.ok ? { path: h.path } : {}) });
      return;
    }
    const result = executeCommand(d, name, body.args);
    c.log(EV.CMD, "alert", { name, id: body.id, by, result, args: body.args });
    c.stat(result === "OK" ? { ref, env, ok: true } : { ref, env, ok: false, code: result });
    if (result === "OK") c.changed();
  }

  return {
    onCommand,
    refuse,
    get trustedKeys(): readonly TrustedKey[] {
      return c.trust.keys;
    },
  };
}
