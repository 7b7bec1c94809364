/**
 * Scenario files (docs/scenarios.md): a start instant, a device, a config and a timeline of steps.
 * parseScenario checks everything and names the field path of every fault; the runner only
 * ever sees a well-formed Scenario.
 */
import { parsePosixTz, localToUtc, type PosixTz } from "../../../firmware/core/schedule/tz";
import { daysFromCivil } from "../../../firmware/core/schedule/civil";
import { readStepFields, STEP_KINDS as KINDS, type Step, type StepKind } from "./steps";
import { isObj } from "../../../firmware/core/protocol/json";

export type { Step, StepKind };

export interface TrustEntry {
  readonly kid: string;
  /** Base64 of the 32-byte Ed25519 public key. */
  readonly publicKey: string;
}

export interface Scenario {
  readonly name: string;
  readonly start: number;
  readonly end: number;
  readonly device: {
    readonly id: string;
    readonly channels: number;
    readonly leds: number;
    readonly sps: 10 | 80;
    readonly seed: number;
    /** "samples" (default): the detector reads the bay physics; "pins" (board transport): the HX711 driver clocks the chip emulators. */
    readonly loadCells: "samples" | "pins";
  };
  /** Device clock error at start (ms, device wall = true time + error). */
  readonly clockErrorMs: number;
  /** Network state at start. */
  readonly network: boolean;
  /** Doses loaded in every compartment at start (default 7). */
  readonly loadedDoses: number;
  /**
   * "stand-in": a broker stand-in acknowledges events; "mqtt": the device's real MQTT link to a
   * simulated broker; "board": the same broker, reached by the whole board (firmware/app/board.ts
   * over emulated Moddable modules: Wi-Fi, SNTP, sockets, NVS, pins).
   */
  readonly transport: Transport;
  readonly trust: readonly TrustEntry[];
  readonly config: Record<string, unknown>;
  readonly steps: readonly Step[];
}

export type Transport = "stand-in" | "mqtt" | "board";

export interface ScenarioError {
  readonly path: string;
  readonly message: string;
}

const MAX_STEPS = 2000;
const MAX_SPAN_MS = 62 * 86_400_000;

type Obj = Record<string, unknown>;

/** "2026-03-29T01:00:00Z" / "…T01:00:00.000Z" (UTC) or "2026-03-29T03:00" / "…T03:00:00" (local in tz). */
export function parseInstant(s: string, tz: PosixTz | undefined): number | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{3}))?)?(Z)?$/.exec(s);
  if (m === null) return undefined;
  const y = +m[1],
    mo = +m[2],
    d = +m[3],
    h = +m[4],
    mi = +m[5],
    sec = m[6] ? +m[6] : 0,
    ms = m[7] ? +m[7] : 0;
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 59) return undefined;
  const days = daysFromCivil(y, mo, d);
  const local = days * 86_400_000 + ((h * 60 + mi) * 60 + sec) * 1000 + ms;
  if (m[8] === "Z") return local;
  if (tz === undefined) return undefined;
  return localToUtc(tz, local).utcMs;
}

/** "+90s", "+15m", "+2h", "+1d", "+1h30m", "+500ms": offset from the scenario start. */
export function parseOffset(s: string): number | undefined {
  const m = /^\+((?:\d+(?:ms|d|h|m|s))+)$/.exec(s);
  if (m === null) return undefined;
  let total = 0;
  const re = /(\d+)(ms|d|h|m|s)/g;
  let p: RegExpExecArray | null;
  while ((p = re.exec(m[1])) !== null) {
    const n = +p[1];
    total += p[2] === "ms" ? n : p[2] === "s" ? n * 1000 : p[2] === "m" ? n * 60_000 : p[2] === "h" ? n * 3_600_000 : n * 86_400_000;
  }
  return total;
}

export function parseScenario(input: unknown): { ok: true; scenario: Scenario } | { ok: false; errors: ScenarioError[] } {
  const errors: ScenarioError[] = [];
  const err = (path: string, message: string): undefined => {
    if (errors.length < 50) errors.push({ path, message });
    return undefined;
  };
  if (!isObj(input)) return { ok: false, errors: [{ path: "$", message: "scenario must be a JSON object" }] };

  const known = [
    "name",
    "description",
    "start",
    "end",
    "device",
    "clockErrorMs",
    "network",
    "loadedDoses",
    "transport",
    "trust",
    "config",
    "steps",
  ];
  for (const k of Object.keys(input)) if (known.indexOf(k) < 0) err(k, "unknown field");

  const name = typeof input.name === "string" && input.name.length > 0 ? input.name : err("name", "required non-empty string");
  const config = isObj(input.config) ? input.config : err("config", "required object (the dispenser config)");
  let tz: PosixTz | undefined;
  if (config !== undefined) {
    if (typeof config.tz !== "string") err("config.tz", "required POSIX TZ string");
    else {
      const r = parsePosixTz(config.tz);
      if (r.ok) tz = r.tz;
      else err("config.tz", `invalid TZ at position ${r.error.pos}: ${r.error.message}`);
    }
  }
  const start = typeof input.start === "string" ? parseInstant(input.start, undefined) : undefined;
  if (start === undefined) err("start", "required UTC instant like 2026-03-29T00:00:00Z");
  let end: number | undefined;
  if (typeof input.end === "string") {
    end = input.end.startsWith("+")
      ? start !== undefined
        ? start + (parseOffset(input.end) ?? NaN)
        : undefined
      : parseInstant(input.end, tz);
    if (end === undefined || !(end === end)) err("end", "an instant (UTC with Z, local without) or +offset");
  } else err("end", "required");
  if (start !== undefined && end !== undefined && end === end) {
    if (end <= start) err("end", "must be after start");
    if (end - start > MAX_SPAN_MS) err("end", "scenario longer than 62 days");
  }

  const dev = isObj(input.device) ? input.device : input.device === undefined ? {} : err("device", "must be an object");
  let device: Scenario["device"] | undefined;
  if (dev !== undefined) {
    for (const k of Object.keys(dev))
      if (["id", "channels", "leds", "sps", "seed", "loadCells"].indexOf(k) < 0) err(`device.${k}`, "unknown field");
    const id = dev.id === undefined ? (config !== undefined && typeof config.device === "string" ? config.device : "dk-sim") : dev.id;
    const channels = dev.channels ?? 4;
    const leds = dev.leds ?? 4;
    const sps = dev.sps ?? 10;
    const seed = dev.seed ?? 1;
    if (typeof id !== "string" || !/^[A-Za-z0-9_-]{1,32}$/.test(id)) err("device.id", "1..32 characters [A-Za-z0-9_-]");
    if (!isInt(channels, 1, 8)) err("device.channels", "integer 1..8");
    if (!isInt(leds, 1, 16)) err("device.leds", "integer 1..16");
    if (sps !== 10 && sps !== 80) err("device.sps", "10 or 80");
    if (!isInt(seed, 0, 0x7fffffff)) err("device.seed", "integer 0..2^31-1");
    const loadCells = dev.loadCells ?? "samples";
    if (loadCells !== "samples" && loadCells !== "pins") err("device.loadCells", '"samples" or "pins"');
    device = {
      id: String(id),
      channels: channels as number,
      leds: leds as number,
      sps: sps as 10 | 80,
      seed: seed as number,
      loadCells: loadCells as "samples" | "pins",
    };
  }
  const clockErrorMs = input.clockErrorMs ?? 0;
  if (!isInt(clockErrorMs, -86_400_000 * 365, 86_400_000 * 365)) err("clockErrorMs", "integer milliseconds");
  const network = input.network ?? true;
  if (typeof network !== "boolean") err("network", "boolean");
  const loadedDoses = input.loadedDoses ?? 7;
  if (!isInt(loadedDoses, 0, 60)) err("loadedDoses", "integer 0..60");

  const transport = input.transport ?? "stand-in";
  if (transport !== "stand-in" && transport !== "mqtt" && transport !== "board") err("transport", '"stand-in", "mqtt" or "board"');
  if (transport === "board" && device !== undefined && (device.channels !== 4 || device.leds !== 4 || device.sps !== 10))
    err("device", 'transport "board" is the reference board: 4 channels, 4 LEDs, 10 SPS');
  if (transport !== "board" && device !== undefined && device.loadCells === "pins")
    err("device.loadCells", '"pins" needs transport "board"');
  const trust: TrustEntry[] = [];
  if (input.trust !== undefined) {
    if (!Array.isArray(input.trust) || input.trust.length > 4) err("trust", "array of at most 4 { kid, publicKey }");
    else
      input.trust.forEach((t: unknown, i: number) => {
        if (!isObj(t) || typeof t.kid !== "string" || typeof t.publicKey !== "string" || !/^[A-Za-z0-9+/]{43}=$/.test(t.publicKey)) {
          err(`trust[${i}]`, "{ kid: string, publicKey: base64 of 32 bytes }");
        } else trust.push({ kid: t.kid, publicKey: t.publicKey });
      });
  }

  const steps: Step[] = [];
  if (!Array.isArray(input.steps)) err("steps", "required array");
  else if (input.steps.length > MAX_STEPS) err("steps", `at most ${MAX_STEPS} steps`);
  else {
    let prev = -Infinity;
    input.steps.forEach((raw: unknown, i: number) => {
      const p = `steps[${i}]`;
      if (!isObj(raw)) return err(p, "must be an object");
      const s = parseStep(raw, p, start, tz, err);
      if (s === undefined) return;
      if (s.t < prev) err(`${p}.at`, "steps must be in time order");
      if (start !== undefined && s.t < start) err(`${p}.at`, "before start");
      if (end !== undefined && s.t > end) err(`${p}.at`, "after end");
      prev = s.t;
      steps.push(s);
    });
  }
  if (errors.length > 0 || name === undefined || config === undefined || start === undefined || end === undefined || device === undefined) {
    return { ok: false, errors };
  }
  return {
    ok: true,
    scenario: {
      name,
      start,
      end,
      device,
      clockErrorMs: clockErrorMs as number,
      network: network as boolean,
      loadedDoses: loadedDoses as number,
      transport: transport as Transport,
      trust,
      config,
      steps,
    },
  };
}

function isInt(v: unknown, lo: number, hi: number): v is number {
  return typeof v === "number" && Number.isInteger(v) && v >= lo && v <= hi;
}

function parseStep(
  raw: Obj,
  p: string,
  start: number | undefined,
  tz: PosixTz | undefined,
  err: (path: string, message: string) => undefined,
): Step | undefined {
  const kind = raw.do;
  if (typeof kind !== "string" || KINDS.indexOf(kind as StepKind) < 0) return err(`${p}.do`, `one of ${KINDS.join(", ")}`);
  const k = kind as StepKind;
  let faults = 0;
  const bad = (f: string, m: string): void => {
    faults++;
    err(`${p}.${f}`, m);
  };
  let t: number | undefined;
  if (typeof raw.at !== "string") bad("at", "required: +offset, UTC instant with Z, or local instant");
  else {
    t = raw.at.startsWith("+") ? (start === undefined ? undefined : start + (parseOffset(raw.at) ?? NaN)) : parseInstant(raw.at, tz);
    if (t === undefined || !(t === t)) bad("at", "not an instant: use +1h30m, 2026-03-29T06:00:00Z or 2026-03-29T08:00 (local)");
  }
  const step: { -readonly [K in keyof Step]?: Step[K] } = { ...readStepFields(raw, k, bad), raw };
  if (faults !== 0 || t === undefined) return undefined;
  step.t = t;
  return step as Step;
}
