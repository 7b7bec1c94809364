/**
 * Replay a recorded load-cell trace through the firmware detector.
 *
 *   npm run replay -- --profile profile.json --trace trace.csv [--all]
 *
 * Output: one JSON object per line on stdout per detector event (docs/load-cells.md, "Replay format").
 * Malformed input: message "file:line:column: ..." on stderr and exit code 2.
 */
import { closeSync, createReadStream, openSync, readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { ChannelDetector } from "../firmware/core/load/detector";
import type { Medication } from "../firmware/core/config/types";
import type { LoadEvent } from "../firmware/core/load/events";

export class InputError extends Error {}

const fail = (file: string, line: number, col: number, msg: string): never => {
  throw new InputError(`${file}:${line}:${col}: ${msg}`);
};

// ------------------------------------------------------------------ JSON with positions

interface Loc {
  line: number;
  col: number;
}
type JVal =
  | { t: "obj"; loc: Loc; v: Map<string, JVal> }
  | { t: "arr"; loc: Loc; v: JVal[] }
  | { t: "str"; loc: Loc; v: string }
  | { t: "num"; loc: Loc; v: number }
  | { t: "bool"; loc: Loc; v: boolean }
  | { t: "null"; loc: Loc };

/** Minimal JSON parser that remembers where each value starts (for error messages). */
export function parseJsonLoc(text: string, file: string): JVal {
  let i = 0;
  let line = 1;
  let lineStart = 0;
  const loc = (): Loc => ({ line, col: i - lineStart + 1 });
  const err = (msg: string): never => fail(file, line, i - lineStart + 1, msg);
  const ws = () => {
    for (;;) {
      const c = text[i];
      if (c === "\n") {
        i++;
        line++;
        lineStart = i;
      } else if (c === " " || c === "\t" || c === "\r") i++;
      else break;
    }
  };
  const value = (): JVal => {
    ws();
    const l = loc();
    const c = text[i];
    if (c === "{") {
      i++;
      const m = new Map<string, JVal>();
      ws();
      if (text[i] === "}") {
        i++;
        return { t: "obj", loc: l, v: m };
      }
      for (;;) {
        ws();
        if (text[i] !== '"') err("expected a string key");
        const k = str();
        ws();
        if (text[i] !== ":") err("expected ':'");
        i++;
        if (m.has(k)) err(`duplicate key "${k}"`);
        m.set(k, value());
        ws();
        if (text[i] === ",") {
          i++;
          continue;
        }
        if (text[i] === "}") {
          i++;
          return { t: "obj", loc: l, v: m };
        }
        err("expected ',' or '}'");
      }
    }
    if (c === "[") {
      i++;
      const a: JVal[] = [];
      ws();
      if (text[i] === "]") {
        i++;
        return { t: "arr", loc: l, v: a };
      }
      for (;;) {
        a.push(value());
        ws();
        if (text[i] === ",") {
          i++;
          continue;
        }
        if (text[i] === "]") {
          i++;
          return { t: "arr", loc: l, v: a };
        }
        err("expected ',' or ']'");
      }
    }
    if (c === '"') return { t: "str", loc: l, v: str() };
    if (text.startsWith("true", i)) {
      i += 4;
      return { t: "bool", loc: l, v: true };
    }
    if (text.startsWith("false", i)) {
      i += 5;
      return { t: "bool", loc: l, v: false };
    }
    if (text.startsWith("null", i)) {
      i += 4;
      return { t: "null", loc: l };
    }
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i, i + 64));
    if (!m) return err(i >= text.length ? "unexpected end of file" : `unexpected character '${c}'`);
    i += m[0].length;
    return { t: "num", loc: l, v: Number(m[0]) };
  };
  const str = (): string => {
    i++;
    let out = "";
    for (;;) {
      if (i >= text.length) err("unterminated string");
      const c = text[i];
      if (c === '"') {
        i++;
        return out;
      }
      if (c === "\n") err("newline in string");
      if (c === "\\") {
        const e = text[i + 1];
        const map: Record<string, string> = { '"': '"', "\\": "\\", "/": "/", b: "\b", f: "\f", n: "\n", r: "\r", t: "\t" };
        if (e in map) {
          out += map[e];
          i += 2;
        } else if (e === "u" && /^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) {
          out += String.fromCharCode(parseInt(text.slice(i + 2, i + 6), 16));
          i += 6;
        } else err("bad escape in string");
      } else {
        out += c;
        i++;
      }
    }
  };
  const v = value();
  ws();
  if (i < text.length) err("unexpected data after the JSON value");
  return v;
}

// ------------------------------------------------------------------ profile

export interface ReplayProfile {
  sps: number;
  channels: { channel: number; offset: number; countsPerGram: number }[];
  compartments: { id: string; channel: number; meds: Medication[] }[];
}

export function parseProfile(text: string, file: string): ReplayProfile {
  const root = parseJsonLoc(text, file);
  const at = (v: JVal, path: string, msg: string): never => fail(file, v.loc.line, v.loc.col, `${path}: ${msg}`);
  const obj = (v: JVal, path: string, keys: string[]): Map<string, JVal> => {
    if (v.t !== "obj") return at(v, path, "must be an object");
    for (const k of v.v.keys()) if (!keys.includes(k)) at(v.v.get(k)!, `${path}.${k}`, "unknown field");
    for (const k of keys) if (!v.v.has(k)) at(v, path, `missing field "${k}"`);
    return v.v;
  };
  const num = (v: JVal, path: string, lo: number, hi: number, integer: boolean): number => {
    if (v.t !== "num" || !Number.isFinite(v.v) || v.v < lo || v.v > hi || (integer && !Number.isInteger(v.v))) {
      return at(v, path, `must be ${integer ? "an integer" : "a number"} in ${lo}..${hi}`);
    }
    return v.v;
  };
  const arr = (v: JVal, path: string, min: number, max: number): JVal[] => {
    if (v.t !== "arr") return at(v, path, "must be an array");
    if (v.v.length < min || v.v.length > max) at(v, path, `must have ${min}..${max} items`);
    return v.v;
  };
  const r = obj(root, "profile", ["sps", "channels", "compartments"]);
  const sps = num(r.get("sps")!, "sps", 1, 1000, false);
  const channels: ReplayProfile["channels"] = [];
  arr(r.get("channels")!, "channels", 1, 64).forEach((c, i) => {
    const p = `channels[${i}]`;
    const m = obj(c, p, ["channel", "offset", "countsPerGram"]);
    const channel = num(m.get("channel")!, `${p}.channel`, 0, 63, true);
    if (channels.some((x) => x.channel === channel)) at(m.get("channel")!, `${p}.channel`, `duplicate channel ${channel}`);
    const offset = num(m.get("offset")!, `${p}.offset`, -0x800000, 0x7fffff, false);
    const cpg = num(m.get("countsPerGram")!, `${p}.countsPerGram`, -1e7, 1e7, false);
    if (Math.abs(cpg) < 1) at(m.get("countsPerGram")!, `${p}.countsPerGram`, "must be at least 1 in magnitude");
    channels.push({ channel, offset, countsPerGram: cpg });
  });
  const compartments: ReplayProfile["compartments"] = [];
  arr(r.get("compartments")!, "compartments", 0, 64).forEach((c, i) => {
    const p = `compartments[${i}]`;
    const m = obj(c, p, ["id", "channel", "meds"]);
    const idv = m.get("id")!;
    if (idv.t !== "str" || !/^[a-z0-9_-]{1,12}$/.test(idv.v)) return at(idv, `${p}.id`, "must match [a-z0-9_-]{1,12}");
    if (compartments.some((x) => x.id === idv.v)) at(idv, `${p}.id`, `duplicate id "${idv.v}"`);
    const chv = m.get("channel")!;
    const channel = num(chv, `${p}.channel`, 0, 63, true);
    if (!channels.some((x) => x.channel === channel)) at(chv, `${p}.channel`, `channel ${channel} is not in "channels"`);
    if (compartments.some((x) => x.channel === channel)) at(chv, `${p}.channel`, `channel ${channel} used twice`);
    const meds: Medication[] = [];
    arr(m.get("meds")!, `${p}.meds`, 1, 8).forEach((mv, j) => {
      const q = `${p}.meds[${j}]`;
      const mm = obj(mv, q, ["name", "count", "unitMg"]);
      const nv = mm.get("name")!;
      if (nv.t !== "str" || nv.v.length < 1 || nv.v.length > 40) return at(nv, `${q}.name`, "must be a string of 1..40 characters");
      meds.push({
        name: nv.v,
        count: num(mm.get("count")!, `${q}.count`, 1, 10, true),
        unitMg: num(mm.get("unitMg")!, `${q}.unitMg`, 20, 3000, false),
      });
    });
    compartments.push({ id: idv.v, channel, meds });
  });
  return { sps, channels, compartments };
}

// ------------------------------------------------------------------ replay

export interface ReplayOptions {
  /** Feed every row (true) instead of emulating the detector's sampling policy (default). */
  all?: boolean;
}

export interface ReplayLine {
  t_ms: number;
  channel: number;
  compartment: string | null;
  kind: LoadEvent["kind"];
  [k: string]: unknown;
}

export function eventLine(e: LoadEvent, compartment: string | null): ReplayLine {
  const base = { t_ms: e.atMs, channel: e.channel, compartment, kind: e.kind };
  switch (e.kind) {
    case "removal":
    case "addition":
      return { ...base, grams: e.grams, pills: e.pills, confidence: e.confidence };
    case "fault":
      return { ...base, code: e.code };
    default:
      return base;
  }
}

/** Replays the trace file; calls `emit` per event. Throws InputError on malformed input. */
export async function replay(
  profile: ReplayProfile,
  traceFile: string,
  emit: (l: ReplayLine) => void,
  opts: ReplayOptions = {},
): Promise<{ rows: number; fed: number }> {
  const dets = new Map<number, { det: ChannelDetector; due: number; comp: string | null }>();
  for (const c of profile.channels) {
    const comp = profile.compartments.find((x) => x.channel === c.channel);
    dets.set(c.channel, {
      det: new ChannelDetector({
        channel: c.channel,
        sps: profile.sps,
        calibration: { offset: c.offset, countsPerGram: c.countsPerGram },
        meds: comp ? comp.meds : [],
      }),
      due: -Infinity,
      comp: comp ? comp.id : null,
    });
  }
  const half = 500 / profile.sps;
  const rl = createInterface({ input: createReadStream(traceFile, { encoding: "utf8" }), crlfDelay: Infinity });
  let lineNo = 0;
  let rows = 0;
  let fed = 0;
  let lastT = -Infinity;
  let pendingBlank = 0;
  for await (const rawLine of rl) {
    lineNo++;
    const line = rawLine.endsWith("\r") ? rawLine.slice(0, -1) : rawLine;
    if (lineNo === 1) {
      const h = line
        .replace(/^\uFEFF/, "")
        .split(",")
        .map((x) => x.trim());
      const want = ["t_ms", "channel", "raw"];
      for (let k = 0; k < 3; k++) {
        if (h[k] !== want[k]) fail(traceFile, 1, colOf(line, k), `bad header: expected "t_ms,channel,raw"`);
      }
      if (h.length !== 3) fail(traceFile, 1, colOf(line, 3), `bad header: expected "t_ms,channel,raw"`);
      continue;
    }
    if (line.trim() === "") {
      pendingBlank = lineNo;
      continue;
    }
    if (pendingBlank) fail(traceFile, pendingBlank, 1, "empty line");
    const f = line.split(",");
    if (f.length !== 3) fail(traceFile, lineNo, colOf(line, Math.min(f.length, 3)), `expected 3 fields, found ${f.length}`);
    const t = Number(f[0].trim());
    if (f[0].trim() === "" || !Number.isFinite(t) || t < 0)
      fail(traceFile, lineNo, colOf(line, 0), `t_ms: not a non-negative number: "${f[0]}"`);
    if (t < lastT) fail(traceFile, lineNo, colOf(line, 0), `t_ms: rows out of order (${t} after ${lastT})`);
    const ch = Number(f[1].trim());
    if (f[1].trim() === "" || !Number.isInteger(ch)) fail(traceFile, lineNo, colOf(line, 1), `channel: not an integer: "${f[1]}"`);
    const d = dets.get(ch);
    if (!d) return fail(traceFile, lineNo, colOf(line, 1), `channel: unknown channel ${ch}`);
    const rs = f[2].trim();
    let raw: number;
    if (rs === "" || rs === "NaN") raw = NaN;
    else {
      raw = Number(rs);
      if (!/^-?\d+$/.test(rs) || raw < -0x800000 || raw > 0x7fffff)
        fail(traceFile, lineNo, colOf(line, 2), `raw: not a signed 24-bit integer or NaN: "${f[2]}"`);
    }
    lastT = t;
    rows++;
    if (!opts.all && t < d.due - half) continue;
    fed++;
    const ev = d.det.push(raw, t);
    d.due = t + d.det.nextIntervalMs();
    if (ev) emit(eventLine(ev, d.comp));
  }
  if (lineNo === 0) fail(traceFile, 1, 1, `bad header: expected "t_ms,channel,raw" (empty file)`);
  return { rows, fed };
}

function colOf(line: string, field: number): number {
  let col = 1;
  for (let k = 0; k < field; k++) {
    const j = line.indexOf(",", col - 1);
    if (j < 0) return line.length + 1;
    col = j + 2;
  }
  return col;
}

// ------------------------------------------------------------------ CLI

const USAGE = "usage: replay --profile profile.json --trace trace.csv [--all]";

export async function main(argv: string[]): Promise<number> {
  let profileFile: string | undefined;
  let traceFile: string | undefined;
  let all = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--profile") profileFile = argv[++i];
    else if (a === "--trace") traceFile = argv[++i];
    else if (a === "--all") all = true;
    else if (a === "--help" || a === "-h") {
      process.stdout.write(USAGE + "\n");
      return 0;
    } else {
      process.stderr.write(`replay: unknown argument "${a}"\n${USAGE}\n`);
      return 2;
    }
  }
  if (!profileFile || !traceFile) {
    process.stderr.write(`replay: --profile and --trace are required\n${USAGE}\n`);
    return 2;
  }
  try {
    let text: string;
    try {
      text = readFileSync(profileFile, "utf8");
    } catch (e) {
      throw new InputError(`${profileFile}:1:1: cannot read: ${(e as Error).message}`);
    }
    const profile = parseProfile(text, profileFile);
    try {
      closeSync(openSync(traceFile, "r"));
    } catch (e) {
      throw new InputError(`${traceFile}:1:1: cannot read: ${(e as Error).message}`);
    }
    const { rows, fed } = await replay(profile, traceFile, (l) => process.stdout.write(JSON.stringify(l) + "\n"), { all });
    process.stderr.write(`replay: ${rows} rows, ${fed} fed to the detectors\n`);
    return 0;
  } catch (e) {
    if (e instanceof InputError) {
      process.stderr.write(`replay: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
}

const invoked = process.argv[1] ?? "";
if (/replay\.ts$/.test(invoked) || /replay\.js$/.test(invoked)) {
  main(process.argv.slice(2)).then((code) => process.exit(code));
}
