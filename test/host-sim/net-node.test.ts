/** host-sim/net-node.ts: the Node Network port over node:net and node:tls (loopback only). */
import { afterAll, describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import * as tls from "node:tls";
import type { StreamHandlers } from "../../firmware/core/ports";
import { createNodeClock, createNodeNetwork, createNodeTimers } from "../../host-sim/net-node";

function recorder() {
  const ev: string[] = [];
  const data: number[] = [];
  let resolveClose: (r: string) => void = () => {};
  const closed = new Promise<string>((r) => (resolveClose = r));
  const h: StreamHandlers = {
    onConnect: () => ev.push("connect"),
    onData: (b) => {
      expect(b).toBeInstanceOf(Uint8Array);
      data.push(...b);
    },
    onClose: (r) => {
      ev.push("close:" + r);
      resolveClose(r);
    },
  };
  return { ev, data, h, closed };
}

async function listen(server: net.Server): Promise<number> {
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  return (server.address() as net.AddressInfo).port;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function selfSigned(): { key: string; cert: string } | null {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dk-tls-"));
  try {
    const r = spawnSync(
      "openssl",
      [
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        path.join(dir, "k.pem"),
        "-out",
        path.join(dir, "c.pem"),
        "-days",
        "1",
        "-subj",
        "/CN=localhost",
      ],
      { stdio: "ignore", timeout: 60_000 },
    );
    if (r.status !== 0) return null;
    return { key: fs.readFileSync(path.join(dir, "k.pem"), "utf8"), cert: fs.readFileSync(path.join(dir, "c.pem"), "utf8") };
  } catch {
    return null;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

describe("createNodeNetwork", () => {
  const servers: net.Server[] = [];
  afterAll(async () => {
    for (const s of servers) await new Promise((r) => s.close(r));
  });

  it("connects, echoes, reports one close after a local close, and write() is false afterwards", async () => {
    const server = net.createServer((s) => s.pipe(s));
    servers.push(server);
    const port = await listen(server);
    const rec = recorder();
    const conn = createNodeNetwork().connect("127.0.0.1", port, false, rec.h);
    expect(rec.ev).toEqual([]); // never re-entrant from inside connect()
    while (!rec.ev.includes("connect")) await sleep(5);
    expect(conn.write(new Uint8Array([1, 2, 3]))).toBe(true);
    while (rec.data.length < 3) await sleep(5);
    expect(rec.data).toEqual([1, 2, 3]);
    conn.close();
    expect(conn.write(new Uint8Array([4]))).toBe(false);
    expect(await rec.closed).toBe("closed");
    await sleep(20);
    expect(rec.ev).toEqual(["connect", "close:closed"]);
  });

  it("reports a refused connection and a peer close", async () => {
    const probe = net.createServer();
    const port = await listen(probe);
    await new Promise((r) => probe.close(r));
    const rec = recorder();
    createNodeNetwork().connect("127.0.0.1", port, false, rec.h);
    expect(await rec.closed).toBe("refused");
    expect(rec.ev).toEqual(["close:refused"]);

    const server = net.createServer((s) => s.end());
    servers.push(server);
    const p2 = await listen(server);
    const rec2 = recorder();
    const c2 = createNodeNetwork().connect("127.0.0.1", p2, false, rec2.h);
    expect(await rec2.closed).toBe("eof");
    expect(c2.write(new Uint8Array([1]))).toBe(false);
  });

  const pair = selfSigned();
  it.skipIf(pair === null)("TLS: verifies the server certificate and reports 'tls' on failure", async () => {
    const { key, cert } = pair as { key: string; cert: string };
    const server = tls.createServer({ key, cert }, (s) => s.pipe(s));
    servers.push(server);
    const port = await listen(server);
    const bad = recorder();
    createNodeNetwork().connect("localhost", port, true, bad.h);
    expect(await bad.closed).toBe("tls");
    expect(bad.ev).toEqual(["close:tls"]);
    const good = recorder();
    const conn = createNodeNetwork({ tls: { ca: cert } }).connect("localhost", port, true, good.h);
    while (!good.ev.includes("connect")) await sleep(5);
    conn.write(new Uint8Array([9, 8]));
    while (good.data.length < 2) await sleep(5);
    expect(good.data).toEqual([9, 8]);
    conn.close();
    expect(await good.closed).toBe("closed");
  });
});

describe("createNodeTimers / createNodeClock", () => {
  it("once, repeat and cancel", async () => {
    const t = createNodeTimers();
    const clock = createNodeClock();
    const hits: string[] = [];
    const t0 = clock.monoMs();
    t.once(20, () => hits.push("once"));
    const c = t.once(10, () => hits.push("cancelled"));
    t.cancel(c);
    t.cancel(12345); // unknown: ignored
    const rep = t.repeat(8, () => hits.push("rep"));
    await sleep(45);
    t.cancel(rep);
    const n = hits.filter((h) => h === "rep").length;
    expect(n).toBeGreaterThanOrEqual(2);
    expect(hits).toContain("once");
    expect(hits).not.toContain("cancelled");
    await sleep(30);
    expect(hits.filter((h) => h === "rep").length).toBe(n);
    expect(t.pending).toBe(0);
    expect(clock.monoMs() - t0).toBeGreaterThanOrEqual(70);
    expect(typeof clock.wallMs()).toBe("number");
  });
});
