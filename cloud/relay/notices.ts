/**
 * Texts of the notifications (English and French), from these templates and the relay's own
 * copy of the pharmacist's config only: no text a device sent ever reaches a person (a
 * compartment is named by the label in the config the relay holds, a state or reason by its
 * word here; anything unknown gets a generic word). Bodies are capped at BODY_MAX characters.
 */
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
  /** A catch-up request covering this many more missed slots (power-off, clock jump). */
  others?: number;
  /** For fallback: what could not be delivered. */
  failedRef?: string;
  failedCh?: string;
  code?: string;
  /** For dead-man: last time the device was heard from. */
  lastSeenMs?: number;
  /** For refire: minutes since the acknowledgement. */
  ackedMin?: number;
  /** For weigh: the compartment's detectability (tele `weigh`). */
  z?: number;
  /** For low-stock: doses and days left (for safe-mode: the crash resets in a row). */
  doses?: number;
  /** For rollback: the version tried and the one running again. */
  tried?: string;
  running?: string;
  days?: number;
}

const T = {
  en: {
    escalation: "Dose not taken",
    prn: "As-needed dose limit",
    help: "Help requested",
    fallback: "Alert could not be delivered",
    deadman: "Dispenser offline at dose time",
    outage: "Dispenser not responding",
    "back-online": "Dispenser back online",
    refill: "Refill check",
    refire: "Dose still not taken",
    "low-stock": "Low stock",
    weigh: "Doses cannot be confirmed by weight",
    "safe-mode": "Dispenser in safe mode",
    rollback: "Firmware update rolled back",
    late: "late",
    due: "due",
    missed: "missed",
    partial: "only part of the dose taken",
    wrong_compartment: "pills taken from another compartment",
    max24h: "the daily maximum is reached",
    interval: "too soon after the previous dose",
    per_intake: "more taken at once than prescribed",
    aCompartment: "a compartment",
    aDose: "an as-needed medication",
  },
  fr: {
    escalation: "Prise non effectuée",
    prn: "Limite de prise à la demande",
    help: "Demande d'aide",
    fallback: "Alerte non délivrée",
    deadman: "Pilulier hors ligne à l'heure de la prise",
    outage: "Pilulier injoignable",
    "back-online": "Pilulier de nouveau en ligne",
    refill: "Contrôle du remplissage",
    refire: "Prise toujours pas effectuée",
    "low-stock": "Stock bas",
    weigh: "Prises non vérifiables par la pesée",
    "safe-mode": "Pilulier en mode sans échec",
    rollback: "Mise à jour annulée",
    late: "en retard",
    due: "à prendre",
    missed: "manquée",
    partial: "dose prise en partie seulement",
    wrong_compartment: "médicaments pris dans un autre compartiment",
    max24h: "le maximum quotidien est atteint",
    interval: "trop tôt après la prise précédente",
    per_intake: "plus pris en une fois que prescrit",
    aCompartment: "un compartiment",
    aDose: "un médicament à la demande",
  },
} as const;

/** Longest notification body (characters): an SMS segment pair. */
export const BODY_MAX = 320;
const LABEL_MAX = 40;

type Words = (typeof T)["en"] | (typeof T)["fr"];

/** A config label as shown to people: control characters removed, length capped. */
function clean(label: string): string {
  let out = "";
  for (const ch of label) {
    const c = ch.codePointAt(0) ?? 0;
    if (c >= 0x20 && !(c >= 0x7f && c <= 0x9f)) out += ch;
  }
  return out.length > LABEL_MAX ? out.slice(0, LABEL_MAX - 1) + "…" : out;
}

/** The compartment as the relay's config names it (by compartment id, else by the slot's dose); generic otherwise. */
function label(t: Words, s: DeviceSchedule | undefined, comp: string | undefined, slot: string | undefined): string {
  const c = s?.config.compartments.find((x) => x.id === comp);
  if (c) return `"${clean(c.label)}"`;
  if (s && slot) {
    const d = doseOfSlot(s.config, slot);
    const cc = d && s.config.compartments.find((x) => x.id === d.compartment);
    if (cc) return `"${clean(cc.label)}"`;
  }
  return t.aCompartment;
}

/** A PRN entry named by its compartment's label in the relay's config; generic otherwise. */
function prnLabel(t: Words, s: DeviceSchedule | undefined, prn: string | undefined): string {
  const p = s?.config.prn.find((x) => x.id === prn);
  const c = p && s?.config.compartments.find((x) => x.id === p.compartment);
  return c ? `"${clean(c.label)}"` : t.aDose;
}

/** A slot id as the device's schedule makes them (dose id @ local date), else nothing. */
const SLOT_RE = /^[a-z0-9_-]{1,12}@[0-9]{4}-[0-9]{2}-[0-9]{2}$/;
function slotText(slot: string | undefined): string {
  return slot !== undefined && SLOT_RE.test(slot) ? slot : "";
}

/** Why a message could not go out, in words (the code stays, in parentheses, for support). */
const FAILED = {
  en: {
    push: "a push notification",
    sms: "a text message",
    call: "a voice call",
    RELAY_UNREACHABLE: "no phone number or push subscription for them",
    RELAY_UNKNOWN_RECIPIENT: "not in the contact book",
    RELAY_NO_PROVIDER: "no provider set up for it",
    RELAY_RETRIES: "the provider kept failing",
    RELAY_TIMEOUT: "the provider did not answer",
    RELAY_NETWORK: "network error",
    PUSH_GONE: "their push subscription has expired",
    HTTP: "the provider refused it",
    other: "delivery failed",
  },
  fr: {
    push: "une notification",
    sms: "un SMS",
    call: "un appel",
    RELAY_UNREACHABLE: "ni téléphone ni abonnement push pour ce contact",
    RELAY_UNKNOWN_RECIPIENT: "absent du carnet de contacts",
    RELAY_NO_PROVIDER: "aucun fournisseur configuré",
    RELAY_RETRIES: "échecs répétés du fournisseur",
    RELAY_TIMEOUT: "le fournisseur n'a pas répondu",
    RELAY_NETWORK: "erreur réseau",
    PUSH_GONE: "son abonnement push a expiré",
    HTTP: "refusé par le fournisseur",
    other: "échec de l'envoi",
  },
} as const;

function failedWhat(lang: "en" | "fr", ch: string | undefined, code: string | undefined): { what: string; why: string } {
  const w = FAILED[lang];
  const what = ch === "push" || ch === "sms" || ch === "call" ? w[ch] : lang === "fr" ? "une alerte" : "an alert";
  const key = code !== undefined && code.startsWith("HTTP_") ? "HTTP" : code;
  const words = key !== undefined && key in w && key !== "push" && key !== "sms" && key !== "call" ? w[key as keyof typeof w] : w.other;
  return { what, why: `${words}${code ? ` (${clean(code)})` : ""}` };
}

function cap(body: string): string {
  return body.length > BODY_MAX ? body.slice(0, BODY_MAX - 1) + "…" : body;
}

export function buildNotice(i: NoticeInput, lang: "en" | "fr", s: DeviceSchedule | undefined): Notice {
  const t = T[lang];
  const fr = lang === "fr";
  const what = label(t, s, i.comp, i.slot);
  const at = i.dueMs !== undefined && Number.isFinite(i.dueMs) ? localHm(s, i.dueMs) : undefined;
  let body: string;
  let priority: Priority = "high";
  switch (i.kind) {
    case "escalation": {
      const st =
        i.state === "late" || i.state === "due" || i.state === "missed" || i.state === "partial" || i.state === "wrong_compartment"
          ? t[i.state]
          : undefined;
      // The slot id (dose id @ date, checked) is the reference a caregiver can quote.
      const ref = slotText(i.slot);
      const n = i.others;
      const more =
        n === undefined
          ? ""
          : fr
            ? ` ${n} autre${n > 1 ? "s" : ""} prise${n > 1 ? "s" : ""} manquée${n > 1 ? "s" : ""} aussi.`
            : ` ${n} more dose${n > 1 ? "s" : ""} missed too.`;
      body = fr
        ? `Dose ${what}${at ? ` prévue à ${at}` : ""} non prise${st ? ` : ${st}` : ""}.${more}${ref ? ` (réf. ${ref})` : ""}`
        : `Dose ${what}${at ? ` due at ${at}` : ""} not taken yet${st ? `: ${st}` : ""}.${more}${ref ? ` (ref ${ref})` : ""}`;
      break;
    }
    case "prn":
      {
        const why = i.reason === "max24h" || i.reason === "interval" || i.reason === "per_intake" ? t[i.reason] : undefined;
        const p = prnLabel(t, s, i.prn);
        body = fr
          ? `Prise à la demande ${p} refusée${why ? ` : ${why}` : ""}.`
          : `As-needed dose ${p} taken against its limit${why ? `: ${why}` : ""}.`;
      }
      break;
    case "help": {
      const when = at ? (fr ? ` à ${at}` : ` at ${at}`) : "";
      body = fr
        ? `Le patient demande de l'aide depuis le pilulier ${i.device}${when} (appui long sur le bouton). Merci de le contacter.`
        : `The patient asked for help from dispenser ${i.device}${when} (long press on the button). Please reach them.`;
      break;
    }
    case "fallback": {
      const f = failedWhat(lang, i.failedCh, i.code);
      const who = clean(i.failedRef ?? "?");
      body = fr
        ? `Pilulier ${i.device}, ${slotText(i.slot) || what} : impossible d'envoyer ${f.what} à ${who} : ${f.why}. Merci de prévenir le patient.`
        : `Dispenser ${i.device}, ${slotText(i.slot) || what}: could not send ${f.what} to ${who}: ${f.why}. Please reach the patient.`;
      break;
    }
    case "deadman": {
      const seen = i.lastSeenMs !== undefined ? localHm(s, i.lastSeenMs) : "?";
      body = fr
        ? `Le pilulier ${i.device} ne répond plus depuis ${seen} ; la dose ${what} était prévue à ${at ?? "?"}. Merci de vérifier.`
        : `Dispenser ${i.device} has not been heard from since ${seen}; dose ${what} was due at ${at ?? "?"}. Please check on the patient.`;
      break;
    }
    case "outage": {
      const seen = i.lastSeenMs !== undefined ? localHm(s, i.lastSeenMs) : "?";
      body = fr
        ? `Le pilulier ${i.device} ne répond plus depuis ${seen} (coupure de courant ou de Wi-Fi ?). Merci de vérifier.`
        : `Dispenser ${i.device} has not been heard from since ${seen} (power or Wi-Fi lost?). Please check.`;
      break;
    }
    case "back-online":
      priority = "low";
      body = fr ? `Le pilulier ${i.device} est de nouveau en ligne.` : `Dispenser ${i.device} is back online.`;
      break;
    case "refire": {
      const ref = slotText(i.slot);
      const m = i.ackedMin ?? 0;
      body = fr
        ? `Dose ${what}${at ? ` prévue à ${at}` : ""} toujours pas prise, ${m} min après votre accusé de réception.${ref ? ` (réf. ${ref})` : ""}`
        : `Dose ${what}${at ? ` due at ${at}` : ""} still not taken, ${m} min after you acknowledged.${ref ? ` (ref ${ref})` : ""}`;
      break;
    }
    case "low-stock": {
      priority = "low";
      const n = i.doses ?? 0;
      const d = i.days;
      body = fr
        ? `Pilulier ${i.device} : compartiment ${what}, ${n} dose${n > 1 ? "s" : ""} restante${n > 1 ? "s" : ""}${d !== undefined ? ` (${d} jour${d >= 2 ? "s" : ""})` : ""}. Merci de prévoir le renouvellement.`
        : `Dispenser ${i.device}: compartment ${what} has ${n} dose${n === 1 ? "" : "s"} left${d !== undefined ? ` (${d} day${d === 1 ? "" : "s"})` : ""}. Please plan a refill.`;
      break;
    }
    case "weigh": {
      priority = "low";
      const z = i.z !== undefined ? ` (z ${i.z})` : "";
      body = fr
        ? `Pilulier ${i.device} : les comprimés du compartiment ${what} sont trop légers pour que la balance confirme une prise à cette cadence${z}. Ses prises seront signalées « non confirmées » et l'alerte ira jusqu'au bout. Une cadence de 10 mesures/s ou un capteur plus sensible règle cela.`
        : `Dispenser ${i.device}: the pills of compartment ${what} are too light for the scale to confirm a dose at this rate${z}. Its doses will be reported unconfirmed and escalate in full. A 10 SPS rate or a more sensitive load cell fixes this.`;
      break;
    }
    case "safe-mode": {
      const n = i.doses !== undefined ? `${i.doses} ` : "";
      body = fr
        ? `Pilulier ${i.device} : ${n}redémarrages de suite après une panne, il tourne en mode sans échec. Rappels et alertes continuent, mais il ne peut plus confirmer les prises par la pesée : chaque prise ira en alerte jusqu'au bout. Envoyez un micrologiciel corrigé (dosekeeper ota) ou débranchez-le puis rebranchez-le.`
        : `Dispenser ${i.device} restarted ${n}times in a row after a crash and runs in safe mode. Reminders and alerts go on, but it cannot confirm doses by weight: every dose will escalate in full. Send a fixed firmware (dosekeeper ota) or power-cycle it.`;
      break;
    }
    case "rollback": {
      priority = "low";
      const why =
        i.reason === "OTA_TRIAL_RESET"
          ? fr
            ? "elle a redémarré pendant son essai"
            : "it restarted during its trial"
          : fr
            ? "son autotest a échoué"
            : "its self-test failed";
      const tried = i.tried !== undefined ? ` ${i.tried}` : "";
      const back = i.running !== undefined ? ` ${i.running}` : "";
      body = fr
        ? `Pilulier ${i.device} : la mise à jour${tried} a été annulée (${why}) ; il est revenu à la version précédente${back}. Les rappels n'ont pas été interrompus.`
        : `Dispenser ${i.device}: firmware${tried} was rolled back (${why}); it runs the previous version${back} again. Reminders were not interrupted.`;
      break;
    }
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
    body: cap(body),
    ...(i.slot !== undefined ? { slot: i.slot } : {}),
  };
}
