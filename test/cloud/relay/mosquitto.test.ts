/**
 * Two relay processes (the CLI) on a real Mosquitto with the shared subscription $share/relay/…,
 * one SIGKILLed mid-stream while a provider request of it is in flight: every escalation is
 * delivered exactly once. Skipped when mosquitto is not installed (Debian package: mosquitto).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawn, type ChildProcess } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { contactsFor, device, have, sleep, startMockHttp, startMosquitto, tempDir, waitFor } from "./helpers";

const ROOT = join(__dirname, "../../..");
const hasMosquitto = have("mosquitto") !== undefined;
if (!hasMosquitto) console.warn("SKIP test/relay/mosquitto.test.ts: mosquitto binary not found (apt-get install -y mosquitto)");

describe.skipIf(!hasMosquitto)("relay instances on Mosquitto with a shared subscription", () => {
  let tmp: ReturnType<typeof tempDir>;
  let broker: NonNullable<Awaited<ReturnType<typeof startMosquitto>>>;
  let srv: Awaited<ReturnType<typeof startMockHttp>>;
  const procs: ChildProcess[] = [];
  beforeAll(async () => {
    tmp = tempDir();
    broker = (await startMosquitto())!;
    srv = await startMockHttp();
  });
  afterAll(async () => {
    for (const p of procs) if (p.exitCode === null) p.kill("SIGKILL");
    await srv.close();
    await broker.stop();
    tmp.cleanup();
  });

  function relayProc(id: string): Promise<{ p: ChildProcess; log: string[] }> {
    const contacts = join(tmp.dir, "contacts.json");
    writeFileSync(contacts, JSON.stringify(contactsFor(srv.url)));
    const p = spawn(
      process.execPath,
      [
        "--import",
        "tsx",
        "cloud/relay/cli.ts",
        "--broker",
        broker.url,
        "--db",
        join(tmp.dir, "relay.sqlite"),
        "--contacts",
        contacts,
        "--instance",
        id,
        "--lease-ms",
        "1500",
        "--poll-ms",
        "50",
        "--retry-base-ms",
        "100",
        "--no-deadman",
        "--receipt-retry-ms",
        "1000",
      ],
      {
        cwd: ROOT,
        stdio: ["ignore", "ignore", "pipe"],
        env: { ...process.env, TWILIO_BASE_URL: srv.url, TWILIO_ACCOUNT_SID: "AC1", TWILIO_AUTH_TOKEN: "t", TWILIO_FROM: "+15550001111" },
      },
    );
    procs.push(p);
    const log: string[] = [];
    p.stderr?.on("data", (c: Buffer) => log.push(...c.toString().split("\n").filter(Boolean)));
    return waitFor(id + " ready", () => log.some((l) => l.includes("ready")), 15000).then(
      () => ({ p, log }),
      (e) => {
        console.log(id, log);
        throw e;
      },
    );
  }

  it("kills one instance mid-stream: every escalation delivered exactly once", async () => {
    const a = await relayProc("ra");
    const b = await relayProc("rb");
    expect(a.log.join("\n")).toContain("shared subscription $share/relay");
    expect(b.log.join("\n")).toContain("shared subscription $share/relay");
    const delivered = new Map<string, number>();
    let fromA = 0;
    let killed = false;
    srv.respond = async (q) => {
      const comp = /\(ref (s\d+)@/.exec(new URLSearchParams(q.body.toString()).get("Body") ?? "")?.[1] ?? "?";
      if (String(q.headers["user-agent"]).endsWith("/ra") && a.p.exitCode === null && a.p.signalCode === null && (++fromA >= 8 || killed)) {
        // From A's 8th request on, A's requests stay unanswered; 200 ms later (A has committed what
        // it got answers for) A is SIGKILLed with those requests in flight.
        if (!killed) {
          killed = true;
          setTimeout(() => a.p.kill("SIGKILL"), 200);
        }
        return "hang";
      }
      delivered.set(comp, (delivered.get(comp) ?? 0) + 1);
      return 201;
    };
    const d = await device(broker.url, "dk-0001");
    const N = 80;
    for (let i = 0; i < N; i++) {
      await d.evt("relay.request", {
        key: `dk-0001/s${i}@2026-03-10/3.0`,
        ch: "sms",
        to: ["caregiver-1"],
        slot: `s${i}@2026-03-10`,
        comp: `c${i}`,
        step: 3,
        state: "late",
        due: "2026-03-10T07:00:00.000Z",
      });
      await sleep(5);
    }
    await waitFor("A dead", () => a.p.exitCode !== null || a.p.signalCode !== null);
    const a2 = await relayProc("ra"); // the supervisor restarts it with the same id: its broker session comes back
    await waitFor("all delivered", () => delivered.size === N, 8000).catch((e) => {
      console.log(
        "delivered",
        delivered.size,
        "missing",
        [...Array(N).keys()].filter((i) => !delivered.has("s" + i)).join(","),
        "fromA",
        fromA,
        b.log.slice(-5),
      );
      throw e;
    });
    await waitFor("all receipts", () => new Set(d.rcpts.map((r) => r.key)).size === N, 10000);
    await sleep(300);
    expect(killed).toBe(true);
    expect(a.p.exitCode !== null || a.p.signalCode === "SIGKILL").toBe(true);
    expect([...delivered.values()].every((n) => n === 1)).toBe(true);
    expect(delivered.size).toBe(N);
    expect(d.rcpts.every((r) => r.status === "delivered")).toBe(true);
    await d.c.endAsync();
    // Listen before signalling: a process that exits while we wait for the other must not be missed.
    const exited = (p: ChildProcess): Promise<unknown> =>
      p.exitCode !== null || p.signalCode !== null ? Promise.resolve() : new Promise((r) => p.once("exit", r));
    const gone = Promise.all([exited(a2.p), exited(b.p)]);
    a2.p.kill("SIGTERM");
    b.p.kill("SIGTERM");
    await gone;
  }, 60_000);
});
