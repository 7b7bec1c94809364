/** The dashboard's audit view: console actions and the pharmacist library's pushes, newest first. */
import type { AuditRecord } from "../../cloud/pharmacist/audit";

/** At most this many entries are kept and shown. */
export const AUDIT_MAX = 500;

export interface AuditEntry {
  /** Real time (ISO) and simulated time (ISO) of the action. */
  readonly at: string;
  readonly simAt: string;
  readonly actor: string;
  readonly action: string;
  readonly device: string;
  readonly detail: Record<string, unknown>;
}

/** Console actions and the pharmacist library's pushes, newest first (real time order). */
export function mergedAudit(audit: readonly AuditEntry[], pharmacist: readonly AuditRecord[]): Record<string, unknown>[] {
  const list: { real: string; e: Record<string, unknown> }[] = audit.map((a) => ({ real: a.at, e: { source: "console", ...a } }));
  for (const r of pharmacist) {
    list.push({
      real: r.time,
      e: {
        source: "pharmacist",
        at: r.time,
        simAt: null,
        actor: `${r.who.user} (key ${r.who.kid})`,
        action: r.action,
        device: r.device,
        detail: {
          version: r.version ?? null,
          ok: r.outcome === "ack",
          outcome: r.outcome,
          code: r.code ?? null,
          kid: r.who.kid,
          env: r.env ?? null,
          errors: r.errors ?? [],
          via: "mqtt",
        },
      },
    });
  }
  list.sort((a, b) => (a.real < b.real ? 1 : a.real > b.real ? -1 : 0));
  return list.slice(0, AUDIT_MAX).map((x) => x.e);
}
