/**
 * The cloud relay: turns dispensers' escalation requests (relay.request on dk/<id>/evt) into real
 * notifications, exactly once per (request key, recipient, channel) across relay instances, with
 * retries, delivery receipts on dk/<id>/rcpt, cancellation by relay.resolve, and cloud-side
 * dead-man alerts. docs/relay.md.
 *
 * This module composes the parts: ingest (ingest/), one handler per message kind (handlers/),
 * the jobs (jobs/: plan, worker, group commit, receipts, dead-man), the store (db/) and the
 * providers (providers/).
 */
import { randomBytes } from "node:crypto";
import { deviceTopic, VERB } from "../../firmware/core/protocol/topics";
import { redactUrl } from "../redact";
import { parseContacts } from "./contacts";
import { direct, FALLBACKS_PER_HOUR, type RelayCtx, type Tx, WindowLimit } from "./context";
import { DeviceLiveness } from "./handlers/devices";
import { onMessage } from "./handlers/message";
import { DurableIngest } from "./ingest/durable";
import { type JetStreamIngest, STREAM, startJetStreamIngest } from "./ingest/jetstream";
import { connectMqttIngest, type MqttIngestOptions, type Store } from "./ingest/mqtt";
import { IngestOwner } from "./ingest/owner";
import { CommitQueue } from "./jobs/commit";
import { deadmanCheck, type DeadmanSettings } from "./jobs/deadman";
import { republishReceipts } from "./jobs/receipts";
import { Worker } from "./jobs/worker";
import type { RelayHandle, RelayOptions } from "./options";
import { ScheduleBook } from "./schedules";
import { acknowledge } from "./handlers/ack";

export type { DeadmanOptions, RelayHandle, RelayOptions, RetryOptions } from "./options";

/** Messages that may wait for their commit with their acknowledgement deferred. */
const INGEST_BACKLOG_MAX = 1024;

export async function startRelay(opts: RelayOptions): Promise<RelayHandle> {
  const db = opts.db;
  const clock = opts.clock ?? Date.now;
  const log = opts.log ?? ((l: string) => process.stderr.write(l + "\n"));
  const instanceId = opts.instanceId ?? "relay-" + randomBytes(4).toString("hex");
  const group = opts.group ?? "relay";
  const receiptRetryMs = opts.receiptRetryMs ?? 10_000;
  const pollMs = opts.pollMs ?? 250;
  const dm: DeadmanSettings | undefined =
    opts.deadman === false
      ? undefined
      : {
          silentMs: opts.deadman?.silentMs ?? 600_000,
          offlineMs: opts.deadman?.offlineMs ?? 120_000,
          checkMs: opts.deadman?.checkMs ?? 30_000,
          outageMs: opts.deadman?.outageMs ?? 30 * 60_000,
        };

  const life = { stopped: false, dead: false };
  const fallbacks = new WindowLimit(FALLBACKS_PER_HOUR, 3_600_000);
  const commits = new CommitQueue(
    db,
    opts.batch === false
      ? { maxItems: 1, maxWaitMs: 0 }
      : { maxItems: Math.max(1, Math.floor(opts.batch?.maxItems ?? 128)), maxWaitMs: Math.max(0, opts.batch?.maxWaitMs ?? 0) },
    (l) => log(`[${instanceId}] ${l}`),
    () => life.dead,
  );
  let worker: Worker | undefined;
  let publish: RelayCtx["publishReceipt"] = () => undefined;
  let connected = (): boolean => false;
  const ctx: RelayCtx = {
    db,
    clock,
    log,
    instanceId,
    providers: opts.providers,
    schedules: new ScheduleBook(),
    book: { people: {}, devices: {} },
    life,
    unit: (fn) => commits.unit(fn),
    kick: () => worker?.kick(),
    connected: () => connected(),
    publishReceipt: (device, json, done) => publish(device, json, done),
    allowFallback: (device, now) => fallbacks.allow(device, now),
    async audit(x: Tx, action, device, code, detail) {
      if (life.dead) return;
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
    },
  };
  worker = new Worker(ctx, {
    concurrency: opts.concurrency ?? 16,
    leaseMs: opts.leaseMs ?? 30_000,
    retryBaseMs: opts.retry?.baseMs ?? 2000,
    retryMaxMs: opts.retry?.maxMs ?? 300_000,
    maxAttempts: opts.retry?.maxAttempts ?? 8,
  });
  const jobs = worker;

  // ---- contacts and configs ----
  if (opts.contacts !== undefined) {
    const parsed = parseContacts(opts.contacts);
    for (const p of parsed.problems) await ctx.audit(direct(db), "contacts.problem", null, p.code, p);
    await db.putKv("contacts", JSON.stringify(opts.contacts), clock());
    await ctx.audit(direct(db), "contacts.loaded", null, null, {
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
        ctx.book = parseContacts(JSON.parse(kv.value)).book;
      } catch {
        /* stored by us: valid JSON */
      }
    }
    for (const c of await db.configs()) ctx.schedules.set(c.device, c.version, c.json);
  };
  await reload();

  // ---- ingest ----
  const live = new DeviceLiveness(ctx);
  const durable = new DurableIngest(ctx, (topic, payload, at, retained) =>
    ctx.unit((x) => onMessage(ctx, live, x, topic, payload, at, retained)),
  );
  const mode = opts.ingest ?? { kind: "subscribe" };
  const store: Store = (topic, payload, at, retained) => durable.store(topic, payload, at, retained);
  const mqttOpts = (extra: Partial<MqttIngestOptions>): MqttIngestOptions => ({
    brokerUrl: opts.brokerUrl,
    instanceId,
    group,
    shared: opts.shared === true || opts.shared === false ? opts.shared : "auto",
    sessionExpiryS: opts.sessionExpiryS ?? 3600,
    pipelined: opts.batch !== false,
    backlogMax: INGEST_BACKLOG_MAX,
    ...(opts.mqtt !== undefined ? { mqtt: opts.mqtt } : {}),
    log,
    clock,
    ...extra,
  });
  const backlog = (): number => commits.length;
  const isDead = (): boolean => life.dead;
  // The instance's own MQTT connection: publishes receipts; in "subscribe" mode it ingests too.
  const ingest = await connectMqttIngest(
    mqttOpts(mode.kind === "subscribe" ? {} : { subscribe: false, shared: false }),
    store,
    backlog,
    isDead,
  );
  const client = ingest.client;
  connected = () => client.connected;
  publish = (device, json, done) => client.publish(deviceTopic(device, VERB.rcpt), json, { qos: 1 }, (err) => done(err));
  ingest.open();
  await ingest.subscribed;

  let owner: IngestOwner | undefined;
  let js: JetStreamIngest | undefined;
  let how: string;
  if (mode.kind === "owner") {
    const leaseMs = mode.leaseMs ?? 10_000;
    owner = new IngestOwner({
      db,
      lease: "ingest:" + group,
      holder: instanceId,
      leaseMs,
      clock,
      log,
      connect: async () => {
        const i = await connectMqttIngest(
          mqttOpts({
            clientId: group + "-ingest",
            shared: false,
            autoReconnect: false,
            ...(opts.mqtt !== undefined || mode.mqtt !== undefined ? { mqtt: { ...opts.mqtt, ...mode.mqtt } } : {}),
          }),
          store,
          backlog,
          isDead,
        );
        i.open();
        await i.subscribed;
        return i;
      },
    });
    owner.start();
    how = `ingest owner by lease (session ${group}-ingest, lease ${leaseMs} ms)`;
  } else if (mode.kind === "jetstream") {
    js = await startJetStreamIngest(
      {
        servers: mode.servers,
        ...(mode.user !== undefined ? { user: mode.user, pass: mode.pass ?? "" } : {}),
        instanceId,
        durable: mode.durable ?? group,
        replicas: mode.replicas ?? 3,
        ackWaitMs: mode.ackWaitMs ?? 10_000,
        maxDeliver: mode.maxDeliver ?? 20,
        inflight: mode.inflight ?? 512,
        maxMsgBytes: 65_536,
        log,
        deadLetter: (topic, bytes, seq, deliveries) =>
          ctx.unit((x) => ctx.audit(x, "message.dead", null, "RELAY_DEAD_LETTER", { topic: topic.slice(0, 100), bytes, seq, deliveries })),
      },
      store,
      isDead,
    );
    how = `JetStream consumer ${STREAM}/${mode.durable ?? group} on ${mode.servers.map(redactUrl).join(",")}`;
  } else {
    how = ingest.shared ? `shared subscription $share/${group}` : "plain subscription";
  }
  log(`[${instanceId}] relay up on ${redactUrl(opts.brokerUrl)}, ${how}, db ${db.kind}`);

  const runDeadman = (): Promise<void> => (dm === undefined ? Promise.resolve() : deadmanCheck(ctx, dm, reload));
  const tick = async (): Promise<void> => {
    await runDeadman();
    jobs.kick();
    // wait for this pass' sends and their commits
    for (;;) {
      await jobs.idle();
      await commits.drain();
      if (!jobs.busy) break;
    }
  };

  const poll = setInterval(() => jobs.kick(), pollMs);
  const dmTimer = dm
    ? setInterval(() => {
        runDeadman().catch((e) => log(`[${instanceId}] deadman ${String(e)}`));
      }, dm.checkMs)
    : undefined;
  // The audit chain: one instance at a time (lease) seals new audit rows every 2 s.
  const sealTimer = setInterval(() => {
    void (async () => {
      if (await db.claimLease("audit-seal", instanceId, clock(), 10_000)) await db.sealAudit(opts.auditKey, clock());
    })().catch((e) => log(`[${instanceId}] audit seal ${String(e)}`));
  }, 2000);
  const reloadTimer = setInterval(() => {
    reload().catch(() => undefined);
  }, 5000);
  const rcptTimer = setInterval(
    () => {
      republishReceipts(ctx, receiptRetryMs).catch(() => undefined);
    },
    Math.max(250, Math.min(receiptRetryMs, 5000)),
  );
  jobs.kick();

  const halt = (): void => {
    life.stopped = true;
    clearInterval(poll);
    clearInterval(reloadTimer);
    clearInterval(sealTimer);
    clearInterval(rcptTimer);
    if (dmTimer) clearInterval(dmTimer);
  };
  return {
    instanceId,
    get shared() {
      return ingest.shared;
    },
    async stop() {
      halt();
      await owner?.stop();
      await js?.stop();
      await jobs.sendsDone();
      await client.endAsync();
      await commits.drain(); // the database may be closed right after stop()
    },
    async abort() {
      halt();
      life.dead = true;
      await owner?.abort();
      await js?.abort();
      await client.endAsync(true);
    },
    tick,
    reload,
    health: () => durable.health(),
    hooks: {
      acknowledge: (a) => acknowledge(ctx, a),
      peopleByPhone: (phone) => Object.values(ctx.book.people).filter((p) => p.phone === phone),
      person: (id) => (Object.hasOwn(ctx.book.people, id) ? ctx.book.people[id] : undefined),
      audit: (action, device, code, detail) => ctx.unit((x) => ctx.audit(x, action, device, code, detail)),
    },
  };
}
