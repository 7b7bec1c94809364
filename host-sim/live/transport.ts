/**
 * How the live simulator's devices talk to the cloud side (Node only).
 *
 * - "mqtt" (default of `npm start`): each SimDevice boots with `link` = createLink(...)
 *   (firmware/core/link.ts, the device's real MQTT session) over a Node socket to the broker.
 *   The link runs on REAL timers and a real monotonic clock (keep-alive, backoff, telemetry are
 *   wall-clock protocol timers: at 3600× virtual ones would fire thousands of times a second),
 *   while `clock.wallMs` stays the device's virtual wall clock (config expiry) and `kv` its NVS.
 *   A power cut closes the device's socket without DISCONNECT (the broker publishes its will)
 *   and cancels the link's timers; "network down" refuses connections and drops the open one.
 *   Pushes go through cloud/pharmacist (signed envelope retained on dk/<id>/cmnd/config, ack
 *   awaited on dk/<id>/stat), with the audit log of the pharmacist library.
 * - "stand-in": SimDevice's built-in uplink acknowledges events; a config push is signed
 *   with an ephemeral console key (cloud/signing.ts), verified against that trusted key
 *   (openEnvelope), its body checked (checkConfigBody) and handed to the device core exactly as the
 *   device link would; the acknowledgement or coded refusal comes from the core's own events.
 * docs/simulator.md.
 */
import type { LinkFactory } from "../kernel/device/sim-device";
import type { AuditRecord } from "../../cloud/pharmacist/audit";
import type { PushTarget } from "./types";

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
  /** Refused by the pharmacist library's own check: nothing was published. */
  readonly local?: boolean;
}

/** What a transport may ask of the fleet for a device's link callbacks. */
export interface DeviceHooks {
  /** Bring virtual time up to the real-time mapping (before handing the device news). */
  sync(): void;
  /** Run device code: a simulated torn write ends the incarnation; other errors are reported. */
  guard(fn: () => void): void;
}

export interface PushOptions {
  /** Let the device judge (no local validation by the pharmacist library). */
  readonly noValidate?: boolean;
}

export interface DeviceTransport {
  readonly kind: "stand-in" | "mqtt";
  /** Link for a new SimDevice; undefined = SimDevice's built-in uplink stand-in. */
  linkFor(deviceId: string, hooks: DeviceHooks): LinkFactory | undefined;
  /** Sign and deliver a config to a device; resolves with its acknowledgement or coded refusal. */
  pushConfig(dev: PushTarget, config: unknown, by: string, opts?: PushOptions): Promise<PushOutcome>;
  /** Sign and send a command (refill, identify…) at the device's time; its answer or coded refusal. */
  sendCommand?(dev: PushTarget, name: string, args: Record<string, unknown>): Promise<{ ok: boolean; code?: string; id: string }>;
  /** The device lost power (its "power off" line): end its link without a goodbye. */
  powerOff?(deviceId: string): void;
  /** The dashboard dropped or restored the device's network. */
  networkChanged?(deviceId: string, up: boolean): void;
  /** State of the device's MQTT session ("connected", "connecting", "waiting" …). */
  linkState?(deviceId: string): string | undefined;
  /** The config body pushed with this version (to follow what the device accepted). */
  pushedConfig?(deviceId: string, version: number): Record<string, unknown> | undefined;
  /** Audit records of the pushes (pharmacist audit log), newest last. */
  auditRecords?(): AuditRecord[];
  close(): Promise<void>;
}

/** Validity of a signed config body. */
export const BODY_LIFETIME_MS = 24 * 3_600_000;

export function num(x: unknown): number | null {
  return typeof x === "number" ? x : null;
}
