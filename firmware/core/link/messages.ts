/**
 * What the link publishes and reads, as pure functions: the event and telemetry payloads, a
 * command's execution on the dispenser, a receipt's validation; and the rate limit for what
 * anyone allowed to publish on the device's topics can make it log without a key.
 */
import type { Dispenser, DispenserStatus } from "../device-api";
import type { LoggedEvent } from "../log/eventlog";
import { isObj } from "../protocol/json";
import { isoUtc } from "../schedule/civil";
import type { BodyError } from "./body";
import type { Clock } from "../ports";

export const JUNK_LOG_MAX = 10;
export const JUNK_WINDOW_MS = 60_000;

export function errs(list: readonly { code: string; path: string }[]): BodyError[] {
  const out: BodyError[] = [];
  for (let i = 0; i < list.length && i < 8; i++) out.push({ code: list[i].code, path: list[i].path });
  return out;
}

export { versionOf } from "../protocol/json";

/** The evt payload (docs/protocol.md, "Events"). */
export function eventPayload(ev: LoggedEvent): string {
  return JSON.stringify({
    v: 1,
    id: ev.id,
    seq: ev.seq,
    type: ev.type,
    cls: ev.cls,
    t: ev.wall === null ? null : isoUtc(ev.wall),
    mono: ev.mono,
    data: ev.data,
  });
}

/** The tele payload (docs/protocol.md, "Telemetry"). */
export function telePayload(s: DispenserStatus, t: string | null, uptimeS: number): string {
  const faults: string[] = [];
  for (const f of s.faults) if (faults.length < 8) faults.push(f.code + "@" + f.channel);
  return JSON.stringify({
    v: 1,
    t,
    fw: s.firmware,
    cfg: s.config,
    outbox: s.outbox,
    dropped: s.dropped,
    reset: s.resetReason,
    safe: s.safe,
    uptimeS,
    faults,
    stock: s.stock,
    weigh: s.weigh,
  });
}

function num(x: unknown): number | undefined {
  return typeof x === "number" && x - x === 0 ? x : undefined;
}

/** Runs an authenticated command (other than decommission); the result code ("OK" or a refusal). */
export function executeCommand(d: Dispenser, name: string, args: Record<string, unknown>): string {
  switch (name) {
    case "tare": {
      if (args.channel === undefined) return d.tare();
      const ch = num(args.channel);
      return ch === undefined || !Number.isInteger(ch) ? "CMD_ARGS" : d.tare(ch);
    }
    case "calibrate": {
      const ch = num(args.channel);
      const g = num(args.grams);
      if (ch === undefined || !Number.isInteger(ch) || g === undefined) return "CMD_ARGS";
      return d.calibrate(ch, g);
    }
    case "identify": {
      const s = args.seconds === undefined ? 10 : num(args.seconds);
      return s === undefined ? "CMD_ARGS" : d.identify(s);
    }
    case "silence":
      return d.silence();
    case "refill":
      return d.refill(args);
    default:
      return "CMD_UNKNOWN";
  }
}

export type ReceiptCheck =
  | { readonly ok: true; readonly data: Record<string, unknown> }
  | { readonly ok: false; readonly code: "PROTO_VERSION" | "PROTO_FIELD"; readonly detail: string; readonly path?: string };

/** A parsed rcpt message: the relay.receipt event's data, or why it is refused. */
export function checkReceipt(r: unknown): ReceiptCheck {
  if (!isObj(r) || r.v !== 1) return { ok: false, code: "PROTO_VERSION", detail: "rcpt without v:1" };
  const status = r.status;
  if (
    typeof r.key !== "string" ||
    r.key.length > 128 ||
    (status !== "delivered" && status !== "failed" && status !== "cancelled" && status !== "acked")
  ) {
    return { ok: false, code: "PROTO_FIELD", detail: "rcpt key/status", path: typeof r.key !== "string" ? "key" : "status" };
  }
  const data: Record<string, unknown> = { key: r.key, status };
  if (typeof r.ch === "string" && r.ch.length <= 16) data.ch = r.ch;
  if (typeof r.code === "string" && r.code.length <= 48) data.code = r.code;
  // A caregiver acknowledged the slot's escalation (by: their recipient reference; until: ISO time).
  if (typeof r.by === "string" && r.by.length <= 32) data.by = r.by;
  if (typeof r.until === "string" && r.until.length <= 30) data.until = r.until;
  return { ok: true, data };
}

/** At most JUNK_LOG_MAX unauthenticated refusals logged per JUNK_WINDOW_MS; the rest are counted. */
export class JunkLimiter {
  private windowStart = -JUNK_WINDOW_MS;
  private count = 0;
  private suppressed = 0;

  constructor(private readonly clock: Clock) {}

  allowed(): boolean {
    const m = this.clock.monoMs();
    if (m - this.windowStart >= JUNK_WINDOW_MS) {
      this.windowStart = m;
      this.count = 0;
    }
    if (this.count >= JUNK_LOG_MAX) {
      this.suppressed++;
      return false;
    }
    this.count++;
    return true;
  }

  /** `{ suppressed: n }` for the next logged refusal, once. */
  takeSuppressed(): Record<string, unknown> {
    if (this.suppressed === 0) return {};
    const n = this.suppressed;
    this.suppressed = 0;
    return { suppressed: n };
  }
}
