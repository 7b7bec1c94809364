/**
 * Steps: one vocabulary for what can happen to a simulated dispenser, shared by scenario files
 * (docs/scenarios.md) and the live dashboard's actions. readStepFields checks a step's fields
 * and names every faulty one; runDeviceStep applies a device step to a SimDevice.
 */
import type { SimDevice } from "../device/sim-device";
import type { Amount, BayFault } from "../device/sim-config";
import { isObj } from "../../../firmware/core/protocol/json";

type Obj = Record<string, unknown>;

export type StepKind =
  | "remove"
  | "add"
  | "bump"
  | "lift"
  | "fault"
  | "button"
  | "power-cut"
  | "reboot"
  | "network"
  | "ntp-sync"
  | "clock-step"
  | "config"
  | "publish";

export interface StepFields {
  readonly do: StepKind;
  readonly compartment?: string;
  readonly doses?: number;
  readonly pills?: number;
  readonly mg?: number;
  readonly grams?: number;
  readonly durationMs?: number;
  readonly kind?: string;
  readonly offMs?: number;
  readonly tear?: "lost" | "truncated";
  readonly afterWrites?: number;
  readonly reason?: string;
  readonly up?: boolean;
  readonly deltaMs?: number;
  readonly config?: unknown;
  readonly patch?: Record<string, unknown>;
  readonly topic?: string;
  readonly payload?: string;
  readonly retain?: boolean;
}

export interface Step extends StepFields {
  /** Resolved UTC ms. */
  readonly t: number;
  /** The step as written (echoed in the timeline). */
  readonly raw: Record<string, unknown>;
}

export const STEP_KINDS: readonly StepKind[] = Object.freeze([
  "remove",
  "add",
  "bump",
  "lift",
  "fault",
  "button",
  "power-cut",
  "reboot",
  "network",
  "ntp-sync",
  "clock-step",
  "config",
  "publish",
]);

/** Steps that act on the device (the live dashboard offers these). */
export const DEVICE_STEPS: readonly StepKind[] = Object.freeze([
  "remove",
  "add",
  "bump",
  "lift",
  "fault",
  "button",
  "power-cut",
  "reboot",
  "network",
]);

export const STEP_FIELDS: Record<StepKind, readonly string[]> = {
  remove: ["compartment", "doses", "pills", "mg", "durationMs"],
  add: ["compartment", "doses", "pills", "mg", "durationMs"],
  bump: ["compartment", "grams", "durationMs"],
  lift: ["compartment", "durationMs"],
  fault: ["compartment", "kind", "durationMs"],
  button: ["kind"],
  "power-cut": ["offMs", "tear", "afterWrites"],
  reboot: ["reason"],
  network: ["up"],
  "ntp-sync": [],
  "clock-step": ["deltaMs"],
  config: ["config", "patch"],
  publish: ["topic", "payload", "retain"],
};

/** Reads the fields of a step of kind `k` (everything but `at`); `bad` is told every faulty field. */
export function readStepFields(raw: Obj, k: StepKind, bad: (field: string, message: string) => void): StepFields {
  for (const f of Object.keys(raw)) {
    if (f !== "at" && f !== "do" && f !== "note" && STEP_FIELDS[k].indexOf(f) < 0) bad(f, `unknown field for "${k}"`);
  }
  const step: { -readonly [K in keyof StepFields]?: StepFields[K] } = { do: k };
  const num = (f: keyof Step & string, lo: number, hi: number, integer: boolean): void => {
    const v = raw[f];
    if (v === undefined) return;
    if (typeof v !== "number" || !(v >= lo && v <= hi) || (integer && !Number.isInteger(v)))
      bad(f, `${integer ? "integer" : "number"} ${lo}..${hi}`);
    else (step as Record<string, unknown>)[f] = v;
  };
  if (STEP_FIELDS[k].indexOf("compartment") >= 0) {
    if (typeof raw.compartment !== "string") bad("compartment", "required compartment id");
    else step.compartment = raw.compartment;
  }
  num("doses", 0, 60, false);
  num("pills", 1, 500, true);
  num("mg", 1, 1_000_000, false);
  num("grams", 1, 5000, false);
  num("durationMs", 50, 600_000, true);
  num("offMs", 0, 30 * 86_400_000, true);
  num("afterWrites", 0, 1000, true);
  num("deltaMs", -86_400_000 * 365, 86_400_000 * 365, true);
  if (k === "remove" || k === "add") {
    const n = (raw.doses !== undefined ? 1 : 0) + (raw.pills !== undefined ? 1 : 0) + (raw.mg !== undefined ? 1 : 0);
    if (n !== 1) bad("doses", "give exactly one of doses, pills or mg");
  }
  if (k === "fault") {
    if (raw.kind !== "disconnect" && raw.kind !== "stuck" && raw.kind !== "saturate" && raw.kind !== "noisy")
      bad("kind", "disconnect, stuck, saturate or noisy");
    else step.kind = raw.kind;
  }
  if (k === "button") {
    const kd = raw.kind ?? "short";
    if (kd !== "short" && kd !== "long") bad("kind", "short or long");
    else step.kind = kd;
  }
  if (k === "power-cut" && raw.tear !== undefined) {
    if (raw.tear !== "lost" && raw.tear !== "truncated") bad("tear", "lost or truncated");
    else step.tear = raw.tear;
  }
  if (k === "reboot") {
    const r = raw.reason ?? "software";
    if (typeof r !== "string" || !/^[a-z_]{1,16}$/.test(r)) bad("reason", "a reset reason like software or watchdog");
    else step.reason = r;
  }
  if (k === "network") {
    if (typeof raw.up !== "boolean") bad("up", "required boolean");
    else step.up = raw.up;
  }
  if (k === "clock-step" && raw.deltaMs === undefined) bad("deltaMs", "required");
  if (k === "config") {
    const n = (raw.config !== undefined ? 1 : 0) + (raw.patch !== undefined ? 1 : 0);
    if (n !== 1) bad("config", "give exactly one of config (whole) or patch (top-level fields)");
    if (raw.config !== undefined) step.config = raw.config;
    if (raw.patch !== undefined) {
      if (!isObj(raw.patch)) bad("patch", "must be an object");
      else step.patch = raw.patch;
    }
  }
  if (k === "publish") {
    if (typeof raw.topic !== "string" || raw.topic.length === 0 || raw.topic.length > 128) bad("topic", "required MQTT topic name");
    else step.topic = raw.topic;
    if (typeof raw.payload !== "string") bad("payload", "required string (UTF-8 text)");
    else step.payload = raw.payload;
    if (raw.retain !== undefined && typeof raw.retain !== "boolean") bad("retain", "boolean");
    else step.retain = raw.retain === true;
  }
  return step as StepFields;
}

function amountOf(s: StepFields): Amount {
  if (s.doses !== undefined) return { doses: s.doses };
  if (s.pills !== undefined) return { pills: s.pills };
  return { mg: s.mg ?? 0 };
}

/** Applies a device step; false for a step that is not a device step (the caller handles those). */
export function runDeviceStep(dev: SimDevice, s: StepFields, tearWaitMs: number): boolean {
  const comp = s.compartment ?? "";
  switch (s.do) {
    case "remove":
      dev.remove(comp, amountOf(s), s.durationMs ?? 4000);
      return true;
    case "add":
      dev.add(comp, amountOf(s), s.durationMs ?? 4000);
      return true;
    case "bump":
      dev.bump(comp, s.grams ?? 300, s.durationMs ?? 300);
      return true;
    case "lift":
      dev.lift(comp, s.durationMs ?? 2500);
      return true;
    case "fault":
      dev.fault(comp, s.kind as BayFault, s.durationMs);
      return true;
    case "button":
      dev.press(s.kind === "long" ? "long" : "short");
      return true;
    case "power-cut":
      dev.powerCut(
        s.offMs ?? 5000,
        s.tear !== undefined ? { mode: s.tear, afterWrites: s.afterWrites ?? 0, maxWaitMs: tearWaitMs } : undefined,
      );
      return true;
    case "reboot":
      dev.reboot(s.reason ?? "software");
      return true;
    case "network":
      dev.setNetwork(s.up === true);
      return true;
    default:
      return false;
  }
}
