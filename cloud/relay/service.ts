/**
 * The cloud relay: turns dispensers' escalation requests (relay.request on dk/<id>/evt) into real
 * notifications, exactly once per (request key, recipient, channel) across relay instances, with
 * retries, delivery receipts on dk/<id>/rcpt, cancellation by relay.resolve, and cloud-side
 * dead-man alerts. docs/relay.md.
 */
import { randomBytes } from "node:crypto";
import mqtt, { type IClientOptions, type MqttClient } from "mqtt";
import { parseContacts, pharmacistOf, pickChannel, quietUntil, resolveRecipient, type ContactBook } from "./contacts";
import { buildNotice, type NoticeInput } from "./notices";
import { ScheduleBook, dueSlots, doseOfSlot, ladderRecipients } from "./schedules";
import type { Job, NewJob, Person, Providers, RelayDb, RemoteChannel, SendResult } from "./types";
import { REMOTE_CHANNELS } from "./types";

export interface DeadmanOptions {
  /** A device silent (no evt, tele or status) this long is down. Default 10 min. */
  silentMs?: number;
  /** A device whose last will (online:false) was published this long ago is down. Default 2 min. */
  offlineMs?: number;
  /** How often the relay checks. Default 30 s (tests call tick()). */
  checkMs?: number;
}

export interface RetryOptions {
  /** First retry delay; doubles each attempt (±20 % jitter). Default 2 s. */
  baseMs?: number;
  /** Largest delay. Default 5 min. */
  maxMs?: number;
  /** Attempts in all before a job fails (RELAY_RETRIES). Default 8. */
  maxAttempts?: number;
}

export interface RelayOptions {
  brokerUrl: string;
  db: RelayDb;
  providers: Providers;
  /** true: $share/<group>/…; false: plain subscription (one instance only); "auto" (default): shared when the broker says it can. */
  shared?: boolean | "auto";
  /** Shared-subscription group. Default "relay". */
  group?: string;
  instanceId?: string;
  /** Contact book (parsed or raw JSON object) to store in the database; default: the one stored. */
  contacts?: unknown;
  /** Dead-man alerts; false disables them. */
  deadman?: DeadmanOptions | false;
  retry?: RetryOptions;
  /** Job lease; a killed instance's jobs are taken over after it. Default 30 s (> provider timeout). */
  leaseMs?: number;
  /** Database poll period for due jobs (retries, deferrals, other instances' expired leases). Default 250 ms. */
  pollMs?: number;
  /** Parallel provider requests per instance. Default 16. */
  concurrency?: number;
  /**
   * MQTT session kept by the broker after a disconnect (s). With a stable instanceId, messages in
   * flight to an instance that dies are delivered when it comes back within this time. Default 3600.
   */
  sessionExpiryS?: number;
  /** A receipt whose publish is not acknowledged after this is republished (by any instance). Default 10 s. */
  receiptRetryMs?: number;
  /** Extra MQTT options (credentials, TLS). */
  mqtt?: IClientOptions;
  /** Injectable clock (ms). Default Date.now. */
  clock?: () => number;
  log?: (line: string) => void;
}

export interface RelayHandle {
  readonly instanceId: string;
  /** Whether the subscriptions are shared ($share). */
  readonly shared: boolean;
  /** Graceful stop: no new work, wait for in-flight sends, disconnect. */
  stop(): Promise<void>;
  /** Crash-like stop (tests): drops the connection and in-flight work without touching the database. */
  abort(): Promise<void>;
  /** Runs a dead-man check and a job pass now (with the injected clock). */
  tick(): Promise<void>;
  /** Reloads contacts and configs from the database. */
  reload(): Promise<void>;
}

const DEVICE_RE = /^[a-z0-9][a-z0-9_-]{0,31}$/;
const REF_RE = /^[A-Za-z][A-Za-z0-9_.:-]{0,31}$/;
const PHARMACIST_REF = "@pharmacist";
const CLOSING_TYPES = ["dose.taken", "dose.taken_early", "dose.missed", "dose.partial", "slot.cancelled", "relay.resolve"];

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

export async function startRelay(opts: RelayOptions): Promise<RelayHandle> {
  const db = opts.db;
  const clock = opts.clock ?? Date.now;
  const log = opts.log ?? ((l: string) => process.stderr.write(l + "\n"));
  const instanceId = opts.instanceId ?? "relay-" + randomBytes(4).toString("hex");
  const group = opts.group ?? "relay";
  const sessionExpiryS = opts.sessionExpiryS ?? 3600;
  const receiptRetryMs = opts.receiptRetryMs ?? 10_000;
  const leaseMs = opts.leaseMs ?? 30_000;
  const pollMs = opts.pollMs ?? 250;
  const concurrency = opts.concurrency ?? 16;
  const retryBase = opts.retry?.baseMs ?? 2000;
  const retryMax = opts.retry?.maxMs ?? 300_000;
  const maxAttempts = opts.retry?.maxAttempts ?? 8;
  const dm = opts.deadman === false ? undefined : { silentMs: opts.deadman?.silentMs ?? 600_000, offlineMs: opts.deadman?.offlineMs ?? 120_000, checkMs: opts.deadman?.checkMs ?? 30_000 };

  let book: ContactBook = { people: {}, devices: {} };
  const schedules = new ScheduleBook();
  let stopped = false;
  let dead = false;

  const audit = async (action: string, device: string | null, code: string | null, detail: unknown): Promise<void> => {
    if (dead) return;
    try {
      await db.audit({ t: clock(), actor: "relay:" + instanceId, action, device, code, detail: typeof detail === "string" ? detail : JSON.stringify(detail) });
    } catch (e) {
      log(`[${instanceId}] audit failed: ${String(e)}`);
    }
  };

  // ---- contacts and configs ----
  if (opts.contacts !== undefined) {
    const parsed = parseContacts(opts.contacts);
    for (const p of parsed.problems) await audit("contacts.problem", null, p.code, p);
    await db.putKv("contacts", JSON.stringify(opts.contacts), clock());
    await audit("contacts.loaded", null, null, { people: Object.keys(parsed.book.people).length, devices: Object.keys(parsed.book.devices).length });
  }
  let contactsStamp = -1;
  const reload = async (): Promise<void> => {
    const kv = await db.getKv("contacts");
    if (kv !== null && kv.updatedAt !== contactsStamp) {
      contactsStamp = kv.updatedAt;
      try { book = parseContacts(JSON.parse(kv.value)).book; } catch { /* stored by us: valid JSON */ }
    }
    for (const c of await db.configs()) schedules.set(c.device, c.version, c.json);
  };
  await reload();

  // ---- MQTT ----
  // A resumed broker session may deliver before the handlers below exist: hold messages until then.
  let openGate: () => void = () => undefined;
  const gate = new Promise<void>((r) => { openGate = r; });
  let shared = opts.shared === true;
  const topics = (sh: boolean): Record<string, { qos: 0 | 1 }> => {
    const p = sh ? `$share/${group}/` : "";
    return { [p + "dk/+/evt"]: { qos: 1 }, [p + "dk/+/status"]: { qos: 1 }, [p + "dk/+/tele"]: { qos: 0 } };
  };
  const connect = (version: 4 | 5): Promise<MqttClient> => new Promise((resolve, reject) => {
    const c = mqtt.connect(opts.brokerUrl, {
      clientId: instanceId, clean: sessionExpiryS === 0, protocolVersion: version, reconnectPeriod: 1000, connectTimeout: 10_000,
      ...(version === 5 ? { properties: { sessionExpiryInterval: sessionExpiryS } } : {}), ...opts.mqtt,
    });
    c.handleMessage = (packet, done) => {
      const topic = packet.topic;
      const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
      // PUBACK only once the message is stored: a crash before leaves it to the broker.
      gate.then(() => onMessage(topic, payload)).then(() => done(), (e) => { log(`[${instanceId}] message error ${String(e)}`); done(); });
    };
    const onConnect = (ack: { properties?: { sharedSubscriptionAvailable?: boolean } }): void => {
      c.off("error", onError);
      if (opts.shared === undefined || opts.shared === "auto") shared = version === 5 && ack.properties?.sharedSubscriptionAvailable !== false;
      resolve(c);
    };
    const onError = (e: Error): void => { c.off("connect", onConnect); c.end(true); reject(e); };
    c.once("connect", onConnect);
    c.once("error", onError);
  });
  let client: MqttClient;
  if (opts.shared === true || opts.shared === false) {
    client = await connect(4);
  } else {
    try {
      client = await connect(5);
    } catch (e) {
      log(`[${instanceId}] MQTT 5 refused (${e instanceof Error ? e.message : String(e)}): MQTT 3.1.1 with a plain subscription (run one instance only)`);
      client = await connect(4);
    }
  }
  const subscribe = (): Promise<void> => new Promise((resolve, reject) => {
    client.subscribe(topics(shared), (err, granted) => {
      if (err) return reject(err);
      if (granted?.some((g) => g.qos === 128)) return reject(new Error("subscription refused: " + JSON.stringify(granted)));
      resolve();
    });
  });
  // Not awaited here: a resumed session's messages (held by the gate) come before the SUBACK.
  const subscribed = subscribe();
  subscribed.catch(() => undefined);
  client.on("connect", () => { subscribe().catch((e) => log(`[${instanceId}] resubscribe failed ${String(e)}`)); });
  client.on("error", (e) => log(`[${instanceId}] mqtt error ${e.message}`));

  // ---- devices seen ----
  const lastTouch = new Map<string, number>();
  const seen = async (device: string, now: number): Promise<void> => {
    const prev = lastTouch.get(device);
    if (prev !== undefined && now - prev < 1000 && now >= prev) return;
    if (lastTouch.size > 100_000) lastTouch.clear();
    lastTouch.set(device, now);
    await db.touchDevice(device, now);
    const slots = await db.closeDeadman(device, now);
    if (slots.length > 0) await backOnline(device, slots, now);
  };

  // ---- jobs ----
  const jobFor = (device: string, key: string, slot: string | null, ref: string, p: Person, ch: RemoteChannel, n: NoticeInput, now: number, isFallback: boolean): NewJob => {
    const notice = buildNotice(n, p.lang, schedules.get(device));
    return { key, device, slot, ref, person: p.id, ch, kind: n.kind, priority: notice.priority, notice, nextAt: now, isFallback };
  };

  /** Jobs for recipient references; unknown/unreachable ones go to the pharmacist (once per key). */
  const planJobs = (device: string, key: string, slot: string | null, refs: string[], wanted: RemoteChannel | undefined, n: NoticeInput, now: number, problems: { code: string; detail: unknown }[]): NewJob[] => {
    const jobs: NewJob[] = [];
    let needFallback = false;
    for (const ref of refs) {
      const p = resolveRecipient(book, device, ref);
      if (p === undefined) { problems.push({ code: "RELAY_UNKNOWN_RECIPIENT", detail: { key, ref } }); needFallback = true; continue; }
      const ch = pickChannel(p, wanted ?? p.channels[0] ?? "push");
      if (ch === undefined) {
        problems.push({ code: p.phone === undefined && wanted !== "push" ? "RELAY_BAD_PHONE" : "RELAY_UNREACHABLE", detail: { key, ref, ch: wanted } });
        needFallback = true;
        continue;
      }
      if (wanted !== undefined && ch !== wanted) problems.push({ code: "RELAY_CHANNEL_SUBSTITUTED", detail: { key, ref, wanted, used: ch } });
      jobs.push(jobFor(device, key, slot, ref, p, ch, n, now, false));
    }
    if (needFallback || refs.length === 0) {
      const ph = pharmacistOf(book, device);
      const ch = ph && pickChannel(ph, "sms");
      if (ph && ch) jobs.push(jobFor(device, key, slot, PHARMACIST_REF, ph, ch, { ...n, kind: "fallback", failedRef: refs.join(","), failedCh: wanted ?? "?", code: problems[problems.length - 1]?.code ?? "RELAY_FIELD" }, now, true));
      else problems.push({ code: "RELAY_NO_FALLBACK", detail: { key } });
    }
    return jobs;
  };

  const handleRequest = async (device: string, evtId: string, data: Record<string, unknown>, now: number): Promise<void> => {
    const problems: { code: string; detail: unknown }[] = [];
    let key = typeof data.key === "string" && data.key.length <= 200 && data.key.startsWith(device + "/") ? data.key : undefined;
    if (key === undefined) { problems.push({ code: "RELAY_FIELD", detail: { field: "key", evt: evtId } }); key = `${device}/evt/${evtId}`; }
    const ch = (REMOTE_CHANNELS as readonly unknown[]).includes(data.ch) ? (data.ch as RemoteChannel) : undefined;
    if (ch === undefined) problems.push({ code: "RELAY_FIELD", detail: { field: "ch", key } });
    const rawTo = Array.isArray(data.to) ? data.to : [];
    const refs = rawTo.filter((r): r is string => typeof r === "string" && REF_RE.test(r)).slice(0, 5);
    if (!Array.isArray(data.to) || refs.length !== rawTo.length || refs.length === 0) problems.push({ code: "RELAY_FIELD", detail: { field: "to", key } });
    const slot = typeof data.slot === "string" && data.slot.length <= 64 ? data.slot : null;
    const prn = typeof data.prn === "string" ? data.prn : undefined;
    if (slot === null && prn === undefined) problems.push({ code: "RELAY_FIELD", detail: { field: "slot", key } });
    if (book.devices[device] === undefined) problems.push({ code: "RELAY_UNKNOWN_DEVICE", detail: { key } });
    const dueMs = typeof data.due === "string" ? Date.parse(data.due) : NaN;
    const n: NoticeInput = {
      kind: prn !== undefined && slot === null ? "prn" : "escalation", key, device,
      ...(slot !== null ? { slot } : {}), ...(typeof data.comp === "string" ? { comp: data.comp } : {}),
      ...(typeof data.state === "string" ? { state: data.state } : {}), ...(Number.isFinite(dueMs) ? { dueMs } : {}),
      ...(prn !== undefined ? { prn } : {}), ...(typeof data.reason === "string" ? { reason: data.reason } : {}),
    };
    const resolved = slot !== null && (await db.isResolved(device, slot));
    // A request that arrives after its slot was resolved (outbox replay) is stale: nothing to send.
    const jobs = resolved ? [] : planJobs(device, key, slot, refs, ch, n, now, problems);
    const claimed = await db.claimRequest({ key, device, slot, evtId, ch: ch ?? "?", receivedAt: now, wantsReceipt: true }, jobs);
    if (!claimed) return;
    for (const p of problems) await audit("request.problem", device, p.code, p.detail);
    if (resolved) await audit("request.stale", device, "RELAY_RESOLVED", { key, slot });
    if (jobs.length === 0) await finalize(key); else kick();
  };

  const handleResolve = async (device: string, data: Record<string, unknown>, now: number): Promise<void> => {
    if (typeof data.slot !== "string" || data.slot.length > 64) { await audit("resolve.problem", device, "RELAY_FIELD", { field: "slot" }); return; }
    const outcome = typeof data.outcome === "string" ? data.outcome : "?";
    const keys = await db.resolveSlot(device, data.slot, outcome, now);
    if (keys.length > 0) await audit("resolve.cancelled", device, null, { slot: data.slot, outcome, keys });
    for (const k of keys) await finalize(k);
  };

  const relayKey = async (device: string, key: string, slot: string | null, jobs: NewJob[], now: number): Promise<boolean> => {
    const ok = await db.claimRequest({ key, device, slot, evtId: "-", ch: "relay", receivedAt: now, wantsReceipt: false }, jobs);
    if (ok) kick();
    return ok;
  };

  const backOnline = async (device: string, slots: string[], now: number): Promise<void> => {
    const refs = deadmanRefs(device, slots[0]);
    const key = `${device}/${slots[0]}/back`;
    const problems: { code: string; detail: unknown }[] = [];
    const jobs = planJobs(device, key, null, refs, undefined, { kind: "back-online", key, device, slot: slots.join(",") }, now, problems);
    if (await relayKey(device, key, null, jobs, now)) {
      await audit("deadman.back", device, null, { slots, key });
      for (const p of problems) await audit("deadman.problem", device, p.code, p.detail);
    }
  };

  const deadmanRefs = (device: string, slot: string): string[] => {
    const explicit = book.devices[device]?.deadman;
    if (explicit !== undefined && explicit.length > 0) return explicit;
    const s = schedules.get(device);
    const dose = s && doseOfSlot(s.config, slot);
    return s && dose ? ladderRecipients(s.config, dose) : [];
  };

  const onMessage = async (topic: string, payload: Buffer): Promise<void> => {
    if (dead) return;
    const now = clock();
    const parts = topic.split("/");
    const device = parts[1] ?? "";
    if (parts.length !== 3 || parts[0] !== "dk" || !DEVICE_RE.test(device)) { await audit("message.problem", null, "RELAY_TOPIC", { topic: topic.slice(0, 100) }); return; }
    const verb = parts[2];
    let msg: unknown;
    try { msg = JSON.parse(payload.toString("utf8")); } catch {
      await audit("message.problem", device, "RELAY_JSON", { topic, bytes: payload.length });
      if (verb === "evt") await seen(device, now);
      return;
    }
    if (!isObj(msg) || msg.v !== 1) { await audit("message.problem", device, isObj(msg) ? "RELAY_VERSION" : "RELAY_FIELD", { topic }); return; }
    if (verb === "status") {
      if (typeof msg.online !== "boolean") { await audit("message.problem", device, "RELAY_FIELD", { topic, field: "online" }); return; }
      await db.setOnline(device, msg.online, now);
      if (msg.online) { lastTouch.delete(device); await seen(device, now); }
      return;
    }
    if (verb === "tele") { await seen(device, now); return; }
    if (verb !== "evt") return;
    await seen(device, now);
    if (typeof msg.id !== "string" || msg.id.length === 0 || msg.id.length > 64 || typeof msg.type !== "string" || !isObj(msg.data ?? {})) {
      await audit("message.problem", device, "RELAY_FIELD", { topic, field: typeof msg.id !== "string" ? "id" : "type" });
      return;
    }
    const data = (msg.data ?? {}) as Record<string, unknown>;
    const tMs = typeof msg.t === "string" ? Date.parse(msg.t) : NaN;
    const fresh = await db.recordEvent({
      device, id: msg.id, seq: typeof msg.seq === "number" && Number.isSafeInteger(msg.seq) ? msg.seq : null, type: msg.type,
      tMs: Number.isFinite(tMs) ? tMs : null, slot: typeof data.slot === "string" ? data.slot.slice(0, 64) : null, data, receivedAt: now,
    });
    switch (msg.type) {
      case "relay.request": await handleRequest(device, msg.id, data, now); break;
      case "relay.resolve": await handleResolve(device, data, now); break;
      case "refill.mismatch":
        if (fresh) {
          const ph = pharmacistOf(book, device);
          const key = `${device}/evt/${msg.id}`;
          const ch = ph && pickChannel(ph, "push");
          if (ph && ch) await relayKey(device, key, null, [jobFor(device, key, null, PHARMACIST_REF, ph, ch, { kind: "refill", key, device, ...(typeof data.comp === "string" ? { comp: data.comp } : {}) }, now, false)], now);
        }
        break;
      default:
        if (!fresh) return;
    }
  };

  // ---- worker ----
  let inflight = 0;
  const inflightDone = new Set<() => void>();
  let pumping = false;
  let again = false;
  function kick(): void {
    if (stopped) return;
    if (pumping) { again = true; return; }
    pumping = true;
    void pump().finally(() => { pumping = false; if (again && !stopped) { again = false; kick(); } });
  }
  async function pump(): Promise<void> {
    for (;;) {
      again = false;
      const room = concurrency - inflight;
      if (room <= 0 || stopped) return;
      let jobs: Job[];
      try { jobs = await db.leaseJobs(instanceId, clock(), leaseMs, room); } catch (e) { log(`[${instanceId}] lease failed ${String(e)}`); return; }
      for (const j of jobs) {
        inflight++;
        void runJob(j).catch((e) => log(`[${instanceId}] job ${j.id} error ${String(e)}`)).finally(() => {
          inflight--;
          for (const f of inflightDone) f();
          // Lease in batches: refill when half the slots are free (or all, for small pools).
          if (inflight <= concurrency / 2) kick();
        });
      }
      if (jobs.length < room && !again) return;
    }
  }

  const backoff = (attempt: number): number => {
    const d = Math.min(retryMax, retryBase * 2 ** Math.max(0, attempt - 1));
    return Math.round(d * (0.8 + Math.random() * 0.4));
  };

  async function runJob(j: Job): Promise<void> {
    const person = book.people[j.person];
    const notice = JSON.parse(j.notice) as import("./types").Notice;
    let now = clock();
    if (person === undefined) return fail(j, "RELAY_UNKNOWN_RECIPIENT", now, "person removed from contacts");
    if (j.priority === "low") {
      const until = quietUntil(person.quiet, now);
      if (until !== undefined && until > now) {
        if (await db.finishJob(j.id, instanceId, { state: "pending", attempts: j.attempts, nextAt: until, code: "QUIET", now })) {
          await audit("notify.deferred", j.device, "QUIET", { key: j.key, ref: j.ref, until: new Date(until).toISOString() });
        }
        return;
      }
    }
    const provider = opts.providers[j.ch];
    if (provider === undefined) return fail(j, "RELAY_NO_PROVIDER", now, j.ch);
    let r: SendResult;
    try { r = await provider.send(j.ch, person, notice); } catch (e) {
      r = { ok: false, retry: true, code: "RELAY_PROVIDER_ERROR", detail: e instanceof Error ? e.message : String(e) };
    }
    if (dead) return;
    now = clock();
    const attempts = j.attempts + 1;
    if (r.ok) {
      if (await db.finishJob(j.id, instanceId, { state: "sent", attempts, code: null, providerId: r.providerId ?? null, now })) {
        await audit("notify.sent", j.device, null, { key: j.key, ref: j.ref, person: j.person, ch: j.ch, kind: j.kind, provider: provider.name, attempts, id: r.providerId ?? null });
        await finalize(j.key);
      }
      return;
    }
    if (r.retry && attempts < maxAttempts) {
      const nextAt = now + backoff(attempts);
      if (await db.finishJob(j.id, instanceId, { state: "pending", attempts, nextAt, code: r.code, now })) {
        await audit("notify.retry", j.device, r.code, { key: j.key, ref: j.ref, ch: j.ch, attempts, status: r.status ?? null, nextAt: new Date(nextAt).toISOString() });
        const left = await db.jobsOf(j.key);
        if (left.find((x) => x.id === j.id)?.state === "cancelled") await finalize(j.key);
      }
      return;
    }
    return fail(j, r.retry ? "RELAY_RETRIES" : r.code, now, { status: r.status ?? null, last: r.code, detail: r.detail ?? null }, attempts);
  }

  async function fail(j: Job, code: string, now: number, detail: unknown, attempts = j.attempts + 1): Promise<void> {
    if (!(await db.finishJob(j.id, instanceId, { state: "failed", attempts, code, now }))) return;
    await audit("notify.failed", j.device, code, { key: j.key, ref: j.ref, person: j.person, ch: j.ch, kind: j.kind, detail });
    if (!j.isFallback && j.kind !== "back-online" && j.kind !== "refill") {
      // A patient is at stake: tell the device's pharmacist (or the on-call fallback) instead.
      let ph = pharmacistOf(book, j.device);
      if (ph && ph.id === j.person) ph = book.fallback !== undefined && book.fallback !== j.person ? book.people[book.fallback] : undefined;
      const ch = ph && pickChannel(ph, "sms");
      if (ph && ch) {
        const n: NoticeInput = { kind: "fallback", key: j.key, device: j.device, ...(j.slot ? { slot: j.slot } : {}), failedRef: j.ref, failedCh: j.ch, code };
        if (await db.addJob(jobFor(j.device, j.key, j.slot, PHARMACIST_REF, ph, ch, n, now, true))) kick();
      } else {
        await audit("notify.problem", j.device, "RELAY_NO_FALLBACK", { key: j.key });
      }
    }
    await finalize(j.key);
  }

  /** Publishes the receipt of a key once every job of it is final (once across instances). */
  async function finalize(key: string): Promise<void> {
    const s = await db.keySummary(key);
    if (s === null || !s.wantsReceipt || s.jobs.some((j) => j.state === "pending")) return;
    const primary = s.jobs.filter((j) => !j.isFallback);
    const fb = s.jobs.filter((j) => j.isFallback);
    let status: "delivered" | "failed" | "cancelled";
    let code: string | null = null;
    if (primary.some((j) => j.state === "sent")) status = "delivered";
    else if (primary.length > 0 && primary.every((j) => j.state === "cancelled")) status = "cancelled";
    else if (s.jobs.length === 0 && (await db.isResolved(s.device, key.split("/")[1] ?? ""))) status = "cancelled";
    else { status = "failed"; code = primary.find((j) => j.state === "failed")?.code ?? (primary.length === 0 ? "RELAY_NO_RECIPIENT" : "RELAY_CANCELLED"); }
    const now = clock();
    const to: Record<string, string> = {};
    for (const j of primary) to[j.ref] = j.state === "sent" ? "delivered" : j.state;
    const rcpt = { v: 1, key, status, ch: s.ch, t: new Date(now).toISOString(), ...(code ? { code } : {}), to, ...(fb.length ? { fallback: fb[0].state === "sent" ? "delivered" : fb[0].state } : {}) };
    const json = JSON.stringify(rcpt);
    if (!(await db.setReceipt(key, status, code, now, json))) return;
    publishReceipt(key, s.device, json);
    await audit("receipt", s.device, code, rcpt);
  }

  /** QoS 1 publish; marked published on PUBACK. Unacknowledged receipts are republished (at least once). */
  function publishReceipt(key: string, device: string, json: string): void {
    if (dead) return;
    client.publish(`dk/${device}/rcpt`, json, { qos: 1 }, (err) => {
      if (!err && !dead) db.receiptPublished(key, clock()).catch(() => undefined);
    });
  }

  async function republishReceipts(): Promise<void> {
    if (dead || !client.connected) return;
    const now = clock();
    for (const r of await db.claimUnpublishedReceipts(now - receiptRetryMs, now, 100)) publishReceipt(r.key, r.device, r.json);
  }

  // ---- dead-man ----
  async function deadmanCheck(): Promise<void> {
    if (dm === undefined) return;
    const now = clock();
    await reload();
    for (const device of schedules.devices()) {
      const st = await db.deviceState(device);
      if (st === null || st.lastSeen === null) continue; // never seen: no baseline
      const down = now - st.lastSeen >= dm.silentMs || (st.online === false && st.offlineSince !== null && now - st.offlineSince >= dm.offlineMs);
      if (!down) continue;
      const s = schedules.get(device);
      if (s === undefined) continue;
      const maxWindow = Math.max(...s.config.doses.map((d) => (d.window ?? s.config.defaults.window).missedMin), 1) * 60_000;
      let closed: Set<string> | undefined;
      for (const due of dueSlots(s, now - maxWindow, now + 1)) {
        if (now >= due.dueMs + due.window.missedMin * 60_000) continue;
        if (await db.isResolved(device, due.slot)) continue;
        closed ??= new Set((await db.eventsOf(device, CLOSING_TYPES)).map((e) => e.slot ?? ""));
        if (closed.has(due.slot)) continue;
        if (!(await db.claimDeadman(device, due.slot, now))) continue;
        const key = `${device}/${due.slot}/deadman`;
        const problems: { code: string; detail: unknown }[] = [];
        const jobs = planJobs(device, key, due.slot, deadmanRefs(device, due.slot), undefined,
          { kind: "deadman", key, device, slot: due.slot, comp: due.dose.compartment, dueMs: due.dueMs, lastSeenMs: st.lastSeen }, now, problems);
        await relayKey(device, key, due.slot, jobs, now);
        await audit("deadman.alert", device, null, { slot: due.slot, due: new Date(due.dueMs).toISOString(), lastSeen: new Date(st.lastSeen).toISOString(), online: st.online, key });
        for (const p of problems) await audit("deadman.problem", device, p.code, p.detail);
      }
    }
  }

  openGate();
  await subscribed;
  log(`[${instanceId}] relay up on ${opts.brokerUrl}, ${shared ? `shared subscription $share/${group}` : "plain subscription"}, db ${db.kind}`);

  const tick = async (): Promise<void> => {
    await deadmanCheck();
    kick();
    // wait for this pass' sends
    while (pumping || inflight > 0) await new Promise<void>((r) => { inflightDone.add(r); setTimeout(() => { inflightDone.delete(r); r(); }, 5); });
  };

  const poll = setInterval(kick, pollMs);
  const dmTimer = dm ? setInterval(() => { deadmanCheck().catch((e) => log(`[${instanceId}] deadman ${String(e)}`)); }, dm.checkMs) : undefined;
  const reloadTimer = setInterval(() => { reload().catch(() => undefined); }, 5000);
  const rcptTimer = setInterval(() => { republishReceipts().catch(() => undefined); }, Math.max(250, Math.min(receiptRetryMs, 5000)));
  kick();

  const halt = (): void => {
    stopped = true;
    clearInterval(poll);
    clearInterval(reloadTimer);
    clearInterval(rcptTimer);
    if (dmTimer) clearInterval(dmTimer);
  };
  return {
    instanceId,
    get shared() { return shared; },
    async stop() {
      halt();
      while (inflight > 0) await new Promise<void>((r) => { inflightDone.add(r); setTimeout(() => { inflightDone.delete(r); r(); }, 20); });
      await client.endAsync();
    },
    async abort() {
      halt();
      dead = true;
      await client.endAsync(true);
    },
    tick,
    reload,
  };
}
