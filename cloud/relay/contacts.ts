/**
 * Contacts stay in the cloud: people (names, E.164 phones, Web Push subscriptions, channel
 * preferences, quiet hours) and, per device, the mapping of the opaque recipient references the
 * device sends ("patient", "caregiver-1", "nurse:42") to people, plus the device's designated
 * pharmacist. docs/relay.md#contacts.
 */
import { parsePosixTz, localToUtc, utcToLocal, type PosixTz } from "../../firmware/core/schedule/tz";
import { REMOTE_CHANNELS, type Person, type PushSubscriptionJson, type QuietHours, type RemoteChannel } from "./types";
import { DEVICE_ID_RE as DEVICE } from "../../firmware/core/protocol/ids";
import { channelInfo, isLanguage } from "../../firmware/core/protocol/channels";
import { isObj } from "../../firmware/core/protocol/json";

export interface DeviceContacts {
  /** Recipient reference → person id. */
  recipients: Record<string, string>;
  /** Person id of the designated pharmacist (fallback of undeliverable requests). */
  pharmacist?: string;
  /** References told by the dead-man alert; default: the remote steps' recipients of the dose's ladder. */
  deadman?: string[];
  /** FHIR reference of the patient ("Patient/123") for exported MedicationAdministration resources. */
  fhirPatient?: string;
  /** References told when a compartment runs low (default: the ladders' recipients of its doses). */
  stock?: string[];
  /** Minutes an acknowledgement quiets a slot's chain before it re-fires if the dose is still not taken (1..240, default 30). */
  ackRefireMin?: number;
}

export const ACK_REFIRE_MIN_DEFAULT = 30;

export interface ContactBook {
  people: Record<string, Person>;
  devices: Record<string, DeviceContacts>;
  /** Person id told when a device is unknown or has no pharmacist (operations on-call). */
  fallback?: string;
}

export interface ContactProblem {
  code: "RELAY_BAD_PHONE" | "RELAY_FIELD" | "RELAY_UNKNOWN_RECIPIENT";
  path: string;
  message: string;
}

/** E.164: "+", a non-zero country digit, 7…15 digits in all. */
export const E164 = /^\+[1-9][0-9]{6,14}$/;
const ID = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/;
const REF = /^[A-Za-z][A-Za-z0-9_.:-]{0,31}$/;
const HM = /^([01][0-9]|2[0-3]):[0-5][0-9]$/;

export function isE164(s: unknown): s is string {
  return typeof s === "string" && E164.test(s);
}

function parsePush(v: unknown, path: string, problems: ContactProblem[]): PushSubscriptionJson | undefined {
  if (
    isObj(v) &&
    typeof v.endpoint === "string" &&
    /^https?:\/\//.test(v.endpoint) &&
    isObj(v.keys) &&
    typeof v.keys.p256dh === "string" &&
    typeof v.keys.auth === "string"
  ) {
    return { endpoint: v.endpoint, keys: { p256dh: v.keys.p256dh, auth: v.keys.auth } };
  }
  problems.push({ code: "RELAY_FIELD", path, message: "push subscription needs endpoint (http/https URL) and keys.p256dh, keys.auth" });
  return undefined;
}

function parseQuiet(v: unknown, path: string, problems: ContactProblem[]): QuietHours | undefined {
  if (!isObj(v) || typeof v.from !== "string" || !HM.test(v.from) || typeof v.to !== "string" || !HM.test(v.to)) {
    problems.push({ code: "RELAY_FIELD", path, message: 'quiet hours need from/to "HH:MM"' });
    return undefined;
  }
  if (v.tz !== undefined && (typeof v.tz !== "string" || !parsePosixTz(v.tz).ok)) {
    problems.push({ code: "RELAY_FIELD", path: path + ".tz", message: "not a POSIX TZ string" });
    return undefined;
  }
  return { from: v.from, to: v.to, ...(typeof v.tz === "string" ? { tz: v.tz } : {}) };
}

function parsePerson(id: string, v: unknown, path: string, problems: ContactProblem[]): Person | undefined {
  if (!isObj(v)) {
    problems.push({ code: "RELAY_FIELD", path, message: "person must be an object" });
    return undefined;
  }
  const name = typeof v.name === "string" && v.name.length > 0 ? v.name : id;
  let phone: string | undefined;
  if (v.phone !== undefined) {
    if (isE164(v.phone)) phone = v.phone;
    else problems.push({ code: "RELAY_BAD_PHONE", path: path + ".phone", message: "phone is not E.164 (+ and 7..15 digits): dropped" });
  }
  const push: PushSubscriptionJson[] = [];
  if (v.push !== undefined) {
    if (!Array.isArray(v.push)) problems.push({ code: "RELAY_FIELD", path: path + ".push", message: "push must be an array" });
    else
      v.push.forEach((s, i) => {
        const p = parsePush(s, `${path}.push[${i}]`, problems);
        if (p) push.push(p);
      });
  }
  let channels: RemoteChannel[] = [...REMOTE_CHANNELS];
  if (v.channels !== undefined) {
    if (Array.isArray(v.channels) && v.channels.every((c) => (REMOTE_CHANNELS as readonly unknown[]).includes(c)))
      channels = [...new Set(v.channels as RemoteChannel[])];
    else problems.push({ code: "RELAY_FIELD", path: path + ".channels", message: `channels: ${REMOTE_CHANNELS.join(", ")}` });
  }
  const quiet = v.quiet === undefined ? undefined : parseQuiet(v.quiet, path + ".quiet", problems);
  const lang = isLanguage(v.lang) ? v.lang : "en";
  return { id, name, ...(phone ? { phone } : {}), push, channels, ...(quiet ? { quiet } : {}), lang };
}

/** Parses a contact book; never throws. Bad entries are dropped or trimmed and listed as problems. */
export function parseContacts(input: unknown): { book: ContactBook; problems: ContactProblem[] } {
  const problems: ContactProblem[] = [];
  const book: ContactBook = {
    people: Object.create(null) as Record<string, Person>,
    devices: Object.create(null) as Record<string, DeviceContacts>,
  };
  if (!isObj(input)) return { book, problems: [{ code: "RELAY_FIELD", path: "", message: "contacts must be an object" }] };
  if (isObj(input.people)) {
    for (const [id, v] of Object.entries(input.people)) {
      if (!ID.test(id)) {
        problems.push({ code: "RELAY_FIELD", path: `people.${id}`, message: "bad person id" });
        continue;
      }
      const p = parsePerson(id, v, `people.${id}`, problems);
      if (p) book.people[id] = p;
    }
  } else if (input.people !== undefined) problems.push({ code: "RELAY_FIELD", path: "people", message: "people must be an object" });
  const person = (v: unknown, path: string): string | undefined => {
    if (typeof v === "string" && v in book.people) return v;
    problems.push({ code: "RELAY_UNKNOWN_RECIPIENT", path, message: "not a person id of people" });
    return undefined;
  };
  if (input.fallback !== undefined) {
    const f = person(input.fallback, "fallback");
    if (f) book.fallback = f;
  }
  if (isObj(input.devices)) {
    for (const [dev, v] of Object.entries(input.devices)) {
      const path = `devices.${dev}`;
      if (!DEVICE.test(dev) || !isObj(v)) {
        problems.push({ code: "RELAY_FIELD", path, message: "bad device id or entry" });
        continue;
      }
      const dc: DeviceContacts = { recipients: Object.create(null) as Record<string, string> };
      if (isObj(v.recipients)) {
        for (const [ref, pid] of Object.entries(v.recipients)) {
          if (!REF.test(ref)) {
            problems.push({ code: "RELAY_FIELD", path: `${path}.recipients.${ref}`, message: "bad recipient reference" });
            continue;
          }
          const p = person(pid, `${path}.recipients.${ref}`);
          if (p) dc.recipients[ref] = p;
        }
      }
      if (v.pharmacist !== undefined) {
        const p = person(v.pharmacist, `${path}.pharmacist`);
        if (p) dc.pharmacist = p;
      }
      if (Array.isArray(v.deadman)) dc.deadman = v.deadman.filter((r): r is string => typeof r === "string" && REF.test(r));
      if (typeof v.fhirPatient === "string") dc.fhirPatient = v.fhirPatient;
      if (Array.isArray(v.stock)) dc.stock = v.stock.filter((r): r is string => typeof r === "string" && REF.test(r));
      if (v.ackRefireMin !== undefined) {
        if (typeof v.ackRefireMin === "number" && Number.isInteger(v.ackRefireMin) && v.ackRefireMin >= 1 && v.ackRefireMin <= 240)
          dc.ackRefireMin = v.ackRefireMin;
        else problems.push({ code: "RELAY_FIELD", path: `${path}.ackRefireMin`, message: "whole minutes, 1..240" });
      }
      book.devices[dev] = dc;
    }
  }
  return { book, problems };
}

/** Person behind a device's recipient reference. */
export function resolveRecipient(book: ContactBook, device: string, ref: string): Person | undefined {
  const d = book.devices[device];
  const id = d?.recipients[ref];
  return id === undefined ? undefined : book.people[id];
}

/** The device's designated pharmacist, else the book's fallback person. */
export function pharmacistOf(book: ContactBook, device: string): Person | undefined {
  const id = book.devices[device]?.pharmacist ?? book.fallback;
  return id === undefined ? undefined : book.people[id];
}

/** Whether `person` can be reached on `ch`: the address the channel table says it needs (a phone, a push subscription). */
export function reachable(p: Person, ch: RemoteChannel): boolean {
  const reach = channelInfo(ch).reach;
  return reach === "push-subscription" ? p.push.length > 0 : reach === "phone" ? p.phone !== undefined : false;
}

/** Channel to use: the requested one if reachable, else the person's first reachable preference. */
export function pickChannel(p: Person, wanted: RemoteChannel): RemoteChannel | undefined {
  if (reachable(p, wanted)) return wanted;
  return p.channels.find((c) => reachable(p, c)) ?? REMOTE_CHANNELS.find((c) => reachable(p, c));
}

const tzCache = new Map<string, PosixTz>();
function tzOf(s: string | undefined): PosixTz | undefined {
  if (s === undefined) return undefined;
  let t = tzCache.get(s);
  if (t === undefined) {
    const r = parsePosixTz(s);
    if (!r.ok) return undefined;
    t = r.tz;
    tzCache.set(s, t);
  }
  return t;
}
const hm = (s: string): number => Number(s.slice(0, 2)) * 60 + Number(s.slice(3, 5));

/**
 * End of the quiet period containing `nowMs` (UTC ms), or undefined when not in quiet hours.
 * Only low-priority notices use this: a missed-dose escalation is never deferred.
 */
export function quietUntil(q: QuietHours | undefined, nowMs: number): number | undefined {
  if (q === undefined) return undefined;
  const from = hm(q.from);
  const to = hm(q.to);
  if (from === to) return undefined;
  const tz = tzOf(q.tz);
  const local = tz ? utcToLocal(tz, nowMs).localMs : nowMs;
  const day = Math.floor(local / 86_400_000) * 86_400_000;
  const m = Math.floor((local - day) / 60_000);
  const inQuiet = from < to ? m >= from && m < to : m >= from || m < to;
  if (!inQuiet) return undefined;
  const endLocal = day + to * 60_000 + (from > to && m >= from ? 86_400_000 : 0);
  return tz ? localToUtc(tz, endLocal).utcMs : endLocal;
}
