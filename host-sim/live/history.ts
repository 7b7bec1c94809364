/**
 * Adherence history and FHIR export computed locally from a device's events (Node only).
 * This is the stand-in for the relay's HTTP API (adherence per day, FHIR export): the server
 * asks a HistorySource, and the relay-backed one replaces this when cloud/relay lands.
 */

export interface DayAdherence {
  /** Local date of the slot, "YYYY-MM-DD" (from the slot id "am@2026-03-10"). */
  readonly date: string;
  onTime: number;
  late: number;
  missed: number;
  partial: number;
}

export interface DoseRecord {
  readonly slot: string;
  readonly comp: string;
  readonly outcome: "taken" | "taken_early" | "taken_late" | "missed" | "partial";
  /** Virtual UTC ms when the device logged it. */
  readonly t: number;
  readonly pills?: number;
  readonly mg?: number;
  readonly meds: readonly { readonly name: string; readonly count: number; readonly unitMg: number }[];
}

/** Days of history kept per device, and dose records kept per device (oldest dropped first). */
export const HISTORY_DAYS = 90;
export const HISTORY_RECORDS = 2000;
const LATE_SLOTS = 64;

/** Folds dose events into per-day counts and records. Bounded. */
export class DoseHistory {
  private readonly days = new Map<string, DayAdherence>();
  private readonly lateSlots: string[] = [];
  readonly records: DoseRecord[] = [];

  /** Feed one logged event; `medsOf(comp)` gives the compartment contents at that time. */
  onEvent(type: string, data: Record<string, unknown>, t: number, medsOf: (comp: string) => DoseRecord["meds"]): void {
    const slot = typeof data.slot === "string" ? data.slot : "";
    const comp = typeof data.comp === "string" ? data.comp : "";
    if (slot === "") return;
    let outcome: DoseRecord["outcome"] | undefined;
    switch (type) {
      case "dose.late":
        if (this.lateSlots.indexOf(slot) < 0) {
          this.lateSlots.push(slot);
          if (this.lateSlots.length > LATE_SLOTS) this.lateSlots.shift();
        }
        return;
      case "dose.taken":
        outcome = this.lateSlots.indexOf(slot) >= 0 ? "taken_late" : "taken";
        break;
      case "dose.taken_early":
        outcome = "taken_early";
        break;
      case "dose.missed":
        outcome = "missed";
        break;
      case "dose.partial":
        if (data.final !== true) return;
        outcome = "partial";
        break;
      default:
        return;
    }
    const date = slot.slice(slot.indexOf("@") + 1);
    let d = this.days.get(date);
    if (d === undefined) {
      d = { date, onTime: 0, late: 0, missed: 0, partial: 0 };
      this.days.set(date, d);
      if (this.days.size > HISTORY_DAYS) {
        const oldest = [...this.days.keys()].sort()[0];
        this.days.delete(oldest);
      }
    }
    if (outcome === "taken" || outcome === "taken_early") d.onTime++;
    else if (outcome === "taken_late") d.late++;
    else if (outcome === "missed") d.missed++;
    else d.partial++;
    const rec: DoseRecord = {
      slot,
      comp,
      outcome,
      t,
      ...(typeof data.pills === "number" ? { pills: data.pills } : {}),
      ...(typeof data.mg === "number" ? { mg: data.mg } : {}),
      meds: medsOf(comp),
    };
    this.records.push(rec);
    if (this.records.length > HISTORY_RECORDS) this.records.shift();
  }

  /** Per-day counts, oldest first. */
  perDay(): DayAdherence[] {
    return [...this.days.values()].sort((a, b) => (a.date < b.date ? -1 : a.date > b.date ? 1 : 0)).map((d) => ({ ...d }));
  }
}

/**
 * FHIR R4 Bundle (collection) of MedicationAdministration resources, one per medication of each
 * recorded dose: `completed` for a taken dose, `not-done` for a missed one, `in-progress` with a
 * note for a partial one. The subject is an opaque reference (data minimisation: the relay maps
 * device ids to Patient resources).
 */
export function fhirBundle(device: string, records: readonly DoseRecord[], generatedAt: number): Record<string, unknown> {
  const entries: Record<string, unknown>[] = [];
  for (const r of records) {
    r.meds.forEach((m, i) => {
      const id = `${device}-${r.slot.replace(/[^A-Za-z0-9-]/g, "-")}-${i}`;
      const status = r.outcome === "missed" ? "not-done" : r.outcome === "partial" ? "in-progress" : "completed";
      const res: Record<string, unknown> = {
        resourceType: "MedicationAdministration",
        id,
        status,
        medicationCodeableConcept: { text: m.name },
        subject: { reference: `Device/${device}`, display: "patient of " + device },
        device: [{ reference: `Device/${device}` }],
        effectiveDateTime: new Date(r.t).toISOString(),
        dosage: { dose: { value: m.count, unit: "pill" } },
        note: [{ text: `slot ${r.slot}, compartment ${r.comp}, outcome ${r.outcome}` }],
      };
      if (status === "not-done") res.statusReason = [{ text: "dose not removed within its window (missed)" }];
      entries.push({ fullUrl: `urn:uuid:${id}`, resource: res });
    });
  }
  return {
    resourceType: "Bundle",
    type: "collection",
    timestamp: new Date(generatedAt).toISOString(),
    total: entries.length,
    entry: entries,
  };
}
