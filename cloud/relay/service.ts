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
import { DEVICE_ID_RE as DEVICE_RE } from "../../firmware/core/protocol/ids";
import { CLOSING_EVENTS } from "../../firmware/core/protocol/events";
import { allDevices, deviceTopic, VERB } from "../../firmware/core/protocol/topics";

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
  /**
   * Group commit: database work of incoming messages and finished jobs is queued and committed
   * together, up to `maxItems` units per transaction (default 128); the queue is flushed at once
   * when idle (`maxWaitMs` 0, default) and continuously under load. A message is PUBACKed only
   * after the transaction holding its effect has committed. false: one transaction per unit.
   */
  batch?: { maxItems?: number; maxWaitMs?: number } | false;
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

const REF_RE = /^[A-Za-z][A-Za-z0-9_.:-]{0,31}$/;
const PHARMACIST_REF = "@pharmacist";
const CLOSING_TYPES: readonly string[] = CLOSING_EVENTS;

/** A unit of database work: every call goes to `db` (the open transaction); `after` runs once it committed. */
interface Tx {
  db: RelayDb;
  after(f: () => void): void;
}

/** Passed to mqtt.js' handleMessage callback: "do not PUBACK now, the relay will once stored". */
const DEFERRED_ACK = new Error("PUBACK deferred until the message is stored");

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
  const dm =
    opts.deadman === false
      ? undefined
      : {
          silentMs: opts.deadman?.silentMs ?? 600_000,
          offlineMs: opts.deadman?.offlineMs ?? 120_000,
          checkMs: opts.deadman?.checkMs ?? 30_000,
        };

  let book: ContactBook = { people: {}, devices: {} };
  const schedules = new ScheduleBook();
  let stopped = false;
  let dead = false;

  /** Outside any batch (start-up, dead-man reads, republishing): calls go to the database directly. */
  const direct: Tx = { db, after: (f) => f() };
  const audit = async (x: Tx, action: string, device: string | null, code: string | null, detail: unknown): Promise<void> => {
    if (dead) return;
    try {
      await x.db.audit({
        t: clock(),
        actor: "relay:" + instanceId,
        action,
        device,
        code,
        detail: typeof detail === "string" ? detail : JSON.stringify(detail),
      });
    } catch (e) {
      log(`[${instanceId}] audit failed: ${String(e)}`);
    }
  };

  // ---- contacts and configs ----
  if (opts.contacts !== undefined) {
    const parsed = parseContacts(opts.contacts);
    for (const p of parsed.problems) await audit(direct, "contacts.problem", null, p.code, p);
    await db.putKv("contacts", JSON.stringify(opts.contacts), clock());
    await audit(direct, "contacts.loaded", null, null, {
      people: Object.keys(parsed.book.people).length,
      devices: Object.keys(parsed.book.devices).length,
    });
  }
  let contactsStamp = -1;
  const reload = async (): Promise<void> => {
    const kv = await db.getKv("contacts");
    if (kv !== null && kv.updatedAt !== contactsStamp) {
      contactsStamp = kv.updatedAt;
      try {
        book = parseContacts(JSON.parse(kv.value)).book;
      } catch {
        /* stored by us: valid JSON */
      }
    }
    for (const c of await db.configs()) schedules.set(c.device, c.version, c.json);
  };
  await reload();

  // ---- group commit queue (see unit() below) ----
  const batchMax = opts.batch === false ? 1 : Math.max(1, Math.floor(opts.batch?.maxItems ?? 128));
  const batchWaitMs = opts.batch === false ? 0 : Math.max(0, opts.batch?.maxWaitMs ?? 0);
  type Unit = (x: Tx) => Promise<void>;
  const units: { fn: Unit; settle(err: { e: unknown } | null): void }[] = [];
  let committing = false;
  let flushArmed = false;
  const unitsDone = new Set<() => void>();

  // ---- MQTT ----
  // Ingest pipelining: up to `ingestQueueMax` messages may wait for their commit (their PUBACK
  // deferred), so that many commit in one transaction; beyond, one message at a time.
  const ingestDefer = opts.batch !== false;
  const ingestQueueMax = 1024;
  // A resumed broker session may deliver before the handlers below exist: hold messages until then.
  let openGate: () => void = () => undefined;
  const gate = new Promise<void>((r) => {
    openGate = r;
  });
  let shared = opts.shared === true;
  const topics = (sh: boolean): Record<string, { qos: 0 | 1 }> => {
    const p = sh ? `$share/${group}/` : "";
    return { [p + allDevices(VERB.evt)]: { qos: 1 }, [p + allDevices(VERB.status)]: { qos: 1 }, [p + allDevices(VERB.tele)]: { qos: 0 } };
  };
  const connect = (version: 4 | 5): Promise<MqttClient> =>
    new Promise((resolve, reject) => {
      const c = mqtt.connect(opts.brokerUrl, {
        clientId: instanceId,
        clean: sessionExpiryS === 0,
        protocolVersion: version,
        reconnectPeriod: 1000,
        connectTimeout: 10_000,
        ...(version === 5 ? { properties: { sessionExpiryInterval: sessionExpiryS } } : {}),
        ...opts.mqtt,
      });
      // Connection generation: a PUBACK deferred on one connection is never sent on the next one
      // (the broker redelivers the message to the new session; the claims dedupe it).
      let gen = 0;
      c.on("close", () => {
        gen++;
      });
      c.on("connect", () => {
        gen++;
      });
      const sendPacket = (
        c as unknown as { _sendPacket?: (p: object, cb?: () => void, cbStorePut?: () => void, noStore?: boolean) => void }
      )._sendPacket;
      const canDefer = ingestDefer && typeof sendPacket === "function";
      c.handleMessage = (packet, done) => {
        const topic = packet.topic;
        const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
        const at = clock();
        const stored = gate.then(() => unit((x) => onMessage(x, topic, payload, at)));
        const failed = (e: unknown): void => log(`[${instanceId}] message error ${String(e)}`);
        // PUBACK only once the transaction holding the message's effect has committed: a crash
        // before leaves the message to the broker (redelivered; the claims dedupe it).
        if (!canDefer || units.length >= ingestQueueMax) {
          // One message at a time: mqtt.js sends the PUBACK, and reads the next packet, on done().
          stored.then(
            () => done(),
            (e) => {
              failed(e);
              done();
            },
          );
          return;
        }
        // Pipelined: mqtt.js goes on with the next packet now (done(error) = no PUBACK from it) and
        // the PUBACK is written here once the message's transaction has committed. Commits complete
        // in arrival order, so PUBACKs keep the order of the PUBLISHes (MQTT 4.6).
        const g = gen;
        const id = packet.messageId;
        if (packet.qos === 1 && id !== undefined) {
          const ack = (): void => {
            if (g !== gen || !c.connected || dead) return;
            sendPacket.call(c, { cmd: "puback", messageId: id, ...(version === 5 ? { reasonCode: 0 } : {}) }, undefined, undefined, true);
          };
          stored.then(ack, (e) => {
            failed(e);
            ack();
          });
        } else {
          stored.catch(failed);
        }
        done(packet.qos === 1 ? DEFERRED_ACK : undefined);
      };
      const onConnect = (ack: { properties?: { sharedSubscriptionAvailable?: boolean } }): void => {
        c.off("error", onError);
        if (opts.shared === undefined || opts.shared === "auto")
          shared = version === 5 && ack.properties?.sharedSubscriptionAvailable !== false;
        resolve(c);
      };
      const onError = (e: Error): void => {
        c.off("connect", onConnect);
        c.end(true);
        reject(e);
      };
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
      log(
        `[${instanceId}] MQTT 5 refused (${e instanceof Error ? e.message : String(e)}): MQTT 3.1.1 with a plain subscription (run one instance only)`,
      );
      client = await connect(4);
    }
  }
  const subscribe = (): Promise<void> =>
    new Promise((resolve, reject) => {
      client.subscribe(topics(shared), (err, granted) => {
        if (err) return reject(err);
        if (granted?.some((g) => g.qos === 128)) return reject(new Error("subscription refused: " + JSON.stringify(granted)));
        resolve();
      });
    });
  // Not awaited here: a resumed session's messages (held by the gate) come before the SUBACK.
  const subscribed = subscribe();
  subscribed.catch(() => undefined);
  client.on("connect", () => {
    subscribe().catch((e) => log(`[${instanceId}] resubscribe failed ${String(e)}`));
  });
  client.on("error", (e) => log(`[${instanceId}] mqtt error ${e.message}`));

  // ---- devices seen ----
  const lastTouch = new Map<string, number>();
  const seen = async (x: Tx, device: string, now: number): Promise<void> => {
    const prev = lastTouch.get(device);
    if (prev !== undefined && now - prev < 1000 && now >= prev) return;
    if (lastTouch.size > 100_000) lastTouch.clear();
    lastTouch.set(device, now);
    await x.db.touchDevice(device, now);
    const slots = await x.db.closeDeadman(device, now);
    if (slots.length > 0) await backOnline(x, device, slots, now);
  };

  // ---- jobs ----
  const jobFor = (
    device: string,
    key: string,
    slot: string | null,
    ref: string,
    p: Person,
    ch: RemoteChannel,
    n: NoticeInput,
    now: number,
    isFallback: boolean,
  ): NewJob => {
    const notice = buildNotice(n, p.lang, schedules.get(device));
    return { key, device, slot, ref, person: p.id, ch, kind: n.kind, priority: notice.priority, notice, nextAt: now, isFallback };
  };

  /** Jobs for recipient references; unknown/unreachable ones go to the pharmacist (once per key). */
  const planJobs = (
    device: string,
    key: string,
    slot: string | null,
    refs: string[],
    wanted: RemoteChannel | undefined,
    n: NoticeInput,
    now: number,
    problems: { code: string; detail: unknown }[],
  ): NewJob[] => {
    const jobs: NewJob[] = [];
    let needFallback = false;
    for (const ref of refs) {
      const p = resolveRecipient(book, device, ref);
      if (p === undefined) {
        problems.push({ code: "RELAY_UNKNOWN_RECIPIENT", detail: { key, ref } });
        needFallback = true;
        continue;
      }
      const ch = pickChannel(p, wanted ?? p.channels[0] ?? "push");
      if (ch === undefined) {
        problems.push({
          code: p.phone === undefined && wanted !== "push" ? "RELAY_BAD_PHONE" : "RELAY_UNREACHABLE",
          detail: { key, ref, ch: wanted },
        });
        needFallback = true;
        continue;
      }
      if (wanted !== undefined && ch !== wanted)
        problems.push({ code: "RELAY_CHANNEL_SUBSTITUTED", detail: { key, ref, wanted, used: ch } });
      jobs.push(jobFor(device, key, slot, ref, p, ch, n, now, false));
    }
    if (needFallback || refs.length === 0) {
      const ph = pharmacistOf(book, device);
      const ch = ph && pickChannel(ph, "sms");
      if (ph && ch)
        jobs.push(
          jobFor(
            device,
            key,
            slot,
            PHARMACIST_REF,
            ph,
            ch,
            {
              ...n,
              kind: "fallback",
              failedRef: refs.join(","),
              failedCh: wanted ?? "?",
              code: problems[problems.length - 1]?.code ?? "RELAY_FIELD",
            },
            now,
            true,
          ),
        );
      else problems.push({ code: "RELAY_NO_FALLBACK", detail: { key } });
    }
    return jobs;
  };

  const handleRequest = async (x: Tx, device: string, evtId: string, data: Record<string, unknown>, now: number): Promise<void> => {
    const problems: { code: string; detail: unknown }[] = [];
    let key = typeof data.key === "string" && data.key.length <= 200 && data.key.startsWith(device + "/") ? data.key : undefined;
    if (key === undefined) {
      problems.push({ code: "RELAY_FIELD", detail: { field: "key", evt: evtId } });
      key = `${device}/evt/${evtId}`;
    }
    const ch = (REMOTE_CHANNELS as readonly unknown[]).includes(data.ch) ? (data.ch as RemoteChannel) : undefined;
    if (ch === undefined) problems.push({ code: "RELAY_FIELD", detail: { field: "ch", key } });
    const rawTo = Array.isArray(data.to) ? data.to : [];
    const refs = rawTo.filter((r): r is string => typeof r === "string" && REF_RE.test(r)).slice(0, 5);
    if (!Array.isArray(data.to) || refs.length !== rawTo.length || refs.length === 0)
      problems.push({ code: "RELAY_FIELD", detail: { field: "to", key } });
    const slot = typeof data.slot === "string" && data.slot.length <= 64 ? data.slot : null;
    const prn = typeof data.prn === "string" ? data.prn : undefined;
    if (slot === null && prn === undefined) problems.push({ code: "RELAY_FIELD", detail: { field: "slot", key } });
    if (book.devices[device] === undefined) problems.push({ code: "RELAY_UNKNOWN_DEVICE", detail: { key } });
    const dueMs = typeof data.due === "string" ? Date.parse(data.due) : NaN;
    const n: NoticeInput = {
      kind: prn !== undefined && slot === null ? "prn" : "escalation",
      key,
      device,
      ...(slot !== null ? { slot } : {}),
      ...(typeof data.comp === "string" ? { comp: data.comp } : {}),
      ...(typeof data.state === "string" ? { state: data.state } : {}),
      ...(Number.isFinite(dueMs) ? { dueMs } : {}),
      ...(prn !== undefined ? { prn } : {}),
      ...(typeof data.reason === "string" ? { reason: data.reason } : {}),
    };
    const resolved = slot !== null && (await x.db.isResolved(device, slot));
    // A request that arrives after its slot was resolved (outbox replay) is stale: nothing to send.
    const jobs = resolved ? [] : planJobs(device, key, slot, refs, ch, n, now, problems);
    const claimed = await x.db.claimRequest({ key, device, slot, evtId, ch: ch ?? "?", receivedAt: now, wantsReceipt: true }, jobs);
    if (!claimed) return;
    for (const p of problems) await audit(x, "request.problem", device, p.code, p.detail);
    if (resolved) await audit(x, "request.stale", device, "RELAY_RESOLVED", { key, slot });
    if (jobs.length === 0) await finalize(x, key);
    else x.after(kick);
  };

  const handleResolve = async (x: Tx, device: string, data: Record<string, unknown>, now: number): Promise<void> => {
    if (typeof data.slot !== "string" || data.slot.length > 64) {
      await audit(x, "resolve.problem", device, "RELAY_FIELD", { field: "slot" });
      return;
    }
    const outcome = typeof data.outcome === "string" ? data.outcome : "?";
    const keys = await x.db.resolveSlot(device, data.slot, outcome, now);
    if (keys.length > 0) await audit(x, "resolve.cancelled", device, null, { slot: data.slot, outcome, keys });
    for (const k of keys) await finalize(x, k);
  };

  const relayKey = async (x: Tx, device: string, key: string, slot: string | null, jobs: NewJob[], now: number): Promise<boolean> => {
    const ok = await x.db.claimRequest({ key, device, slot, evtId: "-", ch: "relay", receivedAt: now, wantsReceipt: false }, jobs);
    if (ok) x.after(kick);
    return ok;
  };

  const backOnline = async (x: Tx, device: string, slots: string[], now: number): Promise<void> => {
    const refs = deadmanRefs(device, slots[0]);
    const key = `${device}/${slots[0]}/back`;
    const problems: { code: string; detail: unknown }[] = [];
    const jobs = planJobs(device, key, null, refs, undefined, { kind: "back-online", key, device, slot: slots.join(",") }, now, problems);
    if (await relayKey(x, device, key, null, jobs, now)) {
      await audit(x, "deadman.back", device, null, { slots, key });
      for (const p of problems) await audit(x, "deadman.problem", device, p.code, p.detail);
    }
  };

  const deadmanRefs = (device: string, slot: string): string[] => {
    const explicit = book.devices[device]?.deadman;
    if (explicit !== undefined && explicit.length > 0) return explicit;
    const s = schedules.get(device);
    const dose = s && doseOfSlot(s.config, slot);
    return s && dose ? ladderRecipients(s.config, dose) : [];
  };

  const onMessage = async (x: Tx, topic: string, payload: Buffer, now: number): Promise<void> => {
    if (dead) return;
    const parts = topic.split("/");
    const device = parts[1] ?? "";
    if (parts.length !== 3 || parts[0] !== "dk" || !DEVICE_RE.test(device)) {
      await audit(x, "message.problem", null, "RELAY_TOPIC", { topic: topic.slice(0, 100) });
      return;
    }
    const verb = parts[2];
    let msg: unknown;
    try {
      msg = JSON.parse(payload.toString("utf8"));
    } catch {
      await audit(x, "message.problem", device, "RELAY_JSON", { topic, bytes: payload.length });
      if (verb === "evt") await seen(x, device, now);
      return;
    }
    if (!isObj(msg) || msg.v !== 1) {
      await audit(x, "message.problem", device, isObj(msg) ? "RELAY_VERSION" : "RELAY_FIELD", { topic });
      return;
    }
    if (verb === "status") {
      if (typeof msg.online !== "boolean") {
        await audit(x, "message.problem", device, "RELAY_FIELD", { topic, field: "online" });
        return;
      }
      await x.db.setOnline(device, msg.online, now);
      if (msg.online) {
        lastTouch.delete(device);
        await seen(x, device, now);
      }
      return;
    }
    if (verb === "tele") {
      await seen(x, device, now);
      return;
    }
    if (verb !== "evt") return;
    await seen(x, device, now);
    if (typeof msg.id !== "string" || msg.id.length === 0 || msg.id.length > 64 || typeof msg.type !== "string" || !isObj(msg.data ?? {})) {
      await audit(x, "message.problem", device, "RELAY_FIELD", { topic, field: typeof msg.id !== "string" ? "id" : "type" });
      return;
    }
    const data = (msg.data ?? {}) as Record<string, unknown>;
    const tMs = typeof msg.t === "string" ? Date.parse(msg.t) : NaN;
    const fresh = await x.db.recordEvent({
      device,
      id: msg.id,
      seq: typeof msg.seq === "number" && Number.isSafeInteger(msg.seq) ? msg.seq : null,
      type: msg.type,
      tMs: Number.isFinite(tMs) ? tMs : null,
      slot: typeof data.slot === "string" ? data.slot.slice(0, 64) : null,
      data,
      receivedAt: now,
    });
    switch (msg.type) {
      case "relay.request":
        await handleRequest(x, device, msg.id, data, now);
        break;
      case "relay.resolve":
        await handleResolve(x, device, data, now);
        break;
      case "refill.mismatch":
        if (fresh) {
          const ph = pharmacistOf(book, device);
          const key = `${device}/evt/${msg.id}`;
          const ch = ph && pickChannel(ph, "push");
          if (ph && ch)
            await relayKey(
              x,
              device,
              key,
              null,
              [
                jobFor(
                  device,
                  key,
                  null,
                  PHARMACIST_REF,
                  ph,
                  ch,
                  { kind: "refill", key, device, ...(typeof data.comp === "string" ? { comp: data.comp } : {}) },
                  now,
                  false,
                ),
              ],
              now,
            );
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
    if (pumping) {
      again = true;
      return;
    }
    pumping = true;
    void pump().finally(() => {
      pumping = false;
      if (again && !stopped) {
        again = false;
        kick();
      }
    });
  }
  async function pump(): Promise<void> {
    for (;;) {
      again = false;
      const room = concurrency - inflight;
      if (room <= 0 || stopped) return;
      let jobs: Job[];
      try {
        jobs = await db.leaseJobs(instanceId, clock(), leaseMs, room);
      } catch (e) {
        log(`[${instanceId}] lease failed ${String(e)}`);
        return;
      }
      for (const j of jobs) {
        inflight++;
        void runJob(j)
          .catch((e) => log(`[${instanceId}] job ${j.id} error ${String(e)}`))
          .finally(() => {
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

  // ---- group commit ----
  // Units of database work (an incoming message, a finished job, a receipt's PUBACK) queue here and
  // commit together: one transaction (one WAL write) for everything that arrived while the previous
  // one was being written. A unit's `after` actions (kick the worker, publish a receipt, PUBACK the
  // message) run only once its transaction committed.

  function unit(fn: Unit): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      units.push({ fn, settle: (err) => (err === null ? resolve() : reject(err.e)) });
      if (committing || flushArmed) return; // the running flush takes it, or the armed one will
      flushArmed = true;
      if (batchWaitMs > 0 && units.length < batchMax) setTimeout(() => void flush(), batchWaitMs);
      else setImmediate(() => void flush());
    });
  }

  async function flush(): Promise<void> {
    flushArmed = false;
    if (committing) return;
    committing = true;
    try {
      while (units.length > 0) await commitUnits(units.splice(0, batchMax));
    } finally {
      committing = false;
      for (const f of unitsDone) f();
    }
  }

  const runAfter = (fs: (() => void)[]): void => {
    for (const f of fs) {
      try {
        f();
      } catch (e) {
        log(`[${instanceId}] after-commit ${String(e)}`);
      }
    }
  };

  async function commitUnits(items: typeof units): Promise<void> {
    if (dead) {
      for (const it of items) it.settle({ e: new Error("relay aborted") });
      return;
    }
    if (items.length > 1 && db.batch !== undefined) {
      const after: (() => void)[] = [];
      try {
        await db.batch(items.map((it) => (t: RelayDb) => it.fn({ db: t, after: (f) => after.push(f) })));
        runAfter(after);
        for (const it of items) it.settle(null);
        return;
      } catch (e) {
        // Nothing was committed: run the units one by one so that one bad unit fails alone.
        log(`[${instanceId}] batch of ${items.length} rolled back (${String(e)}): committing one by one`);
      }
    }
    for (const it of items) {
      const after: (() => void)[] = [];
      try {
        if (db.batch !== undefined) await db.batch([(t) => it.fn({ db: t, after: (f) => after.push(f) })]);
        else await it.fn({ db, after: (f) => after.push(f) });
      } catch (e) {
        it.settle({ e });
        continue;
      }
      runAfter(after);
      it.settle(null);
    }
  }

  /** Resolves once no unit is queued or committing. */
  async function drainUnits(): Promise<void> {
    while (committing || flushArmed || units.length > 0) {
      await new Promise<void>((r) => {
        unitsDone.add(r);
        setTimeout(() => {
          unitsDone.delete(r);
          r();
        }, 5);
      });
    }
  }

  async function runJob(j: Job): Promise<void> {
    const person = book.people[j.person];
    const notice = JSON.parse(j.notice) as import("./types").Notice;
    let now = clock();
    if (person === undefined) return unit((x) => fail(x, j, "RELAY_UNKNOWN_RECIPIENT", now, "person removed from contacts"));
    if (j.priority === "low") {
      const until = quietUntil(person.quiet, now);
      if (until !== undefined && until > now) {
        return unit(async (x) => {
          if (await x.db.finishJob(j.id, instanceId, { state: "pending", attempts: j.attempts, nextAt: until, code: "QUIET", now })) {
            await audit(x, "notify.deferred", j.device, "QUIET", { key: j.key, ref: j.ref, until: new Date(until).toISOString() });
          }
        });
      }
    }
    const provider = opts.providers[j.ch];
    if (provider === undefined) return unit((x) => fail(x, j, "RELAY_NO_PROVIDER", now, j.ch));
    let r: SendResult;
    try {
      r = await provider.send(j.ch, person, notice);
    } catch (e) {
      r = { ok: false, retry: true, code: "RELAY_PROVIDER_ERROR", detail: e instanceof Error ? e.message : String(e) };
    }
    if (dead) return;
    now = clock();
    const attempts = j.attempts + 1;
    if (r.ok) {
      const ok = r;
      return unit(async (x) => {
        if (await x.db.finishJob(j.id, instanceId, { state: "sent", attempts, code: null, providerId: ok.providerId ?? null, now })) {
          await audit(x, "notify.sent", j.device, null, {
            key: j.key,
            ref: j.ref,
            person: j.person,
            ch: j.ch,
            kind: j.kind,
            provider: provider.name,
            attempts,
            id: ok.providerId ?? null,
          });
          await finalize(x, j.key);
        }
      });
    }
    if (r.retry && attempts < maxAttempts) {
      const nextAt = now + backoff(attempts);
      const err = r;
      return unit(async (x) => {
        if (await x.db.finishJob(j.id, instanceId, { state: "pending", attempts, nextAt, code: err.code, now })) {
          await audit(x, "notify.retry", j.device, err.code, {
            key: j.key,
            ref: j.ref,
            ch: j.ch,
            attempts,
            status: err.status ?? null,
            nextAt: new Date(nextAt).toISOString(),
          });
          const left = await x.db.jobsOf(j.key);
          if (left.find((y) => y.id === j.id)?.state === "cancelled") await finalize(x, j.key);
        }
      });
    }
    const detail = { status: r.status ?? null, last: r.code, detail: r.detail ?? null };
    const code = r.retry ? "RELAY_RETRIES" : r.code;
    return unit((x) => fail(x, j, code, now, detail, attempts));
  }

  async function fail(x: Tx, j: Job, code: string, now: number, detail: unknown, attempts = j.attempts + 1): Promise<void> {
    if (!(await x.db.finishJob(j.id, instanceId, { state: "failed", attempts, code, now }))) return;
    await audit(x, "notify.failed", j.device, code, { key: j.key, ref: j.ref, person: j.person, ch: j.ch, kind: j.kind, detail });
    if (!j.isFallback && j.kind !== "back-online" && j.kind !== "refill") {
      // A patient is at stake: tell the device's pharmacist (or the on-call fallback) instead.
      let ph = pharmacistOf(book, j.device);
      if (ph && ph.id === j.person) ph = book.fallback !== undefined && book.fallback !== j.person ? book.people[book.fallback] : undefined;
      const ch = ph && pickChannel(ph, "sms");
      if (ph && ch) {
        const n: NoticeInput = {
          kind: "fallback",
          key: j.key,
          device: j.device,
          ...(j.slot ? { slot: j.slot } : {}),
          failedRef: j.ref,
          failedCh: j.ch,
          code,
        };
        if (await x.db.addJob(jobFor(j.device, j.key, j.slot, PHARMACIST_REF, ph, ch, n, now, true))) x.after(kick);
      } else {
        await audit(x, "notify.problem", j.device, "RELAY_NO_FALLBACK", { key: j.key });
      }
    }
    await finalize(x, j.key);
  }

  /** Publishes the receipt of a key once every job of it is final (once across instances). */
  async function finalize(x: Tx, key: string): Promise<void> {
    const s = await x.db.keySummary(key);
    if (s === null || !s.wantsReceipt || s.jobs.some((j) => j.state === "pending")) return;
    const primary = s.jobs.filter((j) => !j.isFallback);
    const fb = s.jobs.filter((j) => j.isFallback);
    let status: "delivered" | "failed" | "cancelled";
    let code: string | null = null;
    if (primary.some((j) => j.state === "sent")) status = "delivered";
    else if (primary.length > 0 && primary.every((j) => j.state === "cancelled")) status = "cancelled";
    else if (s.jobs.length === 0 && (await x.db.isResolved(s.device, key.split("/")[1] ?? ""))) status = "cancelled";
    else {
      status = "failed";
      code = primary.find((j) => j.state === "failed")?.code ?? (primary.length === 0 ? "RELAY_NO_RECIPIENT" : "RELAY_CANCELLED");
    }
    const now = clock();
    const to: Record<string, string> = {};
    for (const j of primary) to[j.ref] = j.state === "sent" ? "delivered" : j.state;
    const rcpt = {
      v: 1,
      key,
      status,
      ch: s.ch,
      t: new Date(now).toISOString(),
      ...(code ? { code } : {}),
      to,
      ...(fb.length ? { fallback: fb[0].state === "sent" ? "delivered" : fb[0].state } : {}),
    };
    const json = JSON.stringify(rcpt);
    if (!(await x.db.setReceipt(key, status, code, now, json))) return;
    // Published once the receipt is committed (a rolled-back receipt is never seen by the device).
    x.after(() => publishReceipt(key, s.device, json));
    await audit(x, "receipt", s.device, code, rcpt);
  }

  /** QoS 1 publish; marked published on PUBACK. Unacknowledged receipts are republished (at least once). */
  function publishReceipt(key: string, device: string, json: string): void {
    if (dead) return;
    client.publish(deviceTopic(device, VERB.rcpt), json, { qos: 1 }, (err) => {
      if (err || dead) return;
      const at = clock();
      unit((x) => x.db.receiptPublished(key, at)).catch(() => undefined);
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
      const down =
        now - st.lastSeen >= dm.silentMs || (st.online === false && st.offlineSince !== null && now - st.offlineSince >= dm.offlineMs);
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
        const lastSeen = st.lastSeen;
        // The claim, the alert's jobs and its audit commit together.
        await unit(async (x) => {
          if (!(await x.db.claimDeadman(device, due.slot, now))) return;
          const key = `${device}/${due.slot}/deadman`;
          const problems: { code: string; detail: unknown }[] = [];
          const jobs = planJobs(
            device,
            key,
            due.slot,
            deadmanRefs(device, due.slot),
            undefined,
            { kind: "deadman", key, device, slot: due.slot, comp: due.dose.compartment, dueMs: due.dueMs, lastSeenMs: lastSeen },
            now,
            problems,
          );
          await relayKey(x, device, key, due.slot, jobs, now);
          await audit(x, "deadman.alert", device, null, {
            slot: due.slot,
            due: new Date(due.dueMs).toISOString(),
            lastSeen: new Date(lastSeen).toISOString(),
            online: st.online,
            key,
          });
          for (const p of problems) await audit(x, "deadman.problem", device, p.code, p.detail);
        });
      }
    }
  }

  openGate();
  await subscribed;
  log(
    `[${instanceId}] relay up on ${opts.brokerUrl}, ${shared ? `shared subscription $share/${group}` : "plain subscription"}, db ${db.kind}`,
  );

  const tick = async (): Promise<void> => {
    await deadmanCheck();
    kick();
    // wait for this pass' sends and their commits
    for (;;) {
      while (pumping || inflight > 0)
        await new Promise<void>((r) => {
          inflightDone.add(r);
          setTimeout(() => {
            inflightDone.delete(r);
            r();
          }, 5);
        });
      await drainUnits();
      if (!pumping && inflight === 0) break;
    }
  };

  const poll = setInterval(kick, pollMs);
  const dmTimer = dm
    ? setInterval(() => {
        deadmanCheck().catch((e) => log(`[${instanceId}] deadman ${String(e)}`));
      }, dm.checkMs)
    : undefined;
  const reloadTimer = setInterval(() => {
    reload().catch(() => undefined);
  }, 5000);
  const rcptTimer = setInterval(
    () => {
      republishReceipts().catch(() => undefined);
    },
    Math.max(250, Math.min(receiptRetryMs, 5000)),
  );
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
    get shared() {
      return shared;
    },
    async stop() {
      halt();
      while (inflight > 0)
        await new Promise<void>((r) => {
          inflightDone.add(r);
          setTimeout(() => {
            inflightDone.delete(r);
            r();
          }, 20);
        });
      await client.endAsync();
      await drainUnits(); // the database may be closed right after stop()
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
