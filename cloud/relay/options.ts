/** What the relay is given (RelayOptions) and gives (RelayHandle). docs/relay.md. */
import type { RelayHooks } from "./hooks";
import type { IClientOptions } from "mqtt";
import type { Health } from "./ingest/durable";
import type { Providers, RelayDb } from "./types";

export type { Health };

export interface DeadmanOptions {
  /** A device silent (no evt, tele or status) this long is down. Default 10 min. */
  silentMs?: number;
  /** A device whose last will (online:false) was published this long ago is down. Default 2 min. */
  offlineMs?: number;
  /** Silent or offline this long at any hour (dose due or not): one outage alert. Default 30 min; 0 disables. */
  outageMs?: number;
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

/**
 * How device messages come in (docs/relay.md, "Ingest"):
 * - subscribe (default): every instance subscribes ($share/<group>/… when the broker can);
 * - owner: one instance at a time, elected by a database lease, holds the one persistent ingest
 *   session (Mosquitto: nothing stays in a dead instance's session); all publish and work jobs;
 * - jetstream: a NATS JetStream durable consumer shared by all instances (scale-out tier); the
 *   MQTT connection (brokerUrl: NATS's MQTT listener) only publishes.
 */
export type IngestOptions =
  | { kind: "subscribe" }
  | {
      kind: "owner";
      /** Lease of the ingest session; a dead owner's session is resumed by another instance after it. Default 10 s. */
      leaseMs?: number;
      /** MQTT options of the ingest session (its own credentials where the client id is bound to the user). */
      mqtt?: IClientOptions;
    }
  | {
      kind: "jetstream";
      servers: string[];
      user?: string;
      pass?: string;
      /** Durable consumer name (default "relay"). */
      durable?: string;
      /** Replicas of the DK_IN stream when the relay creates it (default 3). */
      replicas?: number;
      /** Default 10 s. */
      ackWaitMs?: number;
      /** Default 20. */
      maxDeliver?: number;
      /** Messages in work per instance (default 512). */
      inflight?: number;
    };

export interface RelayOptions {
  brokerUrl: string;
  /** Default { kind: "subscribe" }. */
  ingest?: IngestOptions;
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
  /** HMAC key of the audit hash chain (RELAY_AUDIT_KEY); without it the chain is plain SHA-256. */
  auditKey?: string;
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
  /** "degraded" while the store fails (acknowledgements held, retrying); /healthz reports it. */
  health(): Health;
  /** What the HTTP webhooks need (caregiver acknowledgements): startRelayHttp({ hooks: { relay: handle.hooks, … } }). */
  readonly hooks: RelayHooks;
}
