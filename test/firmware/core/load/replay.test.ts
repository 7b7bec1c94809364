import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BayModel } from "../../../../host-sim/kernel/hw/mass-model";

const dir = mkdtempSync(join(tmpdir(), "dk-replay-"));
const tsx = join(process.cwd(), "node_modules", ".bin", "tsx");
const cli = join(process.cwd(), "host-sim", "replay.ts");

function run(profile: string, trace: string, extra: string[] = []) {
  const p = join(dir, `p${Math.random().toString(36).slice(2)}.json`);
  const t = join(dir, `t${Math.random().toString(36).slice(2)}.csv`);
  writeFileSync(p, profile);
  writeFileSync(t, trace);
  const r = spawnSync(tsx, [cli, "--profile", p, "--trace", t, ...extra], { encoding: "utf8", timeout: 120_000 });
  return { code: r.status, out: r.stdout, err: r.stderr, p, t };
}

const PROFILE = JSON.stringify(
  {
    sps: 10,
    channels: [
      { channel: 0, offset: 10000, countsPerGram: 2147.5 },
      { channel: 1, offset: -5000, countsPerGram: 2147.5 },
    ],
    compartments: [{ id: "am", channel: 0, meds: [{ name: "Aspirin", count: 2, unitMg: 500 }] }],
  },
  null,
  2,
);

function trace(): string {
  const m0 = new BayModel({ seed: 1, sps: 10, calibration: { offset: 10000, countsPerGram: 2147.5 }, initialGrams: 40 });
  const m1 = new BayModel({ seed: 2, sps: 10, calibration: { offset: -5000, countsPerGram: 2147.5 }, initialGrams: 35 });
  m0.removePills(20000, 1.0, 3000);
  m1.fault(15000, "disconnect");
  const rows = ["t_ms,channel,raw"];
  for (let t = 0; t <= 30000; t += 100) {
    rows.push(`${t},0,${m0.raw(t)}`);
    rows.push(`${t},1,${m1.raw(t)}`);
  }
  return rows.join("\n") + "\n";
}

describe("replay CLI", () => {
  it("replays a trace into JSON-lines events", () => {
    const r = run(PROFILE, trace());
    expect(r.err).toMatch(/rows/);
    expect(r.code).toBe(0);
    const lines = r.out
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    const rem = lines.filter((l) => l.kind === "removal");
    expect(rem).toHaveLength(1);
    expect(rem[0]).toMatchObject({ channel: 0, compartment: "am", pills: 2 });
    expect(rem[0].t_ms).toBeGreaterThan(23000);
    expect(rem[0].t_ms).toBeLessThan(24100);
    const f = lines.find((l) => l.kind === "fault");
    expect(f).toMatchObject({ channel: 1, compartment: null, code: "DISCONNECTED" });
    expect(Object.keys(rem[0])).toEqual(["t_ms", "channel", "compartment", "kind", "grams", "pills", "confidence"]);
    // deterministic
    expect(run(PROFILE, trace()).out).toBe(r.out);
  });

  const bad: [string, string, string, RegExp][] = [
    ["bad header", PROFILE, "time,channel,raw\n0,0,1\n", /:1:1: bad header/],
    ["non-numeric raw", PROFILE, "t_ms,channel,raw\n0,0,12\n100,0,abc\n", /:3:7: raw: not a signed 24-bit integer/],
    ["non-numeric time", PROFILE, "t_ms,channel,raw\nx,0,12\n", /:2:1: t_ms/],
    ["out of order", PROFILE, "t_ms,channel,raw\n100,0,12\n50,0,13\n", /:3:1: t_ms: rows out of order/],
    ["unknown channel", PROFILE, "t_ms,channel,raw\n0,7,12\n", /:2:3: channel: unknown channel 7/],
    ["field count", PROFILE, "t_ms,channel,raw\n0,0\n", /:2:4: expected 3 fields/],
    ["raw out of range", PROFILE, "t_ms,channel,raw\n0,0,9999999\n", /:2:5: raw/],
    ["profile syntax", '{ "sps": 10,\n  "channels": [ }', "t_ms,channel,raw\n", /\.json:2:17: unexpected character/],
    [
      "profile schema",
      PROFILE.replace('"unitMg": 500', '"unitMg": 5'),
      "t_ms,channel,raw\n",
      /\.json:\d+:\d+: compartments\[0\]\.meds\[0\]\.unitMg: must be a number in 20\.\.3000/,
    ],
    [
      "profile unknown channel",
      PROFILE.replace('"channel": 0,\n      "meds"', '"channel": 3,\n      "meds"'),
      "t_ms,channel,raw\n",
      /compartments\[0\]\.channel: channel 3 is not in "channels"/,
    ],
  ];
  for (const [name, p, t, re] of bad) {
    it(`exits 2 naming line and column: ${name}`, () => {
      const r = run(p, t);
      expect(r.code).toBe(2);
      expect(r.err).toMatch(re);
    });
  }

  it("exits 2 on missing arguments or files", () => {
    const r = spawnSync(tsx, [cli, "--profile", join(dir, "nope.json"), "--trace", join(dir, "nope.csv")], {
      encoding: "utf8",
      timeout: 120_000,
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/cannot read/);
    expect(spawnSync(tsx, [cli], { encoding: "utf8", timeout: 120_000 }).status).toBe(2);
  });
});
