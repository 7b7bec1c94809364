/**
 * The detector never claims what the signal cannot show (docs/load-cells.md, "Uncertain
 * removals", "Spikes"): corrupted single readings, changes with no hand, ambiguous counts.
 */
import { describe, expect, it } from "vitest";
import { ChannelDetector } from "../../../../firmware/core/load/detector";
import { CAL, drive, lcgNoise, setup } from "./helpers";

/** A raw source with corrupted single readings (a high bit flipped) at the given times. */
function withSpikes(raw: (t: number) => number, at: number[], bit = 18): (t: number) => number {
  return (t) => {
    const v = raw(t);
    return at.some((a) => Math.abs(t - a) < 1) ? v + 2 ** bit : v;
  };
}

describe("single corrupted readings", () => {
  for (const sps of [10, 80]) {
    const p = 1000 / sps;
    it(`one inside the hand signal neither raises NOISY nor drops the removal at ${sps} SPS`, () => {
      const { model, det } = setup(sps, 5);
      model.removePills(20000, 1.0, 3000);
      // Readings land on multiples of the period while active: corrupt one mid-hand, one after.
      const spikes = [Math.round(21500 / p) * p, Math.round(23600 / p) * p];
      const { events } = drive(
        det,
        withSpikes((t) => model.raw(t), spikes),
        40000,
      );
      expect(events.map((e) => e.kind)).toEqual(["removal"]);
      if (events[0]!.kind === "removal") expect(events[0]!.pills).toBe(2);
      expect(det.spikes).toBeGreaterThanOrEqual(1);
    });

    it(`while quiet, they give no event at all at ${sps} SPS`, () => {
      const { model, det } = setup(sps, 6);
      const spikes: number[] = [];
      for (let t = 15000; t < 600000; t += 37000) spikes.push(t);
      // Watch mode samples once a second on whole seconds from 0: put the spikes on the samples.
      const { events } = drive(
        det,
        withSpikes(
          (t) => model.raw(t),
          spikes.map((t) => Math.round(t / 1000) * 1000),
        ),
        600000,
      );
      expect(events).toEqual([]);
    });
  }

  it("dense outliers are noise, not spikes: a noisy channel is still flagged NOISY in time", () => {
    const { model, det } = setup(10, 7);
    model.fault(20000, "noisy", 40000);
    const { events } = drive(det, (t) => model.raw(t), 40000);
    const f = events.find((e) => e.kind === "fault");
    expect(f && f.kind === "fault" && f.code).toBe("NOISY");
    expect(f!.atMs - 20000).toBeLessThanOrEqual(5000);
  });
});

describe("never taken without the evidence", () => {
  it("a change that came with no hand (drift, wander, settling) is uncertain, never a removal", () => {
    const det = new ChannelDetector({ channel: 0, sps: 10, calibration: CAL, meds: [{ name: "A", count: 1, unitMg: 300 }] });
    // 0.3 g lost over 30 s without any press (e.g. a tray that settles, a slow zero drift).
    const mass = (t: number) => 40 - (t < 60000 ? 0 : t > 90000 ? 0.3 : (0.3 * (t - 60000)) / 30000);
    const noise = lcgNoise(12);
    const { events } = drive(det, (t) => Math.round(CAL.offset + CAL.countsPerGram * mass(t) + 32 * noise()), 400000);
    expect(events.some((e) => e.kind === "removal")).toBe(false);
    expect(events.some((e) => e.kind === "uncertain")).toBe(true);
  });

  it("an ambiguous mixed dose (a light pill within the spread of a heavy one) is uncertain, with its estimate", () => {
    const meds = [
      { name: "A", count: 1, unitMg: 1400 },
      { name: "B", count: 1, unitMg: 60 },
    ];
    const { model, det } = setup(10, 9, meds);
    model.removePills(20000, 1.4, 2500);
    const { events } = drive(det, (t) => model.raw(t), 40000);
    expect(events.map((e) => e.kind)).toEqual(["uncertain"]);
    const e = events[0]!;
    if (e.kind !== "uncertain") return;
    expect(e.confidence).toBeLessThan(0.99);
    expect(e.pills).toBeGreaterThanOrEqual(1);
  });

  it("a removal of heavy pills with a hand is still taken, at once", () => {
    const { model, det } = setup(10, 10);
    model.removePills(20000, 1.0, 3000);
    const { events } = drive(det, (t) => model.raw(t), 40000);
    expect(events.map((e) => e.kind)).toEqual(["removal"]);
  });

  it("a long touch is not a refill followed by a removal", () => {
    for (let seed = 1; seed <= 6; seed++) {
      const { model, det } = setup(80, seed, [{ name: "A", count: 2, unitMg: 1400 }]);
      model.bump(20000, 3 + seed * 2, 3000);
      const { events } = drive(det, (t) => model.raw(t), 40000);
      expect(events.filter((e) => e.kind === "removal" || e.kind === "addition")).toEqual([]);
    }
  });
});

describe("rebound at fast rates", () => {
  /** The box rocks on its feet after the hand leaves at `leaves`: 8 Hz, `amp` grams, τ = 0.4 s. */
  const rocking = (raw: (t: number) => number, leaves: number, amp: number) => (t: number) =>
    t <= leaves
      ? raw(t)
      : Math.round(raw(t) + CAL.countsPerGram * amp * Math.exp(-(t - leaves) / 400) * Math.sin((2 * Math.PI * 8 * (t - leaves)) / 1000));

  it("does not wait for the rocking to die out at 80 SPS, and counts right", () => {
    for (let seed = 1; seed <= 5; seed++) {
      const { model, det } = setup(80, seed);
      model.removePills(20000, 1.0, 3000);
      const { events } = drive(
        det,
        rocking((t) => model.raw(t), 23000, 2),
        40000,
      );
      expect(events.map((e) => e.kind)).toEqual(["removal"]);
      const e = events[0]!;
      if (e.kind === "removal") expect(e.pills).toBe(2);
      expect(e.atMs - 23000).toBeLessThanOrEqual(700);
    }
  });

  it("smoothing never hides a failing connection: loud white noise is NOISY, with no removal first", () => {
    for (let seed = 1; seed <= 5; seed++) {
      const { model, det } = setup(80, seed);
      model.fault(20000, "noisy", 40000);
      const { events } = drive(det, (t) => model.raw(t), 40000);
      const i = events.findIndex((e) => e.kind === "fault");
      expect(i).toBeGreaterThanOrEqual(0);
      expect(events.slice(0, i).filter((e) => e.kind === "removal" || e.kind === "addition")).toEqual([]);
      expect(events[i]!.atMs - 20000).toBeLessThanOrEqual(5000);
    }
  });
});
