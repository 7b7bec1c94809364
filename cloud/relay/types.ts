/**
 * Shared types of the cloud relay (Node only). docs/relay.md.
 */

import { REMOTE_CHANNELS, type Language, type RemoteChannel } from "../../firmware/core/protocol/channels";

export { REMOTE_CHANNELS, type RemoteChannel };

/** Web Push subscription as the browser's PushSubscription.toJSON() gives it. */
export interface PushSubscriptionJson {
  endpoint: string;
  keys: { p256dh: string; auth: string };
}

export interface QuietHours {
  /** Local "HH:MM" start (inclusive) and end (exclusive); may wrap midnight. */
  from: string;
  to: string;
  /** POSIX TZ string (docs/timezones.md); default UTC. */
  tz?: string;
}

/** A person as the relay knows them (never sent to a device). */
export interface Person {
  id: string;
  name: string;
  /** E.164, validated ("+33612345678"). */
  phone?: string;
  push: PushSubscriptionJson[];
  /** Channel preference order, used when the requested channel is not available for this person. */
  channels: RemoteChannel[];
  quiet?: QuietHours;
  lang: Language;
}

export type Priority = "high" | "low";

export type NotificationKind =
  | "escalation"
  | "prn"
  | "help"
  | "fallback"
  | "deadman"
  | "outage"
  | "back-online"
  | "refill"
  | "low-stock"
  | "weigh"
  | "safe-mode"
  | "rollback"
  | "refire";

/** A caregiver's acknowledgement of a slot's escalation (the remote chain is quiet until `until`). */
export interface Ack {
  device: string;
  slot: string;
  /** Person id, and the recipient reference the device knows them by. */
  person: string;
  ref: string;
  /** Channel of the notification acknowledged, and how: "sms-reply", "voice-key", "push-action". */
  ch: string;
  via: string;
  t: number;
  until: number;
}

/** A notification that was sent (for matching an inbound reply to it). */
export interface SentJob {
  key: string;
  device: string;
  slot: string;
  ref: string;
  ch: string;
  kind: string;
  at: number;
}

/** What a provider is asked to deliver. */
export interface Notice {
  /** Dedupe key of the request (device request key, or relay-made key). */
  key: string;
  device: string;
  kind: NotificationKind;
  priority: Priority;
  title: string;
  body: string;
  slot?: string;
}

export type SendResult =
  | { ok: true; providerId?: string; status?: number }
  | { ok: false; retry: boolean; code: string; status?: number; detail?: string };

export interface Provider {
  readonly name: string;
  send(ch: RemoteChannel, to: Person, notice: Notice): Promise<SendResult>;
  close?(): Promise<void>;
}

/** One provider per channel; a missing channel fails the job with RELAY_NO_PROVIDER. */
export type Providers = Partial<Record<RemoteChannel, Provider>>;

export type JobState = "pending" | "sent" | "failed" | "cancelled";

export interface Job {
  id: number;
  key: string;
  device: string;
  slot: string | null;
  /** Recipient reference as the device sent it ("caregiver-1"), or "@pharmacist"/"@fallback". */
  ref: string;
  /** Person id resolved when the job was made. */
  person: string;
  ch: RemoteChannel;
  kind: NotificationKind;
  priority: Priority;
  /** JSON of the Notice. */
  notice: string;
  state: JobState;
  attempts: number;
  nextAt: number;
  createdAt: number;
  /** True for jobs that replace an undeliverable one (no fallback of a fallback). */
  isFallback: boolean;
  code: string | null;
}

export interface NewJob {
  key: string;
  device: string;
  slot: string | null;
  ref: string;
  person: string;
  ch: RemoteChannel;
  kind: NotificationKind;
  priority: Priority;
  notice: Notice;
  nextAt: number;
  isFallback: boolean;
}

export interface NewRequest {
  key: string;
  device: string;
  slot: string | null;
  evtId: string;
  ch: string;
  receivedAt: number;
  /** Publish a receipt on dk/<device>/rcpt when every job of the key is final. */
  wantsReceipt: boolean;
}

export interface AuditEntry {
  id?: number;
  t: number;
  actor: string;
  action: string;
  device: string | null;
  code: string | null;
  detail: string;
}

export interface StoredEvent {
  device: string;
  id: string;
  seq: number | null;
  type: string;
  /** Device time in ms, or null when the device clock was unset. */
  tMs: number | null;
  slot: string | null;
  data: Record<string, unknown>;
  receivedAt: number;
}

export interface DeviceState {
  device: string;
  lastSeen: number | null;
  online: boolean | null;
  offlineSince: number | null;
}

export interface StoredConfig {
  device: string;
  version: number;
  json: string;
  updatedAt: number;
  actor: string;
}

export type ReceiptStatus = "delivered" | "failed" | "cancelled" | "acked";

export interface KeySummary {
  key: string;
  device: string;
  ch: string;
  wantsReceipt: boolean;
  jobs: { ref: string; state: JobState; code: string | null; isFallback: boolean }[];
}

/** Storage of the relay. Every method is atomic; several relay processes may share one database. */
export interface RelayDb {
  readonly kind: "sqlite" | "postgres";
  init(): Promise<void>;
  close(): Promise<void>;
  /**
   * Group commit (optional): runs the units in order inside ONE transaction, each with the `tx`
   * handle it is given (a unit must make every call on that handle, never on the outer db). All or
   * nothing: when a unit throws, nothing is committed and the promise rejects with its error.
   */
  batch?(units: readonly ((tx: RelayDb) => Promise<void>)[]): Promise<void>;
  /** Atomically claims `req.key` and inserts its jobs. False (and nothing written) when the key exists. */
  claimRequest(req: NewRequest, jobs: NewJob[]): Promise<boolean>;
  /** Adds a job unless one exists for (key, ref, ch). */
  addJob(job: NewJob): Promise<boolean>;
  /**
   * Leases up to `limit` due jobs: state pending, nextAt <= now, lease free or expired, slot not resolved.
   * A lease held by a killed instance expires after leaseMs and the job is taken over.
   */
  leaseJobs(owner: string, now: number, leaseMs: number, limit: number): Promise<Job[]>;
  /** Ends a leased job; false when the lease was lost (another instance owns it now). */
  finishJob(
    id: number,
    owner: string,
    update: { state: JobState; attempts: number; nextAt?: number; code?: string | null; providerId?: string | null; now: number },
  ): Promise<boolean>;
  /** Marks the slot resolved and cancels its pending (not in-flight) jobs; returns the keys touched. */
  resolveSlot(device: string, slot: string, outcome: string, now: number): Promise<string[]>;
  isResolved(device: string, slot: string): Promise<boolean>;
  /** Records (or renews) an acknowledgement and cancels the slot's pending jobs; `first` unless one was in force. */
  ackSlot(a: Ack): Promise<{ first: boolean; keys: string[] }>;
  ackOf(device: string, slot: string): Promise<Ack | null>;
  /** Sent notifications to `person` (newest first, at most 20), optionally of one key / channel. */
  sentJobs(person: string, o: { key?: string; ch?: string; since: number }): Promise<SentJob[]>;
  /** Jobs of a key, for receipts. */
  keySummary(key: string): Promise<KeySummary | null>;
  /** Sets the receipt of a key once; true for the caller that set it (that one publishes). */
  setReceipt(key: string, status: ReceiptStatus, code: string | null, now: number, json?: string): Promise<boolean>;
  /** The receipt's MQTT publish was acknowledged by the broker. */
  receiptPublished(key: string, now: number): Promise<void>;
  /** Receipts set before `olderThan` whose publish was never acknowledged (instance died): claimed for republishing. */
  claimUnpublishedReceipts(olderThan: number, now: number, limit: number): Promise<{ key: string; device: string; json: string }[]>;
  receiptOf(key: string): Promise<{ status: ReceiptStatus; code: string | null; t: number } | null>;
  jobsOf(key: string): Promise<Job[]>;
  countJobs(state?: JobState): Promise<number>;
  audit(e: AuditEntry): Promise<void>;
  /** Oldest first, or newest first (`newest`), rows before id `before` (paging). */
  auditList(filter: {
    device?: string;
    action?: string;
    code?: string;
    limit?: number;
    newest?: boolean;
    before?: number;
  }): Promise<AuditEntry[]>;
  /** Seals unsealed audit rows into the hash chain (one instance at a time: lease "audit-seal"). */
  sealAudit(key: string | undefined, now: number): Promise<number>;
  /** Recomputes the audit chain. */
  verifyAudit(key: string | undefined): Promise<{ ok: boolean; sealed: number; unsealed: number; firstBad?: number }>;
  /** Stores an event once per (device, id); false for a duplicate. */
  recordEvent(e: StoredEvent): Promise<boolean>;
  /** Oldest first; optionally only some types and days (YYYY-MM-DD, inclusive; an event's day is its slot's date). Paged. */
  eventsOf(device: string, types?: readonly string[], days?: { from: string; to: string }): Promise<StoredEvent[]>;
  /** Device seen now (any message from it). */
  touchDevice(device: string, now: number): Promise<void>;
  /** status topic: online flag (LWT = false). */
  setOnline(device: string, online: boolean, now: number): Promise<void>;
  deviceState(device: string): Promise<DeviceState | null>;
  putConfig(c: StoredConfig): Promise<void>;
  configs(): Promise<StoredConfig[]>;
  config(device: string): Promise<StoredConfig | null>;
  /** Once per (device, slot): true for the caller that claimed the dead-man alert. */
  claimDeadman(device: string, slot: string, now: number): Promise<boolean>;
  /** Marks open dead-man alerts of a device as followed by "back online"; returns their slots (once). */
  closeDeadman(device: string, now: number): Promise<string[]>;
  putKv(name: string, value: string, now: number): Promise<void>;
  getKv(name: string): Promise<{ value: string; updatedAt: number } | null>;
  /**
   * Takes or renews the named lease for `holder` until now + ms: true when `holder` has it now
   * (it was free, expired, or already `holder`'s). One statement, atomic across instances.
   */
  claimLease(name: string, holder: string, now: number, ms: number): Promise<boolean>;
  /** Gives the lease up (graceful stop) if `holder` has it. */
  releaseLease(name: string, holder: string): Promise<void>;
}
