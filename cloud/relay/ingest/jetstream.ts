/**
 * Ingest from a NATS JetStream cluster (the scale-out tier, docs/deploy.md): devices speak MQTT to
 * NATS's MQTT listener unchanged; their messages on dk.<id>.evt|status|tele are captured by the
 * replicated work-queue stream DK_IN, which every relay instance consumes through ONE durable pull
 * consumer (each message goes to one instance at a time). A message is acknowledged only after its
 * effect is committed; an instance that dies leaves its unacknowledged messages to be redelivered
 * after AckWait to another; a message still being stored (database down, retrying) is kept alive
 * with in-progress acks so a long outage never counts against max-deliver. A message delivered
 * max-deliver times without an acknowledgement (it crashed every instance that took it) is a dead
 * letter: the advisory is taken by one instance, which audits it (RELAY_DEAD_LETTER) and removes it.
 *
 * NATS (2.9) PUBACKs a device's QoS 1 PUBLISH once it has handed the message to its subject
 * layer, not after a JetStream commit; a stream whose leader node died captures nothing until a new
 * leader is elected (2–6 s). So every instance also takes a live copy of every message through a
 * core subscription and stores it at once; the stream copy and the other instances' copies are then
 * duplicates the claims absorb. Instances connect to different nodes (the first of --nats), so one
 * node dying cannot take every live copy with the stream leader. A message is lost only when every
 * live copy and the stream fail together.
 *
 * Stream messages are never retained replays: retained status only comes back on MQTT
 * subscriptions, which this path does not use, so nothing here is mistaken for liveness.
 */
import { AckPolicy, DiscardPolicy, jetstream, jetstreamManager, type JsMsg, RetentionPolicy, StorageType } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import type { Store } from "./mqtt";

export const STREAM = "DK_IN";
export const STREAM_SUBJECTS = Object.freeze(["dk.*.evt", "dk.*.status", "dk.*.tele"]);

export interface JetStreamIngestOptions {
  /** nats:// URLs of the cluster's nodes (client port). */
  readonly servers: readonly string[];
  readonly user?: string;
  readonly pass?: string;
  readonly instanceId: string;
  /** Durable consumer shared by every instance (default "relay"). */
  readonly durable: string;
  /** Stream replicas when the relay creates the stream (default 3; 1 on a single node). */
  readonly replicas: number;
  /** Redelivery of an unacknowledged message (default 10 s). */
  readonly ackWaitMs: number;
  /** Deliveries before a message is a dead letter (default 20). */
  readonly maxDeliver: number;
  /** Messages one instance works on at once (default 512). */
  readonly inflight: number;
  /** Largest message stored (bytes; default 65536, as the broker's max_payload). */
  readonly maxMsgBytes: number;
  readonly log: (line: string) => void;
  /** Audits a dead letter (inside a commit unit of the relay). */
  readonly deadLetter: (topic: string, bytes: number, seq: number, deliveries: number) => Promise<void>;
}

export interface JetStreamIngest {
  readonly nc: NatsConnection;
  /** Instance-local figures. */
  stats(): { inflight: number; acked: number; redelivered: number; dead: number; live: number; liveSkipped: number };
  stop(): Promise<void>;
  abort(): Promise<void>;
}

/** dk.<id>.evt → dk/<id>/evt (device ids have no dots, topics no wildcards). */
export function topicOfSubject(subject: string): string {
  return subject.split(".").join("/");
}

export async function startJetStreamIngest(o: JetStreamIngestOptions, store: Store, dead: () => boolean): Promise<JetStreamIngest> {
  const nc = await connect({
    servers: [...o.servers],
    // The first server is this instance's home node: instances spread over the nodes (docs/deploy.md).
    noRandomize: true,
    name: o.instanceId,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    ...(o.user !== undefined ? { user: o.user, pass: o.pass ?? "" } : {}),
  });
  const jsm = await jetstreamManager(nc);
  await ensureStream(jsm, o);
  const js = jetstream(nc);
  const consumer = await js.consumers.get(STREAM, o.durable);
  const figures = { inflight: 0, acked: 0, redelivered: 0, dead: 0, live: 0, liveSkipped: 0 };
  let stopping = false;
  let wake: (() => void) | undefined;
  const slotFree = (): Promise<void> => new Promise((r) => (wake = r));
  /** Works on one message within the instance's in-flight bound; frees its slot when done. */
  const inSlot = (work: Promise<unknown>): void => {
    figures.inflight++;
    work
      .catch((e) => o.log(`[${o.instanceId}] message error ${String(e)}`))
      .finally(() => {
        figures.inflight--;
        const w = wake;
        wake = undefined;
        w?.();
      });
  };

  const handle = async (m: JsMsg): Promise<void> => {
    if (m.info.deliveryCount > 1) figures.redelivered++;
    // The stream's timestamp: when the broker took the message (ordering across instances).
    const at = Math.floor(m.info.timestampNanos / 1e6);
    const keepAlive = setInterval(() => m.working(), Math.max(200, Math.floor(o.ackWaitMs / 3)));
    try {
      const ok = await store(topicOfSubject(m.subject), Buffer.from(m.data), at, false);
      if (ok && !dead()) {
        m.ack();
        figures.acked++;
      }
    } finally {
      clearInterval(keepAlive);
    }
  };

  const messages = await consumer.consume({ max_messages: Math.min(256, o.inflight) });
  const loop = (async () => {
    for await (const m of messages) {
      if (dead()) break;
      while (figures.inflight >= o.inflight && !dead()) await slotFree();
      inSlot(handle(m));
    }
  })();
  loop.catch((e) => {
    if (!stopping) o.log(`[${o.instanceId}] consumer stopped: ${String(e)}`);
  });

  // The live copy (see the module doc): a core subscription of EVERY instance (not a queue group:
  // the one member a queue group would pick may sit on the very node that died with the stream
  // leader). It does not wait for a stream leader, so a message PUBACKed while DK_IN elects a new
  // leader still reaches the relay. At most once by itself: when this instance is saturated the
  // copy is left to the stream and the other instances.
  const live = STREAM_SUBJECTS.map((subject) =>
    nc.subscribe(subject, {
      callback: (err, m) => {
        if (err || dead() || stopping) return;
        if (figures.inflight >= o.inflight) {
          figures.liveSkipped++;
          return;
        }
        figures.live++;
        inSlot(store(topicOfSubject(m.subject), Buffer.from(m.data), Date.now(), false));
      },
    }),
  );

  // Dead letters: one instance of the queue group takes each advisory.
  const adv = nc.subscribe(`$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.${STREAM}.${o.durable}`, {
    queue: o.durable,
    callback: (err, msg) => {
      if (err) return;
      void (async () => {
        const a = msg.json<{ stream_seq: number; deliveries: number }>();
        const sm = await jsm.streams.getMessage(STREAM, { seq: a.stream_seq }).catch(() => null);
        await o.deadLetter(sm ? topicOfSubject(sm.subject) : "?", sm ? sm.data.length : 0, a.stream_seq, a.deliveries);
        figures.dead++;
        await jsm.streams.deleteMessage(STREAM, a.stream_seq, false).catch(() => undefined);
      })().catch((e) => o.log(`[${o.instanceId}] dead letter ${String(e)}`));
    },
  });

  const waitIdle = async (): Promise<void> => {
    while (figures.inflight > 0) await new Promise((r) => setTimeout(r, 10));
  };
  return {
    nc,
    stats: () => ({ ...figures }),
    async stop() {
      stopping = true;
      adv.unsubscribe();
      for (const l of live) l.unsubscribe();
      await messages.close().catch(() => undefined);
      await waitIdle();
      await nc.drain().catch(() => undefined);
    },
    async abort() {
      stopping = true;
      wake?.();
      await nc.close().catch(() => undefined);
    },
  };
}

/** Creates the stream and the durable consumer when missing (an operator may create them with `nats`). */
async function ensureStream(jsm: Awaited<ReturnType<typeof jetstreamManager>>, o: JetStreamIngestOptions): Promise<void> {
  try {
    await jsm.streams.info(STREAM);
  } catch {
    await jsm.streams
      .add({
        name: STREAM,
        subjects: [...STREAM_SUBJECTS],
        retention: RetentionPolicy.Workqueue,
        storage: StorageType.File,
        num_replicas: o.replicas,
        max_msg_size: o.maxMsgBytes,
        max_bytes: 1024 * 1024 * 1024,
        discard: DiscardPolicy.New,
      })
      .catch(async (e: unknown) => {
        // another instance created it at the same time
        await jsm.streams.info(STREAM).catch(() => {
          throw e;
        });
      });
  }
  try {
    await jsm.consumers.info(STREAM, o.durable);
  } catch {
    await jsm.consumers
      .add(STREAM, {
        durable_name: o.durable,
        ack_policy: AckPolicy.Explicit,
        ack_wait: o.ackWaitMs * 1_000_000,
        max_deliver: o.maxDeliver,
        max_ack_pending: 4096,
      })
      .catch(async (e: unknown) => {
        await jsm.consumers.info(STREAM, o.durable).catch(() => {
          throw e;
        });
      });
  }
}
