/**
 * The dashboard server against hostile requests: cross-site and DNS-rebinding requests, posts
 * without the page's CSRF token, bad and huge bodies, and event-stream clients that never read.
 */
import * as http from "node:http";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Fleet } from "../../../host-sim/live/fleet";
import { StandInTransport } from "../../../host-sim/live/stand-in-transport";
import { SSE_MAX_CLIENTS, startServer, type RunningServer } from "../../../host-sim/server/server";

const ROOT = path.resolve(__dirname, "../../..");
const config = JSON.parse(readFileSync(path.join(ROOT, "test/scenarios/configs/home.json"), "utf8")) as Record<string, unknown>;

let fleet: Fleet;
let server: RunningServer;
let csrf = "";

/** A raw HTTP request (fetch would not let us set Host). */
function raw(method: string, p: string, headers: Record<string, string>, body = ""): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: "127.0.0.1", port: server.port, method, path: p, headers: { "content-length": String(Buffer.byteLength(body)), ...headers } },
      (res) => {
        let text = "";
        res.on("data", (c) => (text += c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

beforeAll(async () => {
  fleet = new Fleet({
    start: Date.parse("2026-03-10T06:30:00Z"),
    warp: 0,
    devices: 1,
    baseConfig: config,
    transport: new StandInTransport(),
  });
  server = await startServer({ fleet, port: 0 });
  const page = await (await fetch(server.url)).text();
  csrf = /name="dk-csrf" content="([^"]+)"/.exec(page)?.[1] ?? "";
});
afterAll(async () => {
  await server.close();
  fleet.stop();
});

describe("dashboard server guard", () => {
  const host = () => `127.0.0.1:${server.port}`;
  const act = JSON.stringify({ do: "button", kind: "short" });

  it("the page carries a CSRF token, and a same-origin JSON post with it works", async () => {
    expect(csrf.length).toBeGreaterThan(20);
    const r = await raw(
      "POST",
      "/api/devices/dk-sim-1/act",
      { host: host(), origin: `http://${host()}`, "content-type": "application/json", "x-csrf-token": csrf },
      act,
    );
    expect(r.status).toBe(200);
  });

  it("refuses cross-site, text/plain, token-less and DNS-rebinding requests", async () => {
    const cases: [Record<string, string>, number][] = [
      [{ host: host(), origin: "http://evil.example", "content-type": "application/json", "x-csrf-token": csrf }, 403],
      [{ host: host(), origin: `http://${host()}`, "content-type": "text/plain", "x-csrf-token": csrf }, 415],
      [{ host: host(), "content-type": "application/json" }, 403],
      [{ host: host(), "content-type": "application/json", "x-csrf-token": "x".repeat(csrf.length) }, 403],
      [{ host: "evil.example:80", "content-type": "application/json", "x-csrf-token": csrf }, 403],
    ];
    for (const [h, want] of cases)
      expect((await raw("POST", "/api/devices/dk-sim-1/push", h, JSON.stringify({ config: { doses: [] } }))).status).toBe(want);
    expect((await raw("GET", "/api/state", { host: "evil.example" })).status).toBe(403);
  });

  it("bad bodies are 400 without internals, huge ones 413", async () => {
    const ok = { host: host(), "content-type": "application/json", "x-csrf-token": csrf };
    for (const b of ["null", "[]", "7", "{"]) {
      const r = await raw("POST", "/api/warp", ok, b);
      expect(r.status).toBe(400);
      expect(r.text).not.toMatch(/at .*\.ts/);
    }
    expect((await raw("POST", "/api/warp", ok, "x".repeat(70 * 1024))).status).toBe(413);
  });

  it("event-stream clients are bounded: beyond SSE_MAX_CLIENTS a new one is refused 503", async () => {
    const socks: http.ClientRequest[] = [];
    const statuses: number[] = [];
    for (let i = 0; i < SSE_MAX_CLIENTS + 3; i++) {
      await new Promise<void>((resolve) => {
        const req = http.request({ host: "127.0.0.1", port: server.port, path: "/api/stream", headers: { host: host() } }, (res) => {
          statuses.push(res.statusCode ?? 0);
          res.pause(); // never reads
          resolve();
        });
        req.on("error", () => resolve());
        req.end();
        socks.push(req);
      });
    }
    expect(statuses.filter((s) => s === 200).length).toBe(SSE_MAX_CLIENTS);
    expect(statuses.filter((s) => s === 503).length).toBe(3);
    for (const s of socks) s.destroy();
  });
});
