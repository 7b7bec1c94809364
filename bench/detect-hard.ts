/**
 * Detector benchmark on harder physics: `npm run bench:detect:hard` (`-- --quick` for a short run,
 * `-- --explain` to list the cases behind the figures).
 * Labeled cases over bench/hard-bay.ts (correlated noise and wander, hum, rate error, heating
 * cycles, hysteresis, rebound, spikes, reversed wiring, resting hands, neighbour touches, pills
 * dropped back, pours without a hand), run through the real ChannelDetector with its own sampling
 * policy. Prints a Markdown table per rate and band and writes bench/results/detect-hard.md.
 * docs/load-cells.md, "Harder benchmark".
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { ChannelDetector } from "../firmware/core/load/detector";
import type { Medication } from "../firmware/core/config/types";
import type { LoadEvent } from "../firmware/core/load/events";
import { HardBay } from "./hard-bay";
import { gauss12, mulberry32 } from "../test/support/prng";

type Kind = "removal" | "dropback" | "bump" | "neighbour" | "rest" | "lift" | "pour" | "idle" | "fault";
interface Case {
  kind: Kind;
  sps: number;
  seed: number;
  meds: Medication[];
  unitMg: number;
  /** Net pills taken (truth). */
  pills: number;
  handLeaves: number;
  until: number;
  fault?: "disconnect" | "stuck" | "saturate" | "noisy";
  faultAt?: number;
}
interface Result {
  c: Case;
  ev: LoadEvent[];
}

const quick = process.argv.includes("--quick");
const N = quick
  ? { removal: 150, dropback: 20, bump: 60, neighbour: 40, rest: 30, lift: 40, pour: 20, fault: 5, idleH: 1 }
  : { removal: 1500, dropback: 150, bump: 500, neighbour: 300, rest: 200, lift: 400, pour: 150, fault: 25, idleH: 4 };

function logUniform(r: () => number, lo: number, hi: number): number {
  return Math.exp(Math.log(lo) + r() * (Math.log(hi) - Math.log(lo)));
}

function run(sps: number, seed: number): Result[] {
  const r = mulberry32(seed);
  const out: Result[] = [];
  const mk = (band: [number, number]) => {
    const unitMg = Math.round(logUniform(r, band[0], band[1]));
    const count = 1 + Math.floor(r() * 4);
    const meds: Medication[] = [{ name: "A", count, unitMg }];
    const cpg = 2147.5 * (r() < 0.25 ? -1 : 1); // reversed wiring on a quarter of the boxes
    const cal = { offset: Math.round((r() - 0.5) * 400000), countsPerGram: cpg };
    const t0 = Math.floor(r() * 48) * 3600000;
    const bay = new HardBay({
      seed: Math.floor(r() * 2 ** 31),
      sps,
      calibration: cal,
      initialGrams: 20 + r() * 30 + ((count * unitMg) / 1000) * 7,
      rateError: (r() * 2 - 1) * 0.04,
      noiseFactor: 1 + 0.35 * r(),
      heatGPerH: 0.5 * r(),
      spikeRate: 1 / 3000,
      // Residual 50/60 Hz after the chip's own rejection: up to 0.2× (10 SPS) / 0.5× (80 SPS) of its noise.
      humCounts: (sps >= 40 ? 0.5 * 58.6 : 0.2 * 32.5) * r(),
    });
    const det = new ChannelDetector({ channel: 0, sps, calibration: cal, meds });
    return { unitMg, count, meds, bay, det, t0, at: t0 + 10000 + Math.floor(r() * 5000) };
  };
  const pill = (mg: number) => (mg / 1000) * (1 + 0.03 * gauss12(r));
  const sim = (c: Case, bay: HardBay, det: ChannelDetector, t0: number) => {
    const ev: LoadEvent[] = [];
    let t = t0;
    while (t <= c.until) {
      const e = det.push(bay.raw(t), t);
      if (e) ev.push(e);
      t += det.nextIntervalMs();
    }
    out.push({ c, ev });
  };
  const bands: [number, number][] = [
    [50, 100],
    [100, 1500],
  ];
  const each = (
    n: number,
    kind: Kind,
    f: (x: ReturnType<typeof mk>, i: number) => Omit<Case, "kind" | "sps" | "seed" | "meds" | "unitMg">,
  ) => {
    for (let i = 0; i < n; i++) {
      const x = mk(bands[i % 3 === 0 ? 0 : 1]);
      const c = { kind, sps, seed, meds: x.meds, unitMg: x.unitMg, ...f(x, i) };
      sim(c, x.bay, x.det, x.t0);
    }
  };
  each(N.removal, "removal", (x) => {
    const k = r() < 0.8 ? x.count : 1 + Math.floor(r() * x.count);
    let g = 0;
    for (let i = 0; i < k; i++) g += pill(x.unitMg);
    const dur = r() < 0.1 ? 6000 + Math.floor(r() * 9000) : 1500 + Math.floor(r() * 4500);
    x.bay.removePills(x.at, g, dur);
    return { pills: k, handLeaves: x.at + dur, until: x.at + dur + 15000 };
  });
  each(N.dropback, "dropback", (x) => {
    const k = Math.max(2, x.count);
    let g = 0;
    for (let i = 0; i < k; i++) g += pill(x.unitMg);
    const dur = 1500 + Math.floor(r() * 3000);
    x.bay.removePills(x.at, g, dur);
    x.bay.pour(x.at + dur + 1500 + Math.floor(r() * 5000), pill(x.unitMg));
    return { pills: k - 1, handLeaves: x.at + dur, until: x.at + dur + 20000 };
  });
  each(N.bump, "bump", (x, i) => {
    const dur = i % 4 === 0 ? 300 : 50 + Math.floor(r() * 250);
    x.bay.bump(x.at, i % 4 === 0 ? 500 : 20 + r() * 480, dur);
    return { pills: 0, handLeaves: x.at + dur, until: x.at + dur + 12000 };
  });
  each(N.neighbour, "neighbour", (x) => {
    const dur = 500 + Math.floor(r() * 2500);
    x.bay.bump(x.at, 1 + r() * 14, dur);
    return { pills: 0, handLeaves: x.at + dur, until: x.at + dur + 12000 };
  });
  each(N.rest, "rest", (x) => {
    const dur = 5000 + Math.floor(r() * 20000);
    x.bay.restHand(x.at, dur);
    return { pills: 0, handLeaves: x.at + dur, until: x.at + dur + 15000 };
  });
  each(N.lift, "lift", (x) => {
    const dur = 1200 + Math.floor(r() * 6000);
    x.bay.liftAndReturn(x.at, dur);
    return { pills: 0, handLeaves: x.at + dur, until: x.at + dur + 12000 };
  });
  each(N.pour, "pour", (x) => {
    x.bay.pour(x.at, pill(x.unitMg));
    return { pills: 0, handLeaves: x.at, until: x.at + 20000 };
  });
  for (const fk of ["disconnect", "stuck", "saturate", "noisy"] as const)
    each(N.fault, "fault", (x) => {
      x.bay.fault(x.at, fk, x.at + 15000);
      return { pills: 0, handLeaves: x.at, until: x.at + 25000, fault: fk, faultAt: x.at };
    });
  for (let i = 0; i < 4; i++) each(1, "idle", (x) => ({ pills: 0, handLeaves: x.at, until: x.t0 + N.idleH * 3600000 }));
  return out;
}

// ------------------------------------------------------------------------------------------ report

const lines: string[] = [];
const say = (s = "") => {
  lines.push(s);
  console.log(s);
};
const pct = (a: number, b: number) => (b === 0 ? "n/a" : `${((100 * a) / b).toFixed(2)} % (${a}/${b})`);
const q = (xs: number[], p: number) => {
  if (!xs.length) return NaN;
  const s = xs.slice().sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))];
};
const taken = (ev: LoadEvent[]) => ev.filter((e) => e.kind === "removal");
const seen = (ev: LoadEvent[]) => ev.filter((e) => e.kind === "removal" || e.kind === "uncertain");
const net = (ev: LoadEvent[]) => ev.reduce((s, e) => s + (e.kind === "removal" ? e.pills : e.kind === "addition" ? -e.pills : 0), 0);

function table(rs: Result[]) {
  const rows: Record<string, string> = {};
  for (const [name, lo, hi] of [
    ["≥ 100 mg", 100, 1e9],
    ["50–100 mg", 0, 100],
  ] as const) {
    const rem = rs.filter((x) => x.c.kind === "removal" && x.c.unitMg >= lo && x.c.unitMg < hi);
    const found = rem.filter((x) => seen(x.ev).length > 0);
    const exact = rem.filter((x) => taken(x.ev).length === 1 && net(x.ev) === x.c.pills);
    const unc = rem.filter((x) => x.ev.some((e) => e.kind === "uncertain"));
    const wrongTaken = rem.filter((x) => taken(x.ev).length > 0 && net(x.ev) !== x.c.pills);
    const lat = found.map((x) => seen(x.ev)[0]!.atMs - x.c.handLeaves);
    rows[`removal seen (taken or uncertain), ${name}`] = pct(found.length, rem.length);
    rows[`exact count as taken, ${name}`] = pct(exact.length, rem.length);
    rows[`reported uncertain, ${name}`] = pct(unc.length, rem.length);
    rows[`wrong count reported taken, ${name}`] = `${wrongTaken.length}`;
    rows[`latency hand leaves → event p50 / p99, ${name}`] = `${q(lat, 0.5)} / ${q(lat, 0.99)} ms`;
  }
  const db = rs.filter((x) => x.c.kind === "dropback");
  rows["pills dropped back: net count right"] = pct(db.filter((x) => net(x.ev) === x.c.pills).length, db.length);
  for (const k of ["bump", "neighbour", "rest", "lift", "pour", "idle"] as const) {
    const xs = rs.filter((x) => x.c.kind === k);
    rows[`false "taken" on ${k === "rest" ? "resting hands" : k === "idle" ? `idle (${4 * N.idleH} h)` : k + "s"}`] =
      `${xs.filter((x) => taken(x.ev).length > 0).length} / ${xs.length}`;
  }
  const pours = rs.filter((x) => x.c.kind === "pour");
  rows["pours seen as an addition"] = pct(pours.filter((x) => x.ev.some((e) => e.kind === "addition")).length, pours.length);
  const nonFault = rs.filter((x) => x.c.kind !== "fault");
  rows["false faults (spikes, hands, drift)"] =
    `${nonFault.filter((x) => x.ev.some((e) => e.kind === "fault")).length} / ${nonFault.length}`;
  const f = rs.filter((x) => x.c.kind === "fault");
  const tf = f.map((x) => {
    const e = x.ev.find((y) => y.kind === "fault");
    return e ? e.atMs - x.c.faultAt! : Infinity;
  });
  rows["faults flagged, max time"] = `${tf.filter(Number.isFinite).length}/${f.length}, ${Math.max(...tf)} ms`;
  return rows;
}

// `-- --explain`: the cases behind the figures (false "taken", removals missed or slow, false faults).
if (process.argv.includes("--explain")) {
  for (const x of [...run(10, 4242), ...run(80, 8484)]) {
    const what = `${x.c.sps} SPS ${x.c.kind} ${x.c.meds[0]!.count}×${x.c.unitMg} mg, truth ${x.c.pills}:`;
    const first = seen(x.ev)[0];
    if (x.c.kind !== "removal" && x.c.kind !== "dropback" && x.c.kind !== "fault" && taken(x.ev).length)
      console.log("false taken", what, JSON.stringify(x.ev));
    else if (x.c.kind === "removal" && taken(x.ev).length > 0 && net(x.ev) !== x.c.pills)
      console.log("wrong count", what, JSON.stringify(x.ev));
    else if (x.c.kind === "removal" && (first === undefined || first.atMs - x.c.handLeaves > 2000))
      console.log(first ? "slow" : "missed", what, JSON.stringify(x.ev));
    else if (x.c.kind !== "fault" && x.ev.some((e) => e.kind === "fault")) console.log("false fault", what, JSON.stringify(x.ev));
    else if (x.c.kind === "fault" && (x.ev.find((e) => e.kind === "fault")?.atMs ?? Infinity) - x.c.faultAt! > 4000)
      console.log("slow fault", x.c.fault, what, JSON.stringify(x.ev.slice(0, 3)));
  }
  process.exit(0);
}
const started = Date.now();
const r10 = table(run(10, 4242));
const r80 = table(run(80, 8484));
say("# Detector benchmark, harder physics");
say();
say(
  `Generated by \`npm run bench:detect:hard\` (bench/detect-hard.ts, physics in bench/hard-bay.ts)${quick ? " — quick run" : ""}. Per rate: ` +
    `${N.removal} removals (⅓ of 50–100 mg pills), ${N.dropback} removals with a pill dropped back, ${N.bump} bumps, ${N.neighbour} neighbour touches, ` +
    `${N.rest} resting hands (5–25 s), ${N.lift} lift-and-returns, ${N.pour} pours without a hand, ${N.fault} faults of each kind, 4 idle runs of ${N.idleH} h; ` +
    "noise 1.0–1.35× datasheet and correlated, hum, rate error ±4 %, heating ≤ 0.5 g/h, hysteresis 3–20 mg (1 in 10: 25–45 mg), rebound 0.9 % at 6–10 Hz, 1 corrupted reading in 3,000, ¼ reversed wiring.",
);
say();
say("| metric | 10 SPS | 80 SPS |");
say("|---|---|---|");
for (const k of Object.keys(r10)) say(`| ${k} | ${r10[k]} | ${r80[k]} |`);
say();
say(`Runtime: ${((Date.now() - started) / 1000).toFixed(1)} s.`);
if (!quick) {
  const dir = join(dirname(fileURLToPath(import.meta.url)), "results");
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "detect-hard.md"), lines.join("\n") + "\n");
}
