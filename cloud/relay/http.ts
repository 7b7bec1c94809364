/**
 * HTTP API of the relay (node:http): adherence history, FHIR export, schedule upload, audit.
 * Every read of patient history and every config pushed is audited with actor and time.
 *   GET  /api/devices/:id/adherence?from=YYYY-MM-DD&to=YYYY-MM-DD
 *   GET  /api/devices/:id/fhir?from=&to=          (FHIR R4 Bundle of MedicationAdministration)
 *   GET  /api/devices/:id/events?since=ISO&limit=N (stored events, oldest first; newest N; default 24 h, 200)
 *   PUT  /api/devices/:id/config                  (body: config JSON, docs/config.md)
 *   GET  /api/audit?device=&action=&code=&limit=&before=&order=   (newest first; `next` cursor)
 *   GET  /api/audit/verify                         (recomputes the audit hash chain; 409 when broken)
 *   GET  /healthz
 *   POST /hooks/…                                  provider webhooks, signed by the provider (hooks.ts)
 */
import { createHash, timingSafeEqual } from "node:crypto";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { medicationAdministrationBundle } from "../fhir/medication-administration";
import { adherenceByDay, slotRecords, DOSE_EVENT_TYPES } from "./adherence";
import { parseContacts } from "./contacts";
import { scheduleFromConfig } from "./schedules";
import { handleHook, type HookOptions } from "./hooks";
import type { RelayDb } from "./types";
import { DEVICE_ID_RE as DEVICE_RE } from "../../firmware/core/protocol/ids";

export interface RelayHttpOptions {
  db: RelayDb;
  /**
   * Bearer token → actor name. Required: without tokens the API refuses to start unless
   * `insecureDev` is set (then anyone may call it and the actor is the X-Actor header).
   */
  tokens?: Record<string, string>;
  /** Run without authentication (local development only; the CLI says so loudly). */
  insecureDev?: boolean;
  clock?: () => number;
  /** Longest history a request may span. Default 400 days. */
  maxDays?: number;
  /** Key of the audit chain's HMAC (RELAY_AUDIT_KEY), if any. */
  auditKey?: string;
  /** Provider webhooks (/hooks/*: caregiver acknowledgements, status callbacks), signature-checked. */
  hooks?: HookOptions;
  /** The relay's ingest health: /healthz answers 503 "degraded" while the store fails. */
  health?: () => { state: "ok" | "degraded"; since: number | null; lastError: string | null; waiting: number };
}

const DATE_RE = /^\d{4}-\d{2}-\d{2}$/;
const ISO_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?Z$/;

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Token → actor lookup over the given map's own entries only (no prototype: "constructor" or
 * "__proto__" are not tokens), comparing digests in constant time against every entry.
 */
export function tokenTable(map: Record<string, string>): (presented: string) => string | undefined {
  const entries: { digest: Buffer; actor: string }[] = [];
  for (const k of Object.keys(map)) {
    const v = Object.getOwnPropertyDescriptor(map, k)?.value;
    if (typeof v === "string" && k.length >= 16) entries.push({ digest: createHash("sha256").update(k).digest(), actor: v });
  }
  if (entries.length === 0) throw new Error("relay HTTP API: no usable token (tokens are at least 16 characters)");
  return (presented) => {
    const d = createHash("sha256").update(presented).digest();
    let found: string | undefined;
    for (const e of entries) if (timingSafeEqual(e.digest, d)) found = e.actor;
    return found;
  };
}

function send(res: http.ServerResponse, status: number, body: unknown, type = "application/json"): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": type, "content-length": Buffer.byteLength(text), "cache-control": "no-store" });
  res.end(text);
}

async function readBody(req: http.IncomingMessage, max = 256 * 1024): Promise<string> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of req) {
    n += (c as Buffer).length;
    if (n > max) {
      req.pause();
      throw new HttpError(413, "HTTP_TOO_LARGE", "body too large");
    }
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks).toString("utf8");
}

export function createRelayHttpHandler(o: RelayHttpOptions): (req: http.IncomingMessage, res: http.ServerResponse) => void {
  const clock = o.clock ?? Date.now;
  const maxDays = o.maxDays ?? 400;
  if (o.tokens === undefined && o.insecureDev !== true)
    throw new Error("relay HTTP API: tokens required (or insecureDev for local development)");
  const tokens = o.tokens === undefined ? undefined : tokenTable(o.tokens);
  const actorOf = (req: http.IncomingMessage): string => {
    if (tokens !== undefined) {
      const m = /^Bearer ([\x21-\x7e]{1,256})$/.exec(req.headers.authorization ?? "");
      const a = m ? tokens(m[1]) : undefined;
      if (a === undefined) throw new HttpError(401, "HTTP_AUTH", "bearer token required");
      return a;
    }
    const h = req.headers["x-actor"];
    return typeof h === "string" && h.length > 0 && h.length <= 64 ? h : "anonymous";
  };
  const range = (u: URL): { from: string; to: string } => {
    const today = new Date(clock()).toISOString().slice(0, 10);
    const to = u.searchParams.get("to") ?? today;
    const from = u.searchParams.get("from") ?? new Date(Date.parse(to + "T00:00:00Z") - 29 * 86_400_000).toISOString().slice(0, 10);
    if (!DATE_RE.test(from) || !DATE_RE.test(to) || !Number.isFinite(Date.parse(from)) || !Number.isFinite(Date.parse(to)) || from > to)
      throw new HttpError(400, "HTTP_RANGE", "from/to must be YYYY-MM-DD with from <= to");
    if ((Date.parse(to) - Date.parse(from)) / 86_400_000 > maxDays) throw new HttpError(400, "HTTP_RANGE", `at most ${maxDays} days`);
    return { from, to };
  };
  const history = async (device: string, from: string, to: string) => {
    const stored = await o.db.config(device);
    const parsed = stored ? scheduleFromConfig(JSON.parse(stored.json)) : undefined;
    const schedule = parsed?.ok ? parsed.schedule : undefined;
    const events = await o.db.eventsOf(device, DOSE_EVENT_TYPES, { from, to });
    return { schedule, records: slotRecords(events, schedule, from, to, clock()) };
  };

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const u = new URL(req.url ?? "/", "http://relay");
    const path = u.pathname.split("/").filter(Boolean);
    if (req.method === "GET" && u.pathname === "/healthz") {
      const h = o.health?.();
      if (h !== undefined && h.state !== "ok")
        return send(res, 503, { ok: false, state: h.state, db: o.db.kind, since: h.since, waiting: h.waiting });
      return send(res, 200, { ok: true, state: "ok", db: o.db.kind });
    }
    if (await handleHook(req, res, u, () => readBody(req), o.hooks)) return;
    const actor = actorOf(req);
    if (path[0] === "api" && path[1] === "devices" && path.length === 4) {
      const device = path[2];
      if (!DEVICE_RE.test(device)) throw new HttpError(400, "HTTP_DEVICE", "bad device id");
      const what = path[3];
      if (req.method === "GET" && (what === "adherence" || what === "fhir")) {
        const { from, to } = range(u);
        const h = await history(device, from, to);
        await o.db.audit({
          t: clock(),
          actor,
          action: "history.read",
          device,
          code: null,
          detail: JSON.stringify({ what, from, to, slots: h.records.length }),
        });
        if (what === "adherence")
          return send(res, 200, { device, from, to, tz: h.schedule?.config.tz ?? null, days: adherenceByDay(h.records) });
        const book = await o.db.getKv("contacts");
        const patientRef = book ? parseContacts(JSON.parse(book.value)).book.devices[device]?.fhirPatient : undefined;
        return send(
          res,
          200,
          medicationAdministrationBundle(h.records, {
            device,
            ...(h.schedule ? { config: h.schedule.config } : {}),
            ...(patientRef ? { patientRef } : {}),
            nowMs: clock(),
          }),
          "application/fhir+json",
        );
      }
      if (req.method === "GET" && what === "events") {
        const now = clock();
        const sinceText = u.searchParams.get("since");
        const since = sinceText === null ? now - 86_400_000 : Date.parse(sinceText);
        if (!Number.isFinite(since) || (sinceText !== null && !ISO_RE.test(sinceText)) || (now - since) / 86_400_000 > maxDays)
          throw new HttpError(400, "HTTP_RANGE", `since: an ISO UTC time at most ${maxDays} days back`);
        const limitText = u.searchParams.get("limit") ?? "200";
        const limit = /^\d{1,4}$/.test(limitText) ? Number(limitText) : NaN;
        if (!(limit >= 1 && limit <= 5000)) throw new HttpError(400, "HTTP_LIMIT", "limit: 1..5000");
        // Day-indexed read (a slot's day may be the UTC day before its time), then the exact cut.
        const day = (ms: number): string => new Date(ms).toISOString().slice(0, 10);
        const all = await o.db.eventsOf(device, undefined, { from: day(since - 86_400_000), to: day(Math.max(now, since) + 86_400_000) });
        const events = all.filter((e) => (e.tMs ?? e.receivedAt) >= since).slice(-limit);
        await o.db.audit({
          t: now,
          actor,
          action: "history.read",
          device,
          code: null,
          detail: JSON.stringify({ what, since: new Date(since).toISOString(), events: events.length }),
        });
        return send(res, 200, {
          device,
          since: new Date(since).toISOString(),
          events: events.map((e) => ({
            id: e.id,
            seq: e.seq,
            type: e.type,
            t: e.tMs === null ? null : new Date(e.tMs).toISOString(),
            slot: e.slot,
            data: e.data,
            receivedAt: new Date(e.receivedAt).toISOString(),
          })),
        });
      }
      if (req.method === "PUT" && what === "config") {
        let input: unknown;
        try {
          input = JSON.parse(await readBody(req));
        } catch (e) {
          if (e instanceof HttpError) throw e;
          throw new HttpError(400, "RELAY_JSON", "body is not JSON");
        }
        if (typeof input !== "object" || input === null || Array.isArray(input))
          throw new HttpError(400, "RELAY_JSON", "body must be a JSON object");
        const r = scheduleFromConfig(input);
        const t = clock();
        if (!r.ok || r.schedule.config.device !== device) {
          const errors = r.ok ? [{ code: "CFG_DEVICE", path: "device" }] : r.errors.slice(0, 20);
          await o.db.audit({
            t,
            actor,
            action: "config.refused",
            device,
            code: errors[0]?.code ?? "CFG",
            detail: JSON.stringify({ errors }),
          });
          return send(res, 422, { ok: false, errors });
        }
        const prev = await o.db.config(device);
        if (prev && prev.version >= r.schedule.config.version) {
          await o.db.audit({
            t,
            actor,
            action: "config.refused",
            device,
            code: "CFG_STALE",
            detail: JSON.stringify({ version: r.schedule.config.version, running: prev.version }),
          });
          return send(res, 409, { ok: false, errors: [{ code: "CFG_STALE", path: "version" }], running: prev.version });
        }
        await o.db.putConfig({ device, version: r.schedule.config.version, json: JSON.stringify(r.schedule.config), updatedAt: t, actor });
        await o.db.audit({
          t,
          actor,
          action: "config.pushed",
          device,
          code: null,
          detail: JSON.stringify({ version: r.schedule.config.version }),
        });
        return send(res, 200, { ok: true, version: r.schedule.config.version });
      }
    }
    if (req.method === "GET" && path.join("/") === "api/audit") {
      const f = {
        ...(u.searchParams.get("device") ? { device: u.searchParams.get("device") as string } : {}),
        ...(u.searchParams.get("action") ? { action: u.searchParams.get("action") as string } : {}),
        ...(u.searchParams.get("code") ? { code: u.searchParams.get("code") as string } : {}),
        limit: Math.max(1, Math.min(1000, Math.floor(Number(u.searchParams.get("limit") ?? 100)) || 100)),
        newest: u.searchParams.get("order") !== "asc",
        ...(/^\d{1,15}$/.test(u.searchParams.get("before") ?? "") ? { before: Number(u.searchParams.get("before")) } : {}),
      };
      const list = await o.db.auditList(f);
      await o.db.audit({ t: clock(), actor, action: "audit.read", device: f.device ?? null, code: null, detail: JSON.stringify(f) });
      // Newest first by default; `next` is the cursor of the following (older) page.
      const next = f.newest && list.length === f.limit ? list[list.length - 1].id : null;
      return send(res, 200, { entries: list, next });
    }
    if (req.method === "GET" && path.join("/") === "api/audit/verify") {
      const v = await o.db.verifyAudit(o.auditKey);
      await o.db.audit({
        t: clock(),
        actor,
        action: "audit.verified",
        device: null,
        code: v.ok ? null : "AUDIT_BROKEN",
        detail: JSON.stringify(v),
      });
      return send(res, v.ok ? 200 : 409, v);
    }
    throw new HttpError(404, "HTTP_NOT_FOUND", "no such route");
  };
  return (req, res) => {
    handle(req, res).catch((e: unknown) => {
      if (e instanceof HttpError) {
        // A refused upload is not read further: answer, then close the connection.
        if (e.status === 413) res.setHeader("connection", "close");
        send(res, e.status, { ok: false, code: e.code, message: e.message });
        if (e.status === 413) res.once("finish", () => req.destroy());
      } else {
        send(res, 500, { ok: false, code: "HTTP_INTERNAL", message: "internal error" });
      }
    });
  };
}

export async function startRelayHttp(
  o: RelayHttpOptions & { port?: number; host?: string },
): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer(createRelayHttpHandler(o));
  await new Promise<void>((r, j) => {
    server.once("error", j);
    server.listen(o.port ?? 0, o.host ?? "127.0.0.1", () => r());
  });
  const a = server.address() as AddressInfo;
  return {
    url: `http://${a.address}:${a.port}`,
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
