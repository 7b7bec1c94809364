/**
 * Relay benchmark (npm run bench:relay): on loopback, with Mosquitto when installed (else aedes),
 *  1. latency from the device's publish to the provider's HTTP request (p50/p99), paced traffic;
 *  2. relay throughput (relay.request → provider request) vs. the raw broker forwarding rate
 *     (QoS 1 publish → QoS 1 subscriber) measured in the same run with the same publisher.
 * Writes bench/results/relay.md.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import mqtt from "mqtt";
import { openSqliteDb } from "../cloud/relay/db";
import { startRelay } from "../cloud/relay/service";
import { contactsFor, providersFor, startAedes, startMockHttp, startMosquitto, tempDir, waitFor } from "../test/relay/helpers";

const HERE = dirname(fileURLToPath(import.meta.url));
const LAT_N = Number(process.env.BENCH_LAT_N ?? 400);
const TP_N = Number(process.env.BENCH_TP_N ?? 3000);

const pct = (xs: number[], p: number): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]; };

async function main(): Promise<void> {
  const tmp = tempDir("dk-bench-");
  const mosq = await startMosquitto(tmp.dir);
  const aedes = mosq ? undefined : await startAedes();
  const brokerUrl = mosq?.url ?? aedes!.url;
  const brokerName = mosq ? "mosquitto" : "aedes (mosquitto not installed)";
  const srv = await startMockHttp();
  const db = await openSqliteDb(join(tmp.dir, "bench.sqlite"));
  const relay = await startRelay({ brokerUrl, db, providers: providersFor(srv.url, { timeoutMs: 10_000 }), contacts: contactsFor(srv.url), deadman: false, log: () => undefined, concurrency: 32 });
  const pub = await mqtt.connectAsync(brokerUrl, { clientId: "bench-dev", protocolVersion: 4 });

  // --- raw broker forwarding rate ---
  const sub = await mqtt.connectAsync(brokerUrl, { clientId: "bench-sub", protocolVersion: 4 });
  await sub.subscribeAsync("bench/raw", { qos: 1 });
  let got = 0;
  let rawEnd = 0;
  sub.on("message", () => { if (++got === TP_N) rawEnd = performance.now(); });
  const payload = (i: number, slot: string) => JSON.stringify({ v: 1, id: `b-${slot}-${i}`, seq: i, type: "relay.request", cls: "dose", t: null, mono: i,
    data: { key: `dk-0001/${slot}${i}@2026-03-10/3.0`, ch: "sms", to: ["caregiver-1"], slot: `${slot}${i}@2026-03-10`, comp: "morning", step: 3, state: "late", due: "2026-03-10T07:00:00.000Z" } });
  const rawStart = performance.now();
  await Promise.all(Array.from({ length: TP_N }, (_, i) => pub.publishAsync("bench/raw", payload(i, "raw"), { qos: 1 })));
  await waitFor("raw", () => got === TP_N, 60_000);
  const rawRate = TP_N / ((rawEnd - rawStart) / 1000);

  // --- latency (paced) ---
  const lat: number[] = [];
  const base = srv.requests.length;
  for (let i = 0; i < LAT_N; i++) {
    const p = payload(i, "lat");
    const t0 = performance.now();
    await pub.publishAsync("dk/dk-0001/evt", p, { qos: 1 });
    await waitFor("latency " + i, () => srv.requests.length > base + i, 10_000);
    lat.push(srv.requests[base + i].at - t0);
    await new Promise((r) => setTimeout(r, 2));
  }

  // --- relay throughput ---
  const base2 = srv.requests.length;
  const tpStart = performance.now();
  await Promise.all(Array.from({ length: TP_N }, (_, i) => pub.publishAsync("dk/dk-0001/evt", payload(i, "tp"), { qos: 1 })));
  await waitFor("throughput", () => srv.requests.length >= base2 + TP_N, 120_000);
  const tpEnd = srv.requests[base2 + TP_N - 1].at;
  const relayRate = TP_N / ((tpEnd - tpStart) / 1000);
  const dup = srv.requests.length - base2 - TP_N;

  const p50 = pct(lat, 50), p99 = pct(lat, 99), max = Math.max(...lat);
  const ratio = relayRate / rawRate;
  const lines = [
    "# Relay benchmark",
    "",
    `Run ${new Date().toISOString()} on ${process.platform}/${process.arch}, Node ${process.version}; broker: ${brokerName}; DB: SQLite (WAL, synchronous=NORMAL); provider: Twilio-compatible mock on loopback (SMS).`,
    "",
    "| measure | value | goal |",
    "|---|---|---|",
    `| latency publish → provider HTTP request, p50 (n=${LAT_N}) | ${p50.toFixed(2)} ms | |`,
    `| latency p99 | ${p99.toFixed(2)} ms | ≤ 50 ms ${p99 <= 50 ? "✔" : "✘"} |`,
    `| latency max | ${max.toFixed(2)} ms | |`,
    `| raw broker forwarding (QoS 1 → QoS 1 subscriber, n=${TP_N}) | ${rawRate.toFixed(0)} msg/s | |`,
    `| relay throughput (relay.request → provider request, n=${TP_N}) | ${relayRate.toFixed(0)} req/s | |`,
    `| ratio relay / raw | ${ratio.toFixed(2)} | ≥ 0.5 ${ratio >= 0.5 ? "✔" : "✘"} |`,
    `| duplicate provider requests | ${dup} | 0 |`,
    "",
    "Each relay request costs: JSON parse, event insert, claim transaction (request + job), lease update,",
    "one HTTP POST, job update, receipt (summary + update + MQTT publish) and 2 audit inserts.",
  ];
  mkdirSync(join(HERE, "results"), { recursive: true });
  writeFileSync(join(HERE, "results", "relay.md"), lines.join("\n") + "\n");
  process.stdout.write(lines.join("\n") + "\n");

  await relay.stop();
  await pub.endAsync(); await sub.endAsync();
  await db.close(); await srv.close();
  if (mosq) await mosq.stop(); if (aedes) await aedes.close();
  tmp.cleanup();
}

main().catch((e: unknown) => { process.stderr.write(String(e instanceof Error ? e.stack : e) + "\n"); process.exit(1); });
