/** HTTP plumbing of the dashboard server: coded errors, bounded JSON bodies, JSON replies, static types. */
import { randomBytes, timingSafeEqual } from "node:crypto";
import type * as http from "node:http";

/** Bodies over this are refused with 413. */
export const MAX_BODY = 64 * 1024;

export const MIME: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".json": "application/json",
};

export class HttpError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

export function readBody(req: http.IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let n = 0;
    req.on("data", (c: Buffer) => {
      n += c.length;
      if (n > MAX_BODY) {
        // Refused: stop reading; the error handler answers 413 and closes the connection.
        req.pause();
        req.removeAllListeners("data");
        reject(new HttpError(413, "body too large"));
        return;
      }
      chunks.push(c);
    });
    req.on("end", () => {
      if (n === 0) return resolve({});
      let v: unknown;
      try {
        v = JSON.parse(Buffer.concat(chunks).toString("utf8"));
      } catch {
        return reject(new HttpError(400, "body is not JSON"));
      }
      if (typeof v !== "object" || v === null || Array.isArray(v)) return reject(new HttpError(400, "body must be a JSON object"));
      resolve(v);
    });
    req.on("error", reject);
  });
}

export function send(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const s = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", "cache-control": "no-store", ...headers });
  res.end(s);
}

/**
 * What keeps other sites and other hosts from driving the dashboard (it signs with the
 * pharmacist key): every request must name this server in `Host` (no DNS rebinding); every
 * mutating request must come from this origin (`Origin`, when the browser sends it), as JSON (no
 * "simple" cross-site form or text/plain post), and carry the CSRF token that only the page
 * served here holds (`x-csrf-token`).
 */
export class RequestGuard {
  /** Per server run; embedded in the page. */
  readonly csrf = randomBytes(24).toString("base64url");

  constructor(
    private readonly host: string,
    private readonly port: () => number,
  ) {}

  private hosts(): string[] {
    const p = this.port();
    return [`${this.host}:${p}`, `localhost:${p}`, `127.0.0.1:${p}`, `[::1]:${p}`];
  }

  check(req: http.IncomingMessage, method: string): void {
    const host = req.headers.host ?? "";
    if (!this.hosts().includes(host)) throw new HttpError(403, "unknown Host");
    if (method === "GET" || method === "HEAD") return;
    const origin = req.headers.origin;
    if (origin !== undefined && origin !== `http://${host}`) throw new HttpError(403, "cross-origin request refused");
    const type = String(req.headers["content-type"] ?? "");
    if ((req.headers["content-length"] ?? "0") !== "0" && !type.startsWith("application/json")) throw new HttpError(415, "JSON only");
    const t = req.headers["x-csrf-token"];
    const a = Buffer.from(typeof t === "string" ? t : "");
    const b = Buffer.from(this.csrf);
    if (a.length !== b.length || !timingSafeEqual(a, b)) throw new HttpError(403, "CSRF token missing or wrong");
  }
}
