/**
 * Relay benchmark (npm run bench:relay): on loopback, with Mosquitto when installed (else aedes),
 *  1. latency from the device's publish to the provider's HTTP request (p50/p99), paced traffic;
 *  2. relay throughput (relay.request → provider request) vs. the raw broker forwarding rate
 *     (QoS 1 publish → QoS 1 subscriber), measured in the same run, the same way: the same
 *     publisher (this process, all N publishes at once) with the same payloads; the consumer —
 *     a bare MQTT subscriber, or the relay — runs in its own process, and the clock stops at the
 *     consumer's last effect (last message received / last provider request received).
 * The provider (a Twilio-compatible mock) runs in a third process: it stands for Twilio, whose
 * work is not the relay's. Timestamps cross processes as performance.timeOrigin + performance.now().
 * Writes bench/results/relay.md.
 *
 * Env: BENCH_LAT_N (400), BENCH_TP_N (3000), BENCH_BATCH=off (relay with batch: false), BENCH_INSTANCES (1),
 * BENCH_RELAY_DIR (directory holding service.ts and db.ts, default cloud/relay: to measure another
 * version), BENCH_NO_WRITE=1 (print only), BENCH_PROF_DIR (CPU profiles of the child processes).
 */
import { fork, type ChildProcess } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import mqtt from "mqtt";
import type { IngestOptions } from "../cloud/relay/options";
import { contactsFor, providersFor, startAedes, startMockHttp, startMosquitto, tempDir, waitFor } from "../test/cloud/relay/helpers";
import { NatsCluster, natsBin } from "../test/support/nats";

const HERE = dirname(fileURLToPath(import.meta.url));
const LAT_N = Number(process.env.BENCH_LAT_N ?? 400);
const TP_N = Number(process.env.BENCH_TP_N ?? 3000);
const BATCH = process.env.BENCH_BATCH !== "off";
const INSTANCES = Math.max(1, Number(process.env.BENCH_INSTANCES ?? 1));
const RELAY_DIR = resolve(process.env.BENCH_RELAY_DIR ?? join(HERE, "../cloud/relay"));

const abs = (): number => performance.timeOrigin + performance.now();
const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};

type Msg = { id?: number; [k: string]: unknown };

/** What a child needs of the engine under test (BENCH_ENGINE, JSON): credentials and ingest mode. */
interface EngineSpec {
  mqtt?: { username: string; password: string };
  ingest?: IngestOptions;
}
const ENGINE = JSON.parse(process.env.BENCH_ENGINE ?? "{}") as EngineSpec;

// ---------------------------------------------------------------- child roles
/** Answers {id, cmd:"wait", count} once `count` events were seen, with the time of the count-th. */
function serveWaits(times: () => number[]): (m: Msg) => boolean {
  const waits: { id: number; count: number }[] = [];
  const check = (): void => {
    const ts = times();
    for (let i = waits.length - 1; i >= 0; i--) {
      if (ts.length >= waits[i].count) {
        process.send!({ id: waits[i].id, t: ts[waits[i].count - 1], count: ts.length });
        waits.splice(i, 1);
      }
    }
  };
  setInterval(check, 1).unref();
  return (m) => {
    if (m.cmd === "wait") {
      waits.push({ id: m.id as number, count: m.count as number });
      check();
      return true;
    }
    if (m.cmd === "count") {
      process.send!({ id: m.id, count: times().length });
      return true;
    }
    if (m.cmd === "cpu") {
      const u = process.cpuUsage();
      process.send!({ id: m.id, cpuUs: u.user + u.system });
      return true;
    }
    return false;
  };
}

async function child(role: string): Promise<void> {
  const exit = (): void => {
    process.exit(0);
  };
  process.on("disconnect", exit);
  if (role === "provider") {
    const srv = await startMockHttp();
    const times: number[] = [];
    const base = performance.timeOrigin;
    const wait = serveWaits(() => {
      while (times.length < srv.requests.length) times.push(base + srv.requests[times.length].at);
      return times;
    });
    process.on("message", (m: Msg) => {
      if (m.cmd === "refs") {
        // time of the first provider request per slot reference "(ref <slot>)"
        const out: Record<string, number> = {};
        for (const q of srv.requests.slice(m.since as number)) {
          const ref = /\(ref ([^)]+)\)/.exec(new URLSearchParams(q.body.toString()).get("Body") ?? "")?.[1];
          if (ref !== undefined && out[ref] === undefined) out[ref] = base + q.at;
        }
        process.send!({ id: m.id, refs: out });
        return;
      }
      wait(m);
    });
    process.send!({ ready: true, url: srv.url });
  } else if (role === "raw") {
    const sub = await mqtt.connectAsync(process.argv[3], { clientId: "bench-sub", protocolVersion: 4, ...ENGINE.mqtt });
    const times: number[] = [];
    sub.on("message", () => {
      times.push(abs());
    });
    await sub.subscribeAsync("bench/raw", { qos: 1 });
    const wait = serveWaits(() => times);
    process.on("message", (m: Msg) => {
      wait(m);
    });
    process.send!({ ready: true });
  } else if (role === "relay") {
    const [brokerUrl, providerUrl, dir] = process.argv.slice(3);
    const { openSqliteDb } = (await import(pathToFileURL(join(RELAY_DIR, "db/index.ts")).href)) as typeof import("../cloud/relay/db");
    const { startRelay } = (await import(pathToFileURL(join(RELAY_DIR, "service.ts")).href)) as typeof import("../cloud/relay/service");
    const db = await openSqliteDb(join(dir, "bench.sqlite"));
    const relay = await startRelay({
      brokerUrl,
      db,
      providers: providersFor(providerUrl, { timeoutMs: 10_000 }),
      contacts: contactsFor(providerUrl),
      deadman: false,
      log: () => undefined,
      concurrency: 32,
      instanceId: `bench-relay-${process.argv[6] ?? "0"}`,
      ...(ENGINE.mqtt ? { mqtt: ENGINE.mqtt } : {}),
      ...(ENGINE.ingest ? { ingest: ENGINE.ingest } : {}),
      ...(BATCH ? {} : { batch: false as const }),
    });
    process.on("message", (m: Msg) => {
      if (m.cmd === "cpu") {
        const u = process.cpuUsage();
        process.send!({ id: m.id, cpuUs: u.user + u.system });
        return;
      }
      if (m.cmd === "stop")
        void relay
          .stop()
          .then(() => db.close())
          .then(() => {
            process.send!({ id: m.id });
          });
    });
    process.send!({ ready: true, shared: relay.shared });
  }
}

// ---------------------------------------------------------------- orchestration
interface Kid {
  p: ChildProcess;
  hello: Msg;
  ask(m: Msg): Promise<Msg>;
  stop(): Promise<void>;
}

async function spawnRole(role: string, args: string[], engine: EngineSpec = {}): Promise<Kid> {
  const p = fork(fileURLToPath(import.meta.url), [role, ...args], {
    env: { ...process.env, BENCH_ENGINE: JSON.stringify(engine) },
    execArgv: ["--import", "tsx", ...(process.env.BENCH_PROF_DIR ? ["--cpu-prof", "--cpu-prof-dir", process.env.BENCH_PROF_DIR] : [])],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  let next = 0;
  const pending = new Map<number, (m: Msg) => void>();
  let hello: Msg | undefined;
  p.on("message", (m: Msg) => {
    if (m.ready) hello = m;
    else if (typeof m.id === "number") {
      pending.get(m.id)?.(m);
      pending.delete(m.id);
    }
  });
  await waitFor(role + " ready", () => hello !== undefined || p.exitCode !== null, 30_000);
  if (hello === undefined) throw new Error(role + " exited");
  return {
    p,
    hello,
    ask: (m) =>
      new Promise((res) => {
        const id = ++next;
        pending.set(id, res);
        p.send({ ...m, id });
      }),
    stop: async () => {
      if (p.exitCode === null) {
        const gone = new Promise((r) => p.once("exit", r));
        p.disconnect();
        await gone;
      }
    },
  };
}

interface Engine {
  name: string;
  url: string;
  spec: EngineSpec;
  close(): Promise<void>;
}

interface Figures {
  engine: string;
  p50: number;
  p99: number;
  max: number;
  halfRate: number;
  halfP50: number;
  halfP99: number;
  rawRate: number;
  relayRate: number;
  dup: number;
  rawCpu: number;
  relayCpu: number;
  provCpu: number;
}

async function engines(): Promise<Engine[]> {
  const out: Engine[] = [];
  const mosq = await startMosquitto();
  if (mosq) out.push({ name: "Mosquitto 2.0 (subscribe mode)", url: mosq.url, spec: {}, close: () => mosq.stop() });
  else {
    const aedes = await startAedes();
    out.push({ name: "aedes (mosquitto not installed)", url: aedes.url, spec: {}, close: () => aedes.close() });
  }
  const bin = natsBin();
  if (bin !== null) {
    const cred = { username: "relay", password: "bench-relay-secret" };
    const nats = await NatsCluster.start(bin, { relay: { user: cred.username, password: cred.password }, devices: { "dk-0001": "x" } });
    out.push({
      name: "NATS 2.9 JetStream, 3 nodes (jetstream mode, R3 stream)",
      url: nats.mqttUrls[0],
      spec: { mqtt: cred, ingest: { kind: "jetstream", servers: nats.natsUrls, user: cred.username, pass: cred.password } },
      close: () => nats.stop(),
    });
  }
  return out;
}

async function measure(engine: Engine, provider: Kid, dir: string): Promise<Figures> {
  const brokerUrl = engine.url;
  const providerUrl = provider.hello.url as string;
  const pub = await mqtt.connectAsync(brokerUrl, { clientId: "bench-dev", protocolVersion: 4, ...engine.spec.mqtt });
  const payload = (i: number, slot: string) =>
    JSON.stringify({
      v: 1,
      id: `b-${slot}-${i}`,
      seq: i,
      type: "relay.request",
      cls: "dose",
      t: null,
      mono: i,
      data: {
        key: `dk-0001/${slot}${i}@2026-03-10/3.0`,
        ch: "sms",
        to: ["caregiver-1"],
        slot: `${slot}${i}@2026-03-10`,
        comp: "morning",
        step: 3,
        state: "late",
        due: "2026-03-10T07:00:00.000Z",
      },
    });
  const burst = async (topic: string, slot: string): Promise<number> => {
    // Slot tags are 3 letters ("raw", "tp_", "lat", "hlf"): the raw and relay runs publish payloads of the same sizes.
    const msgs = Array.from({ length: TP_N }, (_, i) => payload(i, slot));
    const t0 = abs();
    await Promise.all(msgs.map((m) => pub.publishAsync(topic, m, { qos: 1 })));
    return t0;
  };
  const cpu = async (k: Kid): Promise<number> => (await k.ask({ cmd: "cpu" })).cpuUs as number;

  // --- raw broker forwarding rate: bare subscriber in its own process ---
  const raw = await spawnRole("raw", [brokerUrl], engine.spec);
  const rawCpu0 = await cpu(raw);
  const rawStart = await burst("bench/raw", "raw");
  const rawDone = await raw.ask({ cmd: "wait", count: TP_N });
  const rawCpu = ((await cpu(raw)) - rawCpu0) / TP_N;
  const rawRate = TP_N / (((rawDone.t as number) - rawStart) / 1000);
  await raw.stop();

  // --- the relay in its own process (BENCH_INSTANCES > 1: several, on one SQLite file) ---
  const relays: Kid[] = [];
  for (let k = 0; k < INSTANCES; k++) relays.push(await spawnRole("relay", [brokerUrl, providerUrl, dir, String(k)], engine.spec));

  // --- latency, one request at a time ---
  const lat: number[] = [];
  const base = (await provider.ask({ cmd: "count" })).count as number;
  for (let i = 0; i < LAT_N; i++) {
    const p = payload(i, "lat");
    const t0 = abs();
    await pub.publishAsync("dk/dk-0001/evt", p, { qos: 1 });
    const got = await provider.ask({ cmd: "wait", count: base + i + 1 });
    lat.push((got.t as number) - t0);
    await new Promise((r) => setTimeout(r, 2));
  }

  // --- relay throughput (everything published at once) ---
  const base2 = (await provider.ask({ cmd: "count" })).count as number;
  const relayCpu0 = await Promise.all(relays.map(cpu));
  const provCpu0 = await cpu(provider);
  const tpStart = await burst("dk/dk-0001/evt", "tp_");
  const tpDone = await provider.ask({ cmd: "wait", count: base2 + TP_N });
  await new Promise((r) => setTimeout(r, 200)); // receipts of the last requests
  const relayCpu = ((await Promise.all(relays.map(cpu))).reduce((a, b) => a + b, 0) - relayCpu0.reduce((a, b) => a + b, 0)) / TP_N;
  const provCpu = ((await cpu(provider)) - provCpu0) / TP_N;
  const relayRate = TP_N / (((tpDone.t as number) - tpStart) / 1000);
  await new Promise((r) => setTimeout(r, 300)); // late duplicates would show up here
  const dup = ((await provider.ask({ cmd: "count" })).count as number) - base2 - TP_N;

  // --- latency at half the relay's maximum rate (paced) ---
  const halfRate = Math.max(1, relayRate / 2);
  const HALF_N = Math.min(TP_N, Math.round(halfRate * 5));
  const sentAt = new Map<string, number>();
  const base3 = (await provider.ask({ cmd: "count" })).count as number;
  const t0 = abs();
  const acks: Promise<unknown>[] = [];
  for (let i = 0; i < HALF_N; i++) {
    const wait = t0 + (i * 1000) / halfRate - abs();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    sentAt.set(`hlf${i}@2026-03-10`, abs());
    acks.push(pub.publishAsync("dk/dk-0001/evt", payload(i, "hlf"), { qos: 1 }));
  }
  await Promise.all(acks);
  await provider.ask({ cmd: "wait", count: base3 + HALF_N });
  const refs = (await provider.ask({ cmd: "refs", since: base3 })).refs as Record<string, number>;
  const half = [...sentAt].map(([ref, t]) => (refs[ref] ?? Number.NaN) - t).filter((x) => Number.isFinite(x));

  for (const r of relays) {
    await r.ask({ cmd: "stop" });
    await r.stop();
  }
  await pub.endAsync();
  return {
    engine: engine.name,
    p50: pct(lat, 50),
    p99: pct(lat, 99),
    max: Math.max(...lat),
    halfRate,
    halfP50: pct(half, 50),
    halfP99: pct(half, 99),
    rawRate,
    relayRate,
    dup,
    rawCpu,
    relayCpu,
    provCpu,
  };
}

async function main(): Promise<void> {
  const provider = await spawnRole("provider", []);
  const results: Figures[] = [];
  for (const e of await engines()) {
    const tmp = tempDir("dk-bench-");
    try {
      results.push(await measure(e, provider, tmp.dir));
    } finally {
      await e.close();
      tmp.cleanup();
    }
  }
  const col = (f: (r: Figures) => string): string => results.map(f).join(" | ");
  const ok = (b: boolean): string => (b ? " ✔" : " ✘");
  const lines = [
    "# Relay benchmark",
    "",
    `Run ${new Date().toISOString()} on ${process.platform}/${process.arch}, Node ${process.version}; DB: SQLite (WAL, synchronous=NORMAL); provider: Twilio-compatible mock on loopback (SMS); ${INSTANCES} relay instance${INSTANCES > 1 ? "s" : ""} ${BATCH ? "with group commit (default)" : "with batch: false"}${process.env.BENCH_RELAY_DIR ? ` from ${process.env.BENCH_RELAY_DIR}` : ""}.`,
    "Publisher, consumer (bare subscriber or relay) and provider mock are three processes; for each engine the broker and the publisher are the same for the raw and the relay rate.",
    "",
    `| measure | ${col((r) => r.engine)} | goal |`,
    `|---|${col(() => "---")}|---|`,
    `| latency publish → provider HTTP request, one at a time, p50 (n=${LAT_N}) | ${col((r) => r.p50.toFixed(2) + " ms")} | |`,
    `| same, p99 | ${col((r) => r.p99.toFixed(2) + " ms")} | |`,
    `| same, max | ${col((r) => r.max.toFixed(2) + " ms")} | |`,
    `| paced at half the relay's maximum rate: rate | ${col((r) => r.halfRate.toFixed(0) + " req/s")} | |`,
    `| same, latency p50 | ${col((r) => r.halfP50.toFixed(2) + " ms")} | |`,
    `| same, latency p99 | ${col((r) => r.halfP99.toFixed(2) + " ms" + ok(r.halfP99 <= 20))} | ≤ 20 ms |`,
    `| raw broker forwarding (QoS 1 → QoS 1 subscriber, n=${TP_N}) | ${col((r) => r.rawRate.toFixed(0) + " msg/s")} | |`,
    `| relay throughput (relay.request → provider request, n=${TP_N}) | ${col((r) => r.relayRate.toFixed(0) + " req/s")} | |`,
    `| ratio relay / raw | ${col((r) => (r.relayRate / r.rawRate).toFixed(2) + ok(r.relayRate / r.rawRate >= 0.5))} | ≥ 0.5 |`,
    `| duplicate provider requests | ${col((r) => String(r.dup))} | 0 |`,
    `| consumer CPU per message: bare subscriber | ${col((r) => r.rawCpu.toFixed(0) + " µs")} | |`,
    `| consumer CPU per request: relay (receive, store, HTTP request, receipt) | ${col((r) => r.relayCpu.toFixed(0) + " µs")} | |`,
    `| provider mock CPU per request (not the relay's) | ${col((r) => r.provCpu.toFixed(0) + " µs")} | |`,
    "",
    `Host: ${cpus().length} CPUs, load average ${loadavg()
      .map((x) => x.toFixed(2))
      .join(" ")} at the end of the run. The NATS column runs three nodes on the same host.`,
    "",
    "Per request the relay receives one MQTT message (NATS: the live copy and the stream copy), commits its",
    "effect (event, claim, job) in a group commit with the other messages and completions of the moment,",
    "acknowledges it, makes one HTTP request (keep-alive), commits the outcome (job, 2 audit rows, receipt) and",
    "publishes the receipt (QoS 1). A bare subscriber only does the first step (docs/relay.md#throughput).",
  ];
  if (process.env.BENCH_NO_WRITE !== "1") {
    mkdirSync(join(HERE, "results"), { recursive: true });
    writeFileSync(join(HERE, "results", "relay.md"), lines.join("\n") + "\n");
  }
  process.stdout.write(lines.join("\n") + "\n");
  await provider.stop();
}

const role = process.argv[2];
if (role === undefined)
  main().catch((e: unknown) => {
    process.stderr.write(String(e instanceof Error ? e.stack : e) + "\n");
    process.exit(1);
  });
else
  child(role).catch((e: unknown) => {
    process.stderr.write(`[${role}] ${String(e instanceof Error ? e.stack : e)}\n`);
    process.exit(1);
  });
