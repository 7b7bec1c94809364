/**
 * Ingest from an MQTT broker: the relay's subscriptions (dk/+/evt, status, tele; shared as
 * $share/<group>/… when the broker can), a persistent session, and acknowledgement only after
 * the message's effect is committed. Pipelined: up to `backlogMax` messages may wait for their
 * commit with their PUBACK deferred, so that many commit in one transaction; beyond, one message
 * at a time (mqtt.js acknowledges on done()).
 */
import mqtt, { type IClientOptions, type MqttClient } from "mqtt";
import { allDevices, VERB } from "../../../firmware/core/protocol/topics";

export interface MqttIngestOptions {
  readonly brokerUrl: string;
  readonly instanceId: string;
  /** MQTT client id (default instanceId); the ingest owner's session has one id for all instances. */
  readonly clientId?: string;
  /** false: a publisher only (receipts), no subscriptions — another part of the relay ingests. Default true. */
  readonly subscribe?: boolean;
  /** mqtt.js reconnects by itself (default); false: the caller reconnects (the ingest owner, after checking its lease). */
  readonly autoReconnect?: boolean;
  readonly group: string;
  /** true: $share; false: plain subscription (one instance only); "auto": shared when the broker says it can (MQTT 5). */
  readonly shared: boolean | "auto";
  readonly sessionExpiryS: number;
  /** Defer PUBACKs until committed, so messages commit in groups (false: one at a time). */
  readonly pipelined: boolean;
  readonly backlogMax: number;
  readonly mqtt?: IClientOptions;
  readonly log: (line: string) => void;
  readonly clock: () => number;
}

/**
 * Stores one message; resolves true once committed (then it is acknowledged), false when it must
 * not be acknowledged (the relay was aborted: the broker redelivers). `retained`: a replay of a
 * retained message at (re)subscription, not a fresh one.
 */
export type Store = (topic: string, payload: Buffer, receivedAt: number, retained: boolean) => Promise<boolean>;

export interface MqttIngest {
  readonly client: MqttClient;
  readonly shared: boolean;
  /** Resolves when the subscriptions are granted. */
  readonly subscribed: Promise<void>;
  /** Start handing messages over (a resumed session may deliver before the relay is ready). */
  open(): void;
}

/** Passed to mqtt.js' handleMessage callback: "do not PUBACK now, the relay will once stored". */
const DEFERRED_ACK = new Error("PUBACK deferred until the message is stored");

export async function connectMqttIngest(
  o: MqttIngestOptions,
  store: Store,
  backlog: () => number,
  dead: () => boolean,
): Promise<MqttIngest> {
  const { log, instanceId } = o;
  let openGate: () => void = () => undefined;
  const gate = new Promise<void>((r) => {
    openGate = r;
  });
  let shared = o.shared === true;
  const topics = (sh: boolean): Record<string, { qos: 0 | 1 }> => {
    const p = sh ? `$share/${o.group}/` : "";
    return { [p + allDevices(VERB.evt)]: { qos: 1 }, [p + allDevices(VERB.status)]: { qos: 1 }, [p + allDevices(VERB.tele)]: { qos: 0 } };
  };
  const connect = (version: 4 | 5): Promise<MqttClient> =>
    new Promise((resolve, reject) => {
      // Several brokers (a cluster's nodes): "mqtt://a:1883,mqtt://b:1883" — mqtt.js fails over in order.
      const urls = o.brokerUrl.split(",");
      const servers =
        urls.length > 1 ? urls.map((u) => new URL(u)).map((u) => ({ host: u.hostname, port: Number(u.port || 1883) })) : undefined;
      const c = mqtt.connect(urls[0], {
        ...(servers ? { servers } : {}),
        clientId: o.clientId ?? instanceId,
        clean: o.sessionExpiryS === 0,
        protocolVersion: version,
        reconnectPeriod: o.autoReconnect === false ? 0 : 1000,
        connectTimeout: 10_000,
        ...(version === 5 ? { properties: { sessionExpiryInterval: o.sessionExpiryS } } : {}),
        ...o.mqtt,
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
      const canDefer = o.pipelined && typeof sendPacket === "function";
      c.handleMessage = (packet, done) => {
        const topic = packet.topic;
        const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
        const at = o.clock();
        const stored = gate.then(() => store(topic, payload, at, packet.retain === true));
        const failed = (e: unknown): void => log(`[${instanceId}] message error ${String(e)}`);
        // Never acknowledged before it is stored: store() retries until it is (or the relay is aborted).
        // PUBACK only once the transaction holding the message's effect has committed: a crash
        // before leaves the message to the broker (redelivered; the claims dedupe it). Back-pressure:
        // beyond backlogMax waiting messages, mqtt.js reads the next packet only after done().
        if (!canDefer || backlog() >= o.backlogMax) {
          // One message at a time: mqtt.js sends the PUBACK, and reads the next packet, on done().
          stored.then(
            (ok) => {
              if (ok) done();
            },
            (e) => failed(e),
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
            if (g !== gen || !c.connected || dead()) return;
            sendPacket.call(c, { cmd: "puback", messageId: id, ...(version === 5 ? { reasonCode: 0 } : {}) }, undefined, undefined, true);
          };
          stored.then(
            (ok) => {
              if (ok) ack();
            },
            (e) => failed(e),
          );
        } else {
          stored.catch(failed);
        }
        done(packet.qos === 1 ? DEFERRED_ACK : undefined);
      };
      const onConnect = (ack: { properties?: { sharedSubscriptionAvailable?: boolean } }): void => {
        c.off("error", onError);
        if (o.shared === "auto") shared = version === 5 && ack.properties?.sharedSubscriptionAvailable !== false;
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
  if (o.shared === true || o.shared === false) {
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
  const subscribing = o.subscribe !== false;
  const subscribed = subscribing ? subscribe() : Promise.resolve();
  subscribed.catch(() => undefined);
  client.on("connect", () => {
    if (subscribing) subscribe().catch((e) => log(`[${instanceId}] resubscribe failed ${String(e)}`));
  });
  client.on("error", (e) => log(`[${instanceId}] mqtt error ${e.message}`));
  return {
    client,
    get shared() {
      return shared;
    },
    subscribed,
    open: () => openGate(),
  };
}
