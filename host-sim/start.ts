/**
 * `npm start`: the whole product in one process, over real MQTT. An embedded MQTT broker (aedes,
 * loopback, per-device credentials and topic ACLs), the cloud relay (console notifications,
 * dead-man on the virtual clock, HTTP API), N simulated dispensers running the real firmware core
 * with their real MQTT link, and the dashboard + pharmacist console (signed pushes through
 * cloud/pharmacist) on http://127.0.0.1:8080. host-sim/live/stack.ts, docs/simulator.md.
 *
 *   --port N            web port (default 8080; a free port is used if busy)
 *   --devices N         dispensers at start (default 3, max 12)
 *   --warp X            time warp (default 60; 0 = paused)
 *   --start ISO         virtual start instant (default: today 07:55 local time of the config)
 *   --transport T       mqtt (default) | stand-in (in-process, no broker link for the devices)
 *   --broker URL        use an external broker mqtt://host:port instead of the embedded one (no auth)
 *   --no-relay          do not run the relay
 *   --data-dir DIR      keys, audit log, notifications log (default ./.dosekeeper)
 *   --config FILE       base config (default test/scenarios/configs/home.json)
 */
import * as path from "node:path";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { MAX_DEVICES } from "./live/fleet";
import { startStack } from "./live/stack";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

export interface StartOptions {
  port: number;
  devices: number;
  warp: number;
  start?: number;
  broker?: string;
  transport: "mqtt" | "stand-in";
  relay?: boolean;
  dataDir: string;
  config: string;
}

export function parseArgs(argv: readonly string[]): StartOptions {
  const o: StartOptions = {
    port: 8080,
    devices: 3,
    warp: 60,
    transport: "mqtt",
    dataDir: path.resolve(".dosekeeper"),
    config: path.join(ROOT, "test/scenarios/configs/home.json"),
  };
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
      case "--transport": {
        const t = val();
        if (t !== "mqtt" && t !== "stand-in") throw new Error("--transport: mqtt or stand-in");
        o.transport = t;
        break;
      }
      case "--no-relay":
        o.relay = false;
        break;
      case "--data-dir":
        o.dataDir = path.resolve(val());
        break;
      case "--config":
        o.config = path.resolve(val());
        break;
      case "-h":
      case "--help":
        console.log(
          "usage: npm start -- [--port 8080] [--devices 3] [--warp 60] [--start ISO] [--transport mqtt|stand-in]\n" +
            "                    [--broker mqtt://host:port] [--no-relay] [--data-dir .dosekeeper] [--config file.json]",
        );
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

export async function main(argv: readonly string[]): Promise<void> {
  let opts: StartOptions;
  try {
    opts = parseArgs(argv);
  } catch (e) {
    console.error((e as Error).message);
    process.exit(2);
  }
  const t0 = performance.now();
  const ms = (): number => Math.round(performance.now() - t0);
  const baseConfig = JSON.parse(readFileSync(opts.config, "utf8")) as Record<string, unknown>;
  const log = (l: string): void => console.log(l);
  const stack = await startStack({
    baseConfig,
    devices: opts.devices,
    warp: opts.warp,
    ...(opts.start !== undefined ? { start: opts.start } : {}),
    port: opts.port,
    transport: opts.transport,
    ...(opts.broker !== undefined ? { broker: opts.broker } : {}),
    ...(opts.relay !== undefined ? { relay: opts.relay } : {}),
    dataDir: opts.dataDir,
    log,
    onFirstDevice: (id) => console.log(`mqtt       first device connected (${id}) after ${ms()} ms`),
  });
  const { fleet, server } = stack;
  console.log(`devices    ${[...fleet.devices.keys()].join(", ")} (transport: ${stack.transport.kind}, warp ${opts.warp}×)`);
  if (server.port !== opts.port && opts.port !== 0) console.log(`port ${opts.port} is busy: using ${server.port}`);
  console.log(`\n  Dosekeeper simulator ready in ${ms()} ms → ${server.url}\n`);
  console.log('  Open the URL: the morning dose comes due within seconds; click "Take dose" on the lit compartment. Ctrl-C stops.\n');

  let stopping = false;
  const stop = async (sig: string): Promise<void> => {
    if (stopping) {
      process.exit(1);
    }
    stopping = true;
    console.log(`\n${sig}: stopping…`);
    const force = setTimeout(() => process.exit(1), 3000);
    force.unref();
    await stack.close();
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
