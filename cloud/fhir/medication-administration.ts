/**
 * Dose outcomes as HL7 FHIR R4 MedicationAdministration resources in a collection Bundle.
 * taken on time / late → status "completed"; partial → "completed" with the pills actually
 * removed and a note; missed / unreported → "not-done" with a statusReason.
 */
import { createHash } from "node:crypto";
import type { DispenserConfig } from "../../firmware/core/config/types";
import type { SlotRecord } from "../relay/adherence";

export const DOSE_OUTCOME_SYSTEM = "https://dosekeeper.org/fhir/CodeSystem/dose-outcome";
export const SLOT_SYSTEM = "urn:dosekeeper:slot";
export const DEVICE_SYSTEM = "urn:dosekeeper:device";

export interface FhirOptions {
  device: string;
  config?: DispenserConfig;
  /** "Patient/123" when the cloud knows the patient's FHIR id; otherwise a logical reference by device. */
  patientRef?: string;
  nowMs: number;
}

type Json = Record<string, unknown>;

function uuidOf(s: string): string {
  const h = createHash("sha1").update(s).digest("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${((parseInt(h.slice(16, 18), 16) & 0x3f) | 0x80).toString(16)}${h.slice(18, 20)}-${h.slice(20, 32)}`;
}

function idOf(device: string, slot: string): string {
  return (device + "-" + slot).replace(/[^A-Za-z0-9.-]/g, "-").slice(0, 64);
}

const REASON: Record<string, { display: string }> = {
  missed: { display: "Dose not removed from the dispenser before its window closed" },
  unreported: { display: "No outcome reported by the dispenser (offline or switched off)" },
};

export function medicationAdministration(r: SlotRecord, o: FhirOptions): Json {
  const dose = o.config?.doses.find((d) => d.id === r.doseId);
  const compId = r.comp ?? dose?.compartment ?? null;
  const comp = o.config?.compartments.find((c) => c.id === compId);
  const medText = comp
    ? comp.meds.map((m) => (m.count > 1 ? `${m.count} × ${m.name}` : m.name)).join(" + ")
    : `Compartment ${compId ?? "?"} of dispenser ${o.device}`;
  const expectedPills = comp ? comp.meds.reduce((a, m) => a + m.count, 0) : null;
  const notDone = r.outcome === "missed" || r.outcome === "unreported";
  const res: Json = {
    resourceType: "MedicationAdministration",
    id: idOf(o.device, r.slot),
    identifier: [{ system: SLOT_SYSTEM, value: `${o.device}/${r.slot}` }],
    status: notDone ? "not-done" : "completed",
  };
  if (notDone) {
    res.statusReason = [
      { coding: [{ system: DOSE_OUTCOME_SYSTEM, code: r.outcome, display: REASON[r.outcome].display }], text: REASON[r.outcome].display },
    ];
  }
  res.medicationCodeableConcept = { text: medText };
  res.subject =
    o.patientRef !== undefined
      ? { reference: o.patientRef }
      : { identifier: { system: DEVICE_SYSTEM, value: o.device }, display: `Patient using dispenser ${o.device}` };
  res.effectiveDateTime = new Date(r.tMs).toISOString();
  res.device = [{ identifier: { system: DEVICE_SYSTEM, value: o.device } }];
  const notes: string[] = [];
  if (r.outcome === "late") notes.push(r.lateMin !== null ? `Taken ${r.lateMin} min late` : "Taken late");
  if (r.afterMissed) notes.push("Taken after the dose window closed");
  if (r.outcome === "partial") notes.push(`Partial dose: ${r.pills ?? "?"} of ${r.expected ?? expectedPills ?? "?"} pills removed`);
  if (notes.length) res.note = notes.map((text) => ({ text }));
  if (!notDone) {
    const pills = r.outcome === "partial" ? r.pills : (r.pills ?? expectedPills);
    if (pills !== null) res.dosage = { dose: { value: pills, unit: "tablet", system: "http://unitsofmeasure.org", code: "{tbl}" } };
  }
  return res;
}

export function medicationAdministrationBundle(records: readonly SlotRecord[], o: FhirOptions): Json {
  return {
    resourceType: "Bundle",
    id: uuidOf(`${o.device}|${o.nowMs}|${records.length}`),
    type: "collection",
    timestamp: new Date(o.nowMs).toISOString(),
    entry: records.map((r) => ({ fullUrl: "urn:uuid:" + uuidOf(`${o.device}/${r.slot}`), resource: medicationAdministration(r, o) })),
  };
}
