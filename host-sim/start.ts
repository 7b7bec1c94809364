/**
 * `npm start`: the live simulator. An embedded MQTT broker (aedes, loopback), the cloud relay when
 * cloud/relay provides startRelay, N simulated dispensers running the real firmware core, and the
 * dashboard + pharmacist console on http://127.0.0.1:8080. docs/simulator.md.
 *
 *   --port N        web port (default 8080; a free port is used if busy)
 *   --devices N     dispensers at start (default 3, max 12)
 *   --warp X        time warp (default 60; 0 = paused)
 *   --start ISO     virtual start instant (default: today 07:55 local time of the config)
 *   --broker URL    use an external broker mqtt://host:port instead of the embedded one
 *   --config FILE   base config (default test/scenarios/configs/home.json)
 */
import * as net from "node:net";
import * as path from "node:path";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Fleet, MAX_DEVICES } from "./live/fleet";
import { StandInTransport } from "./live/transport";
import { startServer } from "./server/server";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

export interface StartOptions {
  port: number;
  devices: number;
  warp: number;
  start?: number;
  broker?: string;
  config: string;
}

export function parseArgs(argv: readonly string[]): StartOptions {
  const o: StartOptions = { port: 8080, devices: 3, warp: 60, config: path.join(ROOT, "test/scenarios/configs/home.json") };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const [flag, inline] = a.includes("=") ? [a.slice(0, a.indexOf("=")), a.slice(a.indexOf("=") + 1)] : [a, undefined];
    const val = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new Error(`${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case "--port":
        o.port = intIn(val(), 0, 65535, flag);
        break;
      case "--devices":
        o.devices = intIn(val(), 1, MAX_DEVICES, flag);
        break;
      case "--warp": {
        const w = Number(val());
        if (!(w >= 0)) throw new Error("--warp: a number >= 0");
        o.warp = w;
        break;
      }
      case "--start": {
        const t = Date.parse(val());
        if (!Number.isFinite(t)) throw new Error("--start: an ISO instant, e.g. 2026-03-10T06:55:00Z");
        o.start = t;
        break;
      }
      case "--broker": {
        const b = val();
        if (!/^mqtts?:\/\/[^/]+/.test(b)) throw new Error("--broker: mqtt://host:port");
        o.broker = b;
        break;
      }
      case "--config":
        o.config = path.resolve(val());
        break;
      case "-h":
      case "--help":
        console.log("usage: npm start -- [--port 8080] [--devices 3] [--warp 60] [--start ISO] [--broker mqtt://host:port] [--config file.json]");
        process.exit(0);
        break;
      default:
        throw new Error(`unknown option ${a} (try --help)`);
    }
  }
  return o;
}

function intIn(s: string, lo: number, hi: number, flag: string): number {
  const n = Number(s);
  if (!Number.isInteger(n) || n < lo || n > hi) throw new Error(`${flag}: integer ${lo}..${hi}`);
  return n;
}

/** Embedded aedes broker on a loopback ephemeral port. */
async function startBroker(): Promise<{ url: string; close(): Promise<void> }> {
  const { Aedes } = await import("aedes");
  const broker = await Aedes.createBroker();
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
    broker.handle(s);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: `mqtt://127.0.0.1:${port}`,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
      await new Promise<void>((r) => broker.close(() => r()));
    },
  };
}

/**
 * The cloud relay (cloud/relay/service.ts) on the broker, with an in-memory SQLite database,
 * console notifications (printed with a "relay" prefix) and its HTTP API on an ephemeral port.
 * It sees device events once the devices publish over MQTT (transport "mqtt", docs/simulator.md).
 * A relay that fails to start is reported and skipped: the simulator still runs.
 */
async function startRelayService(brokerUrl: string, clock: () => number): Promise<{ apiUrl: string; close(): Promise<void> } | undefined> {
  try {
    const { startRelay } = await import("../cloud/relay/service");
    const { startRelayHttp } = await import("../cloud/relay/http");
    const { openRelayDb } = await import("../cloud/relay/db");
    const { createConsoleProvider } = await import("../cloud/relay/providers/console");
    const db = await openRelayDb(":memory:");
    const notify = createConsoleProvider({ log: (line) => console.log("relay      notify " + line) });
    const relay = await startRelay({ brokerUrl, db, providers: { push: notify, sms: notify, call: notify }, shared: false, deadman: false, clock, log: () => undefined });
    const api = await startRelayHttp({ db, port: 0, clock });
    console.log(`relay      ${relay.instanceId} on the broker, HTTP API ${api.url}`);
    return {
      apiUrl: api.url,
      close: async () => {
        await relay.abort();
        await api.close();
        await db.close();
      },
    };
  } catch (e) {
    console.log(`relay      not started: ${(e as Error).message}`);
    return undefined;
  }
}

export async function main(argv: readonly string[]): Promise<void> {
  let opts: StartOptions;
  try {
    opts = parseArgs(argv);
  } catch (e) {
    console.error((e as Error).message);
    process.exit(2);
  }
  const t0 = performance.now();
  const baseConfig = JSON.parse(readFileSync(opts.config, "utf8")) as Record<string, unknown>;
  const broker = opts.broker === undefined ? await startBroker() : undefined;
  const brokerUrl = opts.broker ?? broker!.url;
  console.log(`broker     ${brokerUrl}${broker !== undefined ? " (embedded aedes)" : " (external)"}`);
  const transport = new StandInTransport();
  const fleet = new Fleet({ baseConfig, transport, devices: opts.devices, warp: opts.warp, ...(opts.start !== undefined ? { start: opts.start } : {}) });
  const relay = await startRelayService(brokerUrl, () => fleet.sched.now);
  fleet.start();
  console.log(`devices    ${[...fleet.devices.keys()].join(", ")} (transport: ${transport.kind}, warp ${opts.warp}×)`);
  const server = await startServer({ fleet, port: opts.port });
  if (server.port !== opts.port && opts.port !== 0) console.log(`port ${opts.port} is busy: using ${server.port}`);
  console.log(`\n  Dosekeeper simulator ready in ${Math.round(performance.now() - t0)} ms → ${server.url}\n`);
  console.log("  Open the URL: the morning dose comes due within seconds; click \"Take dose\" on the lit compartment. Ctrl-C stops.\n");

  let stopping = false;
  const stop = async (sig: string): Promise<void> => {
    if (stopping) {
      process.exit(1);
    }
    stopping = true;
    console.log(`\n${sig}: stopping…`);
    const force = setTimeout(() => process.exit(1), 3000);
    force.unref();
    fleet.stop();
    await server.close();
    await transport.close();
    await relay?.close();
    await broker?.close();
    clearTimeout(force);
    process.exit(0);
  };
  process.on("SIGINT", () => void stop("SIGINT"));
  process.on("SIGTERM", () => void stop("SIGTERM"));
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).catch((e: unknown) => {
    console.error(e);
    process.exit(1);
  });
}
