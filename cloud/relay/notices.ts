/** Texts of the notifications (English and French). No patient data comes from the device. */
import type { DeviceSchedule } from "./schedules";
import { doseOfSlot, localHm } from "./schedules";
import type { Notice, NotificationKind, Priority } from "./types";

export interface NoticeInput {
  kind: NotificationKind;
  key: string;
  device: string;
  slot?: string;
  comp?: string;
  state?: string;
  dueMs?: number;
  prn?: string;
  reason?: string;
  /** For fallback: what could not be delivered. */
  failedRef?: string;
  failedCh?: string;
  code?: string;
  /** For dead-man: last time the device was heard from. */
  lastSeenMs?: number;
}

const T = {
  en: {
    escalation: "Dose not taken",
    prn: "As-needed dose limit",
    fallback: "Alert could not be delivered",
    deadman: "Dispenser offline at dose time",
    "back-online": "Dispenser back online",
    refill: "Refill check",
    late: "late",
    due: "due",
    missed: "missed",
  },
  fr: {
    escalation: "Prise non effectuée",
    prn: "Limite de prise à la demande",
    fallback: "Alerte non délivrée",
    deadman: "Pilulier hors ligne à l'heure de la prise",
    "back-online": "Pilulier de nouveau en ligne",
    refill: "Contrôle du remplissage",
    late: "en retard",
    due: "à prendre",
    missed: "manquée",
  },
} as const;

function label(s: DeviceSchedule | undefined, comp: string | undefined, slot: string | undefined): string {
  const c = s?.config.compartments.find((x) => x.id === comp);
  if (c) return `"${c.label}"`;
  if (s && slot) {
    const d = doseOfSlot(s.config, slot);
    const cc = d && s.config.compartments.find((x) => x.id === d.compartment);
    if (cc) return `"${cc.label}"`;
  }
  return comp ?? slot ?? "?";
}

export function buildNotice(i: NoticeInput, lang: "en" | "fr", s: DeviceSchedule | undefined): Notice {
  const t = T[lang];
  const fr = lang === "fr";
  const what = label(s, i.comp, i.slot);
  const at = i.dueMs !== undefined && Number.isFinite(i.dueMs) ? localHm(s, i.dueMs) : undefined;
  let body: string;
  let priority: Priority = "high";
  switch (i.kind) {
    case "escalation": {
      const st = i.state === "late" || i.state === "due" || i.state === "missed" ? t[i.state] : (i.state ?? "");
      body = fr
        ? `Dose ${what}${at ? ` prévue à ${at}` : ""} non prise (${st}).`
        : `Dose ${what}${at ? ` due at ${at}` : ""} not taken yet (${st}).`;
      break;
    }
    case "prn":
      body = fr
        ? `Prise à la demande ${i.prn ?? ""} : limite atteinte (${i.reason ?? "?"}).`
        : `As-needed dose ${i.prn ?? ""}: limit reached (${i.reason ?? "?"}).`;
      break;
    case "fallback":
      body = fr
        ? `Pilulier ${i.device}, ${i.slot ?? "?"} : envoi ${i.failedCh ?? "?"} à ${i.failedRef ?? "?"} impossible (${i.code ?? "?"}). Merci de prévenir le patient.`
        : `Dispenser ${i.device}, ${i.slot ?? "?"}: could not send ${i.failedCh ?? "?"} to ${i.failedRef ?? "?"} (${i.code ?? "?"}). Please reach the patient.`;
      break;
    case "deadman": {
      const seen = i.lastSeenMs !== undefined ? localHm(s, i.lastSeenMs) : "?";
      body = fr
        ? `Le pilulier ${i.device} ne répond plus depuis ${seen} ; la dose ${what} était prévue à ${at ?? "?"}. Merci de vérifier.`
        : `Dispenser ${i.device} has not been heard from since ${seen}; dose ${what} was due at ${at ?? "?"}. Please check on the patient.`;
      break;
    }
    case "back-online":
      priority = "low";
      body = fr
        ? `Le pilulier ${i.device} est de nouveau en ligne (${i.slot ?? ""}).`
        : `Dispenser ${i.device} is back online (${i.slot ?? ""}).`;
      break;
    case "refill":
      priority = "low";
      body = fr
        ? `Pilulier ${i.device} : contenu du compartiment ${what} inattendu.`
        : `Dispenser ${i.device}: unexpected content in compartment ${what}.`;
      break;
  }
  return {
    key: i.key,
    device: i.device,
    kind: i.kind,
    priority,
    title: "Dosekeeper: " + t[i.kind],
    body,
    ...(i.slot !== undefined ? { slot: i.slot } : {}),
  };
}
