/**
 * Notification texts come from the relay's templates and its own copy of the config: no text a
 * device sent reaches a person (labels by compartment id from the config, words for states and
 * reasons, generic words otherwise), and bodies are capped.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { BODY_MAX, buildNotice } from "../../../cloud/relay/notices";
import { ScheduleBook } from "../../../cloud/relay/schedules";

const CONFIG = readFileSync(join(__dirname, "../../fixtures/configs/dk-0001-4x.json"), "utf8");
const book = new ScheduleBook();
book.set("dk-0001", 1, CONFIG);
const s = book.get("dk-0001");
const morning = (JSON.parse(CONFIG) as { compartments: { id: string; label: string }[] }).compartments[0];
const PHISH = "URGENT call +1 900 555 0100 or visit http://evil.example/pay NOW".repeat(20);

describe("notices", () => {
  it("a compartment is named by the relay's config label, never by the device's text", () => {
    const n = buildNotice(
      { kind: "escalation", key: "k", device: "dk-0001", slot: "am@2026-03-10", comp: morning.id, state: "late" },
      "en",
      s,
    );
    expect(n.body).toContain(`"${morning.label}"`);
    const evil = buildNotice({ kind: "escalation", key: "k", device: "dk-0001", slot: PHISH, comp: PHISH, state: PHISH }, "en", s);
    expect(evil.body).not.toContain("evil");
    expect(evil.body).not.toContain("900");
    expect(evil.body).toContain("a compartment");
    const noConfig = buildNotice({ kind: "refill", key: "k", device: "dk-0009", comp: PHISH }, "fr", undefined);
    expect(noConfig.body).not.toContain("evil");
    expect(noConfig.body).toContain("un compartiment");
  });

  it("states and PRN reasons in words, in the recipient's language", () => {
    const wc = buildNotice({ kind: "escalation", key: "k", device: "dk-0001", comp: morning.id, state: "wrong_compartment" }, "fr", s);
    expect(wc.body).toContain("médicaments pris dans un autre compartiment");
    expect(wc.body).not.toContain("wrong_compartment");
    const prn = buildNotice({ kind: "prn", key: "k", device: "dk-0001", prn: PHISH, reason: "interval" }, "en", s);
    expect(prn.body).toContain("too soon after the previous dose");
    expect(prn.body).not.toContain("interval)");
    expect(prn.body).not.toContain("evil");
  });

  it("a catch-up request says how many more doses were missed", () => {
    const one = { kind: "escalation", key: "k", device: "dk-0001", comp: morning.id, state: "missed" } as const;
    expect(buildNotice({ ...one, others: 2 }, "en", s).body).toContain("2 more doses missed too.");
    expect(buildNotice({ ...one, others: 1 }, "fr", s).body).toContain("1 autre prise manquée aussi.");
    expect(buildNotice(one, "en", s).body).not.toContain("more dose");
  });

  it("a help request (long press) names the dispenser and the time, in the recipient's language", () => {
    const en = buildNotice({ kind: "help", key: "k", device: "dk-0001", dueMs: Date.parse("2026-03-10T09:00:00Z") }, "en", s);
    expect(en.title).toBe("Dosekeeper: Help requested");
    expect(en.body).toContain("asked for help from dispenser dk-0001");
    expect(en.priority).toBe("high");
    expect(buildNotice({ kind: "help", key: "k", device: "dk-0001" }, "fr", s).body).toContain("demande de l'aide");
  });

  it("a fallback says in words what could not be sent to whom and why, with the code for support", () => {
    const n = (lang: "en" | "fr", failedCh: string, code: string) =>
      buildNotice(
        { kind: "fallback", key: "k", device: "dk-0001", slot: "am@2026-03-10", failedRef: "caregiver-1", failedCh, code },
        lang,
        s,
      ).body;
    expect(n("en", "sms", "RELAY_RETRIES")).toBe(
      "Dispenser dk-0001, am@2026-03-10: could not send a text message to caregiver-1: the provider kept failing (RELAY_RETRIES). Please reach the patient.",
    );
    expect(n("fr", "call", "HTTP_503")).toContain("impossible d'envoyer un appel à caregiver-1 : refusé par le fournisseur (HTTP_503)");
    expect(n("en", "push", "PUSH_GONE")).toContain("a push notification to caregiver-1: their push subscription has expired (PUSH_GONE)");
    // An unknown code or channel still reads as a sentence.
    expect(n("en", "pager", "WHATEVER")).toContain("could not send an alert to caregiver-1: delivery failed (WHATEVER)");
  });

  it("bodies are capped", () => {
    for (const kind of ["escalation", "prn", "fallback", "deadman", "back-online", "refill"] as const) {
      const n = buildNotice(
        { kind, key: "k", device: "dk-0001", slot: PHISH, comp: PHISH, prn: PHISH, reason: PHISH, failedRef: "x".repeat(500), code: PHISH },
        "en",
        s,
      );
      expect(n.body.length).toBeLessThanOrEqual(BODY_MAX);
    }
  });
});
