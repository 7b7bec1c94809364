/**
 * A 30-day scenario for the heap benchmark: the home config, every morning and evening dose taken
 * at a varying time, a few late, partial, wrong-compartment and missed doses, PRN use, bumps,
 * a reboot, a power cut and a day offline. Built programmatically so it stays readable.
 */
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

export function monthScenario(days = 30): string {
  const config = JSON.parse(fs.readFileSync(path.join(root, "test/scenarios/configs/home.json"), "utf8"));
  const steps: Record<string, unknown>[] = [];
  const pad = (n: number): string => String(n).padStart(2, "0");
  for (let d = 0; d < days; d++) {
    const date = new Date(Date.UTC(2026, 3, 1 + d));
    const day = `${date.getUTCFullYear()}-${pad(date.getUTCMonth() + 1)}-${pad(date.getUTCDate())}`;
    const amMin = (d * 7) % 50; // 08:00 .. 08:49
    if (d % 9 !== 4) steps.push({ at: `${day}T08:${pad(amMin)}`, do: "remove", compartment: "morning", doses: 1 });
    if (d % 5 === 2) steps.push({ at: `${day}T12:${pad((d * 3) % 60)}`, do: "bump", compartment: "evening", grams: 400 });
    if (d % 6 === 1) steps.push({ at: `${day}T15:00`, do: "remove", compartment: "pain", doses: 1 });
    if (d % 11 === 3) steps.push({ at: `${day}T19:40`, do: "remove", compartment: "morning", pills: 1 });
    if (d === 12) steps.push({ at: `${day}T13:00`, do: "reboot", reason: "watchdog" });
    if (d === 17) steps.push({ at: `${day}T03:00`, do: "power-cut", offMs: 600000 });
    if (d === 20) steps.push({ at: `${day}T06:00`, do: "network", up: false });
    if (d === 21) steps.push({ at: `${day}T06:00`, do: "network", up: true });
    if (d % 8 !== 6) steps.push({ at: `${day}T20:${pad((d * 13) % 55)}`, do: "remove", compartment: "evening", doses: 1 });
  }
  steps.sort((a, b) => String(a.at).localeCompare(String(b.at)));
  const end = new Date(Date.UTC(2026, 3, 1 + days));
  return JSON.stringify({
    name: `${days} days at home`,
    start: "2026-03-31T20:00:00Z",
    end: end.toISOString().replace(/\.\d{3}Z$/, "Z"),
    loadedDoses: 40,
    config,
    steps,
  });
}
