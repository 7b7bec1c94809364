/**
 * Scenario runner: runs the firmware core in virtual time against emulated hardware and
 * writes a deterministic JSON-lines timeline (docs/scenarios.md). XS-clean, so the very same
 * code runs in Node and inside the XS engine (the XS lane compares the two byte for byte).
 */
import { isoUtc } from "../../../firmware/core/schedule/civil";
import { Scheduler } from "../time/scheduler";
import { SimDevice } from "../device/sim-device";
import { SimBroker } from "../device/sim-broker";
import { base64Decode } from "../../../firmware/core/crypto/base64";
import type { Scenario } from "./scenario";
import { runDeviceStep, type Step } from "./steps";

export { FIRMWARE_VERSION, simCalibration } from "../device/sim-device";

/** A power cut armed to tear a write happens at the latest this long after its step. */
const TEAR_WAIT_MS = 600_000;

/** Run a parsed scenario; every timeline line goes to `sink` (default: collected and returned). */
export function runScenario(sc: Scenario, sink?: (line: string) => void, hold?: (device: SimDevice) => void): string[] {
  const lines: string[] = [];
  const out = sink ?? ((l: string) => void lines.push(l));
  const sched = new Scheduler(sc.start);
  const emit = (k: string, body: string): void => {
    out(`{"t":"${isoUtc(sched.now)}","k":"${k}"${body.length > 0 ? "," + body : ""}}`);
  };
  const broker = sc.transport !== "stand-in" ? new SimBroker(sched, emit, sc.network) : undefined;
  const trustedKeys = sc.trust.map((t) => ({ kid: t.kid, publicKey: base64Decode(t.publicKey) ?? new Uint8Array(32) }));
  const dev = new SimDevice({
    broker,
    board: sc.transport === "board",
    hx711Pins: sc.device.loadCells === "pins",
    trustedKeys,
    sched,
    id: sc.device.id,
    channels: sc.device.channels,
    leds: sc.device.leds,
    sps: sc.device.sps,
    seed: sc.device.seed,
    loadedDoses: sc.loadedDoses,
    clockErrorMs: sc.clockErrorMs,
    config: sc.config,
    network: sc.network,
    emit,
  });

  function doStep(s: Step): void {
    emit("sim", `"step":${JSON.stringify(s.raw)}`);
    if (runDeviceStep(dev, s, TEAR_WAIT_MS)) return;
    switch (s.do) {
      case "ntp-sync":
        dev.ntpSync();
        return;
      case "clock-step":
        dev.clockStep(s.deltaMs ?? 0);
        return;
      case "config":
        dev.pushConfig(s.config !== undefined ? s.config : { ...dev.lastConfig, ...(s.patch ?? {}) });
        return;
      case "publish":
        if (broker !== undefined) broker.publish(s.topic ?? "", SimBroker.bytes(s.payload ?? ""), s.retain === true);
        return;
    }
  }

  for (const s of sc.steps) sched.at(s.t, () => doStep(s));
  emit("sim", `"scenario":${JSON.stringify(sc.name)},"device":${JSON.stringify(sc.device.id)}`);
  dev.guard(() => dev.boot("power_on"));
  sched.runUntil(sc.end, (e) => {
    if (!dev.handle(e)) throw e;
  });
  if (hold !== undefined) hold(dev);
  const st = dev.status();
  emit(
    "end",
    !st.alive
      ? `"alive":false`
      : `"outbox":${st.outbox},"dropped":${st.dropped},"config":${JSON.stringify(st.config)},"slots":${JSON.stringify(st.slots.map((x) => [x.id, x.state]))},"kvWrites":${dev.kv.stats().writes}`,
  );
  return lines;
}
