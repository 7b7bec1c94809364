/**
 * Live simulator web server (Node only): static dashboard, JSON API, Server-Sent Events.
 *
 *   GET  /                              dashboard (host-sim/dashboard/static)
 *   GET  /validator.js                  firmware/core/config.ts bundled for the browser (esbuild, at start)
 *   GET  /api/state                     fleet snapshot
 *   GET  /api/stream                    SSE: "state" (snapshot) and "lines" (new timeline lines per device)
 *   POST /api/warp {warp}               change the time warp (0 = pause)
 *   POST /api/jump {to}                 "next-dose" | ISO instant | {"byMs": n}
 *   POST /api/devices                   add a dispenser
 *   POST /api/devices/:id/act {…}       remove/add/lift/bump/button/power-cut/reboot/network
 *   GET  /api/devices/:id/config        running config (as last accepted) and hardware limits
 *   POST /api/devices/:id/validate      validateConfig (the device's validator) → {ok, errors}
 *   POST /api/devices/:id/push {config} sign and push; → acknowledgement or coded refusal
 *   GET  /api/devices/:id/adherence     per-day adherence (audited)
 *   GET  /api/devices/:id/fhir          FHIR Bundle download (audited)
 *   GET  /api/audit                     audit log (console actions + the pharmacist library's push log)
 *   GET  /api/relay-audit               the relay's audit (GET <relay>/api/audit)
 *   GET  /api/notifications             notifications the relay sent (console provider)
 *   POST /api/notifications/ack {n}     the recipient of notification n replies OK (caregiver acknowledgement)
 *   SSE  "notify"                       each new notification
 */
import * as http from "node:http";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import * as path from "node:path";
import { build } from "esbuild";
import { HttpError, MIME, readBody, RequestGuard, send } from "./http-util";
import { AUDIT_MAX, type AuditEntry, mergedAudit } from "./audit";

export type { AuditEntry };
import { validateConfig } from "../../firmware/core/config/validate";
import { DEFAULT_CHANNELS, DEFAULT_LEDS, type Action, type Fleet } from "../live/fleet";
import { DEVICE_STEPS, readStepFields, type StepKind } from "../kernel/scenario/steps";
import { fhirBundle, type DayAdherence } from "../live/history";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const STATIC_DIR = path.resolve(HERE, "../dashboard/static");
const CONFIG_TS = path.resolve(HERE, "../../firmware/core/config/validate.ts");
const STREAM_MS = 200;
/** Bytes an event-stream client may leave unread before it is dropped. */
export const SSE_MAX_BUFFERED = 1024 * 1024;
/** Event-stream clients at once (a new one beyond is refused 503). */
export const SSE_MAX_CLIENTS = 64;

/** Where adherence history and FHIR exports come from: local device events now, the relay API later. */
export interface HistorySource {
  readonly kind: "local" | "relay";
  adherence(device: string): Promise<DayAdherence[] | undefined>;
  fhir(device: string): Promise<unknown | undefined>;
}

export function localHistory(fleet: Fleet): HistorySource {
  return {
    kind: "local",
    adherence: async (id) => fleet.get(id)?.history.perDay(),
    fhir: async (id) => {
      const d = fleet.get(id);
      return d === undefined ? undefined : fhirBundle(id, d.history.records, fleet.sched.now);
    },
  };
}

/** A notification as the dashboard shows it (host-sim/live/stack.ts NotificationFeed). */
export interface NotificationSource {
  readonly items: readonly { readonly n: number }[];
  after(n: number): { readonly n: number }[];
  onAdd(cb: () => void): () => void;
}

export interface ServerOptions {
  readonly fleet: Fleet;
  /** Preferred port (default 8080); 0 = ephemeral. Falls back to a free port when busy. */
  readonly port?: number;
  readonly host?: string;
  readonly history?: HistorySource;
  /** Who the console acts as in the audit log. */
  readonly actor?: string;
  /** Notifications sent by the relay (Notifications panel). */
  readonly notifications?: NotificationSource;
  /** Cloud view merged into the state snapshot as `relay` (device online/offline as the relay sees it). */
  readonly cloud?: { snapshot(): unknown };
  /** The relay's audit entries. */
  readonly relayAudit?: (limit: number) => Promise<Record<string, unknown>[]>;
  /** Acknowledge notification `n` as its recipient would (SMS reply "OK"): docs/relay.md, "Acknowledgement". */
  readonly acknowledge?: (n: number) => Promise<{ ok: boolean; code?: string; until?: number }>;
}

export interface RunningServer {
  readonly url: string;
  readonly port: number;
  readonly audit: AuditEntry[];
  close(): Promise<void>;
}

async function bundleValidator(): Promise<string> {
  const r = await build({
    entryPoints: [CONFIG_TS],
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    write: false,
    logLevel: "silent",
  });
  return r.outputFiles[0].text;
}

/** A dashboard action: a device step of the scenario vocabulary (docs/scenarios.md), checked the same way. */
function parseAction(b: unknown): Action {
  if (typeof b !== "object" || b === null || Array.isArray(b)) throw new HttpError(400, "action must be an object");
  const r = b as Record<string, unknown>;
  if (typeof r.do !== "string" || DEVICE_STEPS.indexOf(r.do as StepKind) < 0)
    throw new HttpError(400, `unknown action ${JSON.stringify(r.do)}`);
  const faults: string[] = [];
  const fields = readStepFields(r, r.do as StepKind, (f, m) => void faults.push(`${f}: ${m}`));
  if (faults.length > 0) throw new HttpError(400, faults.join("; "));
  return fields;
}

export async function startServer(o: ServerOptions): Promise<RunningServer> {
  const host = o.host ?? "127.0.0.1";
  let listening = 0;
  const guard = new RequestGuard(host, () => listening);
  const fleet = o.fleet;
  const history = o.history ?? localHistory(fleet);
  const actor = o.actor ?? "pharmacist@console";
  const audit: AuditEntry[] = [];
  const validatorJs = await bundleValidator();
  const clients = new Set<{ res: http.ServerResponse; sent: Map<string, number>; notified: number }>();
  const sockets = new Set<import("node:net").Socket>();

  const record = (action: string, device: string, detail: Record<string, unknown>): void => {
    audit.push({ at: new Date().toISOString(), simAt: new Date(fleet.sched.now).toISOString(), actor, action, device, detail });
    if (audit.length > AUDIT_MAX) audit.shift();
  };

  // ---------------------------------------------------------------- SSE
  let flushTimer: ReturnType<typeof setTimeout> | undefined;
  const flush = (): void => {
    flushTimer = undefined;
    if (clients.size === 0) return;
    const state = JSON.stringify({ ...fleet.snapshot(), relay: o.cloud?.snapshot() ?? null });
    for (const c of clients) {
      // A client that does not read (its socket buffer keeps growing) is dropped: it reconnects
      // when it can, and the server's memory stays bounded whatever the clients do.
      if (c.res.writableLength > SSE_MAX_BUFFERED) {
        clients.delete(c);
        c.res.destroy();
        continue;
      }
      const lines: Record<string, unknown[]> = {};
      let any = false;
      for (const d of fleet.devices.values()) {
        const after = c.sent.get(d.id) ?? 0;
        const ls = d.linesAfter(after);
        if (ls.length > 0) {
          lines[d.id] = ls;
          c.sent.set(d.id, ls[ls.length - 1].n);
          any = true;
        }
      }
      c.res.write(`event: state\ndata: ${state}\n\n`);
      if (any) c.res.write(`event: lines\ndata: ${JSON.stringify(lines)}\n\n`);
      const fresh = o.notifications?.after(c.notified) ?? [];
      if (fresh.length > 0) {
        c.notified = fresh[fresh.length - 1].n;
        c.res.write(`event: notify\ndata: ${JSON.stringify(fresh.slice(-50))}\n\n`);
      }
    }
  };
  const kickFlush = (): void => {
    if (flushTimer === undefined && clients.size > 0) flushTimer = setTimeout(flush, STREAM_MS);
  };
  const unsubscribe = fleet.onChange(kickFlush);
  const unsubscribeNotify = o.notifications?.onAdd(kickFlush);
  // Keep the clock display moving when nothing else changes (and keep proxies from closing the stream).
  const heartbeat = setInterval(() => {
    if (clients.size > 0 && flushTimer === undefined) flushTimer = setTimeout(flush, 0);
  }, 1000);

  const device = (id: string) => {
    const d = fleet.get(id);
    if (d === undefined) throw new HttpError(404, `no device ${id}`);
    return d;
  };

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? "/", "http://localhost");
    const p = url.pathname;
    const m = req.method ?? "GET";
    guard.check(req, m);
    if (m === "GET" && p === "/api/stream") {
      if (clients.size >= SSE_MAX_CLIENTS) throw new HttpError(503, "too many event streams");
      res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-store", connection: "keep-alive" });
      const c = { res, sent: new Map<string, number>(), notified: 0 };
      clients.add(c);
      req.on("close", () => clients.delete(c));
      res.write(": dosekeeper\n\n");
      flush();
      return;
    }
    // The simulator's clock, for the pharmacist tools that sign on simulated time (docs/pharmacist.md).
    if (m === "GET" && p === "/api/clock") return send(res, 200, { now: fleet.sched.now, warp: fleet.sched.warp });
    if (m === "GET" && p === "/api/state") return send(res, 200, { ...fleet.snapshot(), relay: o.cloud?.snapshot() ?? null });
    if (m === "GET" && p === "/api/audit") return send(res, 200, mergedAudit(audit, fleet.transport.auditRecords?.() ?? []));
    if (m === "GET" && p === "/api/notifications") return send(res, 200, o.notifications?.items.slice(-100) ?? []);
    if (m === "GET" && p === "/api/relay-audit") {
      if (o.relayAudit === undefined) return send(res, 200, { available: false, entries: [] });
      const entries = await o.relayAudit(80);
      return send(res, 200, { available: true, entries });
    }
    if (m === "POST" && p === "/api/notifications/ack") {
      const b = (await readBody(req)) as { n?: unknown };
      if (o.acknowledge === undefined) throw new HttpError(404, "no relay");
      if (typeof b.n !== "number" || !Number.isInteger(b.n)) throw new HttpError(400, "n: a notification number");
      return send(res, 200, await o.acknowledge(b.n));
    }
    if (m === "POST" && p === "/api/warp") {
      const b = (await readBody(req)) as { warp?: unknown };
      if (typeof b.warp !== "number" || !(b.warp >= 0)) throw new HttpError(400, "warp: number >= 0");
      fleet.setWarp(b.warp);
      return send(res, 200, { warp: fleet.sched.warp });
    }
    if (m === "POST" && p === "/api/jump") {
      const b = (await readBody(req)) as { to?: unknown; byMs?: unknown };
      let at: number | undefined;
      if (b.to === "next-dose") at = await fleet.jumpToNextDose(typeof b.byMs === "number" ? b.byMs : 0);
      else if (typeof b.byMs === "number" && b.byMs > 0 && b.byMs <= 30 * 86_400_000) {
        fleet.sched.sync();
        at = fleet.sched.now + b.byMs;
        await fleet.jumpTo(at);
      } else if (typeof b.to === "string" && Number.isFinite(Date.parse(b.to))) {
        at = Date.parse(b.to);
        if (at - fleet.sched.now > 30 * 86_400_000) throw new HttpError(400, "at most 30 days ahead");
        await fleet.jumpTo(at);
      } else throw new HttpError(400, 'to: "next-dose" or an ISO instant, or byMs');
      return send(res, 200, { now: fleet.sched.now, target: at ?? null, calling: b.to === "next-dose" ? fleet.calling() : [] });
    }
    if (m === "POST" && p === "/api/devices") {
      try {
        const d = fleet.addDevice();
        record("device.add", d.id, {});
        return send(res, 201, { id: d.id });
      } catch (e) {
        throw new HttpError(409, (e as Error).message);
      }
    }
    const dm = /^\/api\/devices\/([a-z0-9_-]{1,32})\/([a-z]+)$/.exec(p);
    if (dm !== null) {
      const d = device(dm[1]);
      const verb = dm[2];
      if (m === "POST" && verb === "act") {
        const a = parseAction(await readBody(req));
        const r = d.act(a);
        fleet.changed();
        return send(res, r.ok ? 200 : 409, r);
      }
      if (m === "GET" && verb === "config") {
        return send(res, 200, {
          config: d.sim.lastConfig,
          hw: { channels: DEFAULT_CHANNELS, leds: DEFAULT_LEDS },
          running: d.sim.status().alive ? (d.snapshot().config ?? null) : null,
        });
      }
      if (m === "POST" && verb === "validate") {
        const b = (await readBody(req)) as { config?: unknown };
        const v = validateConfig(b.config, { channels: DEFAULT_CHANNELS, leds: DEFAULT_LEDS });
        return send(res, 200, v.ok ? { ok: true } : { ok: false, errors: v.errors });
      }
      if (m === "POST" && verb === "push") {
        const b = (await readBody(req)) as { config?: unknown; noValidate?: unknown };
        const out = await fleet.transport.pushConfig(d, b.config, actor, { noValidate: b.noValidate === true });
        // With the MQTT transport the pharmacist library writes the push to its own audit log.
        if (fleet.transport.auditRecords === undefined) {
          record("config.push", d.id, {
            version: out.version,
            ok: out.ok,
            code: out.code ?? null,
            kid: out.kid,
            via: out.via,
            ...(out.ok ? { hash: out.hash, deferred: out.deferred } : { errors: out.errors }),
          });
        }
        fleet.changed();
        return send(res, 200, out);
      }
      if (m === "POST" && verb === "refill") {
        // The refill check (docs/pharmacist.md, refill): a signed command; the device's verdict is its event.
        const b = (await readBody(req)) as { comp?: unknown; doses?: unknown };
        if (fleet.transport.sendCommand === undefined) throw new HttpError(404, "no MQTT transport");
        const n0 = d.linesAfter(0).at(-1)?.n ?? 0;
        const out = await fleet.transport.sendCommand(d, "refill", { comp: b.comp, doses: b.doses });
        const verdict = d.linesAfter(n0).find((l) => typeof l.d.type === "string" && l.d.type.startsWith("refill."));
        fleet.changed();
        return send(res, 200, { ...out, verdict: verdict ? { type: verdict.d.type, ...(verdict.d.data as object) } : null });
      }
      if (m === "GET" && verb === "adherence") {
        const days = await history.adherence(d.id);
        record("history.read", d.id, { source: history.kind });
        return send(res, 200, { device: d.id, source: history.kind, days: days ?? [] });
      }
      if (m === "GET" && verb === "fhir") {
        const bundle = await history.fhir(d.id);
        record("fhir.export", d.id, { source: history.kind });
        return send(res, 200, bundle ?? {}, {
          "content-type": "application/fhir+json; charset=utf-8",
          "content-disposition": `attachment; filename="${d.id}-fhir.json"`,
        });
      }
      throw new HttpError(404, "not found");
    }
    if (m === "GET" && p === "/validator.js") {
      res.writeHead(200, { "content-type": MIME[".js"], "cache-control": "no-store" });
      res.end(validatorJs);
      return;
    }
    if (m === "GET" && !p.startsWith("/api/")) {
      const rel = p === "/" ? "index.html" : p.slice(1);
      if (!/^[a-z0-9_-]+(\.[a-z0-9]+)$/i.test(rel)) throw new HttpError(404, "not found");
      const file = path.join(STATIC_DIR, rel);
      let data: Buffer;
      try {
        data = await readFile(file);
      } catch {
        throw new HttpError(404, "not found");
      }
      // The page carries the CSRF token: only a same-origin page can read it.
      if (rel === "index.html")
        data = Buffer.from(data.toString("utf8").replace("<head>", `<head>\n<meta name="dk-csrf" content="${guard.csrf}">`));
      res.writeHead(200, { "content-type": MIME[path.extname(rel)] ?? "application/octet-stream", "cache-control": "no-store" });
      res.end(data);
      return;
    }
    throw new HttpError(404, "not found");
  };

  const server = http.createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      const status = e instanceof HttpError ? e.status : 500;
      if (status === 500) console.error("[server]", e);
      // Internal errors say nothing of the inside.
      const message = status === 500 ? "internal error" : e instanceof Error ? e.message : String(e);
      if (!res.headersSent) {
        if (status === 413) res.setHeader("connection", "close");
        send(res, status, { error: message });
        if (status === 413) res.once("finish", () => req.destroy());
      } else res.end();
    });
  });
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });

  const listen = (port: number): Promise<number> =>
    new Promise((resolve, reject) => {
      const onErr = (e: NodeJS.ErrnoException): void => {
        server.off("listening", onOk);
        reject(e);
      };
      const onOk = (): void => {
        server.off("error", onErr);
        resolve((server.address() as import("node:net").AddressInfo).port);
      };
      server.once("error", onErr);
      server.once("listening", onOk);
      server.listen(port, host);
    });
  let port: number;
  try {
    port = await listen(o.port ?? 8080);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EADDRINUSE") throw e;
    port = await listen(0);
  }
  listening = port;

  return {
    url: `http://${host}:${port}/`,
    port,
    audit,
    close: async () => {
      unsubscribe();
      unsubscribeNotify?.();
      clearInterval(heartbeat);
      if (flushTimer !== undefined) clearTimeout(flushTimer);
      for (const c of clients) c.res.end();
      clients.clear();
      await new Promise<void>((r) => {
        server.close(() => r());
        for (const s of sockets) s.destroy();
      });
    },
  };
}
